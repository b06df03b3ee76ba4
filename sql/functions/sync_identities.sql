-- sync_identities(payload jsonb, caller text, allowed_sources text[], now timestamptz) -> jsonb
--
-- Creates, renames and deletes the identities of one source system.
--
--   SELECT sync_identities('{
--     "source_system": "alfred_catalog",
--     "identities": [
--       {"external_id": "15", "name": "Ada Lovelace", "action": "upsert"},
--       {"external_id": 16, "action": "delete"}
--     ],
--     "mode": "incremental", "dry_run": false, "allow_mass_delete": false
--   }');
--   -> {"success": true, "created": 1, "updated": 0, "deleted": 1, "unchanged": 0,
--       "embeddings_deleted": 4, "errors": [], ...}
--
-- Items are applied in array order. "action" defaults to "upsert"; "name" is
-- required for it. external_id is a string or an integer. Every text value
-- (source_system, external_id, name) is normalised once
-- (studio_normalized_text: NFKC, trimmed); the checks read that value and
-- the same value is stored. Delete cascades to the identity's embeddings
-- and leaves a tombstone (no name) so that a late ingest cannot bring the
-- person back; a later upsert removes the tombstone.
-- "mode": "full" means the list is the whole set for that source: identities
-- of the source that are absent are deleted, and if the call would leave
-- fewer than half of the source's identities standing (absent ones, explicit
-- deletes, a key upserted then deleted, a key deleted then upserted: whatever
-- removes an identity and its embeddings) it is refused unless
-- "allow_mass_delete" is true. "dry_run": true reports the same counts and
-- changes nothing but the audit journal. Identities of other source systems
-- and Studio-native ones (external_id NULL) are never touched.
--
-- Raises: 22023 with DETAIL = JSON array of every error (nothing changed);
--         42501 when allowed_sources does not hold the source system;
--         22P02 (invalid JSON) is raised by PostgreSQL before the call.
-- Idempotent: replaying a payload changes nothing and counts it as unchanged.
-- Concurrency: holds the source system's lock exclusively (studio_source_lock).
CREATE OR REPLACE FUNCTION sync_identities(
    p_payload         jsonb,
    p_caller          text        DEFAULT NULL,
    p_allowed_sources text[]      DEFAULT NULL,
    p_now             timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    -- One element per identity item, in payload order: the item, its
    -- normalised key and name (checked, then stored as they are) and action.
    r_item          jsonb[];
    r_ext           text[];
    r_name          text[];
    r_action        text[];
    v_source        text;
    v_mode          text;
    v_dry_run       boolean;
    v_allow_mass    boolean;
    v_errors        jsonb;
    v_item          record;
    v_count         integer;
    v_existing      integer;
    v_to_delete     integer;
    v_before_ids    uuid[];
    v_named_ids     text[];
    v_created       integer := 0;
    v_updated       integer := 0;
    v_deleted       integer := 0;
    v_unchanged     integer := 0;
    v_emb_deleted   integer := 0;
    v_result        jsonb;
BEGIN
    -- 1. Validate everything and collect every error.
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'payload must be a JSON object')));
    END IF;

    v_source := studio_normalized_text(p_payload -> 'source_system');
    IF jsonb_typeof(p_payload -> 'identities') = 'array' THEN
        SELECT coalesce(array_agg(i.item ORDER BY i.ord), '{}'),
               coalesce(array_agg(studio_normalized_text(i.item -> 'external_id') ORDER BY i.ord), '{}'),
               coalesce(array_agg(studio_normalized_text(i.item -> 'name') ORDER BY i.ord), '{}'),
               coalesce(array_agg(coalesce(i.item ->> 'action', 'upsert') ORDER BY i.ord), '{}')
          INTO r_item, r_ext, r_name, r_action
          FROM jsonb_array_elements(p_payload -> 'identities') WITH ORDINALITY AS i (item, ord);
    END IF;

    SELECT coalesce(jsonb_agg(err ORDER BY (err ->> 'index')::integer NULLS FIRST), '[]')
      INTO v_errors FROM (
        SELECT studio_key_errors(p_payload,
               '{source_system,identities,mode,dry_run,allow_mass_delete}', '', NULL, NULL) AS err
        UNION ALL
        SELECT e FROM studio_text_errors(p_payload -> 'source_system', 'source_system',
                                         NULL, NULL, true, 50, false, v_source) AS e
        UNION ALL
        SELECT studio_error(NULL, NULL, 'identities', 'required', 'identities is required')
        WHERE NOT p_payload ? 'identities'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'identities', 'invalid_type', 'identities must be an array')
        WHERE p_payload ? 'identities' AND jsonb_typeof(p_payload -> 'identities') <> 'array'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'mode', 'invalid_value', 'mode must be "incremental" or "full"')
        WHERE p_payload ? 'mode' AND (p_payload ->> 'mode') IS DISTINCT FROM 'incremental'
                                 AND (p_payload ->> 'mode') IS DISTINCT FROM 'full'
        UNION ALL
        SELECT studio_error(NULL, NULL, key, 'invalid_type', format('%s must be true or false', key))
        FROM unnest(ARRAY['dry_run', 'allow_mass_delete']) AS key
        WHERE p_payload ? key AND jsonb_typeof(p_payload -> key) <> 'boolean'
        UNION ALL
        SELECT item_err
        FROM unnest(r_item, r_ext, r_name, r_action) WITH ORDINALITY AS i (item, ext, name, action, ord)
        CROSS JOIN LATERAL (
            SELECT studio_error((i.ord - 1)::integer, NULL, '$', 'invalid_type',
                                'each identity must be a JSON object')
            WHERE jsonb_typeof(i.item) <> 'object'
            UNION ALL
            SELECT studio_key_errors(i.item, '{external_id,name,action}', '',
                                     (i.ord - 1)::integer, i.item ->> 'external_id')
            WHERE jsonb_typeof(i.item) = 'object'
              AND EXISTS (SELECT 1 FROM jsonb_object_keys(CASE WHEN jsonb_typeof(i.item) = 'object'
                                                               THEN i.item END) AS key
                          WHERE key NOT IN ('external_id', 'name', 'action'))
            UNION ALL
            SELECT e FROM studio_text_errors(i.item -> 'external_id', 'external_id', (i.ord - 1)::integer,
                                      i.item ->> 'external_id', true, 255, true, i.ext) AS e
            WHERE jsonb_typeof(i.item) = 'object'
            UNION ALL
            SELECT studio_error((i.ord - 1)::integer, i.item ->> 'external_id', 'action',
                                'invalid_value', 'action must be "upsert" or "delete"')
            WHERE jsonb_typeof(i.item) = 'object' AND i.item ? 'action'
              AND (i.item ->> 'action') IS DISTINCT FROM 'upsert'
              AND (i.item ->> 'action') IS DISTINCT FROM 'delete'
            UNION ALL
            -- A delete needs no name, but one that is sent is still checked.
            SELECT e FROM studio_text_errors(i.item -> 'name', 'name', (i.ord - 1)::integer,
                                      i.item ->> 'external_id', i.action = 'upsert', 255, false,
                                      i.name) AS e
            WHERE jsonb_typeof(i.item) = 'object'
        ) AS item_errors (item_err)
    ) AS all_errors;

    PERFORM studio_raise_invalid(v_errors);

    v_mode       := coalesce(p_payload ->> 'mode', 'incremental');
    v_dry_run    := coalesce((p_payload ->> 'dry_run')::boolean, false);
    v_allow_mass := coalesce((p_payload ->> 'allow_mass_delete')::boolean, false);

    PERFORM studio_require_source(v_source, p_allowed_sources);
    PERFORM studio_source_lock(v_source, true);

    -- Every key the payload names, as an array joined against the table:
    -- per-row array scans would make a full sync of 100k identities quadratic.
    SELECT coalesce(array_agg(DISTINCT ext), '{}') INTO v_named_ids FROM unnest(r_ext) AS ext;

    -- The identities there are before the call, for the mass-delete guard.
    IF v_mode = 'full' AND NOT v_allow_mass THEN
        SELECT coalesce(array_agg(identity_id), '{}') INTO v_before_ids
          FROM identities WHERE source_system = v_source;
    END IF;

    -- 2. Apply. A dry run applies too, inside a subtransaction that is then
    -- rolled back, so its counts come from the same code as a real run.
    BEGIN
        FOR v_item IN
            SELECT i.external_id, i.name, i.action
            FROM unnest(r_ext, r_name, r_action) WITH ORDINALITY AS i (external_id, name, action, ord)
            ORDER BY i.ord
        LOOP
            IF v_item.action = 'upsert' THEN
                DELETE FROM identity_tombstones
                 WHERE source_system = v_source AND external_id = v_item.external_id;
                INSERT INTO identities (name, external_id, source_system, created_at, updated_at)
                VALUES (v_item.name, v_item.external_id, v_source, p_now, p_now)
                ON CONFLICT (source_system, external_id) WHERE external_id IS NOT NULL DO NOTHING;
                IF FOUND THEN
                    v_created := v_created + 1;
                ELSE
                    UPDATE identities SET name = v_item.name, updated_at = p_now
                     WHERE source_system = v_source AND external_id = v_item.external_id
                       AND name IS DISTINCT FROM v_item.name;
                    IF FOUND THEN
                        v_updated := v_updated + 1;
                    ELSE
                        v_unchanged := v_unchanged + 1;
                    END IF;
                END IF;
            ELSE
                v_count := studio_delete_identity(v_source, v_item.external_id, p_now);
                IF v_count IS NULL THEN
                    v_unchanged := v_unchanged + 1;
                ELSE
                    v_deleted := v_deleted + 1;
                    v_emb_deleted := v_emb_deleted + v_count;
                END IF;
            END IF;
        END LOOP;

        IF v_mode = 'full' THEN
            FOR v_item IN
                SELECT x.external_id FROM identities AS x
                LEFT JOIN unnest(v_named_ids) AS named (external_id)
                       ON named.external_id = x.external_id
                WHERE x.source_system = v_source AND named.external_id IS NULL
                ORDER BY x.external_id
            LOOP
                v_count := studio_delete_identity(v_source, v_item.external_id, p_now);
                v_deleted := v_deleted + 1;
                v_emb_deleted := v_emb_deleted + v_count;
            END LOOP;
        END IF;

        -- 3. The mass-delete guard, on the state the call leaves rather than
        -- on a reading of the list: an identity counts as deleted when its
        -- row is gone, however the items got there (a key upserted then
        -- deleted; deleted then upserted, which is a new row without the
        -- old embeddings). Raising here rolls the whole call back.
        IF v_mode = 'full' AND NOT v_allow_mass THEN
            v_existing := cardinality(v_before_ids);
            SELECT v_existing - count(*) INTO v_to_delete
              FROM unnest(v_before_ids) AS before (identity_id)
              JOIN identities AS x ON x.identity_id = before.identity_id;
            IF v_to_delete * 2 > v_existing THEN
                PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
                    NULL, NULL, 'allow_mass_delete', 'mass_delete',
                    format('this full sync would delete %s of the %s identities of "%s" (more '
                           'than half); send "allow_mass_delete": true if that is intended',
                           v_to_delete, v_existing, v_source))));
            END IF;
        END IF;

        v_result := jsonb_build_object(
            'success', true, 'source_system', v_source, 'mode', v_mode, 'dry_run', v_dry_run,
            'created', v_created, 'updated', v_updated, 'deleted', v_deleted,
            'unchanged', v_unchanged, 'embeddings_deleted', v_emb_deleted, 'errors', '[]'::jsonb);

        IF v_dry_run THEN
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'GT900';
        END IF;
    EXCEPTION WHEN SQLSTATE 'GT900' THEN
        NULL;  -- the dry run's changes are rolled back; v_result survives
    END;

    INSERT INTO audit_journal (occurred_at, operation, source_system, caller, dry_run, counts)
    VALUES (p_now, 'sync', v_source, coalesce(p_caller, session_user), v_dry_run,
            v_result - '{success,source_system,mode,dry_run,errors}'::text[]
                     || jsonb_build_object('mode', v_mode,
                                           'items', jsonb_array_length(p_payload -> 'identities')));

    RETURN v_result;
END
$$;
