-- studio_source_lock(source_system, exclusive) -> void
--
-- Takes the transaction-scoped advisory lock of one source system. Syncs take
-- it exclusive, ingests shared: ingests of a source run side by side, while a
-- sync (which deletes and tombstones) never interleaves with an ingest that
-- could resurrect the person it deletes. One lock per call, whatever the
-- payload's size, so the lock table cannot overflow.
-- Example: PERFORM studio_source_lock('alfred_catalog', true);
-- Raises nothing of its own; waits while another call holds the lock.
CREATE OR REPLACE FUNCTION studio_source_lock(p_source_system text, p_exclusive boolean)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- 0x53544449 ('STDI') namespaces these locks away from other advisory users.
    IF p_exclusive THEN
        PERFORM pg_advisory_xact_lock(1398031433, hashtext(p_source_system));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(1398031433, hashtext(p_source_system));
    END IF;
END
$$;
