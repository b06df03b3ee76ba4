-- gallery_search_query(model text) -> text
--
-- The statement behind match_faces(): the reference identities of one
-- model's gallery nearest to a probe, best reference per identity, by cosine
-- similarity. The one text both of match_faces()'s ways run: planned per call
-- (EXECUTE), or inside the model's search function, planned once per session
-- (create_gallery_search()).
--   SELECT gallery_search_query('buffalo_l');
-- Parameters of the statement: $1 the probe (vector(512)), $2 how many
-- references the nearest-neighbour scan yields (match_faces() asks k x 10
-- first), $3 k, $4 the allowed source systems (NULL: every identity).
-- Columns: identity_id, external_id, source_system, name, similarity (of the
-- identity's best reference), and window_rows: how many of the scanned
-- references were the identity's. When fewer than k identities come back,
-- their window_rows add up to the references the scan yielded, which tells
-- match_faces() whether a larger scan could find more people (one person's
-- many references can fill the whole window).
-- The model is written in as a literal so that the planner can match the
-- model's partial HNSW index through the gallery view; a parameter would hide
-- it (and a generic plan would never use the index). The source filter sits
-- inside the nearest-neighbour scan, not after its LIMIT: filtered after, a
-- source's people could be crowded out of the k x 10 nearest references by
-- other sources' people.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION gallery_search_query(p_model text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT format($query$
        SELECT nearest.identity_id, nearest.external_id::text,
               nearest.source_system::text, nearest.name,
               max(1 - nearest.distance)::real AS similarity,
               count(*)::integer AS window_rows
        FROM (SELECT g.identity_id, g.external_id, g.source_system, g.name,
                     g.vector <=> $1 AS distance
              FROM gallery AS g
              WHERE g.model = %L
                AND ($4::text[] IS NULL OR g.source_system = ANY ($4::text[]))
              ORDER BY g.vector <=> $1
              LIMIT $2) AS nearest
        GROUP BY nearest.identity_id, nearest.external_id, nearest.source_system, nearest.name
        ORDER BY similarity DESC
        LIMIT $3
    $query$, p_model)
$$;
