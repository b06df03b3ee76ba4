-- authenticate_api_token(token, now) -> (token_id, name, scopes, source_systems)
--
-- The live token with this secret: one row, or none when it is unknown,
-- revoked or expired (the caller answers 401 without saying which). Records
-- last use at most once a minute, so authentication is not a write per
-- request.
--   SELECT * FROM authenticate_api_token('gts_...');
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION authenticate_api_token(
    p_token text,
    p_now   timestamptz DEFAULT now()
) RETURNS TABLE (token_id uuid, name text, scopes text[], source_systems text[])
LANGUAGE sql AS $$
    WITH live AS (
        SELECT t.token_id, t.name, t.scopes, t.source_systems::text[] AS source_systems, t.last_used_at
        FROM api_tokens AS t
        WHERE t.token_hash = sha256(convert_to(p_token, 'UTF8'))
          AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > p_now)
    ), touched AS (
        UPDATE api_tokens AS t SET last_used_at = p_now
        FROM live
        WHERE t.token_id = live.token_id
          AND (live.last_used_at IS NULL OR live.last_used_at < p_now - interval '1 minute')
    )
    SELECT live.token_id, live.name, live.scopes, live.source_systems FROM live
$$;
