-- Baseline: Studio's identity tables as they existed before identity sync.
--
-- Created only if absent, so that an existing Studio database is adopted as it
-- is and a new one starts from the same shape. Face vectors are plain float
-- arrays here; 0003 moves them to pgvector. Nothing in this file may assume
-- the tables are empty.

CREATE TABLE IF NOT EXISTS identities (
    identity_id   uuid        NOT NULL DEFAULT gen_random_uuid(),
    name          text,
    identity_type varchar(50) NOT NULL DEFAULT 'person',
    first_seen    timestamptz,
    last_seen     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_pkey PRIMARY KEY (identity_id)
);

CREATE TABLE IF NOT EXISTS embeddings (
    embedding_id      uuid        NOT NULL DEFAULT gen_random_uuid(),
    identity_id       uuid        NOT NULL,
    embedding_type    varchar(50) NOT NULL DEFAULT 'face',
    vector            float[],
    is_reference      boolean     NOT NULL DEFAULT false,
    source_image_path text,
    confidence        real,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT embeddings_pkey PRIMARY KEY (embedding_id),
    CONSTRAINT embeddings_identity_id_fkey FOREIGN KEY (identity_id)
        REFERENCES identities (identity_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_embeddings_identity ON embeddings (identity_id);
