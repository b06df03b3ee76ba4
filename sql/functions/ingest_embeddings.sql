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
-- Each embedding is exactly 512 finite numbers, stored L2-normalised as a
-- reference face of "model" (default "buffalo_l"; vectors of different models
-- are never compared). confidence is optional, 0..1. The same vector for the
-- same identity is stored once: repeats, in this call or an earlier one, are
-- counted in duplicates_skipped. An existing identity keeps its name (names
-- belong to sync_identities). A result for a person deleted at the source
-- (tombstoned) stores nothing and creates nothing: it is listed in "skipped"
-- with reason "deleted_at_source".
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
    v_source      text;
    v_model       text;
    v_errors      jsonb;
    v_index       integer[];
    v_external_id text[];
    v_field       text[];
    v_vector      vector(512)[];
    v_confidence  real[];
    v_cast_failed boolean := false;
    v_face        record;
    v_tombstoned  text[];
    v_faces       integer;
    v_resolved    integer;
    v_created     integer;
    v_stored      integer;
    v_skipped     jsonb;
    v_result      jsonb;
BEGIN
    -- 1. Validate everything and collect every error.
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'payload must be a JSON object')));
    END IF;

    WITH result AS (
        SELECT (r.ord - 1)::integer AS idx, r.item, r.item ->> 'external_id' AS external_id
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_payload -> 'results') = 'array'
                                       THEN p_payload -> 'results' END)
             WITH ORDINALITY AS r (item, ord)
    ), face AS (
        SELECT r.idx, r.external_id, format('faces[%s]', f.ord - 1) AS field, f.face
        FROM result AS r
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(r.item -> 'faces') = 'array' THEN r.item -> 'faces' END)
            WITH ORDINALITY AS f (face, ord)
    )
    SELECT coalesce(jsonb_agg(err ORDER BY (err ->> 'index')::integer NULLS FIRST), '[]')
      INTO v_errors FROM (
        SELECT studio_key_errors(p_payload, '{source_system,model,results}', '', NULL, NULL) AS err
        UNION ALL
        SELECT studio_text_errors(p_payload -> 'source_system', 'source_system', NULL, NULL, true, 50)
        UNION ALL
        SELECT studio_text_errors(p_payload -> 'model', 'model', NULL, NULL, false, 50)
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
        WHERE p_payload ? 'results' AND jsonb_typeof(p_payload -> 'results') <> 'array'
        -- Each result.
        UNION ALL
        SELECT studio_error(idx, NULL, '$', 'invalid_type', 'each result must be a JSON object')
        FROM result WHERE jsonb_typeof(item) <> 'object'
        UNION ALL
        SELECT studio_key_errors(item, '{external_id,name,faces}', '', idx, external_id)
        FROM result WHERE jsonb_typeof(item) = 'object'
        UNION ALL
        SELECT studio_text_errors(item -> 'external_id', 'external_id', idx, external_id, true, 255, true)
        FROM result WHERE jsonb_typeof(item) = 'object'
        UNION ALL
        SELECT studio_text_errors(item -> 'name', 'name', idx, external_id, true, 255)
        FROM result WHERE jsonb_typeof(item) = 'object'
        UNION ALL
        SELECT studio_error(idx, external_id, 'faces', 'required', 'faces is required (it may be empty)')
        FROM result WHERE jsonb_typeof(item) = 'object' AND NOT item ? 'faces'
        UNION ALL
        SELECT studio_error(idx, external_id, 'faces', 'invalid_type', 'faces must be an array')
        FROM result WHERE jsonb_typeof(item) = 'object' AND jsonb_typeof(item -> 'faces') <> 'array'
        -- Each face. Only its shape here; the 512 numbers are checked by the
        -- cast below, which is the one pass over them that cannot be avoided.
        UNION ALL
        SELECT studio_error(idx, external_id, field, 'invalid_type', 'each face must be a JSON object')
        FROM face WHERE jsonb_typeof(face) <> 'object'
        UNION ALL
        SELECT studio_key_errors(face, '{embedding,confidence}', field, idx, external_id)
        FROM face
        WHERE jsonb_typeof(face) = 'object'
          AND EXISTS (SELECT 1 FROM jsonb_object_keys(face) AS k
                      WHERE k <> ALL ('{embedding,confidence}'))
        UNION ALL
        SELECT CASE
                   WHEN NOT face ? 'embedding' THEN
                       studio_error(idx, external_id, field || '.embedding', 'required',
                                    'embedding is required')
                   WHEN jsonb_typeof(face -> 'embedding') <> 'array' THEN
                       studio_error(idx, external_id, field || '.embedding', 'invalid_type',
                                    'embedding must be an array of 512 numbers')
                   ELSE
                       studio_error(idx, external_id, field || '.embedding', 'invalid_length',
                                    format('embedding must have exactly 512 numbers (got %s)',
                                           jsonb_array_length(face -> 'embedding')))
               END
        FROM face
        WHERE jsonb_typeof(face) = 'object'
          AND (jsonb_typeof(face -> 'embedding') IS DISTINCT FROM 'array'
               OR jsonb_array_length(face -> 'embedding') <> 512)
        UNION ALL
        SELECT studio_privacy_scan(face -> 'embedding', field || '.embedding', idx, external_id)
        FROM face
        WHERE jsonb_typeof(face) = 'object' AND jsonb_typeof(face -> 'embedding') IN ('string', 'object')
        UNION ALL
        SELECT studio_error(idx, external_id, field || '.confidence', 'invalid_type',
                            'confidence must be a number from 0 to 1')
        FROM face
        WHERE jsonb_typeof(face) = 'object' AND face ? 'confidence'
          AND jsonb_typeof(face -> 'confidence') NOT IN ('number', 'null')
        UNION ALL
        SELECT studio_error(idx, external_id, field || '.confidence', 'out_of_range',
                            format('confidence must be from 0 to 1 (got %s)', face -> 'confidence'))
        FROM face
        WHERE jsonb_typeof(face) = 'object' AND jsonb_typeof(face -> 'confidence') = 'number'
          AND (face -> 'confidence')::numeric NOT BETWEEN 0 AND 1
    ) AS all_errors;

    PERFORM studio_raise_invalid(v_errors);

    -- The one pass over the numbers: text -> vector. When a value is not a
    -- finite float it fails, and the slow path below finds every such face.
    BEGIN
        SELECT array_agg(idx ORDER BY idx, fidx), array_agg(external_id ORDER BY idx, fidx),
               array_agg(format('faces[%s]', fidx) ORDER BY idx, fidx),
               array_agg((face ->> 'embedding')::vector(512) ORDER BY idx, fidx),
               array_agg((face ->> 'confidence')::real ORDER BY idx, fidx)
          INTO v_index, v_external_id, v_field, v_vector, v_confidence
          FROM (SELECT (r.ord - 1)::integer AS idx, r.item ->> 'external_id' AS external_id,
                       (f.ord - 1)::integer AS fidx, f.face
                FROM jsonb_array_elements(p_payload -> 'results') WITH ORDINALITY AS r (item, ord)
                CROSS JOIN LATERAL jsonb_array_elements(r.item -> 'faces')
                     WITH ORDINALITY AS f (face, ord)) AS faces;
    EXCEPTION WHEN data_exception THEN
        v_cast_failed := true;
    END;

    IF v_cast_failed THEN
        v_errors := '[]';
        FOR v_face IN
            SELECT (r.ord - 1)::integer AS idx, r.item ->> 'external_id' AS external_id,
                   format('faces[%s].embedding', f.ord - 1) AS field, f.face -> 'embedding' AS embedding
            FROM jsonb_array_elements(p_payload -> 'results') WITH ORDINALITY AS r (item, ord)
            CROSS JOIN LATERAL jsonb_array_elements(r.item -> 'faces') WITH ORDINALITY AS f (face, ord)
        LOOP
            IF jsonb_path_exists(v_face.embedding, 'strict $[*] ? (@.type() != "number")') THEN
                v_errors := v_errors || jsonb_build_array(studio_error(
                    v_face.idx, v_face.external_id, v_face.field, 'invalid_type',
                    'embedding must hold only numbers'))
                    || coalesce((SELECT jsonb_agg(s) FROM studio_privacy_scan(
                           v_face.embedding, v_face.field, v_face.idx, v_face.external_id) AS s), '[]');
                CONTINUE;
            END IF;
            BEGIN
                PERFORM (v_face.embedding #>> '{}')::vector(512);
            EXCEPTION WHEN data_exception THEN
                v_errors := v_errors || jsonb_build_array(studio_error(
                    v_face.idx, v_face.external_id, v_face.field, 'out_of_range',
                    format('embedding values must be finite 32-bit floats: %s', SQLERRM)));
            END;
        END LOOP;
        PERFORM studio_raise_invalid(v_errors);
    END IF;

    -- A zero vector has no direction: it would match nothing, or everything.
    SELECT coalesce(jsonb_agg(studio_error(v_index[n], v_external_id[n], v_field[n] || '.embedding',
                                           'zero_vector', 'embedding must not be all zeros')), '[]')
      INTO v_errors
      FROM generate_subscripts(v_vector, 1) AS n
     WHERE vector_norm(v_vector[n]) = 0;
    PERFORM studio_raise_invalid(v_errors);

    v_source := p_payload ->> 'source_system';
    v_model  := coalesce(nullif(btrim(p_payload ->> 'model'), ''), 'buffalo_l');

    PERFORM studio_require_source(v_source, p_allowed_sources);
    PERFORM studio_source_lock(v_source, false);

    -- 2. Apply: tombstoned people first, then find-or-create the rest.
    SELECT coalesce(array_agg(t.external_id), '{}') INTO v_tombstoned
      FROM identity_tombstones AS t
     WHERE t.source_system = v_source
       AND t.external_id IN (SELECT r.item ->> 'external_id'
                             FROM jsonb_array_elements(p_payload -> 'results') AS r (item));

    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'index', idx, 'external_id', external_id, 'reason', 'deleted_at_source',
               'faces', faces) ORDER BY idx), '[]')
      INTO v_skipped
      FROM (SELECT (r.ord - 1)::integer AS idx, r.item ->> 'external_id' AS external_id,
                   jsonb_array_length(r.item -> 'faces') AS faces
            FROM jsonb_array_elements(p_payload -> 'results') WITH ORDINALITY AS r (item, ord)
            WHERE r.item ->> 'external_id' = ANY (v_tombstoned)) AS skipped;

    -- Sorted by key so that concurrent ingests take row locks in one order.
    INSERT INTO identities (name, external_id, source_system, created_at, updated_at)
    SELECT DISTINCT ON (r.item ->> 'external_id')
           btrim(r.item ->> 'name'), r.item ->> 'external_id', v_source, p_now, p_now
      FROM jsonb_array_elements(p_payload -> 'results') WITH ORDINALITY AS r (item, ord)
     WHERE NOT (r.item ->> 'external_id' = ANY (v_tombstoned))
     ORDER BY r.item ->> 'external_id', r.ord
    ON CONFLICT (source_system, external_id) WHERE external_id IS NOT NULL DO NOTHING;
    GET DIAGNOSTICS v_created = ROW_COUNT;

    SELECT count(DISTINCT r.item ->> 'external_id') INTO v_resolved
      FROM jsonb_array_elements(p_payload -> 'results') AS r (item)
     WHERE NOT (r.item ->> 'external_id' = ANY (v_tombstoned));

    -- Ordered by identity and vector so that two ingests of the same faces
    -- meet on the unique index in one order and cannot deadlock.
    INSERT INTO embeddings (identity_id, embedding_type, vector, model, is_reference,
                            confidence, created_at)
    SELECT i.identity_id, 'face', l2_normalize(f.vector), v_model, true, f.confidence, p_now
      FROM unnest(v_external_id, v_vector, v_confidence) AS f (external_id, vector, confidence)
      JOIN identities AS i ON i.source_system = v_source AND i.external_id = f.external_id
     WHERE NOT (f.external_id = ANY (v_tombstoned))
     ORDER BY i.identity_id, f.vector
    ON CONFLICT (identity_id, vector_hash) DO NOTHING;
    GET DIAGNOSTICS v_stored = ROW_COUNT;

    SELECT count(*) INTO v_faces
      FROM unnest(v_external_id) AS f (external_id)
     WHERE NOT (f.external_id = ANY (v_tombstoned));

    v_result := jsonb_build_object(
        'success', true, 'source_system', v_source, 'model', v_model,
        'identities_resolved', v_resolved, 'identities_created', v_created,
        'embeddings_stored', v_stored, 'duplicates_skipped', v_faces - v_stored,
        'skipped', v_skipped);

    INSERT INTO audit_journal (occurred_at, operation, source_system, caller, counts)
    VALUES (p_now, 'ingest', v_source, coalesce(p_caller, session_user),
            jsonb_build_object('model', v_model, 'identities_resolved', v_resolved,
                               'identities_created', v_created, 'embeddings_stored', v_stored,
                               'duplicates_skipped', v_faces - v_stored,
                               'skipped', jsonb_array_length(v_skipped)));
    RETURN v_result;
END
$$;
