-- sightings_page(identity_id, source_system, external_id, camera, decision,
--                since, until, limit, cursor, allowed_sources) -> jsonb
--
-- One page of sightings, newest first (by started_at, then sighting_id),
-- each as studio_sighting_json shows it:
--   SELECT sightings_page(p_camera => 'front_door', p_limit => 50);
--   -> {"success": true, "sightings": [...], "next_cursor": "..." | null}
-- Every filter is optional (NULL) and they combine: identity_id (a UUID),
-- source_system and external_id (of the person), camera, decision, since
-- (ended at or after) and until (started before), the times in RFC 3339
-- (studio_rfc3339). Pass next_cursor back as `cursor` for the next page
-- (keyset pagination: stable while sightings are added or purged).
-- allowed_sources NULL sees everything. Otherwise the caller sees the
-- sightings of its sources' people, and the unknown and uncertain ones
-- recorded by a caller bound within its own sources (recorded_for), never
-- those of an unbound or otherwise bound recorder, nor Studio-native people.
-- Raises: 22023 for a limit outside 1..1000, a malformed filter or cursor;
--         42501 when allowed_sources does not hold source_system.
-- Read-only.
CREATE OR REPLACE FUNCTION sightings_page(
    p_identity_id     text    DEFAULT NULL,
    p_source_system   text    DEFAULT NULL,
    p_external_id     text    DEFAULT NULL,
    p_camera          text    DEFAULT NULL,
    p_decision        text    DEFAULT NULL,
    p_since           text    DEFAULT NULL,
    p_until           text    DEFAULT NULL,
    p_limit           integer DEFAULT 100,
    p_cursor          text    DEFAULT NULL,
    p_allowed_sources text[]  DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_since    timestamptz := studio_rfc3339(p_since);
    v_until    timestamptz := studio_rfc3339(p_until);
    v_after    jsonb;
    v_after_at timestamptz;
    v_after_id uuid;
    v_errors   jsonb;
    v_page     jsonb;
    v_last     jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(err), '[]') INTO v_errors FROM (
        SELECT studio_error(NULL, NULL, 'limit', 'out_of_range', 'limit must be from 1 to 1000') AS err
        WHERE p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000
        UNION ALL
        SELECT studio_error(NULL, NULL, 'identity_id', 'invalid_value', 'identity_id must be a UUID')
        WHERE p_identity_id !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'decision', 'invalid_value',
                            'decision must be "identified", "uncertain" or "unknown"')
        WHERE p_decision NOT IN ('identified', 'uncertain', 'unknown')
        UNION ALL
        SELECT studio_error(NULL, NULL, f.field, 'invalid_value',
                            f.field || ' must be an RFC 3339 date-time with an offset, such as '
                            || '2026-05-01T08:15:02Z')
        FROM (VALUES ('since', p_since, v_since), ('until', p_until, v_until)) AS f (field, raw, value)
        WHERE f.raw IS NOT NULL AND f.value IS NULL
        UNION ALL
        SELECT studio_error(NULL, NULL, f.field, 'invalid_value',
                            f.field || ' must be 1 to ' || f.most || ' characters')
        FROM (VALUES ('camera', p_camera, 100), ('external_id', p_external_id, 255)) AS f (field, raw, most)
        WHERE f.raw IS NOT NULL AND length(f.raw) NOT BETWEEN 1 AND f.most
    ) AS all_errors;
    PERFORM studio_raise_invalid(v_errors);

    IF p_cursor IS NOT NULL THEN
        BEGIN
            v_after := convert_from(decode(translate(p_cursor, '-_', '+/')
                                           || repeat('=', (4 - length(p_cursor) % 4) % 4), 'base64'),
                                    'UTF8')::jsonb;
            IF jsonb_typeof(v_after) <> 'array' OR jsonb_array_length(v_after) <> 2 THEN
                RAISE EXCEPTION USING ERRCODE = '22023';
            END IF;
            v_after_at := (v_after ->> 0)::timestamptz;
            v_after_id := (v_after ->> 1)::uuid;
            IF v_after_at IS NULL OR v_after_id IS NULL THEN
                RAISE EXCEPTION USING ERRCODE = '22023';
            END IF;
        EXCEPTION WHEN data_exception OR untranslatable_character OR character_not_in_repertoire THEN
            PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
                NULL, NULL, 'cursor', 'invalid_value',
                'cursor is not one this server handed out; start again without it')));
        END;
    END IF;
    IF p_source_system IS NOT NULL THEN
        PERFORM studio_require_source(p_source_system, p_allowed_sources);
    END IF;

    SELECT coalesce(jsonb_agg(row ORDER BY ord), '[]'), (array_agg(key ORDER BY ord DESC))[1]
      INTO v_page, v_last
      FROM (
        SELECT row_number() OVER (ORDER BY s.started_at DESC, s.sighting_id DESC) AS ord,
               jsonb_build_array(s.started_at, s.sighting_id) AS key,
               studio_sighting_json(s, i) AS row
        FROM sightings AS s
        LEFT JOIN identities AS i ON i.identity_id = s.identity_id
        WHERE (p_allowed_sources IS NULL
               OR (s.identity_id IS NOT NULL AND i.source_system = ANY (p_allowed_sources))
               OR (s.identity_id IS NULL AND s.recorded_for <@ p_allowed_sources))
          AND (p_identity_id IS NULL OR s.identity_id = p_identity_id::uuid)
          AND (p_source_system IS NULL OR i.source_system = p_source_system)
          AND (p_external_id IS NULL OR i.external_id = p_external_id)
          AND (p_camera IS NULL OR s.camera = p_camera)
          AND (p_decision IS NULL OR s.decision = p_decision::sighting_decision)
          AND (v_since IS NULL OR s.ended_at >= v_since)
          AND (v_until IS NULL OR s.started_at < v_until)
          AND (v_after IS NULL OR (s.started_at, s.sighting_id) < (v_after_at, v_after_id))
        ORDER BY s.started_at DESC, s.sighting_id DESC
        LIMIT p_limit
      ) AS page;

    RETURN jsonb_build_object(
        'success', true,
        'sightings', v_page,
        'next_cursor', CASE WHEN jsonb_array_length(v_page) = p_limit THEN
            rtrim(translate(encode(convert_to(v_last::text, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')
        END);
END
$$;
