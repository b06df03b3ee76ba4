-- studio_ingest_face_errors(results jsonb) -> jsonb
--
-- Every error in the faces of an ingest payload's `results` array, as a JSON
-- array of studio_error objects, in payload order: studio_face_errors() of
-- each face. One set-based pass, linear in the number of faces (the errors
-- are aggregated once, never appended to a growing array). ingest_embeddings()
-- calls it only after its fast pass found a problem, so its per-face work is
-- never on the path of a good payload. Empty array when the faces are fine.
-- Example: SELECT studio_ingest_face_errors('[{"external_id": "1", "faces": [{}]}]');
-- Raises nothing of its own. Pure.
CREATE OR REPLACE FUNCTION studio_ingest_face_errors(p_results jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(err.value ORDER BY r.ord, f.ord, err.ord), '[]')
    FROM jsonb_array_elements(p_results) WITH ORDINALITY AS r (item, ord)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.item -> 'faces') = 'array' THEN r.item -> 'faces' END)
        WITH ORDINALITY AS f (face, ord)
    CROSS JOIN LATERAL jsonb_array_elements(studio_face_errors(
        f.face, (r.ord - 1)::integer, r.item ->> 'external_id', format('faces[%s]', f.ord - 1)))
        WITH ORDINALITY AS err (value, ord)
$$;
