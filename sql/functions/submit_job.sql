-- submit_job(payload jsonb, caller text, allowed_sources text[], now) -> jsonb
--
-- Queues a face_detect_embed job:
--   SELECT submit_job('{"job_type": "face_detect_embed",
--                       "config": {"source_system": "alfred_catalog", "photo_ids": [1, 2, 3]}}');
--   -> {"success": true, "job_id": 7, "state": "queued", ...}
-- config names the photos either as "photo_ids" (1 to 10,000 IDs) or as one
-- "batch_id", never both. Each ID must be able to travel as one catalog URL
-- segment (studio_catalog_id_error); a numeric one is stored as an integer
-- (15.0 is 15). Optional: "max_attempts" (1-10,
-- default 5: a job that fails ten times will not pass on the eleventh),
-- "priority" (-100..100, default 0, higher first). Photos are named by ID
-- only: a URL or path anywhere is refused like every other payload.
-- Raises: 22023 with DETAIL = JSON array of every error;
--         42501 when allowed_sources does not hold the source system.
-- Not idempotent: each call queues a job.
CREATE OR REPLACE FUNCTION submit_job(
    p_payload         jsonb,
    p_caller          text        DEFAULT NULL,
    p_allowed_sources text[]      DEFAULT NULL,
    p_now             timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_config jsonb := p_payload -> 'config';
    v_errors jsonb;
    v_job    jobs;
BEGIN
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        PERFORM studio_raise_invalid(jsonb_build_array(studio_error(
            NULL, NULL, '$', 'invalid_type', 'payload must be a JSON object')));
    END IF;

    SELECT coalesce(jsonb_agg(err), '[]') INTO v_errors FROM (
        SELECT studio_key_errors(p_payload, '{job_type,config,max_attempts,priority}', '', NULL, NULL) AS err
        UNION ALL
        SELECT studio_error(NULL, NULL, 'job_type', 'invalid_value', 'job_type must be "face_detect_embed"')
        WHERE (p_payload ->> 'job_type') IS DISTINCT FROM 'face_detect_embed'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'config', 'required', 'config must be an object')
        WHERE jsonb_typeof(v_config) IS DISTINCT FROM 'object'
        UNION ALL
        SELECT studio_key_errors(v_config, '{source_system,photo_ids,batch_id}', 'config', NULL, NULL)
        WHERE jsonb_typeof(v_config) = 'object'
        UNION ALL
        SELECT e FROM studio_text_errors(v_config -> 'source_system', 'config.source_system',
                                         NULL, NULL, true, 50) AS e
        WHERE jsonb_typeof(v_config) = 'object'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'config', 'required',
                            'config needs exactly one of photo_ids and batch_id')
        WHERE jsonb_typeof(v_config) = 'object' AND (v_config ? 'photo_ids') = (v_config ? 'batch_id')
        UNION ALL
        SELECT e FROM studio_text_errors(v_config -> 'batch_id', 'config.batch_id',
                                         NULL, NULL, true, 255, true) AS e
        WHERE jsonb_typeof(v_config) = 'object' AND v_config ? 'batch_id'
        UNION ALL
        SELECT studio_catalog_id_error(v_config -> 'batch_id', 'config.batch_id')
        WHERE jsonb_typeof(v_config) = 'object'
          AND studio_catalog_id_error(v_config -> 'batch_id', 'config.batch_id') IS NOT NULL
        UNION ALL
        SELECT studio_error(NULL, NULL, 'config.photo_ids', 'invalid_type',
                            'photo_ids must be an array of 1 to 10,000 IDs')
        WHERE v_config ? 'photo_ids'
          AND (jsonb_typeof(v_config -> 'photo_ids') <> 'array'
               OR jsonb_array_length(v_config -> 'photo_ids') NOT BETWEEN 1 AND 10000)
        UNION ALL
        SELECT e
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v_config -> 'photo_ids') = 'array'
                                       THEN v_config -> 'photo_ids' END) WITH ORDINALITY AS p (id, ord)
        CROSS JOIN LATERAL studio_text_errors(p.id, format('config.photo_ids[%s]', p.ord - 1),
                                              NULL, NULL, true, 255, true) AS e
        UNION ALL
        SELECT e
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v_config -> 'photo_ids') = 'array'
                                       THEN v_config -> 'photo_ids' END) WITH ORDINALITY AS p (id, ord)
        CROSS JOIN LATERAL studio_catalog_id_error(p.id, format('config.photo_ids[%s]', p.ord - 1)) AS e
        WHERE e IS NOT NULL
        UNION ALL
        SELECT studio_error(NULL, NULL, 'max_attempts', 'out_of_range', 'max_attempts must be 1 to 10')
        WHERE p_payload ? 'max_attempts'
          AND coalesce(studio_whole_number(p_payload -> 'max_attempts') NOT BETWEEN 1 AND 10, true)
        UNION ALL
        SELECT studio_error(NULL, NULL, 'priority', 'out_of_range', 'priority must be an integer from -100 to 100')
        WHERE p_payload ? 'priority'
          AND coalesce(studio_whole_number(p_payload -> 'priority') NOT BETWEEN -100 AND 100, true)
    ) AS all_errors;
    PERFORM studio_raise_invalid(v_errors);
    PERFORM studio_require_source(v_config ->> 'source_system', p_allowed_sources);

    -- A numeric ID is kept as the integer it is (15.0 -> 15), so that the
    -- worker asks the catalog for photo 15, not "15.0".
    v_config := v_config
        || CASE WHEN v_config ? 'batch_id' THEN jsonb_build_object(
               'batch_id', coalesce(to_jsonb(studio_whole_number(v_config -> 'batch_id')),
                                    v_config -> 'batch_id')) ELSE '{}' END
        || CASE WHEN v_config ? 'photo_ids' THEN jsonb_build_object('photo_ids', (
               SELECT jsonb_agg(coalesce(to_jsonb(studio_whole_number(p.id)), p.id) ORDER BY p.ord)
               FROM jsonb_array_elements(v_config -> 'photo_ids') WITH ORDINALITY AS p (id, ord)))
           ELSE '{}' END;

    INSERT INTO jobs (job_type, source_system, config, max_attempts, priority, run_after,
                      submitted_by, created_at, updated_at)
    VALUES (p_payload ->> 'job_type', v_config ->> 'source_system', v_config,
            coalesce(studio_whole_number(p_payload -> 'max_attempts')::integer, 5),
            coalesce(studio_whole_number(p_payload -> 'priority')::smallint, 0),
            p_now, coalesce(p_caller, session_user), p_now, p_now)
    RETURNING * INTO v_job;
    PERFORM pg_notify('studio_jobs', v_job.job_id::text);
    RETURN jsonb_build_object('success', true) || studio_job_json(v_job);
END
$$;
