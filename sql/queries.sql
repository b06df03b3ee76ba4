-- Every statement the Python sends, named and said what it does.
--
-- app/queries.py loads this file once: a section starts at a line
-- `-- name --`, the comment lines under it say what it does, and the
-- statement runs to the next section. Python reads a statement as
-- queries.NAME (upper case). Parameters are psycopg's: %s in order, or
-- %(name)s; a literal % is %%. Statements marked "composed" have {names}
-- filled in as identifiers or literals (app/db.py) and take no parameters.
--
-- The rules live in sql/functions/ and in the schema; these are the calls
-- and the few reads that need no rule. "The gallery" is the gallery view
-- and "reference faces" the reference_faces view (sql/migrations/).

-- sync_identities --
-- Create, rename and delete identities of one source system (payload, caller,
-- allowed sources).
SELECT sync_identities(%s::jsonb, %s::text, %s::text[])

-- ingest_embeddings --
-- Store reference face embeddings, creating identities as needed (payload,
-- caller, allowed sources).
SELECT ingest_embeddings(%s::jsonb, %s::text, %s::text[])

-- external_identities --
-- One page of external identities with embedding counts (source system,
-- limit, cursor, allowed sources).
SELECT external_identities(%s::text, %s::integer, %s::text, %s::text[])

-- authenticate_token --
-- Who holds this bearer token: nothing for an unknown, revoked or expired one.
SELECT token_id, name, scopes, source_systems FROM authenticate_api_token(%s)

-- create_token --
-- A new token (name, scopes, source systems, expiry); the token is returned
-- once and stored only hashed.
SELECT token_id, token
FROM create_api_token(%s::text, %s::text[], %s::text[], %s::timestamptz)

-- count_tokens --
-- How many tokens were ever made: none means a fresh database that needs its
-- first admin token.
SELECT count(*) FROM api_tokens

-- revoke_token --
-- Revoke tokens by name or id; returns how many.
SELECT revoke_api_token(%s)

-- list_tokens --
-- Every token, live first; state says what authenticate_api_token() would do
-- with it now.
SELECT name, token_id, scopes, source_systems, created_at, expires_at,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'live' END AS state,
       last_used_at
FROM api_tokens
ORDER BY revoked_at IS NOT NULL, coalesce(expires_at <= now(), false), name, created_at

-- submit_job --
-- Queue a face_detect_embed job (request, caller, allowed sources).
SELECT submit_job(%s::jsonb, %s::text, %s::text[])

-- claim_job --
-- Give the calling worker the next job (request, caller, allowed sources).
SELECT claim_job(%s::jsonb, %s::text, %s::text[])

-- heartbeat_job --
-- Extend a held job's lease and record its progress (job, request, allowed
-- sources).
SELECT heartbeat_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])

-- complete_job --
-- Finish a held job with its result (job, request, allowed sources).
SELECT complete_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])

-- fail_job --
-- Fail a held job, retried while attempts remain (job, request, allowed
-- sources).
SELECT fail_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])

-- release_job --
-- Give a held job back to the queue unworked, the claim not counted (job,
-- request, allowed sources).
SELECT release_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])

-- job_status --
-- One job as its submitter sees it (job, allowed sources).
SELECT job_status(%s::bigint, %s::text[])

-- list_jobs --
-- The newest jobs, optionally of one state, and counts by state (state, limit,
-- allowed sources).
SELECT list_jobs(%s::text, %s::integer, %s::text[])

-- jobs_by_state --
-- How many jobs are in each state, every state of the job_state type listed,
-- in its order.
SELECT s.state::text, count(j.job_id)
FROM unnest(enum_range(NULL::job_state)) AS s (state)
LEFT JOIN jobs AS j ON j.state = s.state
GROUP BY s.state
ORDER BY s.state

-- audit_journal --
-- The newest sync and ingest calls, of one source system or all.
SELECT occurred_at, operation, source_system, caller, dry_run, counts
FROM audit_journal
WHERE %(source)s::text IS NULL OR source_system = %(source)s::text
ORDER BY audit_id DESC
LIMIT %(limit)s

-- database_ping --
-- Does the database answer?
SELECT 1

-- gallery --
-- The gallery of one model, grouped by identity: what the recognizer holds in
-- memory. Read in binary (the vectors), in a snapshot with gallery_position.
SELECT identity_id::text, embedding_id::text, external_id, source_system, name, vector
FROM gallery
WHERE model = %s
ORDER BY identity_id

-- gallery_of_identities --
-- The gallery rows of some identities of one model, as they are now: what a
-- recognizer re-reads of the identities the change feed named (model,
-- identity IDs). An identity without rows left the gallery.
SELECT identity_id::text, embedding_id::text, external_id, source_system, name, vector
FROM gallery
WHERE model = %s AND identity_id = ANY(%s::uuid[])
ORDER BY identity_id

-- gallery_position --
-- Where a reader of the change feed stands when it loads the whole gallery:
-- the xmin of the snapshot the load reads in (gallery_changes_since()).
SELECT pg_snapshot_xmin(pg_current_snapshot())::text

-- gallery_changes_since --
-- The change feed's entries a recognizer has not applied yet, and its next
-- position (position, model).
SELECT gallery_changes_since(%s::xid8, %s)

-- in_recovery --
-- Is this a hot standby? It delivers no NOTIFY: a recognizer there polls.
SELECT pg_is_in_recovery()

-- gallery_size --
-- How many references the gallery of one model has.
SELECT count(*) FROM gallery WHERE model = %s

-- gallery_sizes --
-- How many references the gallery has, per model.
SELECT model, count(*) FROM gallery GROUP BY model ORDER BY model

-- gallery_summary --
-- Identities and references per model in the gallery, of the given source
-- systems only (NULL: every one): whom a camera can be recognised against.
SELECT model, count(DISTINCT identity_id), count(*)
FROM gallery
WHERE %(sources)s::text[] IS NULL OR source_system = ANY(%(sources)s::text[])
GROUP BY model
ORDER BY model

-- match_faces --
-- The k nearest identities of the gallery to one probe, in SQL (probe, model,
-- k, ef_search, allowed sources).
SELECT * FROM match_faces(%s::vector, %s, %s, %s, %s::text[])

-- record_sightings --
-- Stamp first_seen / last_seen of identities seen on camera now (identities,
-- allowed sources).
SELECT record_sightings(%s::uuid[], p_allowed_sources => %s::text[])

-- record_sighting --
-- One finished camera track as a sighting, with its event and deliveries
-- (payload, caller, allowed sources).
SELECT record_sighting(%s::jsonb, %s::text, %s::text[])

-- sightings_page --
-- One page of sightings, newest first (identity_id, source_system,
-- external_id, camera, decision, since, until, limit, cursor, allowed
-- sources).
SELECT sightings_page(%s::text, %s::text, %s::text, %s::text, %s::text, %s::text, %s::text,
                      %s::integer, %s::text, %s::text[])

-- purge_sightings --
-- Retention: delete the sightings that ended more than N days ago, with their
-- events; how many went.
SELECT purge_sightings(make_interval(days => %s::integer))

-- event_output_names --
-- Every output the dispatchers have registered, enabled or not, by name.
SELECT output FROM event_outputs ORDER BY output

-- register_event_outputs --
-- The dispatcher's outputs from its config file (a JSON array); the others
-- are disabled.
SELECT register_event_outputs(%s::jsonb)

-- claim_deliveries --
-- The next due deliveries of one output, locked and leased (output, limit,
-- lease seconds).
SELECT event_id::text, kind, payload, created_at, attempts
FROM claim_deliveries(%s::text, %s::integer, %s::integer)

-- finish_delivery --
-- How a claimed delivery went: error NULL for delivered (event, output,
-- error, max attempts, backoff seconds, max backoff seconds).
SELECT finish_delivery(%s::uuid, %s::text, %s::text, %s::integer, %s::float8, %s::float8)

-- replay_deliveries --
-- Queue deliveries again: of one event, of one output, or every dead one.
SELECT replay_deliveries(%s::uuid, %s::text, %s::boolean)

-- recent_events --
-- The newest events with what became of each delivery (limit).
SELECT e.event_id::text, e.kind, e.created_at, e.payload,
       coalesce(jsonb_object_agg(d.output, d.state) FILTER (WHERE d.output IS NOT NULL), '{}')
FROM events AS e
LEFT JOIN deliveries AS d ON d.event_id = e.event_id
GROUP BY e.event_id
ORDER BY e.created_at DESC, e.event_id DESC
LIMIT %s

-- dead_deliveries --
-- The dead-letter list: deliveries out of attempts, newest event first.
SELECT d.event_id::text, d.output, e.kind, e.created_at, d.attempts, d.last_error
FROM deliveries AS d
JOIN events AS e ON e.event_id = d.event_id
WHERE d.state = 'dead'
ORDER BY e.created_at DESC, d.event_id, d.output
LIMIT %s

-- person_state --
-- A person's latest identified sighting, of the decisions an output
-- publishes, with who they are: what their retained MQTT state says
-- (identity_id).
SELECT i.identity_id::text, i.name, i.external_id, i.source_system, s.camera, s.started_at,
       s.ended_at, s.best_similarity
FROM identities AS i
JOIN LATERAL (
    SELECT camera, started_at, ended_at, best_similarity FROM sightings
    WHERE identity_id = i.identity_id
    ORDER BY ended_at DESC, sighting_id DESC
    LIMIT 1
) AS s ON true
WHERE i.identity_id = %s::uuid

-- presence --
-- For each camera that saw a person, when it last did (identity_id).
SELECT camera, max(ended_at)
FROM sightings
WHERE identity_id = %s::uuid
GROUP BY camera
ORDER BY camera

-- camera_state --
-- A camera's latest sighting of the given decisions, with the person it
-- named, if any (camera, decisions).
SELECT s.sighting_id::text, s.decision::text, s.started_at, s.ended_at, i.identity_id::text,
       i.name, i.external_id, i.source_system
FROM sightings AS s
LEFT JOIN identities AS i ON i.identity_id = s.identity_id
WHERE s.camera = %s AND s.decision = ANY (%s::sighting_decision[])
ORDER BY s.ended_at DESC, s.sighting_id DESC
LIMIT 1

-- seen_pairs --
-- Every person and camera with an identified sighting still kept, with the
-- last time: the presence a dispatcher republishes when it starts.
SELECT identity_id::text, camera, max(ended_at)
FROM sightings
WHERE identity_id IS NOT NULL
GROUP BY identity_id, camera
ORDER BY identity_id, camera

-- recognition_thresholds --
-- The stored thresholds of one model, if it has any (else the recognizer
-- uses the defaults in code).
SELECT identify, uncertain, margin FROM recognition_thresholds WHERE model = %s

-- calibrated_models --
-- The models with stored thresholds: each may be named in a recognize call.
SELECT model FROM recognition_thresholds ORDER BY model

-- list_recognition_thresholds --
-- Every model's stored thresholds, with what their calibration measured
-- (studio calibrate --show).
SELECT model, identify, uncertain, margin, target_far, uncertain_far, identities,
       reference_count, genuine_identities, genuine_scores, impostor_scores,
       far_at_identify, gar_at_identify, far_at_uncertain, gar_at_uncertain,
       calibrated_at, calibrated_by, updated_at
FROM recognition_thresholds
ORDER BY model

-- set_recognition_thresholds --
-- Validate and store one model's thresholds and what they rest on, or with
-- "dry_run" only check them (request, caller).
SELECT set_recognition_thresholds(%s::jsonb, %s::text)

-- calibration_gallery --
-- The reference vectors of one model's gallery, grouped by identity, for a
-- calibration: vectors only, never a name.
SELECT identity_id::text, vector
FROM gallery
WHERE model = %s
ORDER BY identity_id

-- export_identities --
-- Every identity of one source system, for an export.
SELECT external_id, name FROM identities
WHERE source_system = %s
ORDER BY external_id

-- export_reference_faces --
-- Every reference face of one source system, of every model, for an export:
-- unnamed identities' too, so that a restore loses nothing.
SELECT model, external_id, vector, confidence
FROM reference_faces
WHERE source_system = %s
ORDER BY model, external_id, created_at, embedding_id

-- gallery_index_name --
-- The name of one model's HNSW index (sql/functions/gallery_index_name.sql).
SELECT gallery_index_name(%s)

-- gallery_search_name --
-- The name of one model's search function (sql/functions/gallery_search_name.sql).
SELECT gallery_search_name(%s)

-- gallery_index_status --
-- Every model with reference faces, with its HNSW index if it has one:
-- name, whether it is valid (a build interrupted leaves it invalid), size,
-- and whether match_faces() finds the model's search function (its plan kept
-- per session: create_gallery_search()).
SELECT m.model, m.references, c.relname, i.indisvalid, pg_relation_size(c.oid),
       to_regprocedure(format('%%I(vector, integer, integer, text[])',
                              gallery_search_name(m.model))) IS NOT NULL
FROM (SELECT model, count(*) AS references FROM reference_faces GROUP BY model) AS m
LEFT JOIN pg_class AS c ON c.relname = gallery_index_name(m.model)
LEFT JOIN pg_index AS i ON i.indexrelid = c.oid
ORDER BY m.model

-- gallery_index_state --
-- One model's HNSW index as it stands: whether it is valid and its storage
-- parameters (e.g. {m=16,ef_construction=64}); no row without one.
SELECT i.indisvalid, coalesce(c.reloptions, '{}')
FROM pg_class AS c
JOIN pg_index AS i ON i.indexrelid = c.oid
WHERE c.relname = gallery_index_name(%s)

-- model_references --
-- How many reference faces one model has (the size of its HNSW graph).
SELECT count(*) FROM reference_faces WHERE model = %s

-- index_build_memory --
-- Memory for building an HNSW index in this session (e.g. '2900MB'): a graph
-- that fits builds several times faster.
SELECT set_config('maintenance_work_mem', %s, false)

-- index_build_memory_reset --
-- Back to the server's setting once the build is over.
RESET maintenance_work_mem

-- create_gallery_index --
-- Composed: {index} (gallery_index_name), {m}, {ef_construction}, {model}.
-- One model's partial HNSW index, built without blocking writes. Its
-- predicate is what the reference_faces view asks of embeddings, with the
-- model, so that a query on the gallery naming the model as a literal
-- (match_faces()) can use it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON embeddings
USING hnsw (vector vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction})
WHERE is_reference AND embedding_type = 'face' AND model = {model}

-- create_gallery_search --
-- The model's search function, whose plan each session keeps
-- (sql/functions/create_gallery_search.sql); its name.
SELECT create_gallery_search(%s)

-- drop_gallery_search --
-- Every version of the model's search function; how many went.
SELECT drop_gallery_search(%s)

-- drop_gallery_index --
-- Composed: {index}. Drop one model's HNSW index without blocking writes.
DROP INDEX CONCURRENTLY IF EXISTS {index}

-- listen --
-- Composed: {channel}. Be told of NOTIFYs on a channel.
LISTEN {channel}

-- migration_lock --
-- Wait for any other migration runner, then hold the lock for this session.
SELECT pg_advisory_lock(%s)

-- migration_unlock --
-- Let the next migration runner in.
SELECT pg_advisory_unlock(%s)

-- create_schema_migrations --
-- The record of applied migrations, made on first run.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
)

-- schema_migrations_exist --
-- Was this database ever migrated?
SELECT to_regclass('schema_migrations') IS NOT NULL

-- current_version --
-- The highest applied migration, 0 for none.
SELECT coalesce(max(version), 0) FROM schema_migrations

-- applied_migrations --
-- Every applied migration with the checksum of the file that was applied.
SELECT version, name, checksum FROM schema_migrations

-- migration_history --
-- Every applied migration, oldest first, with its checksum and when it ran
-- (studio migrate --status).
SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version

-- record_migration --
-- A migration was applied (version, name, checksum).
INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)

-- defer_function_body_checks --
-- For this transaction only: a function's body may call a function defined
-- in a file that is applied after it.
SET LOCAL check_function_bodies = off
