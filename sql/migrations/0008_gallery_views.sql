-- The gallery, defined once. Recognition (in memory and in match_faces()),
-- the metrics, an export and the HNSW index policy all read these views, so
-- what counts as a reference face, and whom the recognizer may name, cannot
-- drift apart between them.
--
-- reference_faces: every reference face vector, with the keys and the name of
-- its identity, of every model (vectors of different models are never
-- compared: a reader picks one). An export reads this: a restore must lose
-- nothing, unnamed people's faces included.
--
-- gallery: the seed's gallery, the reference faces of named identities.
-- Names LIKE 'Unknown%' are placeholders Studio gives people nobody has
-- named yet: never an answer, never a candidate.
--
-- A query on either view that names the model as a literal can use that
-- model's partial HNSW index: the views put on embeddings exactly the
-- predicate the index has (sql/queries.sql, create_gallery_index).

CREATE VIEW reference_faces AS
SELECT e.embedding_id, e.identity_id, e.model, e.vector, e.confidence, e.created_at,
       i.external_id, i.source_system, i.name
FROM embeddings AS e
JOIN identities AS i ON i.identity_id = e.identity_id
WHERE e.is_reference AND e.embedding_type = 'face';

CREATE VIEW gallery AS
SELECT embedding_id, identity_id, model, vector, confidence, created_at,
       external_id, source_system, name
FROM reference_faces
WHERE name IS NOT NULL AND name NOT LIKE 'Unknown%';
