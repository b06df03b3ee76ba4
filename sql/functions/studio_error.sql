-- studio_error(index, external_id, field, code, message) -> jsonb
--
-- One validation error in the shape every payload function reports:
--   {"index": 3, "external_id": "15", "field": "name", "code": "required",
--    "message": "name is required for upsert"}
-- index is the item's position (0-based) in the payload's array, NULL for a
-- top-level field. An error is small whatever the payload held: external_id
-- and field are cut to 255 characters (a valid key always fits) and message
-- to 500, a cut value ending in "…", so a megabyte key or field name is
-- never echoed back whole. Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_error(
    p_index       integer,
    p_external_id text,
    p_field       text,
    p_code        text,
    p_message     text
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'index', p_index,
        'external_id', CASE WHEN length(p_external_id) > 255
                            THEN left(p_external_id, 254) || '…' ELSE p_external_id END,
        'field', CASE WHEN length(p_field) > 255 THEN left(p_field, 254) || '…' ELSE p_field END,
        'code', p_code,
        'message', CASE WHEN length(p_message) > 500
                        THEN left(p_message, 499) || '…' ELSE p_message END)
$$;
