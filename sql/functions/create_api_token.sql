-- create_api_token(name, scopes, source_systems, expires_at) -> (token_id, token)
--
-- Creates a bearer token and returns it: the only time it is ever shown,
-- since only its SHA-256 is stored. source_systems NULL means any system.
-- Scopes: identities:read, identities:write, embeddings:write, jobs:submit,
-- jobs:work, recognize, admin (admin implies all).
--   SELECT * FROM create_api_token('alfred-sync', '{identities:write}', '{alfred_catalog}');
-- Raises: 22023 for an unknown scope, a blank or duplicate live name, or an
-- empty source list (DETAIL lists the errors as studio_error objects).
-- Not idempotent: every call makes a new token.
CREATE OR REPLACE FUNCTION create_api_token(
    p_name           text,
    p_scopes         text[],
    p_source_systems text[]      DEFAULT NULL,
    p_expires_at     timestamptz DEFAULT NULL
) RETURNS TABLE (token_id uuid, token text)
LANGUAGE plpgsql AS $$
DECLARE
    v_token text;
BEGIN
    PERFORM studio_raise_invalid(coalesce((SELECT jsonb_agg(err) FROM (
        SELECT studio_error(NULL, NULL, 'name', 'required', 'token name is required') AS err
        WHERE coalesce(btrim(p_name), '') = ''
        UNION ALL
        SELECT studio_error(NULL, NULL, 'name', 'duplicate',
                            format('a live token named "%s" exists; revoke it first', p_name))
        WHERE EXISTS (SELECT 1 FROM api_tokens AS t WHERE t.name = p_name AND t.revoked_at IS NULL)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'scopes', 'required', 'at least one scope is required')
        WHERE coalesce(cardinality(p_scopes), 0) = 0
        UNION ALL
        SELECT studio_error(NULL, NULL, 'scopes', 'invalid_value', format(
                   'unknown scope "%s"; scopes are identities:read, identities:write, '
                   'embeddings:write, jobs:submit, jobs:work, recognize, admin', s))
        FROM unnest(p_scopes) AS s
        WHERE s NOT IN ('identities:read', 'identities:write', 'embeddings:write',
                        'jobs:submit', 'jobs:work', 'recognize', 'admin')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'source_systems', 'invalid_value',
                            'source_systems must be NULL (any) or name at least one system')
        WHERE p_source_systems IS NOT NULL AND cardinality(p_source_systems) = 0
        UNION ALL
        SELECT studio_error(NULL, NULL, 'source_systems', 'too_long',
                            format('source system "%s" is longer than 50 characters', s))
        FROM unnest(p_source_systems) AS s WHERE length(s) > 50
    ) AS errors), '[]'));

    -- 256 random bits from two v4 UUIDs (no pgcrypto needed), URL-safe.
    v_token := 'gts_' || rtrim(translate(encode(uuid_send(gen_random_uuid())
                                                || uuid_send(gen_random_uuid()), 'base64'),
                                         '+/', '-_'), '=');
    INSERT INTO api_tokens (name, token_hash, scopes, source_systems, expires_at)
    VALUES (btrim(p_name), sha256(convert_to(v_token, 'UTF8')),
            (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(p_scopes) AS s),
            p_source_systems, p_expires_at)
    RETURNING api_tokens.token_id INTO token_id;
    token := v_token;
    RETURN NEXT;
END
$$;
