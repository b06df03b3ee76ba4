-- fail_job(job_id, request jsonb, now) -> jsonb
--
-- The worker holding a job could not finish it:
--   SELECT fail_job(7, '{"lease_token": "...", "error": "photo 15: catalog answered 503"}');
-- With attempts left and "retryable" (default true) the job becomes
-- 'retrying' and may be claimed again after an exponential backoff of
-- 10 s x 2^(attempt - 1), at most one hour; otherwise it becomes 'failed'.
-- Every attempt's error is kept in "errors".
-- Raises: 22023 for a bad request; GT001 job not found; GT002 stale lease.
CREATE OR REPLACE FUNCTION fail_job(
    p_job_id  bigint,
    p_request jsonb,
    p_now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job   jobs;
    v_retry boolean := coalesce((p_request ->> 'retryable')::boolean, true);
BEGIN
    PERFORM studio_held_job(p_job_id, p_request, '{lease_token,error,retryable,progress}');
    UPDATE jobs
    SET state = CASE WHEN v_retry AND attempt < max_attempts THEN 'retrying' ELSE 'failed' END,
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
