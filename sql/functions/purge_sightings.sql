-- purge_sightings(older_than interval, now) -> integer
--
-- Retention: deletes the sightings that ended more than `older_than` ago,
-- with their events and deliveries (by cascade), and identity_erased
-- events as old; returns how many sightings went. first_seen and last_seen
-- stay: they are the identity's, not the history's. Run it daily from cron
-- (`studio sightings purge --days N`) or psql.
-- Example: SELECT purge_sightings(interval '30 days');
-- Raises: 22023 for an interval that is not above zero.
-- Idempotent for one `now`.
CREATE OR REPLACE FUNCTION purge_sightings(
    p_older_than interval,
    p_now        timestamptz DEFAULT now()
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than <= interval '0' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, 'older_than', 'out_of_range', 'older_than must be above zero')));
    END IF;
    DELETE FROM sightings WHERE ended_at < p_now - p_older_than;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM events WHERE sighting_id IS NULL AND created_at < p_now - p_older_than;
    RETURN v_count;
END
$$;
