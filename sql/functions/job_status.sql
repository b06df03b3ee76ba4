-- job_status(job_id, allowed_sources) -> jsonb
--
-- One job as callers see it (state, attempt, progress, result, errors):
--   SELECT job_status(7);
-- Raises GT001 when there is no such job, or it belongs to a source system
-- the caller may not see (the two look the same from outside). Read-only.
CREATE OR REPLACE FUNCTION job_status(p_job_id bigint, p_allowed_sources text[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_job jobs;
BEGIN
    SELECT * INTO v_job FROM jobs
     WHERE job_id = p_job_id
       AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job_id USING ERRCODE = 'GT001';
    END IF;
    RETURN jsonb_build_object('success', true) || studio_job_json(v_job);
END
$$;
