-- Face vectors move from float arrays to a pgvector column.
--
-- Every existing row is accounted for: it is converted, collapsed into an
-- identical vector of the same identity, or moved to embedding_quarantine
-- with the reason it could not become a 512-d face vector. Nothing is dropped
-- silently.

CREATE EXTENSION IF NOT EXISTS vector;

-- Rows the conversion cannot take, kept for a person to look at. The foreign
-- key cascades so that erasing an identity erases its quarantined rows too.
CREATE TABLE embedding_quarantine (
    embedding_id      uuid        NOT NULL,
    identity_id       uuid        NOT NULL,
    embedding_type    varchar(50) NOT NULL,
    vector            float[],
    is_reference      boolean     NOT NULL,
    source_image_path text,
    confidence        real,
    created_at        timestamptz NOT NULL,
    reason            text        NOT NULL,
    quarantined_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT embedding_quarantine_pkey PRIMARY KEY (embedding_id),
    CONSTRAINT embedding_quarantine_identity_id_fkey FOREIGN KEY (identity_id)
        REFERENCES identities (identity_id) ON DELETE CASCADE
);

WITH checked AS (
    SELECT e.*,
           CASE
               WHEN e.vector IS NULL THEN 'vector is NULL'
               WHEN array_ndims(e.vector) <> 1 OR cardinality(e.vector) <> 512
                   THEN format('vector has %s values, expected 512', cardinality(e.vector))
               WHEN EXISTS (SELECT 1 FROM unnest(e.vector) AS x
                            WHERE x IS NULL OR x = 'NaN'::float OR abs(x) > 3.4e38)
                   THEN 'vector holds NULL, NaN, infinite or out-of-range values'
               WHEN (SELECT sum(x * x) FROM unnest(e.vector) AS x) = 0
                   THEN 'vector is all zeros'
           END AS reason
    FROM embeddings AS e
), moved AS (
    INSERT INTO embedding_quarantine (embedding_id, identity_id, embedding_type, vector,
                                      is_reference, source_image_path, confidence,
                                      created_at, reason)
    SELECT embedding_id, identity_id, embedding_type, vector, is_reference,
           source_image_path, confidence, created_at, reason
    FROM checked
    WHERE reason IS NOT NULL
    RETURNING embedding_id
)
DELETE FROM embeddings WHERE embedding_id IN (SELECT embedding_id FROM moved);

-- Unit length makes cosine similarity a dot product and makes the hash below
-- see the same face vector the same way at any scale. SET STORAGE PLAIN in
-- the same statement as the type change applies to the rewrite it causes: a
-- vector(512) is 2,056 bytes, just over the TOAST threshold, and stored out of
-- line every scan is about 4x slower.
ALTER TABLE embeddings
    ALTER COLUMN vector TYPE vector(512) USING l2_normalize(vector::vector(512)),
    ALTER COLUMN vector SET NOT NULL,
    ALTER COLUMN vector SET STORAGE PLAIN;

-- Vectors from different models are never compared; rows from before this
-- column came from Studio's production model.
ALTER TABLE embeddings ADD COLUMN model varchar(50) NOT NULL DEFAULT 'buffalo_l';

-- Identity of a vector for dedup. sha256 of the binary form is immutable and
-- exact; the text form is neither.
ALTER TABLE embeddings
    ADD COLUMN vector_hash bytea GENERATED ALWAYS AS (sha256(vector_send(vector))) STORED;

-- Collapse existing duplicates before the unique index: keep the reference
-- row if any, then the oldest, then the one that knows its source photo.
DELETE FROM embeddings AS e
USING (
    SELECT embedding_id,
           row_number() OVER (PARTITION BY identity_id, vector_hash
                              ORDER BY is_reference DESC, created_at,
                                       source_image_path IS NULL, embedding_id) AS rank
    FROM embeddings
) AS ranked
WHERE e.embedding_id = ranked.embedding_id AND ranked.rank > 1;

ALTER TABLE embeddings
    ADD CONSTRAINT embeddings_identity_id_vector_hash_key UNIQUE (identity_id, vector_hash);

-- The unique index leads with identity_id, so it serves the foreign key too.
DROP INDEX IF EXISTS idx_embeddings_identity;

-- Confidence is a detector score; values outside 0..1 were never meaningful.
UPDATE embeddings SET confidence = NULL WHERE confidence < 0 OR confidence > 1 OR confidence = 'NaN';
ALTER TABLE embeddings
    ADD CONSTRAINT embeddings_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    ADD CONSTRAINT embeddings_model_check CHECK (model <> '');

-- Privacy: Studio never holds a photo reference for a person from an external
-- catalog. The embedding side and the identity side are both guarded, so no
-- order of writes gets around it.
CREATE FUNCTION embeddings_refuse_external_image_path() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source_image_path IS NOT NULL AND EXISTS (
        SELECT 1 FROM identities
        WHERE identity_id = NEW.identity_id AND external_id IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'source_image_path must be NULL for an embedding of an external identity'
            USING ERRCODE = '23514', CONSTRAINT = 'embeddings_external_image_path_check',
                  TABLE = 'embeddings', COLUMN = 'source_image_path';
    END IF;
    RETURN NEW;
END
$$;

-- The WHEN clause keeps the trigger off the bulk-ingest path, where the
-- path is always NULL.
CREATE TRIGGER embeddings_external_image_path_check
    BEFORE INSERT OR UPDATE OF source_image_path, identity_id ON embeddings
    FOR EACH ROW WHEN (NEW.source_image_path IS NOT NULL)
    EXECUTE FUNCTION embeddings_refuse_external_image_path();

CREATE FUNCTION identities_refuse_external_with_image_paths() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.external_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM embeddings
        WHERE identity_id = NEW.identity_id AND source_image_path IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'identity % has embeddings with a source_image_path and cannot become external',
                        NEW.identity_id
            USING ERRCODE = '23514', CONSTRAINT = 'embeddings_external_image_path_check',
                  TABLE = 'identities', COLUMN = 'external_id';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER identities_external_image_path_check
    BEFORE UPDATE OF external_id ON identities
    FOR EACH ROW EXECUTE FUNCTION identities_refuse_external_with_image_paths();
