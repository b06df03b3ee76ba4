-- The gallery's change feed.
--
-- Each recognizer holds the gallery of a model in memory. Reloading all of it
-- on every change (what the NOTIFY of 0006 used to trigger) stalls
-- recognition while anything is written, and a read replica delivers no
-- NOTIFY at all. So every change to what the gallery view (0008) shows is
-- written here, in the changing transaction, and a recognizer reads only
-- the entries it has not applied yet (gallery_changes_since()), then
-- re-reads the gallery rows of the identities they name. The NOTIFY stays,
-- as the wake-up on a primary; a standby is polled.
--
-- One entry per identity (and model) per statement, not per vector: a
-- recognizer re-reads an identity's references as they are now, so what
-- happened to it in detail does not matter, only that it changed.
--
-- Entries are found by transaction, not by change_id: change_ids are taken
-- in insert order, but transactions commit in any order, so an entry with a
-- lower change_id can become visible after one with a higher change_id. xid
-- is the writing transaction's ID, and every transaction with an ID below
-- the xmin of a snapshot has ended (committed or rolled back). A reader
-- keeps that xmin as its position (gallery_changes_since() says why that is
-- enough). snapshot_xmin and logged_at mark how old the entry is, for
-- pruning (prune_gallery_changes()).

CREATE TABLE gallery_changes (
    change_id     bigint      GENERATED ALWAYS AS IDENTITY,
    xid           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    snapshot_xmin xid8        NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
    logged_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- NULL with op 'reload': anything may have changed (a TRUNCATE, or a DBA
    -- after a load that bypassed the triggers); readers load all again.
    identity_id   uuid,
    -- NULL: the identity's name or keys changed, in every model's gallery.
    model         varchar(50),
    op            text        NOT NULL,
    CONSTRAINT gallery_changes_pkey PRIMARY KEY (change_id),
    CONSTRAINT gallery_changes_op_check CHECK (op IN ('insert', 'update', 'delete', 'reload')),
    CONSTRAINT gallery_changes_reload_check CHECK ((identity_id IS NULL) = (op = 'reload'))
);

CREATE INDEX gallery_changes_xid_idx ON gallery_changes (xid);
CREATE INDEX gallery_changes_logged_at_idx ON gallery_changes (logged_at);

-- Every entry of a transaction below pruned_below has been deleted: a reader
-- whose position is below it may have missed some, and loads all again.
-- checked_at: when pruning last looked, so that writers look once a minute,
-- not on every statement.
CREATE TABLE gallery_change_horizon (
    pruned_below xid8        NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT '-infinity',
    only_row     boolean     NOT NULL DEFAULT true,
    CONSTRAINT gallery_change_horizon_pkey PRIMARY KEY (only_row),
    CONSTRAINT gallery_change_horizon_only_row_check CHECK (only_row)
);

INSERT INTO gallery_change_horizon (pruned_below) VALUES ('0');

-- The triggers. Statement-level with transition tables: a 1,000-face ingest
-- writes one entry per identity it touched, not 1,000, and pays no call per
-- row. Only rows that can be in the gallery (reference faces) count; an
-- update counts the rows as they were and as they are, so a face that stops
-- being a reference is noticed too.

CREATE FUNCTION studio_log_embedding_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO gallery_changes (identity_id, model, op)
        SELECT DISTINCT identity_id, model, 'insert'
        FROM new_rows WHERE is_reference AND embedding_type = 'face';
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO gallery_changes (identity_id, model, op)
        SELECT DISTINCT identity_id, model, 'delete'
        FROM old_rows WHERE is_reference AND embedding_type = 'face';
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO gallery_changes (identity_id, model, op)
        SELECT identity_id, model, 'update'
        FROM (SELECT identity_id, model FROM old_rows WHERE is_reference AND embedding_type = 'face'
              UNION
              SELECT identity_id, model FROM new_rows WHERE is_reference AND embedding_type = 'face')
             AS touched;
    ELSE
        INSERT INTO gallery_changes (op) VALUES ('reload');
    END IF;
    -- Pruning lives in sql/functions/, applied after the migrations: a later
    -- migration that writes embeddings or identities runs before it exists.
    IF to_regprocedure('studio_prune_gallery_changes_due()') IS NOT NULL THEN
        PERFORM studio_prune_gallery_changes_due();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION studio_log_identity_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Sightings stamp first_seen / last_seen many times a second: only a
        -- change of what the gallery shows of a person is an entry.
        INSERT INTO gallery_changes (identity_id, op)
        SELECT n.identity_id, 'update'
        FROM new_rows AS n JOIN old_rows AS o USING (identity_id)
        WHERE (n.name, n.external_id, n.source_system)
              IS DISTINCT FROM (o.name, o.external_id, o.source_system);
    ELSIF TG_OP = 'DELETE' THEN
        -- The cascade to embeddings writes the model entries; this one is for
        -- readers that only follow identities.
        INSERT INTO gallery_changes (identity_id, op)
        SELECT identity_id, 'delete' FROM old_rows;
    ELSE
        INSERT INTO gallery_changes (op) VALUES ('reload');
    END IF;
    IF to_regprocedure('studio_prune_gallery_changes_due()') IS NOT NULL THEN
        PERFORM studio_prune_gallery_changes_due();
    END IF;
    RETURN NULL;
END
$$;

-- A trigger with transition tables takes one event, hence one per event.
CREATE TRIGGER embeddings_gallery_insert_log
    AFTER INSERT ON embeddings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_embedding_changes();
CREATE TRIGGER embeddings_gallery_update_log
    AFTER UPDATE ON embeddings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_embedding_changes();
CREATE TRIGGER embeddings_gallery_delete_log
    AFTER DELETE ON embeddings REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_embedding_changes();
CREATE TRIGGER embeddings_gallery_truncate_log
    AFTER TRUNCATE ON embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_embedding_changes();

CREATE TRIGGER identities_gallery_update_log
    AFTER UPDATE ON identities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_identity_changes();
CREATE TRIGGER identities_gallery_delete_log
    AFTER DELETE ON identities REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_identity_changes();
CREATE TRIGGER identities_gallery_truncate_log
    AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION studio_log_identity_changes();
