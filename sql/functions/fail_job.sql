-- fail_job(job_id, request jsonb, now, allowed_sources) -> jsonb
--
-- The worker holding a job could not finish it:
--   SELECT fail_job(7, '{"lease_token": "...", "error": "photo 15: catalog answered 503"}');
-- With attempts left and "retryable" (default true) the job becomes
-- 'retrying' and may be claimed again after an exponential backoff of
-- 10 s x 2^(attempt - 1), at most one hour; otherwise it becomes 'failed'.
-- Every attempt's error is kept in "errors".
-- Raises: 22023 for a bad request; GT001 job not found (or, for a caller
--         bound to source systems, another source's job: the same answer);
--         GT002 stale lease.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS fail_job(bigint, jsonb, timestamptz);

CREATE OR REPLACE FUNCTION fail_job(
    p_job_id          bigint,
    p_request         jsonb,
    p_now             timestamptz DEFAULT now(),
    p_allowed_sources text[]      DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job   jobs;
    v_retry boolean := coalesce((p_request ->> 'retryable')::boolean, true);
BEGIN
    PERFORM studio_held_job(p_job_id, p_request, '{lease_token,error,retryable,progress}',
                            p_allowed_sources);
    UPDATE jobs
    SET state = CASE WHEN v_retry AND attempt < max_attempts THEN 'retrying'::job_state
                 ELSE 'failed'::job_state END,
        finished_at = CASE WHEN v_retry AND attempt < max_attempts THEN NULL ELSE p_now END,
        run_after = p_now + make_interval(secs => least(3600, 10 * 2 ^ (attempt - 1))),
        last_error = p_request ->> 'error',
        errors = errors || jsonb_build_object('attempt', attempt, 'at', p_now,
                                              'error', p_request ->> 'error'),
        progress = coalesce(p_request -> 'progress', progress),
        lease_token = NULL, lease_expires_at = NULL, updated_at = p_now
    WHERE job_id = p_job_id
    RETURNING * INTO v_job;
    RETURN jsonb_build_object('success', true) || studio_job_json(v_job);
END
$$;
