-- studio_delete_identity(source_system, external_id, now) -> integer
--
-- Deletes one external identity with its embeddings (by cascade) and records
-- the tombstone that keeps it deleted. Returns how many embeddings went with
-- it, or NULL when no such identity existed (the tombstone is written anyway:
-- the source has said this person is gone). Keeps no name.
-- Example: SELECT studio_delete_identity('alfred_catalog', '15', now());
-- Raises nothing of its own. Idempotent.
CREATE OR REPLACE FUNCTION studio_delete_identity(
    p_source_system text,
    p_external_id   text,
    p_now           timestamptz
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_identity_id uuid;
    v_embeddings  integer;
BEGIN
    SELECT i.identity_id, (SELECT count(*) FROM embeddings AS e WHERE e.identity_id = i.identity_id)
      INTO v_identity_id, v_embeddings
      FROM identities AS i
     WHERE i.source_system = p_source_system AND i.external_id = p_external_id
       FOR UPDATE;

    IF FOUND THEN
        DELETE FROM identities WHERE identity_id = v_identity_id;  -- embeddings cascade
    END IF;

    INSERT INTO identity_tombstones (source_system, external_id, deleted_at, embeddings_deleted)
    VALUES (p_source_system, p_external_id, p_now, coalesce(v_embeddings, 0))
    ON CONFLICT (source_system, external_id)
    DO UPDATE SET deleted_at = excluded.deleted_at,
                  embeddings_deleted = identity_tombstones.embeddings_deleted
                                       + excluded.embeddings_deleted;
    RETURN v_embeddings;
END
$$;
