-- studio_privacy_scan(doc, path, index, external_id) -> SETOF jsonb
--
-- Walks any JSON value and reports every field whose name is forbidden
-- (studio_forbidden_field) and every string that is a URL, a file path or
-- image data (studio_forbidden_value), each as a studio_error with its path
-- below `path`, e.g. field "faces[0].meta.photo_url".
-- Payload functions call it only on values outside their known shape, so the
-- 512 numbers of an embedding are never walked one by one.
-- Example: studio_privacy_scan('{"a": {"imagePath": 1}}', 'extra', 0, '7').
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_privacy_scan(
    p_doc         jsonb,
    p_path        text,
    p_index       integer,
    p_external_id text
) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH RECURSIVE node (path, key, value) AS (
        SELECT p_path, NULL::text, p_doc
        UNION ALL
        SELECT child.path, child.key, child.value
        FROM node AS n
        CROSS JOIN LATERAL (
            SELECT concat_ws('.', nullif(n.path, ''), e.key), e.key, e.value
            FROM jsonb_each(CASE WHEN jsonb_typeof(n.value) = 'object' THEN n.value END) AS e
            UNION ALL
            SELECT n.path || '[' || (a.ord - 1) || ']', NULL, a.value
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n.value) = 'array' THEN n.value END)
                 WITH ORDINALITY AS a (value, ord)
        ) AS child (path, key, value)
    )
    SELECT studio_error(p_index, p_external_id, path, 'forbidden_field',
                        format('field "%s" is not allowed: only identity keys, names and '
                               'vectors may be sent, never images, photos, URLs or paths', key))
    FROM node
    WHERE key IS NOT NULL AND studio_forbidden_field(key)
    UNION ALL
    SELECT err
    FROM (SELECT studio_forbidden_value_error(p_index, p_external_id, path, value #>> '{}') AS err
          FROM node
          WHERE jsonb_typeof(value) = 'string') AS strings
    WHERE err IS NOT NULL
$$;
