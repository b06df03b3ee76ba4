-- complete_job(job_id, request jsonb, now, allowed_sources) -> jsonb
--
-- The worker holding a job finished it:
--   SELECT complete_job(7, '{"lease_token": "...", "result": {"embeddings_stored": 12}}');
--   -> {"success": true, "job_id": 7, "state": "completed", ...}
-- The job becomes 'completed' with its result (counts, never photos) and
-- its lease ends. An earlier attempt's error is no longer the job's `error`
-- (a completed job did not fail); it stays in `errors`, the history.
-- Raises: 22023 for a bad request; GT001 job not found (or, for a caller
--         bound to source systems, another source's job: the same answer);
--         GT002 stale lease (requeued, claimed again or already finished).
--         Nothing changes when it raises, so a job's effect is recorded once.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS complete_job(bigint, jsonb, timestamptz);

CREATE OR REPLACE FUNCTION complete_job(
    p_job_id          bigint,
    p_request         jsonb,
    p_now             timestamptz DEFAULT now(),
    p_allowed_sources text[]      DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job jobs;
BEGIN
    PERFORM studio_held_job(p_job_id, p_request, '{lease_token,result,progress}',
                            p_allowed_sources);
    UPDATE jobs
    SET state = 'completed', result = coalesce(p_request -> 'result', '{}'),
        progress = coalesce(p_request -> 'progress', progress),
        last_error = NULL,
        lease_token = NULL, lease_expires_at = NULL, finished_at = p_now, updated_at = p_now
    WHERE job_id = p_job_id
    RETURNING * INTO v_job;
    RETURN jsonb_build_object('success', true) || studio_job_json(v_job);
END
$$;
