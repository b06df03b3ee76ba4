-- studio_face_errors(face, index, external_id, field) -> jsonb
--
-- Every error of one face of an ingest payload, as a JSON array (empty when
-- the face is fine): shape (an object with only embedding and confidence),
-- confidence (a number from 0 to 1 that a 32-bit float holds), embedding
-- (required, an array of exactly 512 numbers, not all zero), each number
-- one a 32-bit float holds as given (studio_float4_fits: no overflow, no
-- underflow to zero; the message names the component, 'embedding[17]'),
-- privacy (photo fields, URLs or image data hidden in it). `field` is the face's
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
    v_text       text;
    v_vector     vector(512);
    v_cast_error text;
    v_found      integer;
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
                                             -- 1e100000 prints as 100,001 digits: echo a few.
                                             || CASE WHEN length(v_confidence::text) > 40
                                                     THEN left(v_confidence::text, 39) || '…'
                                                     ELSE v_confidence::text END || ')');
    ELSIF jsonb_typeof(v_confidence) = 'number' AND NOT studio_float4_fits(v_confidence) THEN
        v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.confidence',
                                             'out_of_range',
                                             'confidence cannot be stored as a 32-bit float: '
                                             'it is so small that it would be stored as 0');
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
        v_text := v_embedding #>> '{}';
        BEGIN
            v_vector := v_text::vector(512);
        EXCEPTION WHEN data_exception THEN
            v_cast_error := SQLERRM;
        END;
        v_found := cardinality(v_errors);
        -- A number past float4's range fails the cast above; one so small it
        -- underflows to 0 passes it (pgvector stores 0) and is found by its
        -- run of zeros: numeric prints 1e-46 as 0.000...0001.
        IF v_cast_error IS NOT NULL OR strpos(v_text, '.00000000000000000000000000000000000000000000') > 0 THEN
            v_errors := v_errors || ARRAY(
                SELECT studio_error(p_index, p_external_id, p_field || '.embedding', 'out_of_range',
                                    format('embedding[%s] does not fit a 32-bit float: it is %s',
                                           c.ord - 1,
                                           CASE WHEN abs(c.x::numeric) > 1 THEN 'too large'
                                                ELSE 'so small that it would be stored as 0' END))
                FROM jsonb_array_elements(v_embedding) WITH ORDINALITY AS c (x, ord)
                WHERE (abs(c.x::numeric) > 1e38 OR (c.x::numeric <> 0 AND abs(c.x::numeric) < 1e-44))
                  AND NOT studio_float4_fits(c.x)
                ORDER BY c.ord);
        END IF;
        IF cardinality(v_errors) = v_found THEN
            IF v_cast_error IS NOT NULL THEN
                v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                                     'out_of_range',
                                                     'embedding values must be finite 32-bit floats: '
                                                     || v_cast_error);
            ELSIF vector_norm(v_vector) = 0 THEN
                v_errors := v_errors || studio_error(p_index, p_external_id, p_field || '.embedding',
                                                     'zero_vector', 'embedding must not be all zeros');
            END IF;
        END IF;
    END IF;
    RETURN to_jsonb(v_errors);
END
$$;
