-- studio_ingest_face_errors(results jsonb) -> jsonb
--
-- Every error in the faces of an ingest payload's `results` array, as a JSON
-- array of studio_error objects: shape (object, fields, embedding length,
-- confidence), privacy (photo fields, URLs or image data hidden in a face),
-- and numbers that are no finite 32-bit float. ingest_embeddings() calls it
-- only after its fast pass found a problem, so its per-face work (one
-- subtransaction a face for the number check) is never on the path of a good
-- payload. Empty array when the faces are fine.
-- Example: SELECT studio_ingest_face_errors('[{"external_id": "1", "faces": [{}]}]');
-- Raises nothing of its own. Pure.
CREATE OR REPLACE FUNCTION studio_ingest_face_errors(p_results jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_errors jsonb := '[]';
    v_face   record;
BEGIN
    FOR v_face IN
        SELECT (r.ord - 1)::integer AS idx, r.item ->> 'external_id' AS ext,
               format('faces[%s]', f.ord - 1) AS field, f.face, f.face -> 'embedding' AS emb
        FROM jsonb_array_elements(p_results) WITH ORDINALITY AS r (item, ord)
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(r.item -> 'faces') = 'array' THEN r.item -> 'faces' END)
            WITH ORDINALITY AS f (face, ord)
    LOOP
        IF jsonb_typeof(v_face.face) <> 'object' THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field, 'invalid_type', 'each face must be a JSON object'));
            CONTINUE;
        END IF;

        v_errors := v_errors || coalesce((SELECT jsonb_agg(e) FROM studio_key_errors(
            v_face.face, '{embedding,confidence}', v_face.field, v_face.idx, v_face.ext) AS e), '[]');

        IF jsonb_typeof(v_face.face -> 'confidence') NOT IN ('number', 'null') THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.confidence', 'invalid_type',
                'confidence must be a number from 0 to 1'));
        ELSIF jsonb_typeof(v_face.face -> 'confidence') = 'number'
              AND (v_face.face -> 'confidence')::numeric NOT BETWEEN 0 AND 1 THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.confidence', 'out_of_range',
                format('confidence must be from 0 to 1 (got %s)', v_face.face -> 'confidence')));
        END IF;

        IF v_face.emb IS NULL THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.embedding', 'required', 'embedding is required'));
        ELSIF jsonb_typeof(v_face.emb) <> 'array' THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.embedding', 'invalid_type',
                'embedding must be an array of 512 numbers'))
                || coalesce((SELECT jsonb_agg(e) FROM studio_privacy_scan(
                       v_face.emb, v_face.field || '.embedding', v_face.idx, v_face.ext) AS e), '[]');
        ELSIF jsonb_array_length(v_face.emb) <> 512 THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.embedding', 'invalid_length',
                format('embedding must have exactly 512 numbers (got %s)', jsonb_array_length(v_face.emb))));
        ELSIF jsonb_path_exists(v_face.emb, 'strict $[*] ? (@.type() != "number")') THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                v_face.idx, v_face.ext, v_face.field || '.embedding', 'invalid_type',
                'embedding must hold only numbers'))
                || coalesce((SELECT jsonb_agg(e) FROM studio_privacy_scan(
                       v_face.emb, v_face.field || '.embedding', v_face.idx, v_face.ext) AS e), '[]');
        ELSE
            BEGIN
                IF vector_norm((v_face.emb #>> '{}')::vector(512)) = 0 THEN
                    v_errors := v_errors || jsonb_build_array(studio_error(
                        v_face.idx, v_face.ext, v_face.field || '.embedding', 'zero_vector',
                        'embedding must not be all zeros'));
                END IF;
            EXCEPTION WHEN data_exception THEN
                v_errors := v_errors || jsonb_build_array(studio_error(
                    v_face.idx, v_face.ext, v_face.field || '.embedding', 'out_of_range',
                    format('embedding values must be finite 32-bit floats: %s', SQLERRM)));
            END;
        END IF;
    END LOOP;
    RETURN v_errors;
END
$$;
