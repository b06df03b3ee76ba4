-- The job queue: face_detect_embed jobs submitted by the catalog side and
-- worked by GPU workers over HTTP.
--
-- States (docs/jobs.md has the diagram):
--   queued    -> running              claim_job()
--   running   -> completed            complete_job()
--   running   -> retrying | failed    fail_job(), or the lease expiring
--   retrying  -> running              claim_job() once run_after has passed
-- A claim hands out a fresh lease_token; heartbeat, complete and fail must
-- present it, so a worker whose lease expired and whose job was claimed
-- again cannot touch it any more.

CREATE TABLE jobs (
    job_id           bigint       GENERATED ALWAYS AS IDENTITY,
    job_type         text         NOT NULL,
    source_system    varchar(50)  NOT NULL,
    config           jsonb        NOT NULL,
    state            text         NOT NULL DEFAULT 'queued',
    attempt          integer      NOT NULL DEFAULT 0,
    max_attempts     integer      NOT NULL DEFAULT 5,
    priority         smallint     NOT NULL DEFAULT 0,
    run_after        timestamptz  NOT NULL,
    lease_token      uuid,
    lease_expires_at timestamptz,
    worker_id        text,
    progress         jsonb        NOT NULL DEFAULT '{}',
    result           jsonb,
    last_error       text,
    errors           jsonb        NOT NULL DEFAULT '[]',
    submitted_by     text         NOT NULL,
    created_at       timestamptz  NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz  NOT NULL,
    CONSTRAINT jobs_pkey PRIMARY KEY (job_id),
    CONSTRAINT jobs_job_type_check CHECK (job_type IN ('face_detect_embed')),
    CONSTRAINT jobs_state_check
        CHECK (state IN ('queued', 'running', 'retrying', 'completed', 'failed')),
    CONSTRAINT jobs_attempt_check CHECK (attempt BETWEEN 0 AND max_attempts),
    CONSTRAINT jobs_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 20),
    -- A running job always has a live claim, and nothing else has one.
    CONSTRAINT jobs_lease_check CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    -- Finished exactly when in a final state (River's finalized_or_finalized_at_null).
    CONSTRAINT jobs_finished_at_check CHECK (
        (state IN ('completed', 'failed')) = (finished_at IS NOT NULL))
);

-- What claim_job() scans: only jobs that can be claimed, in claim order.
CREATE INDEX jobs_claimable_idx ON jobs (priority DESC, run_after, job_id)
    WHERE state IN ('queued', 'retrying');
-- What the lease reaper scans.
CREATE INDEX jobs_lease_expires_at_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state_created_at_idx ON jobs (state, created_at);
