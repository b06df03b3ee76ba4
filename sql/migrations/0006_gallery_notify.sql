-- The recognizer holds the reference gallery in memory. These triggers tell
-- it, through LISTEN/NOTIFY on channel studio_gallery, that the gallery
-- changed: a person deleted or renamed at the source must stop being
-- recognised (or be recognised under the new name) at once, not after the
-- cache's TTL. Statement-level, so a 1,000-face ingest sends one
-- notification, delivered when its transaction commits. Recording a
-- sighting (first_seen / last_seen) changes no name and notifies nobody.

CREATE FUNCTION studio_notify_gallery() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('studio_gallery', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER identities_gallery_notify
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF name, external_id, source_system ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION studio_notify_gallery();

CREATE TRIGGER embeddings_gallery_notify
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION studio_notify_gallery();
