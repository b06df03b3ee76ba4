-- studio_text_error(value, field, index, external_id, required, max_length,
--                   integer_ok, text) -> jsonb
--
-- The error of one text field of a payload, or NULL: 'required' (missing,
-- null or blank), 'invalid_type' (not a string; an integer is fine when
-- integer_ok, for numeric catalog IDs), 'too_long', 'forbidden_value' (a
-- URL, a path, an image file name or image data: studio_forbidden_value)
-- or 'invalid_characters' (C0 or C1 control characters).
-- Every check reads `text`, the field's normalised value
-- (studio_normalized_text(value)), which is what the caller stores: pass
-- the value the caller computed for its INSERT, or leave it NULL to have
-- it computed here. Callers privacy-scan a value of the wrong shape (object
-- or array) with studio_privacy_scan().
-- Example: studio_text_error('""', 'name', 2, '15', true, 255, false)
--   -> {"index": 2, "external_id": "15", "field": "name", "code": "required", ...}
-- Raises nothing. Pure.
DROP FUNCTION IF EXISTS studio_text_error(jsonb, text, integer, text, boolean, integer, boolean);
CREATE OR REPLACE FUNCTION studio_text_error(
    p_value       jsonb,
    p_field       text,
    p_index       integer,
    p_external_id text,
    p_required    boolean,
    p_max_length  integer,
    p_integer_ok  boolean DEFAULT false,
    p_text        text    DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_type text := jsonb_typeof(p_value);
    v_text text := coalesce(p_text, studio_normalized_text(p_value));
BEGIN
    IF v_type IS NULL OR v_type = 'null' THEN
        RETURN CASE WHEN p_required THEN studio_error(p_index, p_external_id, p_field, 'required',
                                                      p_field || ' is required') END;
    ELSIF v_type = 'number' AND p_integer_ok THEN
        RETURN CASE WHEN v_text !~ '^-?[0-9]+$' THEN studio_error(
            p_index, p_external_id, p_field, 'invalid_type',
            p_field || ' must be a string or an integer') END;
    ELSIF v_type <> 'string' THEN
        RETURN studio_error(p_index, p_external_id, p_field, 'invalid_type',
                            p_field || ' must be a string'
                            || CASE WHEN p_integer_ok THEN ' or an integer' ELSE '' END
                            || ', not ' || v_type);
    ELSIF v_text = '' THEN
        RETURN CASE WHEN p_required THEN studio_error(p_index, p_external_id, p_field, 'required',
                                                      p_field || ' must not be blank') END;
    ELSIF length(v_text) > p_max_length THEN
        RETURN studio_error(p_index, p_external_id, p_field, 'too_long',
                            format('%s must be at most %s characters (got %s)',
                                   p_field, p_max_length, length(v_text)));
    END IF;
    RETURN coalesce(
        studio_forbidden_value_error(p_index, p_external_id, p_field, v_text),
        CASE WHEN v_text ~ '[\x01-\x1f\x7f-\x9f]' THEN studio_error(
            p_index, p_external_id, p_field, 'invalid_characters',
            p_field || ' must not contain control characters') END);
END
$$;
