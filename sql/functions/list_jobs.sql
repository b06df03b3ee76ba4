-- list_jobs(state, limit, allowed_sources) -> jsonb
--
-- The newest jobs, optionally of one state, and how many jobs are in each
-- state:
--   SELECT list_jobs('running', 50);
--   -> {"success": true, "jobs": [...], "counts": {"queued": 3, "running": 1, ...}}
-- Each listed job is a summary: what job_status() shows but its config (up
-- to thousands of photo IDs), result and errors, which job_status() has.
-- The listing reads only the summary's columns, so its cost is bounded by
-- the limit and the small capped fields (progress, error), not by how big
-- results or configs are.
-- States are the job_state type's, counted in its order, each listed.
-- Raises 22023 for an unknown state or a limit outside 1..500. Read-only.
CREATE OR REPLACE FUNCTION list_jobs(
    p_state           text    DEFAULT NULL,
    p_limit           integer DEFAULT 50,
    p_allowed_sources text[]  DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM studio_raise_invalid(coalesce((SELECT jsonb_agg(err) FROM (
        SELECT studio_error(NULL, NULL, 'state', 'invalid_value',
                            format('state must be one of: %s',
                                   array_to_string(enum_range(NULL::job_state), ', '))) AS err
        WHERE p_state IS NOT NULL
          AND p_state NOT IN (SELECT unnest(enum_range(NULL::job_state))::text)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'limit', 'out_of_range', 'limit must be from 1 to 500')
        WHERE p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 500
    ) AS errors), '[]'));
    RETURN jsonb_build_object(
        'success', true,
        -- Column by column: handing the whole row to a function would fetch
        -- every TOASTed result and config of the page.
        'jobs', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'job_id', j.job_id, 'job_type', j.job_type, 'state', j.state,
                       'source_system', j.source_system, 'attempt', j.attempt,
                       'max_attempts', j.max_attempts, 'priority', j.priority,
                       'run_after', j.run_after, 'lease_expires_at', j.lease_expires_at,
                       'worker_id', j.worker_id, 'progress', j.progress, 'error', j.last_error,
                       'submitted_by', j.submitted_by, 'created_at', j.created_at,
                       'started_at', j.started_at, 'finished_at', j.finished_at,
                       'updated_at', j.updated_at) ORDER BY j.job_id DESC)
            FROM (SELECT job_id, job_type, state, source_system, attempt, max_attempts, priority,
                         run_after, lease_expires_at, worker_id, progress, last_error,
                         submitted_by, created_at, started_at, finished_at, updated_at
                  FROM jobs
                  WHERE (p_state IS NULL OR state::text = p_state)
                    AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
                  ORDER BY job_id DESC LIMIT p_limit) AS j), '[]'),
        'counts', (
            SELECT jsonb_object_agg(s, coalesce(n, 0))
            FROM unnest(enum_range(NULL::job_state)) AS s
            LEFT JOIN (SELECT state, count(*) AS n FROM jobs
                       WHERE p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources)
                       GROUP BY state) AS c ON c.state = s));
END
$$;
