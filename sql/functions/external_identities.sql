-- external_identities(source_system, limit, cursor, allowed_sources) -> jsonb
--
-- One page of external identities with their embedding counts, in
-- (source_system, external_id) order, for galleries of any size:
--   SELECT external_identities('alfred_catalog', 100);
--   -> {"success": true, "identities": [{"identity_id", "external_id",
--       "source_system", "name", "embedding_count", "first_seen", "last_seen",
--       "created_at", "updated_at"}, ...], "next_cursor": "..." | null}
-- Pass next_cursor back as `cursor` for the following page (keyset
-- pagination: stable while identities are added or removed). source_system
-- NULL lists every system the caller may see. first_seen / last_seen are the
-- first and latest camera sightings (NULL until the person is recognised);
-- created_at / updated_at are when the identity was created and last renamed.
-- Raises: 22023 for a limit outside 1..1000 or a malformed cursor;
--         42501 when allowed_sources does not hold source_system.
-- Read-only.
CREATE OR REPLACE FUNCTION external_identities(
    p_source_system   text    DEFAULT NULL,
    p_limit           integer DEFAULT 100,
    p_cursor          text    DEFAULT NULL,
    p_allowed_sources text[]  DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_after  jsonb;
    v_page   jsonb;
    v_last   jsonb;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, 'limit', 'out_of_range', 'limit must be from 1 to 1000')));
    END IF;
    IF p_cursor IS NOT NULL THEN
        BEGIN
            v_after := convert_from(decode(translate(p_cursor, '-_', '+/')
                                           || repeat('=', (4 - length(p_cursor) % 4) % 4), 'base64'),
                                    'UTF8')::jsonb;
            IF jsonb_typeof(v_after) <> 'array' OR jsonb_array_length(v_after) <> 2 THEN
                RAISE EXCEPTION USING ERRCODE = '22023';
            END IF;
        EXCEPTION WHEN data_exception OR untranslatable_character OR character_not_in_repertoire THEN
            PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
                NULL, NULL, 'cursor', 'invalid_value',
                'cursor is not one this server handed out; start again without it')));
        END;
    END IF;
    IF p_source_system IS NOT NULL THEN
        PERFORM studio_require_source(p_source_system, p_allowed_sources);
    END IF;

    SELECT coalesce(jsonb_agg(row ORDER BY ord), '[]'), (array_agg(key ORDER BY ord DESC))[1]
      INTO v_page, v_last
      FROM (
        SELECT row_number() OVER (ORDER BY i.source_system, i.external_id) AS ord,
               jsonb_build_array(i.source_system, i.external_id) AS key,
               jsonb_build_object(
                   'identity_id', i.identity_id, 'external_id', i.external_id,
                   'source_system', i.source_system, 'name', i.name,
                   'embedding_count', (SELECT count(*) FROM embeddings AS e
                                       WHERE e.identity_id = i.identity_id),
                   'first_seen', i.first_seen, 'last_seen', i.last_seen,
                   'created_at', i.created_at, 'updated_at', i.updated_at) AS row
        FROM identities AS i
        WHERE i.external_id IS NOT NULL
          AND (p_source_system IS NULL OR i.source_system = p_source_system)
          AND (p_allowed_sources IS NULL OR i.source_system = ANY (p_allowed_sources))
          AND (v_after IS NULL
               OR (i.source_system, i.external_id) > (v_after ->> 0, v_after ->> 1))
        ORDER BY i.source_system, i.external_id
        LIMIT p_limit
      ) AS page;

    RETURN jsonb_build_object(
        'success', true,
        'identities', v_page,
        'next_cursor', CASE WHEN jsonb_array_length(v_page) = p_limit THEN
            rtrim(translate(encode(convert_to(v_last::text, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')
        END);
END
$$;
