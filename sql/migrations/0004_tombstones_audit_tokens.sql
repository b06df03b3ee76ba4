-- Tombstones, the audit journal and API tokens.

-- A person deleted at the source stays deleted: a late or replayed ingest for
-- the same key is refused while the tombstone exists. An upsert from the
-- source (the person is back) removes it. No name is kept.
CREATE TABLE identity_tombstones (
    source_system      varchar(50)  NOT NULL,
    external_id        varchar(255) NOT NULL,
    deleted_at         timestamptz  NOT NULL,
    embeddings_deleted integer      NOT NULL DEFAULT 0,
    CONSTRAINT identity_tombstones_pkey PRIMARY KEY (source_system, external_id)
);

-- One row per applied sync or ingest call (dry runs included, flagged). Only
-- counts: never a name, a key of a deleted person, or a vector.
CREATE TABLE audit_journal (
    audit_id      bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at   timestamptz NOT NULL,
    operation     text        NOT NULL,
    source_system varchar(50) NOT NULL,
    caller        text        NOT NULL,
    dry_run       boolean     NOT NULL DEFAULT false,
    counts        jsonb       NOT NULL,
    CONSTRAINT audit_journal_pkey PRIMARY KEY (audit_id),
    CONSTRAINT audit_journal_operation_check CHECK (operation IN ('sync', 'ingest'))
);

CREATE INDEX audit_journal_occurred_at_idx ON audit_journal (occurred_at);

-- Bearer tokens. Only a SHA-256 of the token is stored; the token itself is
-- shown once, when it is created. source_systems NULL means any system.
CREATE TABLE api_tokens (
    token_id       uuid          NOT NULL DEFAULT gen_random_uuid(),
    name           text          NOT NULL,
    token_hash     bytea         NOT NULL,
    scopes         text[]        NOT NULL,
    source_systems varchar(50)[],
    created_at     timestamptz   NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_name_check CHECK (name <> '' AND length(name) <= 100),
    CONSTRAINT api_tokens_scopes_check CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['identities:read', 'identities:write', 'embeddings:write',
                            'jobs:submit', 'jobs:work', 'recognize', 'admin']::text[]),
    CONSTRAINT api_tokens_source_systems_check CHECK (
        source_systems IS NULL OR cardinality(source_systems) > 0)
);

-- Names identify live tokens for people; a revoked name can be reused.
CREATE UNIQUE INDEX api_tokens_name_key ON api_tokens (name) WHERE revoked_at IS NULL;
