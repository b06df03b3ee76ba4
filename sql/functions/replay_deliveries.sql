-- replay_deliveries(event_id, output, dead_only, now) -> integer
--
-- Queue deliveries again, with their attempts reset: those of one event
-- (event_id), of one output, or every dead one (dead_only), in any
-- combination; NULL means any. A delivered event sent again is the same
-- event (same event_id): receivers de-duplicate on it. Returns how many.
-- Example: SELECT replay_deliveries(NULL, NULL, true);   -- every dead letter
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION replay_deliveries(
    p_event_id  uuid        DEFAULT NULL,
    p_output    text        DEFAULT NULL,
    p_dead_only boolean     DEFAULT false,
    p_now       timestamptz DEFAULT now()
) RETURNS integer
LANGUAGE sql AS $$
    WITH replayed AS (
        UPDATE deliveries
           SET state = 'pending', attempts = 0, next_attempt_at = p_now, last_error = NULL,
               delivered_at = NULL
         WHERE (p_event_id IS NULL OR event_id = p_event_id)
           AND (p_output IS NULL OR output = p_output)
           AND (state = 'dead' OR NOT p_dead_only)
        RETURNING 1
    )
    SELECT count(*)::integer FROM replayed
$$;
