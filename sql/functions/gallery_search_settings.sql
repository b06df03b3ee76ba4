-- gallery_search_settings() -> text
--
-- The settings every model's search function (create_gallery_search()) runs
-- its statement under, as the SET clauses of CREATE FUNCTION:
-- - plan_cache_mode = force_generic_plan: planned once per session and kept.
--   Left to choose, PostgreSQL would plan per call, because a custom plan
--   always looks cheaper than a generic one to it.
-- - enable_seqscan = off: the kept plan reads the model's HNSW index. The
--   one plan a session keeps is costed once, with that first call's
--   ef_search and the statistics of the moment; on a gallery of about 10,000
--   references the index and a sequential scan cost nearly the same to the
--   planner, and a session that happened to plan the scan kept it for good
--   (11 ms a call where the index takes 2.5). The function exists only once
--   the index does, so the index is always there to read.
-- Part of the function's name (gallery_search_name()): a change here is a
-- new version of every search function, and the old ones are no longer run.
--   SELECT gallery_search_settings();
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION gallery_search_settings() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'SET plan_cache_mode = force_generic_plan SET enable_seqscan = off'
$$;
