-- record_sighting(payload jsonb, caller text, allowed_sources text[], now) -> jsonb
--
-- One finished camera track, as a sighting, with its event and the event's
-- deliveries, in the caller's transaction:
--   SELECT record_sighting('{"sighting_id": "6f1d2c9e-8a51-4c1e-9d4e-3f0b8e2a7c11",
--       "camera": "front_door", "model": "buffalo_l",
--       "started_at": "2026-05-01T08:15:02Z", "ended_at": "2026-05-01T08:15:09Z",
--       "frames": 14, "decision": "identified", "identity_id": "...",
--       "best_similarity": 0.71, "mean_similarity": 0.64, "track": 7}', 'token:cam');
--   -> {"success": true, "created": true, "events": 1, "sighting": {...}}
-- Fields (docs/api.md): sighting_id (a UUID the camera makes once per track),
-- camera (1-100 characters, never a URL or a path), model, started_at and
-- ended_at (RFC 3339 with an offset, studio_rfc3339; ended_at not before
-- started_at nor more than 15 minutes ahead of now), frames (1 to 2^31-1),
-- decision, identity_id (required for identified, null otherwise), optional
-- best_similarity and mean_similarity (-1..1, kept to 6 decimals) and track
-- (0 to 2^63-1). An identified sighting moves the person's first_seen back
-- and last_seen forward. A sighting of every decision gets one `sighting`
-- event; the event gets a pending delivery for each enabled output that
-- publishes its decision (event_outputs).
-- allowed_sources NULL: any identity; otherwise only identities of those
-- source systems, and the sighting remembers them (recorded_for) so that
-- an unknown one is read only by tokens bound within them.
-- Raises: 22023 with DETAIL = JSON array of every error;
--         GT003 identity_not_found: no such identity, or one of a source
--               system the caller is not bound to (the same answer);
--         GT004 sighting_conflict: this sighting_id holds another sighting
--               (or one the caller may not see).
-- Idempotent on sighting_id: the same sighting again records nothing and
-- answers "created": false with the stored sighting.
CREATE OR REPLACE FUNCTION record_sighting(
    p_payload         jsonb,
    p_caller          text        DEFAULT NULL,
    p_allowed_sources text[]      DEFAULT NULL,
    p_now             timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c_uuid      CONSTANT text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
    v_errors    jsonb;
    v_started   timestamptz := studio_rfc3339(p_payload ->> 'started_at');
    v_ended     timestamptz := studio_rfc3339(p_payload ->> 'ended_at');
    v_decision  text := p_payload ->> 'decision';
    v_row       sightings;
    v_stored    sightings;
    v_identity  identities;
    v_event_id  uuid := gen_random_uuid();
    v_sighting  jsonb;
BEGIN
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'payload must be a JSON object')));
    END IF;

    SELECT coalesce(jsonb_agg(err), '[]') INTO v_errors FROM (
        SELECT studio_key_errors(p_payload, '{sighting_id,camera,model,started_at,ended_at,frames,'
                                            'decision,identity_id,best_similarity,'
                                            'mean_similarity,track}', '', NULL, NULL) AS err
        UNION ALL
        SELECT studio_error(NULL, NULL, 'sighting_id', 'required',
                            'sighting_id (a UUID made once per track) is required')
        WHERE jsonb_typeof(p_payload -> 'sighting_id') IS NULL
           OR jsonb_typeof(p_payload -> 'sighting_id') = 'null'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'sighting_id', 'invalid_value', 'sighting_id must be a UUID')
        WHERE jsonb_typeof(p_payload -> 'sighting_id') NOT IN ('null')
          AND (jsonb_typeof(p_payload -> 'sighting_id') <> 'string'
               OR (p_payload ->> 'sighting_id') !~ c_uuid)
        UNION ALL
        SELECT e FROM studio_text_errors(p_payload -> 'camera', 'camera', NULL, NULL, true, 100) AS e
        UNION ALL
        SELECT e FROM studio_text_errors(p_payload -> 'model', 'model', NULL, NULL, true, 50) AS e
        UNION ALL
        SELECT studio_error(NULL, NULL, 'model', 'invalid_value',
                            'model may hold only letters, digits, "_", "-" and "."')
        WHERE jsonb_typeof(p_payload -> 'model') = 'string'
          AND (p_payload ->> 'model') !~ '^[A-Za-z0-9_.-]*$'
        UNION ALL
        SELECT CASE WHEN jsonb_typeof(p_payload -> f.field) IS NULL
                         OR jsonb_typeof(p_payload -> f.field) = 'null'
                    THEN studio_error(NULL, NULL, f.field, 'required', f.field || ' is required')
                    ELSE studio_error(NULL, NULL, f.field, 'invalid_value', f.field
                         || ' must be an RFC 3339 date-time with an offset, such as '
                         || '2026-05-01T08:15:02Z') END
        FROM (VALUES ('started_at', v_started), ('ended_at', v_ended)) AS f (field, value)
        WHERE f.value IS NULL
        UNION ALL
        SELECT studio_error(NULL, NULL, 'ended_at', 'before_start',
                            'ended_at must not be before started_at')
        WHERE v_ended < v_started
        UNION ALL
        SELECT studio_error(NULL, NULL, 'ended_at', 'in_the_future', format(
                   'ended_at is more than 15 minutes ahead of the server''s clock (%s): '
                   'check the camera''s clock', p_now))
        WHERE v_ended > p_now + interval '15 minutes'
        UNION ALL
        -- A track is seconds to minutes of one face; a day or more is a camera
        -- clock gone wrong, which would rewrite the person's first_seen for good.
        SELECT studio_error(NULL, NULL, 'started_at', 'track_too_long',
                            'started_at is more than a day before ended_at: check the camera''s clock')
        WHERE v_ended - v_started > interval '1 day'
        UNION ALL
        SELECT CASE WHEN coalesce(jsonb_typeof(p_payload -> 'frames'), 'null') = 'null'
                    THEN studio_error(NULL, NULL, 'frames', 'required', 'frames is required')
                    ELSE studio_error(NULL, NULL, 'frames', 'out_of_range',
                                      'frames must be a whole number from 1 to 2147483647') END
        WHERE coalesce(studio_whole_number(p_payload -> 'frames') NOT BETWEEN 1 AND 2147483647, true)
        UNION ALL
        SELECT CASE WHEN v_decision IS NULL
                    THEN studio_error(NULL, NULL, 'decision', 'required', 'decision is required')
                    ELSE studio_error(NULL, NULL, 'decision', 'invalid_value',
                                      'decision must be "identified", "uncertain" or "unknown"') END
        WHERE v_decision IS NULL OR jsonb_typeof(p_payload -> 'decision') <> 'string'
           OR v_decision NOT IN ('identified', 'uncertain', 'unknown')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'identity_id', 'required',
                            'identity_id (a UUID) is required for an identified sighting')
        WHERE v_decision = 'identified'
          AND (jsonb_typeof(p_payload -> 'identity_id') IS DISTINCT FROM 'string'
               OR (p_payload ->> 'identity_id') !~ c_uuid)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'identity_id', 'invalid_value',
                            'only an identified sighting names an identity: send null')
        WHERE v_decision IS DISTINCT FROM 'identified'
          AND coalesce(jsonb_typeof(p_payload -> 'identity_id'), 'null') <> 'null'
        UNION ALL
        SELECT CASE WHEN jsonb_typeof(p_payload -> f.field) <> 'number'
                    THEN studio_error(NULL, NULL, f.field, 'invalid_type',
                                      f.field || ' must be a number or null')
                    ELSE studio_error(NULL, NULL, f.field, 'out_of_range',
                                      f.field || ' must be from -1 to 1') END
        FROM (VALUES ('best_similarity'), ('mean_similarity')) AS f (field)
        WHERE coalesce(jsonb_typeof(p_payload -> f.field), 'null') <> 'null'
          AND CASE WHEN jsonb_typeof(p_payload -> f.field) = 'number'
                   THEN (p_payload ->> f.field)::numeric NOT BETWEEN -1 AND 1
                   ELSE true END
        UNION ALL
        SELECT studio_error(NULL, NULL, 'track', 'out_of_range',
                            'track must be a whole number from 0 to 9223372036854775807, or null')
        WHERE coalesce(jsonb_typeof(p_payload -> 'track'), 'null') <> 'null'
          AND coalesce(studio_whole_number(p_payload -> 'track')
                       NOT BETWEEN 0 AND 9223372036854775807, true)
    ) AS all_errors;
    PERFORM studio_raise_invalid(v_errors);

    IF v_decision = 'identified' THEN
        SELECT * INTO v_identity FROM identities
         WHERE identity_id = (p_payload ->> 'identity_id')::uuid
           AND (p_allowed_sources IS NULL OR source_system = ANY (p_allowed_sources))
           FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'identity % not found', p_payload ->> 'identity_id'
                USING ERRCODE = 'GT003',
                      HINT = 'the person may have been deleted since the camera matched them';
        END IF;
    END IF;

    v_row := ROW(
        (p_payload ->> 'sighting_id')::uuid, v_identity.identity_id,
        studio_normalized_text(p_payload -> 'camera'), p_payload ->> 'model',
        v_started, v_ended, studio_whole_number(p_payload -> 'frames')::integer,
        v_decision::sighting_decision,
        round((p_payload ->> 'best_similarity')::numeric, 6)::real,
        round((p_payload ->> 'mean_similarity')::numeric, 6)::real,
        studio_whole_number(p_payload -> 'track')::bigint,
        coalesce(p_caller, session_user), p_allowed_sources, p_now)::sightings;

    INSERT INTO sightings SELECT v_row.* ON CONFLICT (sighting_id) DO NOTHING;
    IF NOT FOUND THEN
        -- A retry of a sighting already recorded: the same answer, nothing
        -- written; another sighting under the same id is a conflict.
        SELECT * INTO v_stored FROM sightings WHERE sighting_id = v_row.sighting_id;
        IF (v_stored.identity_id, v_stored.camera, v_stored.model, v_stored.started_at,
            v_stored.ended_at, v_stored.frames, v_stored.decision, v_stored.best_similarity,
            v_stored.mean_similarity, v_stored.track, v_stored.recorded_for)
           IS NOT DISTINCT FROM
           (v_row.identity_id, v_row.camera, v_row.model, v_row.started_at, v_row.ended_at,
            v_row.frames, v_row.decision, v_row.best_similarity, v_row.mean_similarity,
            v_row.track, v_row.recorded_for) THEN
            RETURN jsonb_build_object('success', true, 'created', false, 'events', 0,
                                      'sighting', studio_sighting_json(v_stored, v_identity));
        END IF;
        RAISE EXCEPTION 'sighting % was recorded with other content', v_row.sighting_id
            USING ERRCODE = 'GT004',
                  HINT = 'make a new sighting_id for each track; resend the same content only';
    END IF;

    IF v_identity.identity_id IS NOT NULL THEN
        UPDATE identities
           SET first_seen = least(coalesce(first_seen, v_started), v_started),
               last_seen = greatest(coalesce(last_seen, v_ended), v_ended)
         WHERE identity_id = v_identity.identity_id;
    END IF;

    v_sighting := studio_sighting_json(v_row, v_identity);
    INSERT INTO events (event_id, kind, sighting_id, payload, created_at)
    VALUES (v_event_id, 'sighting', v_row.sighting_id, jsonb_build_object(
                'event_id', v_event_id, 'kind', 'sighting', 'version', 1, 'created_at', p_now,
                'sighting', v_sighting - '{identity,recorded_by,created_at}'::text[],
                'person', v_sighting -> 'identity'),
            p_now);
    INSERT INTO deliveries (event_id, output, next_attempt_at)
    SELECT v_event_id, o.output, p_now
      FROM event_outputs AS o
     WHERE o.enabled AND v_row.decision = ANY (o.decisions);

    RETURN jsonb_build_object('success', true, 'created', true, 'events', 1,
                              'sighting', v_sighting);
END
$$;
