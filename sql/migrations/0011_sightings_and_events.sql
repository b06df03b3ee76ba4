-- Sightings and the event outbox.
--
-- A camera posts one sighting per finished track (record_sighting). The
-- sighting, its event and the event's deliveries are written in one
-- transaction: an event exists exactly when its sighting does, and a
-- dispatcher (studio events run) delivers each pending delivery at least
-- once, under the event's stable id. Nothing here can hold a frame, a crop
-- or a path to one: keys, names, camera names, times and scores only.

-- Two scopes: cameras write sightings; readers of the history need their
-- own scope, because where and when a person was seen says more than the
-- list of names identities:read shows.
ALTER TABLE api_tokens
    DROP CONSTRAINT api_tokens_scopes_check,
    ADD CONSTRAINT api_tokens_scopes_check CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['identities:read', 'identities:write', 'embeddings:write',
                            'jobs:submit', 'jobs:work', 'recognize', 'metrics',
                            'sightings:read', 'sightings:write', 'admin']::text[]);

CREATE TYPE sighting_decision AS ENUM ('identified', 'uncertain', 'unknown');

CREATE TABLE sightings (
    sighting_id     uuid              NOT NULL,
    -- Erasing the person erases their sightings (and, below, their events).
    identity_id     uuid,
    camera          varchar(100)      NOT NULL,
    model           varchar(50)       NOT NULL,
    started_at      timestamptz       NOT NULL,
    ended_at        timestamptz       NOT NULL,
    frames          integer           NOT NULL,
    decision        sighting_decision NOT NULL,
    best_similarity real,
    mean_similarity real,
    track           bigint,
    recorded_by     text              NOT NULL,
    -- The recording token's source systems (NULL: bound to none): who may
    -- read an unknown or uncertain sighting, which names no person.
    recorded_for    text[],
    created_at      timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT sightings_pkey PRIMARY KEY (sighting_id),
    CONSTRAINT sightings_identity_id_fkey FOREIGN KEY (identity_id)
        REFERENCES identities (identity_id) ON DELETE CASCADE,
    CONSTRAINT sightings_identity_check CHECK ((decision = 'identified') = (identity_id IS NOT NULL)),
    CONSTRAINT sightings_times_check CHECK (started_at <= ended_at),
    CONSTRAINT sightings_frames_check CHECK (frames >= 1),
    CONSTRAINT sightings_similarity_check CHECK (
        best_similarity BETWEEN -1 AND 1 AND mean_similarity BETWEEN -1 AND 1),
    CONSTRAINT sightings_track_check CHECK (track >= 0),
    CONSTRAINT sightings_camera_check CHECK (camera <> '' AND camera !~ '[\x01-\x1f\x7f-\x9f]'),
    CONSTRAINT sightings_model_check CHECK (model ~ '^[A-Za-z0-9_.-]+$'),
    CONSTRAINT sightings_recorded_for_check CHECK (
        recorded_for IS NULL OR cardinality(recorded_for) > 0)
);

-- The history newest first, whole or by person or camera; the retention
-- purge by end time.
CREATE INDEX sightings_started_at_idx ON sightings (started_at DESC, sighting_id DESC);
CREATE INDEX sightings_identity_id_idx ON sightings (identity_id, started_at DESC, sighting_id DESC)
    WHERE identity_id IS NOT NULL;
CREATE INDEX sightings_camera_idx ON sightings (camera, started_at DESC, sighting_id DESC);
CREATE INDEX sightings_ended_at_idx ON sightings (ended_at);

-- Where events go: each output of the dispatcher's config file, registered
-- by `studio events run` (register_event_outputs), with the sighting
-- decisions it publishes. A delivery is made for each enabled output when
-- an event is written; an output added later gets the events after it.
CREATE TABLE event_outputs (
    output     varchar(100)        NOT NULL,
    kind       text                NOT NULL,
    decisions  sighting_decision[] NOT NULL,
    enabled    boolean             NOT NULL DEFAULT true,
    updated_at timestamptz         NOT NULL DEFAULT now(),
    CONSTRAINT event_outputs_pkey PRIMARY KEY (output),
    CONSTRAINT event_outputs_output_check CHECK (output ~ '^[A-Za-z0-9_.-]+$'),
    CONSTRAINT event_outputs_kind_check CHECK (kind IN ('mqtt', 'webhook')),
    CONSTRAINT event_outputs_decisions_check CHECK (cardinality(decisions) > 0)
);

-- The outbox. A `sighting` event belongs to its sighting and goes with it
-- (erasure, retention); an `identity_erased` event tells outputs that had
-- a person's events to forget them (retained MQTT topics, a receiver's
-- copy), and carries only the identity's id and camera names.
CREATE TABLE events (
    event_id    uuid        NOT NULL,
    kind        text        NOT NULL,
    sighting_id uuid,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (event_id),
    CONSTRAINT events_sighting_id_fkey FOREIGN KEY (sighting_id)
        REFERENCES sightings (sighting_id) ON DELETE CASCADE,
    CONSTRAINT events_kind_check CHECK (kind IN ('sighting', 'identity_erased')),
    CONSTRAINT events_sighting_check CHECK ((kind = 'sighting') = (sighting_id IS NOT NULL)),
    -- An event body is small: names, keys, times and scores.
    CONSTRAINT events_payload_check CHECK (
        jsonb_typeof(payload) = 'object' AND payload ->> 'event_id' = event_id::text
        AND payload ->> 'kind' = kind AND octet_length(payload::text) <= 16384)
);

CREATE INDEX events_created_at_idx ON events (created_at, event_id);
CREATE INDEX events_sighting_id_idx ON events (sighting_id) WHERE sighting_id IS NOT NULL;

CREATE TYPE delivery_state AS ENUM ('pending', 'delivered', 'dead');

-- One event to one output. pending: waiting for next_attempt_at (a claim
-- moves it ahead by a lease, so two dispatchers never send it at once);
-- delivered; dead: out of attempts, kept for `studio events replay`.
CREATE TABLE deliveries (
    event_id        uuid           NOT NULL,
    output          varchar(100)   NOT NULL,
    state           delivery_state NOT NULL DEFAULT 'pending',
    attempts        integer        NOT NULL DEFAULT 0,
    next_attempt_at timestamptz    NOT NULL,
    last_error      text,
    delivered_at    timestamptz,
    CONSTRAINT deliveries_pkey PRIMARY KEY (event_id, output),
    CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES events (event_id) ON DELETE CASCADE,
    CONSTRAINT deliveries_output_fkey FOREIGN KEY (output)
        REFERENCES event_outputs (output) ON DELETE CASCADE,
    CONSTRAINT deliveries_attempts_check CHECK (attempts >= 0),
    CONSTRAINT deliveries_last_error_check CHECK (length(last_error) <= 500),
    CONSTRAINT deliveries_delivered_check CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);

CREATE INDEX deliveries_due_idx ON deliveries (output, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead_idx ON deliveries (output) WHERE state = 'dead';

-- Whatever deletes a person (a sync delete, a full sync, psql) first writes
-- the identity_erased event for the outputs that had their events
-- (studio_erase_events, re-applied with the functions); the cascades above
-- then remove the sightings, events and deliveries that named them.
CREATE FUNCTION identities_erase_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM studio_erase_events(OLD.identity_id, now());
    RETURN OLD;
END
$$;

CREATE TRIGGER identities_erase_events
    BEFORE DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION identities_erase_events();
