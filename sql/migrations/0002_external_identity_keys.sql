-- External identity keys: which catalog an identity comes from and its stable
-- ID there. Studio-native identities keep both NULL.

ALTER TABLE identities ADD COLUMN IF NOT EXISTS external_id VARCHAR(255);
ALTER TABLE identities ADD COLUMN IF NOT EXISTS source_system VARCHAR(50);

CREATE UNIQUE INDEX IF NOT EXISTS idx_identities_external
    ON identities (source_system, external_id)
    WHERE external_id IS NOT NULL;

-- A key without its system (or the reverse) could collide across catalogs.
ALTER TABLE identities
    ADD CONSTRAINT identities_external_id_source_system_check
    CHECK ((external_id IS NULL) = (source_system IS NULL));
