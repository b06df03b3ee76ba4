-- studio_prune_gallery_changes_due() -> void
--
-- Called by the triggers that write the gallery's change feed: prunes it
-- (prune_gallery_changes(), default retention) when the last look was over
-- a minute ago. Never waits: while another transaction prunes (it holds the
-- lock until it commits) this one leaves it to that one, so concurrent
-- ingests never queue behind each other here.
-- Example: PERFORM studio_prune_gallery_changes_due();
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION studio_prune_gallery_changes_due()
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT checked_at FROM gallery_change_horizon) < now() - interval '1 minute'
       AND pg_try_advisory_xact_lock(1398032195, 0) THEN
        PERFORM prune_gallery_changes();
    END IF;
END
$$;
