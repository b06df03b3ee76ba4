-- claim_job(request jsonb, caller text, allowed_sources text[], now) -> jsonb
--
-- Gives the next job to a worker, or none:
--   SELECT claim_job('{"worker_id": "gpu-1", "lease_seconds": 300}');
--   -> {"success": true, "job": {"job_id": 7, "lease_token": "...", "config": {...}, ...}}
--   -> {"success": true, "job": null}   when nothing is waiting
-- Highest priority first, then oldest. Expired leases are requeued first.
-- FOR UPDATE SKIP LOCKED: concurrent workers never get the same job and
-- never wait on each other. The lease lasts lease_seconds (10-3600, default
-- 300) and is extended by heartbeat_job(). A worker bound to some source
-- systems is only given their jobs.
-- Raises: 22023 for a bad request (DETAIL lists every error).
CREATE OR REPLACE FUNCTION claim_job(
    p_request         jsonb,
    p_caller          text        DEFAULT NULL,
    p_allowed_sources text[]      DEFAULT NULL,
    p_now             timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_job jobs;
BEGIN
    PERFORM studio_raise_invalid(studio_worker_request_errors(
        p_request, '{worker_id,lease_seconds}', false));
    PERFORM requeue_expired_jobs(p_now);

    UPDATE jobs
    SET state = 'running', attempt = attempt + 1, lease_token = gen_random_uuid(),
        lease_expires_at = p_now + make_interval(
            secs => coalesce(studio_whole_number(p_request -> 'lease_seconds')::integer, 300)),
        worker_id = p_request ->> 'worker_id', started_at = coalesce(started_at, p_now),
        updated_at = p_now
    WHERE job_id = (
        SELECT job_id FROM jobs
        WHERE state IN ('queued', 'retrying') AND run_after <= p_now
          AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
        ORDER BY priority DESC, run_after, job_id
        FOR UPDATE SKIP LOCKED
        LIMIT 1)
    RETURNING * INTO v_job;

    IF NOT FOUND THEN
        RETURN jsonb_build_object('success', true, 'job', NULL);
    END IF;
    RETURN jsonb_build_object('success', true, 'job',
        studio_job_json(v_job) || jsonb_build_object('lease_token', v_job.lease_token));
END
$$;
