-- gallery_index_name(model text) -> text
--
-- The name of a model's partial HNSW index on the gallery, the one place it
-- is made: `studio index` builds and drops the index under this name (it asks
-- this function), and its status finds the index by it.
--   SELECT gallery_index_name('buffalo_l');  -> 'embeddings_vector_hnsw_buffalo_l'
--   SELECT gallery_index_name('Buffalo-L');  -> 'embeddings_vector_hnsw_buffalo_l__6d0e…'
-- One name a model, and no two models share one (an index built or dropped
-- for one model must never be another's): a model that is already a plain
-- name (lower-case words of a-z 0-9 joined by single '_', at most 40
-- characters) is used as it is; any other is folded to such a name, cut to
-- 30 characters and followed by '__' and 8 hex digits of its MD5, and no
-- plain name holds '__'. Every name fits PostgreSQL's 63 characters and
-- needs no quoting.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION gallery_index_name(p_model text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'embeddings_vector_hnsw_' || CASE
        WHEN p_model ~ '^[a-z0-9]+(_[a-z0-9]+)*$' AND length(p_model) <= 40 THEN p_model
        ELSE left(regexp_replace(lower(p_model), '[^a-z0-9]+', '_', 'g'), 30)
             || '__' || left(md5(p_model), 8)
    END
$$;
