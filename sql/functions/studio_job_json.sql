-- studio_job_json(job) -> jsonb
--
-- How a job looks to callers: everything but the lease token, which only
-- the worker holding the claim ever sees (from claim_job()).
-- Example: SELECT studio_job_json(j) FROM jobs j WHERE job_id = 7;
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_job_json(p_job jobs) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'job_id', p_job.job_id, 'job_type', p_job.job_type, 'state', p_job.state,
        'source_system', p_job.source_system, 'config', p_job.config,
        'attempt', p_job.attempt, 'max_attempts', p_job.max_attempts, 'priority', p_job.priority,
        'run_after', p_job.run_after, 'lease_expires_at', p_job.lease_expires_at,
        'worker_id', p_job.worker_id, 'progress', p_job.progress, 'result', p_job.result,
        'error', p_job.last_error, 'errors', p_job.errors, 'submitted_by', p_job.submitted_by,
        'created_at', p_job.created_at, 'started_at', p_job.started_at,
        'finished_at', p_job.finished_at, 'updated_at', p_job.updated_at)
$$;
