-- set_recognition_thresholds(request jsonb, caller text, now) -> jsonb
--
-- Stores the decision thresholds of one model (table recognition_thresholds),
-- replacing the model's row whole; every running recognizer of that model
-- reads them within a second (NOTIFY studio_gallery). `studio calibrate`
-- calls it with what it measured on the gallery; a DBA may call it with the
-- thresholds alone:
--   SELECT set_recognition_thresholds('{"model": "buffalo_s", "identify": 0.55,
--                                      "uncertain": 0.4, "margin": 0.1}');
--   -> {"success": true, "model": "buffalo_s", "created": true, "dry_run": false, ...}
-- Fields: model (required, 1-50 characters, stored normalised like every
-- text field); identify, uncertain, margin (required, 0-1, uncertain not
-- above identify); a measured calibration adds target_far (above 0, below
-- 1), optionally uncertain_far (from target_far to 1), and the counts it
-- rested on, required with target_far: identities, reference_count,
-- genuine_identities, genuine_scores, impostor_scores (whole numbers); and
-- optionally the rates at the thresholds: far_at_identify, gar_at_identify,
-- far_at_uncertain, gar_at_uncertain (0-1). "dry_run": true checks
-- everything and stores nothing. Real numbers are kept to 9 decimal places:
-- that value is the one checked and the one stored.
-- A calibration must rest on enough data: a false-accept rate f needs at
-- least ceil(3 / f) impostor scores (the rule of three: with none of n
-- strangers accepted, the 95% upper bound of the rate is 3/n), and the
-- genuine distribution 20 scores from 5 identities with two references or
-- more; a refusal names what there is, what is needed, and the least rate
-- these impostor scores can show. The table's CHECKs hold the same rules
-- for any writer.
-- Raises: 22023 with DETAIL = JSON array of every error (studio_error).
-- Idempotent: the same request leaves the same row (calibrated_at aside).
CREATE OR REPLACE FUNCTION set_recognition_thresholds(
    p_request jsonb,
    p_caller  text        DEFAULT NULL,
    p_now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c_fields CONSTANT text[] := ARRAY[
        'model', 'identify', 'uncertain', 'margin', 'target_far', 'uncertain_far',
        'identities', 'reference_count', 'genuine_identities', 'genuine_scores',
        'impostor_scores', 'far_at_identify', 'gar_at_identify', 'far_at_uncertain',
        'gar_at_uncertain', 'dry_run'];
    c_counts CONSTANT text[] := ARRAY[
        'identities', 'reference_count', 'genuine_identities', 'genuine_scores',
        'impostor_scores'];
    c_min_genuine_scores     CONSTANT integer := 20;
    c_min_genuine_identities CONSTANT integer := 5;
    v_model   text;
    v_given   text[];   -- the fields present and not null: a null is an absent field
    v_values  jsonb;  -- every number field that passed its own check, as a number
    v_errors  jsonb;
    v_target  numeric;
    v_needed  numeric;
    v_count   numeric;
    v_least   numeric;
    v_dry_run boolean;
    v_created boolean;
BEGIN
    IF jsonb_typeof(p_request) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'the request must be a JSON object')));
    END IF;
    v_model := studio_normalized_text(p_request -> 'model');
    SELECT coalesce(array_agg(key), '{}') INTO v_given
      FROM jsonb_each(p_request) WHERE jsonb_typeof(value) <> 'null';
    v_dry_run := CASE WHEN jsonb_typeof(p_request -> 'dry_run') = 'boolean'
                      THEN (p_request ->> 'dry_run')::boolean ELSE false END;

    -- Each number on its own: its type, then its range.
    WITH spec (field, lo, hi, lo_open, hi_open, whole) AS (
        VALUES ('identify', 0, 1, false, false, false),
               ('uncertain', 0, 1, false, false, false),
               ('margin', 0, 1, false, false, false),
               ('target_far', 0, 1, true, true, false),
               ('uncertain_far', 0, 1, true, false, false),
               ('far_at_identify', 0, 1, false, false, false),
               ('gar_at_identify', 0, 1, false, false, false),
               ('far_at_uncertain', 0, 1, false, false, false),
               ('gar_at_uncertain', 0, 1, false, false, false),
               ('identities', 0, 2147483647, false, false, true),
               ('reference_count', 0, 2147483647, false, false, true),
               ('genuine_identities', 0, 2147483647, false, false, true),
               ('genuine_scores', 0, 2147483647, false, false, true),
               ('impostor_scores', 0, 1000000000000000, false, false, true)
    ), given AS (
        SELECT s.*, p_request -> s.field AS raw,
               CASE WHEN jsonb_typeof(p_request -> s.field) <> 'number' THEN NULL
                    WHEN s.whole THEN studio_whole_number(p_request -> s.field)
                    ELSE trim_scale(round((p_request ->> s.field)::numeric, 9)) END AS value
        FROM spec AS s
        WHERE s.field = ANY (v_given)
    ), judged AS (
        SELECT g.*,
               g.value IS NOT NULL
               AND (g.value > g.lo OR (NOT g.lo_open AND g.value = g.lo))
               AND (g.value < g.hi OR (NOT g.hi_open AND g.value = g.hi)) AS fits
        FROM given AS g
    )
    SELECT coalesce(jsonb_object_agg(field, value) FILTER (WHERE fits), '{}'),
           coalesce(jsonb_agg(studio_error(
               NULL, NULL, field,
               CASE WHEN jsonb_typeof(raw) <> 'number' OR value IS NULL THEN 'invalid_type'
                    ELSE 'out_of_range' END,
               format('%s must be %s %s%s', field,
                      CASE WHEN whole THEN 'a whole number' ELSE 'a number' END,
                      CASE WHEN lo_open AND hi_open THEN format('above %s and below %s', lo, hi)
                           WHEN lo_open THEN format('above %s and at most %s', lo, hi)
                           ELSE format('from %s to %s', lo, hi) END,
                      CASE WHEN whole THEN '' ELSE ' (to 9 decimal places)' END)))
               FILTER (WHERE NOT fits), '[]')
      INTO v_values, v_errors
      FROM judged;

    v_target := (v_values ->> 'target_far')::numeric;
    SELECT v_errors || coalesce(jsonb_agg(err), '[]') INTO v_errors FROM (
        SELECT studio_key_errors(p_request, c_fields, '', NULL, NULL) AS err
        UNION ALL
        SELECT e FROM studio_text_errors(p_request -> 'model', 'model', NULL, NULL, true, 50,
                                         false, v_model) AS e
        UNION ALL
        SELECT studio_error(NULL, NULL, f, 'required', f || ' is required')
        FROM unnest(ARRAY['identify', 'uncertain', 'margin']) AS f
        WHERE f <> ALL (v_given)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'dry_run', 'invalid_type', 'dry_run must be a boolean')
        WHERE 'dry_run' = ANY (v_given) AND jsonb_typeof(p_request -> 'dry_run') <> 'boolean'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'uncertain', 'out_of_range', format(
                   'uncertain (%s) must not be above identify (%s)',
                   v_values ->> 'uncertain', v_values ->> 'identify'))
        WHERE (v_values ->> 'uncertain')::numeric > (v_values ->> 'identify')::numeric
        UNION ALL
        SELECT studio_error(NULL, NULL, 'uncertain_far', 'out_of_range', format(
                   'uncertain_far (%s) must not be below target_far (%s)',
                   v_values ->> 'uncertain_far', v_target))
        WHERE (v_values ->> 'uncertain_far')::numeric < v_target
        UNION ALL
        SELECT studio_error(NULL, NULL, 'uncertain_far', 'required',
                            'uncertain_far is a measurement: it needs target_far')
        WHERE 'uncertain_far' = ANY (v_given) AND 'target_far' <> ALL (v_given)
        UNION ALL
        SELECT studio_error(NULL, NULL, f, 'required',
                            f || ' is required with target_far: what the calibration rested on')
        FROM unnest(c_counts) AS f
        WHERE 'target_far' = ANY (v_given) AND f <> ALL (v_given)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'genuine_identities', 'out_of_range', format(
                   'genuine_identities (%s) cannot exceed identities (%s)',
                   v_values ->> 'genuine_identities', v_values ->> 'identities'))
        WHERE (v_values ->> 'genuine_identities')::numeric > (v_values ->> 'identities')::numeric
        UNION ALL
        SELECT studio_error(NULL, NULL, 'genuine_scores', 'out_of_range', format(
                   'genuine_scores (%s) cannot exceed reference_count (%s): each reference '
                   'gives one at most', v_values ->> 'genuine_scores',
                   v_values ->> 'reference_count'))
        WHERE (v_values ->> 'genuine_scores')::numeric > (v_values ->> 'reference_count')::numeric
    ) AS cross_checks;

    -- Enough data for what the calibration claims (only when its numbers are sound).
    IF v_target IS NOT NULL THEN
        v_needed := ceil(3 / v_target);
        v_count := (v_values ->> 'impostor_scores')::numeric;
        IF v_count < v_needed THEN
            -- The least target these scores can show, rounded up so that it passes.
            v_least := CASE WHEN v_count > 0 THEN
                ceil(3 / v_count * 10 ^ (ceil(-log(3 / v_count)) + 1))
                / 10 ^ (ceil(-log(3 / v_count)) + 1) END;
            v_errors := v_errors || jsonb_build_array(studio_error(
                NULL, NULL, 'impostor_scores', 'too_few', CASE
                WHEN v_count = 0 THEN format(
                    'no impostor scores: a false-accept rate of %s needs %s (the rule of '
                    'three, 3 / %s), from references of two identities or more',
                    v_target, v_needed, v_target)
                WHEN v_least >= 1 THEN format(
                    '%s impostor scores cannot show a false-accept rate of %s: the rule of '
                    'three needs 3 / %s = %s of them, and these show no rate below 1',
                    v_count, v_target, v_target, v_needed)
                ELSE format(
                    '%s impostor scores cannot show a false-accept rate of %s: the rule of '
                    'three needs 3 / %s = %s of them; these show %s at best',
                    v_count, v_target, v_target, v_needed, trim_scale(v_least)) END));
        END IF;
        v_count := (v_values ->> 'genuine_scores')::numeric;
        IF v_count < c_min_genuine_scores THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                NULL, NULL, 'genuine_scores', 'too_few', format(
                    '%s genuine scores; a calibration needs %s or more (each reference of an '
                    'identity with two references or more gives one)',
                    v_count, c_min_genuine_scores)));
        END IF;
        v_count := (v_values ->> 'genuine_identities')::numeric;
        IF v_count < c_min_genuine_identities THEN
            v_errors := v_errors || jsonb_build_array(studio_error(
                NULL, NULL, 'genuine_identities', 'too_few', format(
                    '%s identities with two references or more; a calibration needs %s or more',
                    v_count, c_min_genuine_identities)));
        END IF;
    END IF;
    PERFORM studio_raise_invalid(v_errors);

    v_created := NOT EXISTS (SELECT 1 FROM recognition_thresholds WHERE model = v_model);
    IF NOT v_dry_run THEN
        INSERT INTO recognition_thresholds AS t (
            model, identify, uncertain, margin, target_far, uncertain_far, identities,
            reference_count, genuine_identities, genuine_scores, impostor_scores,
            far_at_identify, gar_at_identify, far_at_uncertain, gar_at_uncertain,
            calibrated_at, calibrated_by, updated_at)
        VALUES (
            v_model,
            (v_values ->> 'identify')::double precision,
            (v_values ->> 'uncertain')::double precision,
            (v_values ->> 'margin')::double precision,
            v_target::double precision,
            (v_values ->> 'uncertain_far')::double precision,
            (v_values ->> 'identities')::integer,
            (v_values ->> 'reference_count')::integer,
            (v_values ->> 'genuine_identities')::integer,
            (v_values ->> 'genuine_scores')::integer,
            (v_values ->> 'impostor_scores')::bigint,
            (v_values ->> 'far_at_identify')::double precision,
            (v_values ->> 'gar_at_identify')::double precision,
            (v_values ->> 'far_at_uncertain')::double precision,
            (v_values ->> 'gar_at_uncertain')::double precision,
            p_now, p_caller, p_now)
        ON CONFLICT (model) DO UPDATE SET
            identify = EXCLUDED.identify, uncertain = EXCLUDED.uncertain,
            margin = EXCLUDED.margin, target_far = EXCLUDED.target_far,
            uncertain_far = EXCLUDED.uncertain_far, identities = EXCLUDED.identities,
            reference_count = EXCLUDED.reference_count,
            genuine_identities = EXCLUDED.genuine_identities,
            genuine_scores = EXCLUDED.genuine_scores,
            impostor_scores = EXCLUDED.impostor_scores,
            far_at_identify = EXCLUDED.far_at_identify,
            gar_at_identify = EXCLUDED.gar_at_identify,
            far_at_uncertain = EXCLUDED.far_at_uncertain,
            gar_at_uncertain = EXCLUDED.gar_at_uncertain,
            calibrated_at = EXCLUDED.calibrated_at, calibrated_by = EXCLUDED.calibrated_by,
            updated_at = EXCLUDED.updated_at;
    END IF;

    RETURN jsonb_build_object(
        'success', true,
        'model', v_model,
        'identify', (v_values ->> 'identify')::double precision,
        'uncertain', (v_values ->> 'uncertain')::double precision,
        'margin', (v_values ->> 'margin')::double precision,
        'target_far', v_target::double precision,
        'created', v_created,
        'dry_run', v_dry_run);
END
$$;
