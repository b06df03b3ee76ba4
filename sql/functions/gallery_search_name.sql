-- gallery_search_name(model text) -> text
--
-- The name of a model's search function (create_gallery_search()): the model
-- folded as gallery_index_name() folds it, then the first 10 hex digits of
-- the MD5 of gallery_search_query(model) and gallery_search_settings(). The
-- hash tells apart two models that fold alike ('Buffalo-L', 'buffalo_l') and
-- two versions of the function: after an upgrade that changes the query or
-- its settings, the function made for the old one
-- is no longer found under the new name, and match_faces() plans its query
-- per call until `studio index ensure` (or build) makes the new function.
--   SELECT gallery_search_name('buffalo_l');  -> 'gallery_search_buffalo_l_…'
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION gallery_search_name(p_model text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT 'gallery_search_'
           || left(regexp_replace(lower(p_model), '[^a-z0-9]+', '_', 'g'), 36)
           || '_' || left(md5(gallery_search_query(p_model) || gallery_search_settings()), 10)
$$;
