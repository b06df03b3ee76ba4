-- gallery_changes_since(position xid8, model text) -> jsonb
--
-- What a recognizer following the gallery of `model` has not applied yet:
--   {"position": "<xid>", "behind": false,
--    "changes": [[change_id, "<xid>", identity_id or null], ...]}
-- `changes` are the visible entries of transactions from `position` on, of
-- that model or of every model (an identity's name or keys), oldest first;
-- an identity_id of null asks the reader to load all again. The reader
-- re-reads the gallery rows of the identities named, keeps the returned
-- position for its next call, and remembers the change_ids it applied whose
-- xid is at or above it: those come back in the next answer (as they are
-- still above the position) and are skipped there.
--
-- Why that finds every entry exactly once, whatever order transactions
-- commit in: the position is the xmin of this statement's snapshot, so
-- every transaction below it has ended, and its entries were either visible
-- to this statement (and returned now or before) or rolled back. An entry of
-- a transaction at or above the position is either visible now (returned
-- now, and again until the position passes it: the reader skips it by
-- change_id) or not yet committed (returned by a later call, because the
-- position never passes a transaction still in progress). Only the
-- snapshot's xmin is used, never its list of transactions in progress: on a
-- hot standby that list is empty (pg_current_snapshot() there treats a
-- transaction still open on the primary as ended), while xmin is right on
-- both.
--
-- `behind` is true when the reader must load all again instead: entries
-- from its position on were pruned (prune_gallery_changes()), or the
-- position is ahead of this database's (a restore, or a failover that lost
-- commits the reader had seen).
-- Example: SELECT gallery_changes_since('0', 'buffalo_l');
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION gallery_changes_since(p_position xid8, p_model text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'position', pg_snapshot_xmin(pg_current_snapshot())::text,
        'behind', h.pruned_below > p_position
                  OR p_position > pg_snapshot_xmin(pg_current_snapshot()),
        'changes', coalesce(
            (SELECT jsonb_agg(jsonb_build_array(c.change_id, c.xid::text, c.identity_id)
                              ORDER BY c.change_id)
             FROM gallery_changes AS c
             WHERE c.xid >= p_position AND (c.model IS NULL OR c.model = p_model)),
            '[]'::jsonb))
    FROM gallery_change_horizon AS h
$$;
