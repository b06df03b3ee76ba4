-- ingest_embeddings(payload jsonb, caller text, allowed_sources text[], now timestamptz) -> jsonb
--
-- Stores reference face embeddings for identities of one source system,
-- creating the identities that do not exist yet.
--
--   SELECT ingest_embeddings('{
--     "source_system": "alfred_catalog", "model": "buffalo_l",
--     "results": [{"external_id": "15", "name": "Ada Lovelace",
--                  "faces": [{"embedding": [0.01, ... 512 numbers], "confidence": 0.98}]}]
--   }');
--   -> {"success": true, "identities_resolved": 1, "identities_created": 1,
--       "embeddings_stored": 1, "duplicates_skipped": 0, "skipped": [], ...}
--
-- Text values (source_system, external_id, name) are normalised once
-- (studio_normalized_text: NFKC, trimmed); the checks read that value and
-- the same value is stored. Each embedding is exactly 512 finite numbers,
-- stored L2-normalised as a reference face of "model" (default "buffalo_l";
-- vectors of different models are never compared). confidence is optional,
-- 0..1. The same vector for the same identity is stored once: repeats, in
-- this call or an earlier one, are counted in duplicates_skipped. An
-- existing identity whose name changed at the source is renamed, as SEED.md's
-- ingest behaviour says (counted in identities_renamed). A
-- result for a person deleted at the source (tombstoned) stores nothing and
-- creates nothing: it is listed in "skipped" with reason "deleted_at_source".
--
-- Raises: 22023 with DETAIL = JSON array of every error (nothing changed);
--         42501 when allowed_sources does not hold the source system.
-- Idempotent: replaying a payload stores nothing new.
-- Concurrency: holds the source system's lock shared (studio_source_lock), so
-- ingests run side by side and never interleave with a sync.
CREATE OR REPLACE FUNCTION ingest_embeddings(
    p_payload         jsonb,
    p_caller          text        DEFAULT NULL,
    p_allowed_sources text[]      DEFAULT NULL,
    p_now             timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_results     jsonb := p_payload -> 'results';
    -- One element per result, from a single pass over them.
    r_kind        text[];
    r_external_id jsonb[];
    r_name        jsonb[];
    r_faces_kind  text[];
    r_faces       integer[];
    r_unknown     boolean[];
    r_keys        text[];     -- normalised external_id, checked then stored
    r_names       text[];     -- normalised name, checked then stored
    v_source      text;
    v_model       text;
    v_errors      jsonb;
    v_shape_ok    boolean;
    v_any_zero    boolean;
    v_any_tiny    boolean;
    v_external_id text[];
    v_vector      vector(512)[];
    v_confidence  real[];
    v_cast_failed boolean := false;
    v_tombstoned  text[];
    v_faces       integer;
    v_resolved    integer;
    v_created     integer;
    v_renamed     integer;
    v_stored      integer;
    v_skipped     jsonb;
BEGIN
    -- 1. Validate. The top level and each result are checked in full; the
    -- faces get one fast pass that checks their shape and reads the 512
    -- numbers once (text -> vector, the one unavoidable pass). Only when that
    -- pass finds a problem does studio_ingest_face_errors() walk the faces
    -- again to name every error.
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'payload must be a JSON object')));
    END IF;

    IF jsonb_typeof(v_results) = 'array' THEN
        SELECT array_agg(jsonb_typeof(r.item)), array_agg(r.item -> 'external_id'),
               array_agg(r.item -> 'name'), array_agg(jsonb_typeof(r.item -> 'faces')),
               array_agg(CASE WHEN jsonb_typeof(r.item -> 'faces') = 'array'
                              THEN jsonb_array_length(r.item -> 'faces') ELSE 0 END),
               array_agg(jsonb_typeof(r.item) = 'object' AND EXISTS (
                   SELECT 1 FROM jsonb_object_keys(CASE WHEN jsonb_typeof(r.item) = 'object'
                                                        THEN r.item END) AS key
                   WHERE key NOT IN ('external_id', 'name', 'faces'))),
               array_agg(studio_normalized_text(r.item -> 'external_id')),
               array_agg(studio_normalized_text(r.item -> 'name'))
          INTO r_kind, r_external_id, r_name, r_faces_kind, r_faces, r_unknown, r_keys, r_names
          FROM jsonb_array_elements(v_results) AS r (item);
    END IF;
    v_source := studio_normalized_text(p_payload -> 'source_system');

    SELECT coalesce(jsonb_agg(err ORDER BY (err ->> 'index')::integer NULLS FIRST), '[]')
      INTO v_errors FROM (
        SELECT studio_key_errors(p_payload, '{source_system,model,results}', '', NULL, NULL) AS err
        UNION ALL
        SELECT e FROM studio_text_errors(p_payload -> 'source_system', 'source_system',
                                         NULL, NULL, true, 50, false, v_source) AS e
        UNION ALL
        SELECT e FROM studio_text_errors(p_payload -> 'model', 'model', NULL, NULL, false, 50) AS e
        UNION ALL
        SELECT studio_error(NULL, NULL, 'model', 'invalid_value',
                            'model may hold only letters, digits, "_", "-" and "."')
        WHERE jsonb_typeof(p_payload -> 'model') = 'string'
          AND (p_payload ->> 'model') !~ '^[A-Za-z0-9_.-]*$'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'results', 'required', 'results is required')
        WHERE NOT p_payload ? 'results'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'results', 'invalid_type', 'results must be an array')
        WHERE p_payload ? 'results' AND jsonb_typeof(v_results) <> 'array'
        UNION ALL
        SELECT result_err
        FROM unnest(r_kind, r_external_id, r_name, r_faces_kind, r_unknown, r_keys, r_names)
             WITH ORDINALITY AS r (kind, external_id, name, faces_kind, unknown, key, name_text, ord)
        CROSS JOIN LATERAL (SELECT (r.ord - 1)::integer AS idx, r.external_id #>> '{}' AS ext) AS k
        CROSS JOIN LATERAL (
            SELECT studio_error(k.idx, NULL, '$', 'invalid_type', 'each result must be a JSON object')
            WHERE r.kind <> 'object'
            UNION ALL
            SELECT studio_key_errors(v_results -> k.idx, '{external_id,name,faces}', '', k.idx, k.ext)
            WHERE r.unknown
            UNION ALL
            SELECT e FROM studio_text_errors(r.external_id, 'external_id', k.idx, k.ext,
                                             true, 255, true, r.key) AS e
            WHERE r.kind = 'object'
            UNION ALL
            SELECT e FROM studio_text_errors(r.name, 'name', k.idx, k.ext, true, 255, false,
                                             r.name_text) AS e
            WHERE r.kind = 'object'
            UNION ALL
            SELECT studio_error(k.idx, k.ext, 'faces', 'required', 'faces is required (it may be empty)')
            WHERE r.kind = 'object' AND r.faces_kind IS NULL
            UNION ALL
            SELECT studio_error(k.idx, k.ext, 'faces', 'invalid_type', 'faces must be an array')
            WHERE r.kind = 'object' AND r.faces_kind <> 'array'
        ) AS result_errors (result_err)
    ) AS all_errors;

    -- The fast pass. Arrays are aggregated from the same rows, so they stay
    -- aligned element by element.
    IF jsonb_typeof(v_results) = 'array' THEN
        BEGIN
            SELECT coalesce(bool_and(shape_ok), true), coalesce(bool_or(vector_norm(vec) = 0), false),
                   coalesce(bool_or(tiny), false), array_agg(ext), array_agg(vec), array_agg(conf)
              INTO v_shape_ok, v_any_zero, v_any_tiny, v_external_id, v_vector, v_confidence
              FROM (
                -- The same normalised key as r_keys (one pure function).
                SELECT studio_normalized_text(r.item -> 'external_id') AS ext, checked.shape_ok,
                       CASE WHEN checked.shape_ok THEN e.emb_text::vector(512) END AS vec,
                       -- float4 input refuses a confidence that overflows or
                       -- underflows (1e-46), which sends the call to the face walk.
                       CASE WHEN checked.shape_ok THEN (e.conf #>> '{}')::real END AS conf,
                       -- pgvector stores a component that underflows as 0
                       -- without a word; numeric prints one as 0.000...,
                       -- 44 zeros or more: those faces get the face walk too.
                       checked.shape_ok
                       AND strpos(e.emb_text, '.00000000000000000000000000000000000000000000') > 0 AS tiny
                FROM jsonb_array_elements(v_results) WITH ORDINALITY AS r (item, ord)
                CROSS JOIN LATERAL jsonb_array_elements(
                    CASE WHEN jsonb_typeof(r.item -> 'faces') = 'array' THEN r.item -> 'faces' END)
                    WITH ORDINALITY AS f (face, ord)
                -- Fenced (OFFSET 0) so each face's fields are extracted once,
                -- not once per expression that reads them.
                CROSS JOIN LATERAL (SELECT f.face -> 'embedding' AS emb, f.face -> 'confidence' AS conf,
                                           f.face -> 'embedding' #>> '{}' AS emb_text
                                    OFFSET 0) AS e
                CROSS JOIN LATERAL (SELECT CASE
                    WHEN jsonb_typeof(f.face) <> 'object' THEN false
                    WHEN jsonb_typeof(e.emb) IS DISTINCT FROM 'array' THEN false
                    WHEN jsonb_array_length(e.emb) <> 512 THEN false
                    WHEN jsonb_typeof(e.conf) = 'number' THEN e.conf::numeric BETWEEN 0 AND 1
                    WHEN jsonb_typeof(e.conf) <> 'null' THEN false
                    ELSE true END
                    AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(
                                        CASE WHEN jsonb_typeof(f.face) = 'object' THEN f.face END) AS key
                                    WHERE key NOT IN ('embedding', 'confidence')) AS shape_ok
                ) AS checked
                -- A fence: without it the planner copies `vec` into each
                -- aggregate that reads it, and every vector is cast twice.
                OFFSET 0
              ) AS faces;
        EXCEPTION WHEN data_exception THEN
            v_cast_failed := true;
        END;

        -- A zero vector has no direction: it would match nothing, or everything.
        IF v_cast_failed OR NOT v_shape_ok OR v_any_zero OR v_any_tiny THEN
            v_errors := v_errors || studio_ingest_face_errors(v_results);
            -- The fast pass left a face out (its cast failed, or its shape
            -- was wrong) yet the walk named no error: never store the rest
            -- and answer success, refuse the call.
            IF jsonb_array_length(v_errors) = 0 AND (v_cast_failed OR NOT v_shape_ok OR v_any_zero) THEN
                v_errors := jsonb_build_array(studio_error(
                    NULL, NULL, 'results', 'invalid_value',
                    'a face holds a value that cannot be stored as given; nothing was stored'));
            END IF;
        END IF;
    END IF;

    PERFORM studio_raise_invalid(v_errors);

    v_model  := coalesce(nullif(btrim(p_payload ->> 'model'), ''), 'buffalo_l');

    PERFORM studio_require_source(v_source, p_allowed_sources);
    PERFORM studio_source_lock(v_source, false);

    -- 2. Apply: tombstoned people first, then find-or-create the rest.
    SELECT coalesce(array_agg(t.external_id), '{}') INTO v_tombstoned
      FROM identity_tombstones AS t
     WHERE t.source_system = v_source AND t.external_id = ANY (r_keys);

    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'index', (r.ord - 1)::integer, 'external_id', r.ext,
               'reason', 'deleted_at_source', 'faces', r.faces) ORDER BY r.ord), '[]')
      INTO v_skipped
      FROM unnest(r_keys, r_faces) WITH ORDINALITY AS r (ext, faces, ord)
     WHERE r.ext = ANY (v_tombstoned);

    -- Sorted by key so that concurrent ingests take row locks in one order.
    -- Created, or renamed when the source's name changed; a row whose name is
    -- the same is not touched (no new row version, no gallery notification).
    WITH upserted AS (
        INSERT INTO identities (name, external_id, source_system, created_at, updated_at)
        SELECT DISTINCT ON (r.ext) r.name, r.ext, v_source, p_now, p_now
          FROM unnest(r_keys, r_names) WITH ORDINALITY AS r (ext, name, ord)
         WHERE NOT (r.ext = ANY (v_tombstoned))
         ORDER BY r.ext, r.ord
        ON CONFLICT (source_system, external_id) WHERE external_id IS NOT NULL
        DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
              WHERE identities.name IS DISTINCT FROM EXCLUDED.name
        RETURNING (xmax = 0) AS created
    )
    SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)
      INTO v_created, v_renamed
      FROM upserted;

    SELECT count(DISTINCT r.ext) INTO v_resolved
      FROM unnest(r_keys) AS r (ext)
     WHERE NOT (r.ext = ANY (v_tombstoned));

    -- Ordered by identity and vector so that two ingests of the same faces
    -- meet on the unique index in one order and cannot deadlock.
    INSERT INTO embeddings (identity_id, embedding_type, vector, model, is_reference,
                            confidence, created_at)
    -- A vector already of unit length (an export being imported) is kept bit
    -- for bit: normalising it again moves its last bits, and its hash with them.
    SELECT i.identity_id, 'face',
           CASE WHEN abs(vector_norm(f.vector) - 1) < 1e-6 THEN f.vector
                ELSE l2_normalize(f.vector) END,
           v_model, true, f.confidence, p_now
      FROM unnest(v_external_id, v_vector, v_confidence) AS f (external_id, vector, confidence)
      JOIN identities AS i ON i.source_system = v_source AND i.external_id = f.external_id
     WHERE NOT (f.external_id = ANY (v_tombstoned))
     ORDER BY i.identity_id, f.vector
    ON CONFLICT (identity_id, vector_hash) DO NOTHING;
    GET DIAGNOSTICS v_stored = ROW_COUNT;

    SELECT count(*) INTO v_faces
      FROM unnest(v_external_id) AS f (external_id)
     WHERE NOT (f.external_id = ANY (v_tombstoned));

    INSERT INTO audit_journal (occurred_at, operation, source_system, caller, counts)
    VALUES (p_now, 'ingest', v_source, coalesce(p_caller, session_user),
            jsonb_build_object('model', v_model, 'identities_resolved', v_resolved,
                               'identities_created', v_created,
                               'identities_renamed', v_renamed, 'embeddings_stored', v_stored,
                               'duplicates_skipped', v_faces - v_stored,
                               'skipped', jsonb_array_length(v_skipped)));

    RETURN jsonb_build_object(
        'success', true, 'source_system', v_source, 'model', v_model,
        'identities_resolved', v_resolved, 'identities_created', v_created,
        'identities_renamed', v_renamed, 'embeddings_stored', v_stored, 'duplicates_skipped', v_faces - v_stored,
        'skipped', v_skipped);
END
$$;
