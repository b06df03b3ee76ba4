-- studio_key_errors(object, allowed, path, index, external_id) -> SETOF jsonb
--
-- Errors for the fields of `object` that are not in `allowed`: a forbidden
-- name (see studio_forbidden_field) is 'forbidden_field', any other unknown
-- name is 'unknown_field' (a typo such as "dry_rnu" must not silently run a
-- real sync), and whatever an unknown field holds is privacy-scanned too.
-- Example: studio_key_errors('{"name": "A", "photo": "x"}', '{name}', '', 0, '7').
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_key_errors(
    p_object      jsonb,
    p_allowed     text[],
    p_path        text,
    p_index       integer,
    p_external_id text
) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Keys first, values only for the unknown ones: the known values can be
    -- megabytes of embeddings and are not copied here.
    SELECT err
    FROM jsonb_object_keys(p_object) AS key
    CROSS JOIN LATERAL (
        SELECT studio_error(p_index, p_external_id, concat_ws('.', nullif(p_path, ''), key),
                            'unknown_field',
                            format('unknown field "%s"; expected one of: %s',
                                   key, array_to_string(p_allowed, ', ')))
        WHERE NOT studio_forbidden_field(key)
        UNION ALL
        SELECT studio_privacy_scan(jsonb_build_object(key, p_object -> key), p_path, p_index,
                                   p_external_id)
    ) AS found (err)
    WHERE key <> ALL (p_allowed)
$$;
