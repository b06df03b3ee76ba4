-- gallery_index_name(model text) -> text
--
-- The name of a model's partial HNSW index on the gallery, the one place it
-- is made: `studio index` builds and drops the index under this name (it asks
-- this function), and its status finds the index by it.
--   SELECT gallery_index_name('buffalo_l');  -> 'embeddings_vector_hnsw_buffalo_l'
-- The model is lower-cased and every run of other characters than a-z and
-- 0-9 becomes one '_', so the name needs no quoting.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION gallery_index_name(p_model text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'embeddings_vector_hnsw_' || regexp_replace(lower(p_model), '[^a-z0-9]+', '_', 'g')
$$;
