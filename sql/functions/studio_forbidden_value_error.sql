-- studio_forbidden_value_error(index, external_id, field, value text) -> jsonb
--
-- The 'forbidden_value' error for a string that may not cross into Studio (a
-- URL, a file path, an image file name or image data; see
-- studio_forbidden_value), or NULL when it may. The message says which.
-- Example: studio_forbidden_value_error(0, '15', 'name', 'http://x')
--   -> {"code": "forbidden_value", "message": "name holds a URL, ...", ...}
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_forbidden_value_error(
    p_index       integer,
    p_external_id text,
    p_field       text,
    p_value       text
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_kind text := studio_forbidden_value(p_value);
BEGIN
    RETURN CASE WHEN v_kind IS NOT NULL THEN studio_error(
        p_index, p_external_id, p_field, 'forbidden_value',
        p_field || ' holds ' || CASE v_kind
                                    WHEN 'url' THEN 'a URL'
                                    WHEN 'image_data' THEN 'image data'
                                    WHEN 'file_path' THEN 'a file path'
                                    ELSE 'an image file name' END
                || ', which may not be sent to Studio') END;
END
$$;
