-- studio_text_errors(value, field, index, external_id, required, max_length,
--                    integer_ok) -> SETOF jsonb
--
-- Errors for one text field of a payload: 'required' (missing, null or
-- blank), 'invalid_type' (not a string; an integer too when integer_ok, for
-- numeric catalog IDs), 'too_long', 'invalid_characters' (control
-- characters) or 'forbidden_value' (a URL, path or image data). A value of
-- the wrong shape is privacy-scanned as well, so a nested photo field is
-- named as such.
-- Example: studio_text_errors('""', 'name', 2, '15', true, 255, false)
--   -> {"index": 2, "external_id": "15", "field": "name", "code": "required", ...}
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_text_errors(
    p_value       jsonb,
    p_field       text,
    p_index       integer,
    p_external_id text,
    p_required    boolean,
    p_max_length  integer,
    p_integer_ok  boolean DEFAULT false
) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT studio_error(p_index, p_external_id, p_field, problem ->> 'code', problem ->> 'message')
    FROM (SELECT CASE
        WHEN p_value IS NULL OR jsonb_typeof(p_value) = 'null' THEN
            CASE WHEN p_required THEN jsonb_build_object(
                'code', 'required', 'message', format('%s is required', p_field)) END
        WHEN jsonb_typeof(p_value) = 'number' AND p_integer_ok THEN
            CASE WHEN p_value::text !~ '^-?[0-9]+$' THEN jsonb_build_object(
                'code', 'invalid_type',
                'message', format('%s must be a string or an integer', p_field)) END
        WHEN jsonb_typeof(p_value) <> 'string' THEN jsonb_build_object(
            'code', 'invalid_type',
            'message', format('%s must be a string%s, not %s', p_field,
                              CASE WHEN p_integer_ok THEN ' or an integer' ELSE '' END,
                              jsonb_typeof(p_value)))
        WHEN btrim(p_value #>> '{}') = '' THEN
            CASE WHEN p_required THEN jsonb_build_object(
                'code', 'required', 'message', format('%s must not be blank', p_field)) END
        WHEN length(p_value #>> '{}') > p_max_length THEN jsonb_build_object(
            'code', 'too_long',
            'message', format('%s must be at most %s characters (got %s)',
                              p_field, p_max_length, length(p_value #>> '{}')))
        WHEN (p_value #>> '{}') ~ '[\x01-\x1f\x7f]' THEN jsonb_build_object(
            'code', 'invalid_characters',
            'message', format('%s must not contain control characters', p_field))
        END AS problem) AS checked
    WHERE problem IS NOT NULL
    UNION ALL
    SELECT studio_privacy_scan(p_value, p_field, p_index, p_external_id)
    WHERE jsonb_typeof(p_value) IN ('string', 'object', 'array')
$$;
