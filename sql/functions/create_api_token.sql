-- create_api_token(name, scopes, source_systems, expires_at, now) -> (token_id, token)
--
-- Creates a bearer token and returns it: the only time it is ever shown,
-- since only its SHA-256 is stored. source_systems NULL means any system.
-- Scopes: identities:read, identities:write, embeddings:write, jobs:submit,
-- jobs:work, recognize, metrics, sightings:read, sightings:write, admin
-- (admin implies all). metrics (the
-- /metrics page) counts every source system's gallery and jobs, so a token
-- bound to source systems cannot hold it.
--   SELECT * FROM create_api_token('alfred-sync', '{identities:write}', '{alfred_catalog}');
--   SELECT * FROM create_api_token('ci', '{recognize}', NULL, now() + interval '30 days');
-- The name is stored as studio_token_name() gives it (NFKC, trimmed): that
-- form is what is checked for blanks, length, control characters and live
-- duplicates. expires_at NULL means the token never expires; otherwise it
-- must lie after `now` (a token born expired is always a mistake, and "0
-- days" must never read as "never").
-- Raises: 22023 for an unknown scope, metrics on a bound token, a blank,
-- over-long (100), control-character or duplicate live name, an empty
-- source list or an expiry not in the future (DETAIL lists the errors as
-- studio_error objects).
-- Not idempotent: every call makes a new token.

-- The signature gained `now`; the old one must not linger as an overload.
DROP FUNCTION IF EXISTS create_api_token(text, text[], text[], timestamptz);

CREATE OR REPLACE FUNCTION create_api_token(
    p_name           text,
    p_scopes         text[],
    p_source_systems text[]      DEFAULT NULL,
    p_expires_at     timestamptz DEFAULT NULL,
    p_now            timestamptz DEFAULT now()
) RETURNS TABLE (token_id uuid, token text)
LANGUAGE plpgsql AS $$
DECLARE
    v_name  text := studio_token_name(p_name);
    v_token text;
BEGIN
    PERFORM studio_raise_invalid(coalesce((SELECT jsonb_agg(err) FROM (
        SELECT studio_error(NULL, NULL, 'name', 'required', 'token name is required') AS err
        WHERE coalesce(v_name, '') = ''
        UNION ALL
        SELECT studio_error(NULL, NULL, 'name', 'too_long',
                            'token name is longer than 100 characters')
        WHERE length(v_name) > 100
        UNION ALL
        SELECT studio_error(NULL, NULL, 'name', 'invalid_characters',
                            'token name holds control characters')
        WHERE v_name ~ '[[:cntrl:]]'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'name', 'duplicate',
                            format('a live token named "%s" exists; revoke it first', v_name))
        WHERE EXISTS (SELECT 1 FROM api_tokens AS t WHERE t.name = v_name AND t.revoked_at IS NULL)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'scopes', 'required', 'at least one scope is required')
        WHERE coalesce(cardinality(p_scopes), 0) = 0
        UNION ALL
        SELECT studio_error(NULL, NULL, 'scopes', 'invalid_value', format(
                   'unknown scope "%s"; scopes are identities:read, identities:write, '
                   'embeddings:write, jobs:submit, jobs:work, recognize, metrics, '
                   'sightings:read, sightings:write, admin', s))
        FROM unnest(p_scopes) AS s
        WHERE s IS NULL
           OR s NOT IN ('identities:read', 'identities:write', 'embeddings:write',
                        'jobs:submit', 'jobs:work', 'recognize', 'metrics',
                        'sightings:read', 'sightings:write', 'admin')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'scopes', 'invalid_value',
                            'the metrics scope shows every source system''s counts; a token '
                            'bound to source systems cannot have it')
        WHERE 'metrics' = ANY (p_scopes) AND p_source_systems IS NOT NULL
        UNION ALL
        SELECT studio_error(NULL, NULL, 'source_systems', 'invalid_value',
                            'source_systems must be NULL (any) or name at least one system')
        WHERE p_source_systems IS NOT NULL
          AND (cardinality(p_source_systems) = 0 OR array_position(p_source_systems, NULL) IS NOT NULL)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'source_systems', 'too_long',
                            format('source system "%s" is longer than 50 characters', s))
        FROM unnest(p_source_systems) AS s WHERE length(s) > 50
        UNION ALL
        SELECT studio_error(NULL, NULL, 'expires_at', 'out_of_range', format(
                   'expires_at (%s) must be later than now (%s); leave it out for a token '
                   'that never expires', p_expires_at, p_now))
        WHERE p_expires_at <= p_now
    ) AS errors), '[]'));

    -- 256 random bits from two v4 UUIDs (no pgcrypto needed), URL-safe.
    v_token := 'gts_' || rtrim(translate(encode(uuid_send(gen_random_uuid())
                                                || uuid_send(gen_random_uuid()), 'base64'),
                                         '+/', '-_'), '=');
    BEGIN
        INSERT INTO api_tokens (name, token_hash, scopes, source_systems, created_at, expires_at)
        VALUES (v_name, sha256(convert_to(v_token, 'UTF8')),
                (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(p_scopes) AS s),
                p_source_systems, p_now, p_expires_at)
        RETURNING api_tokens.token_id INTO token_id;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent call took the name between the check above and here.
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, 'name', 'duplicate',
            format('a live token named "%s" exists; revoke it first', v_name))));
    END;
    token := v_token;
    RETURN NEXT;
END
$$;
