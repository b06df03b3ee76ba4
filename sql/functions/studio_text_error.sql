-- studio_text_error(value, field, index, external_id, required, max_length,
--                   integer_ok) -> jsonb
--
-- The error of one text field of a payload, or NULL: 'required' (missing,
-- null or blank), 'invalid_type' (not a string; an integer is fine when
-- integer_ok, for numeric catalog IDs), 'too_long', 'invalid_characters'
-- (control characters) or 'forbidden_value' (a URL, a path or image data).
-- A single CASE, so PostgreSQL inlines it into the caller's query: it runs
-- for every identity of a 100k-identity sync. Callers privacy-scan a value
-- of the wrong shape (object or array) with studio_privacy_scan().
-- Example: studio_text_error('""', 'name', 2, '15', true, 255, false)
--   -> {"index": 2, "external_id": "15", "field": "name", "code": "required", ...}
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_text_error(
    p_value       jsonb,
    p_field       text,
    p_index       integer,
    p_external_id text,
    p_required    boolean,
    p_max_length  integer,
    p_integer_ok  boolean DEFAULT false
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_value IS NULL OR jsonb_typeof(p_value) = 'null' THEN
            CASE WHEN p_required THEN studio_error(p_index, p_external_id, p_field, 'required',
                                                   format('%s is required', p_field)) END
        WHEN jsonb_typeof(p_value) = 'number' AND p_integer_ok THEN
            CASE WHEN p_value::text !~ '^-?[0-9]+$' THEN studio_error(
                p_index, p_external_id, p_field, 'invalid_type',
                format('%s must be a string or an integer', p_field)) END
        WHEN jsonb_typeof(p_value) <> 'string' THEN studio_error(
            p_index, p_external_id, p_field, 'invalid_type',
            format('%s must be a string%s, not %s', p_field,
                   CASE WHEN p_integer_ok THEN ' or an integer' ELSE '' END, jsonb_typeof(p_value)))
        WHEN btrim(p_value #>> '{}') = '' THEN
            CASE WHEN p_required THEN studio_error(p_index, p_external_id, p_field, 'required',
                                                   format('%s must not be blank', p_field)) END
        WHEN length(p_value #>> '{}') > p_max_length THEN studio_error(
            p_index, p_external_id, p_field, 'too_long',
            format('%s must be at most %s characters (got %s)',
                   p_field, p_max_length, length(p_value #>> '{}')))
        WHEN (p_value #>> '{}') ~ '[\x01-\x1f\x7f]' THEN studio_error(
            p_index, p_external_id, p_field, 'invalid_characters',
            format('%s must not contain control characters', p_field))
        ELSE studio_forbidden_value_error(p_index, p_external_id, p_field, p_value #>> '{}')
    END
$$;
