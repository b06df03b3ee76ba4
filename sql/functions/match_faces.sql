-- match_faces(probe vector, model, k, ef_search, allowed_sources)
--     -> TABLE(identity_id, external_id, source_system, name, similarity)
--
-- The k reference identities nearest to a probe face, best reference per
-- identity, by cosine similarity (1 = same direction):
--   SELECT * FROM match_faces('[0.01, ...]'::vector, 'buffalo_l', 5);
--   SELECT * FROM match_faces('[0.01, ...]'::vector, 'buffalo_l', 5, 100, '{alfred_catalog}');
-- The gallery is the gallery view (reference faces of named identities), of
-- one model only. allowed_sources NULL searches every identity; otherwise
-- only identities of those source systems (never Studio-native ones), so a
-- caller bound to one source cannot learn another's people, not even as a
-- low-scoring candidate. With the HNSW index for the model (studio index
-- build) the scan is approximate: ef_search sets its breadth (recall against
-- speed), and iterative scans keep going when the filters (name, source) thin
-- out the candidates. Without the index it is an exact scan.
-- The statement is gallery_search_query(model). Where the model's search
-- function exists (create_gallery_search(), made with the index) it runs
-- there, planned once per session; otherwise it is planned on every call.
-- Both give the same answers.
-- Raises 22023 for k outside 1..100 or ef_search outside 1..1000. Read-only.

-- The signature gained allowed_sources; the old one must not linger as an
-- overload that ignores it.
DROP FUNCTION IF EXISTS match_faces(vector, text, integer, integer);

CREATE OR REPLACE FUNCTION match_faces(
    p_probe           vector,
    p_model           text    DEFAULT 'buffalo_l',
    p_k               integer DEFAULT 5,
    p_ef_search       integer DEFAULT 100,
    p_allowed_sources text[]  DEFAULT NULL
) RETURNS TABLE (identity_id uuid, external_id text, source_system text, name text,
                 similarity real)
LANGUAGE plpgsql AS $$
DECLARE
    v_search text;
BEGIN
    IF p_k IS NULL OR p_k NOT BETWEEN 1 AND 100
       OR p_ef_search IS NULL OR p_ef_search NOT BETWEEN 1 AND 1000 THEN
        PERFORM studio_raise_invalid(coalesce((SELECT jsonb_agg(err) FROM (
            SELECT studio_error(NULL, NULL, 'k', 'out_of_range', 'k must be from 1 to 100') AS err
            WHERE p_k IS NULL OR p_k NOT BETWEEN 1 AND 100
            UNION ALL
            SELECT studio_error(NULL, NULL, 'ef_search', 'out_of_range',
                                'ef_search must be from 1 to 1000')
            WHERE p_ef_search IS NULL OR p_ef_search NOT BETWEEN 1 AND 1000
        ) AS errors), '[]'));
    END IF;
    PERFORM set_config('hnsw.ef_search', p_ef_search::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
    v_search := gallery_search_name(p_model);
    IF to_regprocedure(format('%I(vector, integer, integer, text[])', v_search)) IS NOT NULL THEN
        -- Planning this call is a function call's; the search inside runs
        -- the plan its session keeps.
        RETURN QUERY EXECUTE format('SELECT * FROM %I($1, $2, $3, $4)', v_search)
            USING p_probe::vector(512), p_k * 10, p_k, p_allowed_sources;
    ELSE
        RETURN QUERY EXECUTE gallery_search_query(p_model)
            USING p_probe::vector(512), p_k * 10, p_k, p_allowed_sources;
    END IF;
END
$$;
