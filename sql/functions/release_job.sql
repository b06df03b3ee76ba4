-- release_job(job_id, request jsonb, now, allowed_sources) -> jsonb
--
-- A worker that is stopping (SIGTERM: a deploy, a scale-down, a restart)
-- gives its job back unfinished:
--   SELECT release_job(7, '{"lease_token": "...", "progress": {"done": 3, "total": 11}}');
--   -> {"success": true, "job_id": 7, "state": "queued", "attempt": 0, ...}
-- The job is queued again and claimable at once, and the claim given back
-- does not count as an attempt: stopping is not the job's failure, so no
-- backoff, and a worker restarted five times does not fail a job for good.
-- (A worker that dies without releasing loses its lease instead, and that
-- counts: claim_job() requeues it as an attempt made.) What the worker
-- stored before stopping stays stored; ingest is idempotent, so the next
-- claim redoes the job without duplicates.
-- Raises: 22023 for a bad request; GT001 job not found (or another source's);
--         GT002 stale lease. Nothing changes when it raises.
CREATE OR REPLACE FUNCTION release_job(
    p_job_id          bigint,
    p_request         jsonb,
    p_now             timestamptz DEFAULT now(),
    p_allowed_sources text[]      DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job jobs;
BEGIN
    PERFORM studio_held_job(p_job_id, p_request, '{lease_token,progress}', p_allowed_sources);
    UPDATE jobs
    SET state = 'queued', attempt = attempt - 1, run_after = p_now,
        progress = coalesce(p_request -> 'progress', progress),
        lease_token = NULL, lease_expires_at = NULL, updated_at = p_now
    WHERE job_id = p_job_id
    RETURNING * INTO v_job;
    RETURN jsonb_build_object('success', true) || studio_job_json(v_job);
END
$$;
