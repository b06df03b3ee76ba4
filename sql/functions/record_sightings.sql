-- record_sightings(identity_ids uuid[], now, allowed_sources) -> integer
--
-- Cameras saw these identities now: first_seen is set the first time,
-- last_seen moves forward (never back, whatever order sightings arrive in).
-- allowed_sources NULL may stamp any identity; otherwise only identities of
-- those source systems are touched and the others are ignored, exactly as
-- if they did not exist. Returns how many identities were updated.
--   SELECT record_sightings(ARRAY['...']::uuid[]);
--   SELECT record_sightings(ARRAY['...']::uuid[], p_allowed_sources => '{alfred_catalog}');
-- Raises nothing of its own. Idempotent for one `now`.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS record_sightings(uuid[], timestamptz);

CREATE OR REPLACE FUNCTION record_sightings(
    p_identity_ids    uuid[],
    p_now             timestamptz DEFAULT now(),
    p_allowed_sources text[]      DEFAULT NULL
) RETURNS integer
LANGUAGE sql AS $$
    WITH seen AS (
        UPDATE identities
        SET first_seen = coalesce(least(first_seen, p_now), p_now),
            last_seen = greatest(coalesce(last_seen, p_now), p_now)
        WHERE identity_id = ANY (p_identity_ids)
          AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
        RETURNING 1
    )
    SELECT count(*)::integer FROM seen
$$;
