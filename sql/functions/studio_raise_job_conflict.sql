-- studio_raise_job_conflict(job_id, lease_token) -> void
--
-- Raises the right error for a worker call that names a job it does not
-- hold: GT001 (job not found) when no such job exists, GT002 (stale lease)
-- when it exists but is not running under this lease_token, because the
-- lease expired and the job was claimed again, or it already finished. Both
-- are documented in docs/errors.md; the API answers 404 and 409.
-- Example: PERFORM studio_raise_job_conflict(42, '...');
CREATE OR REPLACE FUNCTION studio_raise_job_conflict(p_job_id bigint, p_lease_token uuid)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_state text;
BEGIN
    SELECT state INTO v_state FROM jobs WHERE job_id = p_job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job_id USING ERRCODE = 'GT001';
    END IF;
    RAISE EXCEPTION 'job % is not held under this lease (it is %)', p_job_id, v_state
        USING ERRCODE = 'GT002',
              HINT = 'the lease expired or the job finished; drop this job and claim another';
END
$$;
