-- record_sightings(identity_ids uuid[], now) -> integer
--
-- Cameras saw these identities now: first_seen is set the first time,
-- last_seen moves forward (never back, whatever order sightings arrive in).
-- Returns how many identities were updated.
--   SELECT record_sightings(ARRAY['...']::uuid[]);
-- Raises nothing of its own. Idempotent for one `now`.
CREATE OR REPLACE FUNCTION record_sightings(
    p_identity_ids uuid[],
    p_now          timestamptz DEFAULT now()
) RETURNS integer
LANGUAGE sql AS $$
    WITH seen AS (
        UPDATE identities
        SET first_seen = coalesce(least(first_seen, p_now), p_now),
            last_seen = greatest(coalesce(last_seen, p_now), p_now)
        WHERE identity_id = ANY (p_identity_ids)
        RETURNING 1
    )
    SELECT count(*)::integer FROM seen
$$;
