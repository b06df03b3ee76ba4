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
-- At least k identities come back whenever the caller may see k: the scan
-- is made larger while one person's many references crowd out the others.
-- The statement is gallery_search_query(model). Where the model's search
-- function exists (create_gallery_search(), made with the index) it runs
-- there, planned once per session; otherwise it is planned on every call.
-- Both give the same answers.
-- The probe is searched at unit length; the caller's hnsw.ef_search and
-- hnsw.iterative_scan are as they were after the call.
-- Raises 22023, naming every field, for a probe that is NULL, all zeros or
-- not of 512 dimensions, a NULL model, k outside 1..100 or ef_search outside
-- 1..1000. Read-only.

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
    -- pgvector's own bound on what one iterative scan visits (hnsw.max_scan_tuples).
    c_max_candidates CONSTANT integer := 20000;
    v_search     text;
    v_statement  text;
    v_probe      vector(512);
    v_candidates integer;
    v_found      jsonb;
    v_window     bigint;
    -- The caller's settings, given back after the search: set_config(...,
    -- true) would otherwise hold until the end of the caller's transaction.
    v_ef_search text := current_setting('hnsw.ef_search', true);
    v_iterative text := current_setting('hnsw.iterative_scan', true);
BEGIN
    -- The probe is checked as the API checks it, so that psql gets what the
    -- API gets: a NULL or all-zero probe has no direction to compare. The
    -- list of errors is built only when one is there (this runs per probe).
    IF p_probe IS NULL OR vector_dims(p_probe) <> 512 OR vector_norm(p_probe) = 0
       OR p_model IS NULL OR p_k IS NULL OR p_k NOT BETWEEN 1 AND 100
       OR p_ef_search IS NULL OR p_ef_search NOT BETWEEN 1 AND 1000 THEN
        PERFORM studio_raise_invalid(coalesce((SELECT jsonb_agg(err) FROM (
            SELECT studio_error(NULL, NULL, 'probe', 'required', 'probe is required') AS err
            WHERE p_probe IS NULL
            UNION ALL
            SELECT studio_error(NULL, NULL, 'probe', 'invalid_value',
                                format('probe must have 512 dimensions, not %s', vector_dims(p_probe)))
            WHERE vector_dims(p_probe) <> 512
            UNION ALL
            SELECT studio_error(NULL, NULL, 'probe', 'zero_vector', 'probe must not be all zeros')
            WHERE vector_norm(p_probe) = 0
            UNION ALL
            SELECT studio_error(NULL, NULL, 'model', 'required', 'model is required')
            WHERE p_model IS NULL
            UNION ALL
            SELECT studio_error(NULL, NULL, 'k', 'out_of_range', 'k must be from 1 to 100')
            WHERE p_k IS NULL OR p_k NOT BETWEEN 1 AND 100
            UNION ALL
            SELECT studio_error(NULL, NULL, 'ef_search', 'out_of_range',
                                'ef_search must be from 1 to 1000')
            WHERE p_ef_search IS NULL OR p_ef_search NOT BETWEEN 1 AND 1000
        ) AS errors), '[]'));
    END IF;
    -- Unit length, as the API's probes are: cosine distance ignores the
    -- length, but its float arithmetic does not (a probe of 1e38s would
    -- overflow to a similarity of 0 with everyone).
    v_probe := l2_normalize(p_probe);
    v_candidates := p_k * 10;
    PERFORM set_config('hnsw.ef_search', p_ef_search::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
    v_search := gallery_search_name(p_model);
    IF to_regprocedure(format('%I(vector, integer, integer, text[])', v_search)) IS NOT NULL THEN
        -- Planning this call is a function call's; the search inside runs
        -- the plan its session keeps.
        v_statement := format('SELECT * FROM %I($1, $2, $3, $4)', v_search);
    ELSE
        v_statement := gallery_search_query(p_model);
    END IF;
    -- k x 10 nearest references hold k people as a rule; but one person with
    -- many references near the probe can fill them all, leaving the second
    -- best (the margin's) unseen. While fewer than k people came back and
    -- the scan was full, it is made larger.
    LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(r) - ''window_rows''), ''[]''), '
                       'coalesce(sum(r.window_rows), 0) FROM (%s) AS r', v_statement)
            INTO v_found, v_window
            USING v_probe, v_candidates, p_k, p_allowed_sources;
        EXIT WHEN jsonb_array_length(v_found) >= p_k OR v_window < v_candidates
                  OR v_candidates >= c_max_candidates;
        v_candidates := least(v_candidates * 8, c_max_candidates);
    END LOOP;
    PERFORM set_config('hnsw.ef_search', coalesce(v_ef_search, '40'), true);
    PERFORM set_config('hnsw.iterative_scan', coalesce(v_iterative, 'off'), true);
    RETURN QUERY
        SELECT f.identity_id, f.external_id, f.source_system, f.name, f.similarity
        FROM jsonb_to_recordset(v_found)
             AS f (identity_id uuid, external_id text, source_system text, name text,
                   similarity real)
        ORDER BY f.similarity DESC;
END
$$;
