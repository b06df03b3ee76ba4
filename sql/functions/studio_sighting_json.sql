-- studio_sighting_json(sighting, identity) -> jsonb
--
-- A sighting as the API shows it, with its person when it names one:
--   {"sighting_id", "camera", "model", "started_at", "ended_at", "frames",
--    "decision", "best_similarity", "mean_similarity", "track",
--    "identity": {"identity_id", "external_id", "source_system", "name"} | null,
--    "recorded_by", "created_at"}
-- Example: SELECT studio_sighting_json(s, i) FROM sightings s LEFT JOIN identities i USING (identity_id);
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_sighting_json(p_sighting sightings, p_identity identities)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'sighting_id', p_sighting.sighting_id, 'camera', p_sighting.camera,
        'model', p_sighting.model, 'started_at', p_sighting.started_at,
        'ended_at', p_sighting.ended_at, 'frames', p_sighting.frames,
        'decision', p_sighting.decision, 'best_similarity', p_sighting.best_similarity,
        'mean_similarity', p_sighting.mean_similarity, 'track', p_sighting.track,
        'identity', CASE WHEN p_sighting.identity_id IS NOT NULL THEN jsonb_build_object(
            'identity_id', p_identity.identity_id, 'external_id', p_identity.external_id,
            'source_system', p_identity.source_system, 'name', p_identity.name) END,
        'recorded_by', p_sighting.recorded_by, 'created_at', p_sighting.created_at)
$$;
