-- studio_erase_events(identity_id, now) -> integer
--
-- Called for each identity about to be deleted (the identities_erase_events
-- trigger): when outputs were sent, or are about to be sent, events naming
-- this person, writes one identity_erased event with a pending delivery to
-- each of them, so that they drop what they keep of the person (retained
-- MQTT topics and Home Assistant entities, a receiver's copy). The event
-- holds the identity's id and the cameras that saw them: no name, no key.
-- The person's sightings, events and deliveries then go by cascade.
-- Returns how many deliveries it queued.
-- Example: SELECT studio_erase_events('0b7e9c1a-2f4d-4e8b-9a6c-5d3e2f1a0b9c', now());
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION studio_erase_events(p_identity_id uuid, p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_outputs  text[];
    v_cameras  jsonb;
BEGIN
    SELECT array_agg(DISTINCT d.output), jsonb_agg(DISTINCT s.camera)
      INTO v_outputs, v_cameras
      FROM sightings AS s
      JOIN events AS e ON e.sighting_id = s.sighting_id
      JOIN deliveries AS d ON d.event_id = e.event_id
     WHERE s.identity_id = p_identity_id;
    IF v_outputs IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO events (event_id, kind, payload, created_at)
    VALUES (v_event_id, 'identity_erased', jsonb_build_object(
                'event_id', v_event_id, 'kind', 'identity_erased', 'version', 1,
                'created_at', p_now, 'person', jsonb_build_object('identity_id', p_identity_id),
                'cameras', v_cameras),
            p_now);
    INSERT INTO deliveries (event_id, output, next_attempt_at)
    SELECT v_event_id, o, p_now FROM unnest(v_outputs) AS o;
    RETURN cardinality(v_outputs);
END
$$;
