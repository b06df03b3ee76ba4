-- revoke_api_token(name_or_id, now) -> integer
--
-- Revokes the live token with this name or token_id; returns how many were
-- revoked (0 or 1). A revoked token is refused from the next request on.
-- The name is looked up as create_api_token() stored it (studio_token_name).
--   SELECT revoke_api_token('alfred-sync');
-- Raises nothing of its own. Idempotent.
CREATE OR REPLACE FUNCTION revoke_api_token(
    p_name_or_id text,
    p_now        timestamptz DEFAULT now()
) RETURNS integer
LANGUAGE sql AS $$
    WITH revoked AS (
        UPDATE api_tokens SET revoked_at = p_now
        WHERE revoked_at IS NULL
          AND (name = studio_token_name(p_name_or_id) OR token_id::text = lower(btrim(p_name_or_id)))
        RETURNING 1
    )
    SELECT count(*)::integer FROM revoked
$$;
