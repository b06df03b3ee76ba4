-- requeue_expired_jobs(now) -> integer
--
-- Running jobs whose lease has expired (their worker died or hung) go back
-- to the queue as 'retrying', or to 'failed' when that was their last
-- attempt; their lease token is cleared, so the old worker can no longer
-- heartbeat, complete or fail them. Returns how many were moved.
-- claim_job() calls it first, so no separate reaper process is needed.
--   SELECT requeue_expired_jobs();
-- Raises nothing of its own. Idempotent.
CREATE OR REPLACE FUNCTION requeue_expired_jobs(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE sql AS $$
    WITH expired AS (
        SELECT job_id FROM jobs
        WHERE state = 'running' AND lease_expires_at < p_now
        FOR UPDATE SKIP LOCKED
    ), moved AS (
        UPDATE jobs AS j
        SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'failed'::job_state
                         ELSE 'retrying'::job_state END,
            finished_at = CASE WHEN j.attempt >= j.max_attempts THEN p_now END,
            lease_token = NULL, lease_expires_at = NULL, run_after = p_now,
            last_error = format('lease expired: worker %s stopped heartbeating', j.worker_id),
            errors = j.errors || jsonb_build_object(
                'attempt', j.attempt, 'at', p_now,
                'error', format('lease expired: worker %s stopped heartbeating', j.worker_id)),
            updated_at = p_now
        FROM expired
        WHERE j.job_id = expired.job_id
        RETURNING 1
    )
    SELECT count(*)::integer FROM moved
$$;
