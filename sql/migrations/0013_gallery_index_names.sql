-- One HNSW index name a model.
--
-- Index names used to be the model folded to a-z 0-9 and '_': 'm-a', 'm_a'
-- and 'm.a' all named embeddings_vector_hnsw_m_a, and names past 40
-- characters were cut by PostgreSQL's 63-character limit, so a build or a
-- drop for one model could act on another's index. gallery_index_name()
-- now keeps a plain name as it was and gives any other a hash of its own.
-- An index `studio index` already built for a model whose name is not
-- plain (embeddings_vector_hnsw_..., on the vector column) is renamed here to
-- its new name, found by the model its predicate names, so that `studio
-- index` still sees it. Plain names (buffalo_l, buffalo_s) do not
-- change. The expression is gallery_index_name()'s, written out: functions
-- are applied after migrations.
DO $$
DECLARE
    v_index regclass;
    v_model text;
    v_name  text;
BEGIN
    FOR v_index, v_model IN
        SELECT i.indexrelid::regclass,
               replace(substring(pg_get_expr(i.indpred, i.indrelid)
                                 FROM $re$\(model\)::text = '((?:[^']|'')*)'::text$re$),
                       '''''', '''')
        FROM pg_index AS i
        JOIN pg_class AS c ON c.oid = i.indexrelid
        JOIN pg_am AS a ON a.oid = c.relam
        WHERE i.indrelid = 'embeddings'::regclass AND a.amname = 'hnsw'
          AND i.indpred IS NOT NULL
          -- Only what `studio index` built under the old names: another HNSW
          -- index of a model (a DBA's halfvec expression index, say) keeps
          -- its name, and must never pass for the model's gallery index.
          AND c.relname LIKE 'embeddings\_vector\_hnsw\_%'
          AND pg_get_indexdef(i.indexrelid) LIKE '%USING hnsw (vector vector_cosine_ops)%'
    LOOP
        CONTINUE WHEN v_model IS NULL;
        v_name := 'embeddings_vector_hnsw_' || CASE
            WHEN v_model ~ '^[a-z0-9]+(_[a-z0-9]+)*$' AND length(v_model) <= 40 THEN v_model
            ELSE left(regexp_replace(lower(v_model), '[^a-z0-9]+', '_', 'g'), 30)
                 || '__' || left(md5(v_model), 8)
        END;
        IF v_index::text <> v_name AND to_regclass(v_name) IS NULL THEN
            EXECUTE format('ALTER INDEX %s RENAME TO %I', v_index, v_name);
        END IF;
    END LOOP;
END
$$;
