-- prune_gallery_changes(retention interval) -> bigint
--
-- Deletes the change feed's entries that every reader has long passed, and
-- returns how many went. The rule, by age, because readers on a standby
-- cannot write down how far they got: the horizon is the newest
-- snapshot_xmin written at least `retention` ago (one hour by default), so
-- every transaction below it had ended an hour ago; the entries of those
-- transactions go, and gallery_change_horizon.pruned_below moves up to it. A
-- reader that has read the feed within the hour has a position at or above
-- it (positions only grow) and misses nothing; one that has not (a
-- recognizer cut off from its database for over an hour) is told it is
-- behind and loads the whole gallery again.
--
-- Writers call it through studio_prune_gallery_changes_due(), once a minute
-- at most; a DBA may call it with a shorter retention.
-- Example: SELECT prune_gallery_changes(interval '1 hour');
-- Raises nothing of its own; waits while another transaction prunes.
CREATE OR REPLACE FUNCTION prune_gallery_changes(p_retention interval DEFAULT interval '1 hour')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_horizon xid8;
    v_deleted bigint := 0;
BEGIN
    -- 0x53544743 ('STGC'): one pruner at a time, apart from other advisory users.
    PERFORM pg_advisory_xact_lock(1398032195, 0);
    UPDATE gallery_change_horizon SET checked_at = now();
    SELECT max(snapshot_xmin) INTO v_horizon
    FROM gallery_changes
    WHERE logged_at <= now() - p_retention;
    IF v_horizon IS NOT NULL AND v_horizon > (SELECT pruned_below FROM gallery_change_horizon) THEN
        DELETE FROM gallery_changes WHERE xid < v_horizon;
        GET DIAGNOSTICS v_deleted = ROW_COUNT;
        UPDATE gallery_change_horizon SET pruned_below = v_horizon;
    END IF;
    RETURN v_deleted;
END
$$;
