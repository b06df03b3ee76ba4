-- studio_held_job(job_id, request, allowed_fields, allowed_sources) -> jobs
--
-- The job a worker's request (heartbeat, complete, fail) says it holds,
-- locked for the caller's update. The request is validated first
-- (studio_worker_request_errors: fields allowed, lease_token required). The
-- job must be running under the request's lease_token; a worker whose lease
-- expired and whose job was requeued, claimed again or finished is refused.
-- A caller bound to source systems (allowed_sources not NULL) only reaches
-- their jobs: another source's job is "not found", the same error with the
-- same message as a job that never existed, so job IDs cannot be probed.
-- Example: v_job := studio_held_job(7, '{"lease_token": "..."}', '{lease_token}');
-- Raises: 22023 for a bad request; GT001 when there is no such job (or it is
--         not the caller's); GT002 (stale lease) when it is not held under
--         this token. Both are documented in docs/errors.md; the API answers
--         404 and 409.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS studio_held_job(bigint, jsonb, text[]);

CREATE OR REPLACE FUNCTION studio_held_job(
    p_job_id          bigint,
    p_request         jsonb,
    p_allowed         text[],
    p_allowed_sources text[]
) RETURNS jobs
LANGUAGE plpgsql AS $$
DECLARE
    v_job jobs;
BEGIN
    PERFORM studio_raise_invalid(studio_worker_request_errors(p_request, p_allowed, true));
    SELECT * INTO v_job FROM jobs
     WHERE job_id = p_job_id
       AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job_id USING ERRCODE = 'GT001';
    END IF;
    IF v_job.state IS DISTINCT FROM 'running'
       OR v_job.lease_token IS DISTINCT FROM (p_request ->> 'lease_token')::uuid THEN
        RAISE EXCEPTION 'job % is not held under this lease (it is %)', p_job_id, v_job.state
            USING ERRCODE = 'GT002',
                  HINT = 'the lease expired or the job finished; drop this job and claim another';
    END IF;
    RETURN v_job;
END
$$;
