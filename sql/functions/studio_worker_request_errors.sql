-- studio_worker_request_errors(request, allowed_fields, needs_lease) -> jsonb
--
-- Every error in a worker's request body (claim, heartbeat, complete,
-- fail), as a JSON array for studio_raise_invalid(): unknown fields,
-- worker_id (1-100 characters), lease_seconds (a whole JSON number from 10
-- to 3600, studio_whole_number: 300 or 300.0, never "300"), lease_token (a
-- UUID, required when needs_lease), progress (an object), error (a
-- non-empty string) and retryable (a boolean); no value in progress,
-- result or error may be a URL, a path or image data.
-- progress, result and error over their size cap (studio_job_field_sizes)
-- are refused with code too_large naming the field, and are not walked by
-- the privacy scan: a job is read back by every status call, so what it
-- keeps stays small.
-- Example: SELECT studio_worker_request_errors('{"worker_id": ""}', '{worker_id}', false);
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_worker_request_errors(
    p_request     jsonb,
    p_allowed     text[],
    p_needs_lease boolean
) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(err), '[]') FROM (
        SELECT studio_error(NULL, NULL, '$', 'invalid_type', 'the body must be a JSON object') AS err
        WHERE jsonb_typeof(p_request) IS DISTINCT FROM 'object'
        UNION ALL
        SELECT studio_key_errors(p_request, p_allowed, '', NULL, NULL)
        WHERE jsonb_typeof(p_request) = 'object'
        UNION ALL
        SELECT e FROM studio_text_errors(p_request -> 'worker_id', 'worker_id', NULL, NULL, true, 100) AS e
        WHERE 'worker_id' = ANY (p_allowed) AND jsonb_typeof(p_request) = 'object'
        UNION ALL
        SELECT studio_error(NULL, NULL, 'lease_seconds', 'out_of_range',
                            'lease_seconds must be a whole number from 10 to 3600')
        WHERE p_request ? 'lease_seconds'
          AND coalesce(studio_whole_number(p_request -> 'lease_seconds') NOT BETWEEN 10 AND 3600,
                       true)
        UNION ALL
        SELECT CASE WHEN p_request -> 'lease_token' IS NULL
                         OR p_request -> 'lease_token' = 'null'::jsonb
                    THEN studio_error(NULL, NULL, 'lease_token', 'required',
                                      'lease_token (the UUID claim_job gave) is required')
                    ELSE studio_error(NULL, NULL, 'lease_token', 'invalid_value',
                                      'lease_token must be the UUID claim_job gave')
               END
        WHERE p_needs_lease AND jsonb_typeof(p_request) = 'object'
          AND (jsonb_typeof(p_request -> 'lease_token') IS DISTINCT FROM 'string'
               OR (p_request ->> 'lease_token')
                  !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'progress', 'invalid_type', 'progress must be an object')
        WHERE p_request ? 'progress' AND jsonb_typeof(p_request -> 'progress') <> 'object'
        UNION ALL
        SELECT studio_error(NULL, NULL, cap.field, 'too_large', format(
                   '%s is %s bytes; a job keeps at most %s', cap.field, cap.size, cap.most))
        FROM studio_job_field_sizes(p_request) AS cap
        WHERE cap.size > cap.most
        UNION ALL
        -- Progress and results are counts and IDs from the worker: their field
        -- names may say "photos", but no value may be a URL, a path or image data.
        SELECT e FROM studio_job_field_sizes(p_request) AS cap
        CROSS JOIN LATERAL studio_privacy_scan(p_request -> cap.field, cap.field, NULL, NULL) AS e
        WHERE cap.size <= cap.most AND e ->> 'code' = 'forbidden_value'
          AND (cap.field <> 'progress' OR jsonb_typeof(p_request -> 'progress') = 'object')
          AND (cap.field <> 'error' OR jsonb_typeof(p_request -> 'error') = 'string')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'error', 'required', 'error must be a non-empty string')
        WHERE 'error' = ANY (p_allowed) AND jsonb_typeof(p_request) = 'object'
          AND (jsonb_typeof(p_request -> 'error') IS DISTINCT FROM 'string'
               OR btrim(p_request ->> 'error') = '')
        UNION ALL
        SELECT studio_error(NULL, NULL, 'retryable', 'invalid_type', 'retryable must be true or false')
        WHERE p_request ? 'retryable' AND jsonb_typeof(p_request -> 'retryable') <> 'boolean'
    ) AS errors
$$;
