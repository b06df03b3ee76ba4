-- register_event_outputs(outputs jsonb, now) -> jsonb
--
-- The dispatcher's outputs, from its config file, as the database keeps
-- them (event_outputs): each {"output": name, "kind": "mqtt"|"webhook",
-- "decisions": [...]} is created or updated and enabled; every output not
-- listed is disabled (its deliveries wait, pending, until it is listed
-- again or retention purges them). From then on each new event gets a
-- delivery for each enabled output that publishes its decision.
--   SELECT register_event_outputs('[{"output": "ha", "kind": "mqtt",
--                                    "decisions": ["identified"]}]');
--   -> {"success": true, "outputs": [{"output": "ha", "kind": "mqtt", ...}]}
-- name: 1-100 of A-Z a-z 0-9 _ . -, each once; decisions: 1 to 3 of
-- identified, uncertain, unknown, each once.
-- Raises: 22023 with DETAIL = JSON array of every error.
-- Idempotent.
CREATE OR REPLACE FUNCTION register_event_outputs(
    p_outputs jsonb,
    p_now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_errors jsonb;
BEGIN
    IF jsonb_typeof(p_outputs) IS DISTINCT FROM 'array' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'outputs must be a JSON array')));
    END IF;
    SELECT coalesce(jsonb_agg(err), '[]') INTO v_errors FROM (
        SELECT studio_error((o.ord - 1)::integer, NULL, '$', 'invalid_type',
                            'each output must be an object') AS err
        FROM jsonb_array_elements(p_outputs) WITH ORDINALITY AS o (item, ord)
        WHERE jsonb_typeof(o.item) <> 'object'
        UNION ALL
        SELECT studio_key_errors(o.item, '{output,kind,decisions}', '', (o.ord - 1)::integer, NULL)
        FROM jsonb_array_elements(p_outputs) WITH ORDINALITY AS o (item, ord)
        WHERE jsonb_typeof(o.item) = 'object'
        UNION ALL
        SELECT studio_error((o.ord - 1)::integer, NULL, 'output', 'invalid_value',
                            'output must be 1 to 100 of A-Z a-z 0-9 _ . -, each name once')
        FROM jsonb_array_elements(p_outputs) WITH ORDINALITY AS o (item, ord)
        WHERE jsonb_typeof(o.item) = 'object'
          AND (jsonb_typeof(o.item -> 'output') IS DISTINCT FROM 'string'
               OR (o.item ->> 'output') !~ '^[A-Za-z0-9_.-]{1,100}$'
               OR (SELECT count(*) FROM jsonb_array_elements(p_outputs) AS x (item)
                   WHERE x.item ->> 'output' = o.item ->> 'output') > 1)
        UNION ALL
        SELECT studio_error((o.ord - 1)::integer, NULL, 'kind', 'invalid_value',
                            'kind must be "mqtt" or "webhook"')
        FROM jsonb_array_elements(p_outputs) WITH ORDINALITY AS o (item, ord)
        WHERE jsonb_typeof(o.item) = 'object'
          AND coalesce(o.item ->> 'kind', '') NOT IN ('mqtt', 'webhook')
        UNION ALL
        SELECT studio_error((o.ord - 1)::integer, NULL, 'decisions', 'invalid_value',
                            'decisions must list 1 to 3 of "identified", "uncertain", "unknown", each once')
        FROM jsonb_array_elements(p_outputs) WITH ORDINALITY AS o (item, ord)
        WHERE jsonb_typeof(o.item) = 'object'
          AND (jsonb_typeof(o.item -> 'decisions') IS DISTINCT FROM 'array'
               OR jsonb_array_length(o.item -> 'decisions') = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(o.item -> 'decisions') AS d (value)
                          WHERE d.value NOT IN ('"identified"', '"uncertain"', '"unknown"'))
               OR (SELECT count(DISTINCT d.value) FROM jsonb_array_elements(o.item -> 'decisions') AS d (value))
                  <> jsonb_array_length(o.item -> 'decisions'))
    ) AS all_errors;
    PERFORM studio_raise_invalid(v_errors);

    INSERT INTO event_outputs (output, kind, decisions, enabled, updated_at)
    SELECT o.item ->> 'output', o.item ->> 'kind',
           ARRAY(SELECT jsonb_array_elements_text(o.item -> 'decisions'))::sighting_decision[],
           true, p_now
      FROM jsonb_array_elements(p_outputs) AS o (item)
    ON CONFLICT (output) DO UPDATE
       SET kind = excluded.kind, decisions = excluded.decisions, enabled = true,
           updated_at = excluded.updated_at;
    UPDATE event_outputs SET enabled = false, updated_at = p_now
     WHERE enabled AND output NOT IN (SELECT o.item ->> 'output'
                                        FROM jsonb_array_elements(p_outputs) AS o (item));
    RETURN jsonb_build_object('success', true, 'outputs', (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'output', output, 'kind', kind, 'decisions', decisions, 'enabled', enabled)
                   ORDER BY output), '[]')
        FROM event_outputs));
END
$$;
