-- studio_face_errors(face, index, external_id, field) -> jsonb
--
-- Every error of one face of an ingest payload, as a JSON array (empty when
-- the face is fine): shape (an object with only embedding and confidence),
-- confidence (a number from 0 to 1), embedding (required, an array of
-- exactly 512 numbers, not all zero, each a finite 32-bit float), privacy
-- (photo fields, URLs or image data hidden in it). `field` is the face's
-- path, e.g. 'faces[3]'. studio_ingest_face_errors() calls it once a face,
-- so the whole walk is linear in the number of faces.
-- Example: SELECT studio_face_errors('{"embedding": []}', 0, '15', 'faces[0]');
-- Raises nothing of its own. Pure.
CREATE OR REPLACE FUNCTION studio_face_errors(
    p_face        jsonb,
    p_index       integer,
    p_external_id text,
    p_field       text
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_errors     jsonb[] := '{}';
    v_confidence jsonb := p_face -> 'confidence';
    v_embedding  jsonb := p_face -> 'embedding';
BEGIN
    IF jsonb_typeof(p_face) <> 'object' THEN
        RETURN jsonb_build_array(studio_error(p_index, p_external_id, p_field, 'invalid_type',
                                              'each face must be a JSON object'));
    END IF;

    v_errors := v_errors || ARRAY(SELECT e FROM studio_key_errors(
        p_face, '{embedding,confidence}', p_field, p_index, p_external_id) AS e);

    IF jsonb_typeof(v_confidence) NOT IN ('number', 'null') THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.confidence',
                                             'invalid_type', 'confidence must be a number from 0 to 1');
    ELSIF jsonb_typeof(v_confidence) = 'number' AND v_confidence::numeric NOT BETWEEN 0 AND 1 THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.confidence',
                                             'out_of_range', 'confidence must be from 0 to 1 (got '
                                             || v_confidence::text || ')');
    END IF;

    IF v_embedding IS NULL THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                             'required', 'embedding is required');
    ELSIF jsonb_typeof(v_embedding) <> 'array' THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                             'invalid_type', 'embedding must be an array of 512 numbers')
                             || ARRAY(SELECT e FROM studio_privacy_scan(
                                    v_embedding, p_field || '.embedding', p_index, p_external_id) AS e);
    ELSIF jsonb_array_length(v_embedding) <> 512 THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                             'invalid_length',
                                             format('embedding must have exactly 512 numbers (got %s)',
                                                    jsonb_array_length(v_embedding)));
    ELSIF jsonb_path_exists(v_embedding, 'strict $[*] ? (@.type() != "number")') THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                             'invalid_type', 'embedding must hold only numbers')
                             || ARRAY(SELECT e FROM studio_privacy_scan(
                                    v_embedding, p_field || '.embedding', p_index, p_external_id) AS e);
    ELSE
        BEGIN
            IF vector_norm((v_embedding #>> '{}')::vector(512)) = 0 THEN
                v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                                     'zero_vector', 'embedding must not be all zeros');
            END IF;
        EXCEPTION WHEN data_exception THEN
            v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                                 'out_of_range',
                                                 'embedding values must be finite 32-bit floats: ' || SQLERRM);
        END;
    END IF;
    RETURN to_jsonb(v_errors);
END
$$;
