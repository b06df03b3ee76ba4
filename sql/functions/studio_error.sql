-- studio_error(index, external_id, field, code, message) -> jsonb
--
-- One validation error in the shape every payload function reports:
--   {"index": 3, "external_id": "15", "field": "name", "code": "required",
--    "message": "name is required for upsert"}
-- index is the item's position (0-based) in the payload's array, NULL for a
-- top-level field. Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_error(
    p_index       integer,
    p_external_id text,
    p_field       text,
    p_code        text,
    p_message     text
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('index', p_index, 'external_id', p_external_id,
                              'field', p_field, 'code', p_code, 'message', p_message)
$$;
