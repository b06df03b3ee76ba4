-- create_gallery_search(model text) -> text
--
-- Make the model's search function, gallery_search_name(model): the query of
-- gallery_search_query(model) as a static statement of a PL/pgSQL function,
-- which PostgreSQL plans once per session and keeps, instead of planning it
-- on every match_faces() call (about 0.5 ms a call on the 2-core machines,
-- more than the index scan's own cost at 10k references). The plan is the
-- generic one, through the model's partial HNSW index whatever the probe,
-- k or sources: the model is written in, and the function runs under
-- gallery_search_settings() (why each setting: there).
-- `studio index build` and `ensure` call this after the index is built; it
-- writes, so it runs on the primary, and replicas get the function by
-- replication. Any older version for the model is dropped first. Returns the
-- function's name.
--   SELECT create_gallery_search('buffalo_l');
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION create_gallery_search(p_model text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_name text := gallery_search_name(p_model);
BEGIN
    PERFORM drop_gallery_search(p_model);
    -- use_column: the statement's unqualified `similarity` is the column, not
    -- the function's output variable of the same name.
    EXECUTE format($create$
        CREATE FUNCTION %I(p_probe vector, p_candidates integer, p_k integer,
                           p_allowed_sources text[])
        RETURNS TABLE (identity_id uuid, external_id text, source_system text, name text,
                       similarity real, window_rows integer)
        LANGUAGE plpgsql STABLE
        %s
        AS %L
    $create$, v_name, gallery_search_settings(),
        E'#variable_conflict use_column\nBEGIN\n    RETURN QUERY '
        || gallery_search_query(p_model) || E';\nEND');
    -- The comment is how drop_gallery_search() finds every version of a
    -- model's function: the name's fold is not one to one.
    EXECUTE format('COMMENT ON FUNCTION %I(vector, integer, integer, text[]) IS %L',
                   v_name, 'match_faces() search of model ' || p_model);
    RETURN v_name;
END
$$;
