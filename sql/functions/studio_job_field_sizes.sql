-- studio_job_field_sizes(request) -> TABLE(field, size, most)
--
-- How big each of a worker's progress, result and error is, and the most a
-- job keeps of it: progress 4,096 and result 524,288 bytes of JSON (as
-- PostgreSQL prints the jsonb), error 4,096 bytes of text. One row per field
-- present in the request. studio_worker_request_errors() refuses the ones
-- over their cap before anything walks them.
-- Example: SELECT * FROM studio_job_field_sizes('{"progress": {"done": 1}}');
--   -> ('progress', 13, 4096)
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_job_field_sizes(p_request jsonb)
RETURNS TABLE (field text, size integer, most integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cap.field,
           CASE WHEN jsonb_typeof(p_request -> cap.field) = 'string'
                THEN octet_length(p_request ->> cap.field)
                ELSE octet_length((p_request -> cap.field)::text) END,
           cap.most
    FROM (VALUES ('progress', 4096), ('result', 524288), ('error', 4096)) AS cap (field, most)
    WHERE jsonb_typeof(p_request) = 'object' AND p_request ? cap.field
$$;
