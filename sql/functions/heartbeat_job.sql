-- heartbeat_job(job_id, request jsonb, now, allowed_sources) -> jsonb
--
-- The worker holding a job says it is alive and how far it got:
--   SELECT heartbeat_job(7, '{"lease_token": "...", "progress": {"done": 40, "total": 120}}');
--   -> {"success": true, "job_id": 7, "lease_expires_at": "...", "progress": {...}}
-- Extends the lease by lease_seconds (default 300) from now and records the
-- progress. Accepted while the job runs under this lease_token, even just
-- past its expiry if nobody has requeued it yet.
-- Raises: 22023 for a bad request; GT001 job not found (or, for a caller
--         bound to source systems, another source's job: the same answer);
--         GT002 stale lease (the job was requeued or claimed again, or
--         finished): the worker must drop the job. Nothing changes when it
--         raises.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS heartbeat_job(bigint, jsonb, timestamptz);

CREATE OR REPLACE FUNCTION heartbeat_job(
    p_job_id          bigint,
    p_request         jsonb,
    p_now             timestamptz DEFAULT now(),
    p_allowed_sources text[]      DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job jobs;
BEGIN
    PERFORM studio_held_job(p_job_id, p_request, '{lease_token,progress,lease_seconds}',
                            p_allowed_sources);
    UPDATE jobs
    SET lease_expires_at = p_now + make_interval(
            secs => coalesce(studio_whole_number(p_request -> 'lease_seconds')::integer, 300)),
        progress = coalesce(p_request -> 'progress', progress),
        updated_at = p_now
    WHERE job_id = p_job_id
    RETURNING * INTO v_job;
    RETURN jsonb_build_object('success', true, 'job_id', v_job.job_id,
                              'lease_expires_at', v_job.lease_expires_at, 'progress', v_job.progress);
END
$$;
