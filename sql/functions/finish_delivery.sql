-- finish_delivery(event_id, output, error, max_attempts, backoff_seconds,
--                 max_backoff_seconds, now) -> text
--
-- How a claimed delivery went. error NULL: delivered. Otherwise, with
-- attempts left, it waits backoff_seconds x 2^(attempts - 1) (at most
-- max_backoff_seconds) and is tried again; after max_attempts it is dead
-- (the dead-letter list: `studio events`, `studio events replay`). The
-- error is kept, at most 500 characters, and only if it names no URL, path
-- or image data (a receiver's address is configuration, not history).
-- Returns the new state, or NULL when the delivery is gone (its person was
-- erased, or retention purged it, while it was being sent).
-- Example: SELECT finish_delivery('…', 'alerts', 'HTTP 503', 8, 5, 600);
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION finish_delivery(
    p_event_id            uuid,
    p_output              text,
    p_error               text             DEFAULT NULL,
    p_max_attempts        integer          DEFAULT 8,
    p_backoff_seconds     double precision DEFAULT 5,
    p_max_backoff_seconds double precision DEFAULT 3600,
    p_now                 timestamptz      DEFAULT now()
) RETURNS text
LANGUAGE sql AS $$
    UPDATE deliveries AS d
       SET state = CASE WHEN p_error IS NULL THEN 'delivered'
                        WHEN d.attempts >= p_max_attempts THEN 'dead'
                        ELSE 'pending' END::delivery_state,
           delivered_at = CASE WHEN p_error IS NULL THEN p_now END,
           next_attempt_at = CASE WHEN p_error IS NULL OR d.attempts >= p_max_attempts THEN p_now
                                  ELSE p_now + make_interval(secs => least(
                                      p_max_backoff_seconds,
                                      p_backoff_seconds * 2 ^ least(greatest(d.attempts - 1, 0), 30)))
                             END,
           last_error = CASE WHEN p_error IS NULL THEN NULL
                             WHEN studio_forbidden_value(p_error) IS NOT NULL
                             THEN 'failed (the error named an address or a path: not kept)'
                             ELSE left(p_error, 500) END
     WHERE d.event_id = p_event_id AND d.output = p_output AND d.state = 'pending'
    RETURNING d.state::text
$$;
