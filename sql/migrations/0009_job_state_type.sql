-- Job states become a type of their own, the one list of them: the functions,
-- the job listing and the metrics read it (enum_range(NULL::job_state))
-- instead of each spelling the states out. Its order is a job's life, which
-- is the order listings and metrics show.
CREATE TYPE job_state AS ENUM ('queued', 'running', 'retrying', 'completed', 'failed');

-- What compares state with text cannot outlive the change of type (there is
-- no job_state = text): the constraints and partial indexes go, and come back
-- below as they were, over the new type. jobs_state_check goes for good: the
-- type is that check now.
ALTER TABLE jobs
    DROP CONSTRAINT jobs_state_check,
    DROP CONSTRAINT jobs_lease_check,
    DROP CONSTRAINT jobs_finished_at_check;
DROP INDEX jobs_claimable_idx;
DROP INDEX jobs_lease_expires_at_idx;

ALTER TABLE jobs
    ALTER COLUMN state DROP DEFAULT,
    ALTER COLUMN state TYPE job_state USING state::job_state,
    ALTER COLUMN state SET DEFAULT 'queued';

ALTER TABLE jobs
    -- A running job always has a live claim, and nothing else has one.
    ADD CONSTRAINT jobs_lease_check CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    -- Finished exactly when in a final state (River's finalized_or_finalized_at_null).
    ADD CONSTRAINT jobs_finished_at_check CHECK (
        (state IN ('completed', 'failed')) = (finished_at IS NOT NULL));

-- What claim_job() scans: only jobs that can be claimed, in claim order.
CREATE INDEX jobs_claimable_idx ON jobs (priority DESC, run_after, job_id)
    WHERE state IN ('queued', 'retrying');
-- What the lease reaper scans.
CREATE INDEX jobs_lease_expires_at_idx ON jobs (lease_expires_at) WHERE state = 'running';
