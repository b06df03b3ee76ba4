-- drop_gallery_search(model text) -> integer
--
-- Drop every version of the model's search function (create_gallery_search());
-- match_faces() then plans its query per call, with the same answers. Returns
-- how many functions went. `studio index drop` calls it with the index.
--   SELECT drop_gallery_search('buffalo_l');
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION drop_gallery_search(p_model text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_function regprocedure;
    v_dropped  integer := 0;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure
        FROM pg_proc AS p
        WHERE p.pronamespace = current_schema()::regnamespace
          AND p.proname LIKE 'gallery\_search\_%'
          AND obj_description(p.oid, 'pg_proc') = 'match_faces() search of model ' || p_model
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_function);
        v_dropped := v_dropped + 1;
    END LOOP;
    RETURN v_dropped;
END
$$;
