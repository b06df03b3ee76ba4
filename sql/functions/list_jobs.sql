-- list_jobs(state, limit, allowed_sources) -> jsonb
--
-- The newest jobs, optionally of one state, and how many jobs are in each
-- state:
--   SELECT list_jobs('running', 50);
--   -> {"success": true, "jobs": [...], "counts": {"queued": 3, "running": 1, ...}}
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
                            'state must be queued, running, retrying, completed or failed') AS err
        WHERE p_state IS NOT NULL
          AND p_state NOT IN ('queued', 'running', 'retrying', 'completed', 'failed')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'limit', 'out_of_range', 'limit must be from 1 to 500')
        WHERE p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 500
    ) AS errors), '[]'));
    RETURN jsonb_build_object(
        'success', true,
        'jobs', coalesce((
            SELECT jsonb_agg(studio_job_json(j) ORDER BY j.job_id DESC)
            FROM (SELECT * FROM jobs
                  WHERE (p_state IS NULL OR state = p_state)
                    AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
                  ORDER BY job_id DESC LIMIT p_limit) AS j), '[]'),
        'counts', (
            SELECT jsonb_object_agg(s, coalesce(n, 0))
            FROM unnest(ARRAY['queued', 'running', 'retrying', 'completed', 'failed']) AS s
            LEFT JOIN (SELECT state, count(*) AS n FROM jobs
                       WHERE p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources)
                       GROUP BY state) AS c ON c.state = s));
END
$$;
