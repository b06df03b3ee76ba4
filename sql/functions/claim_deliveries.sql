-- claim_deliveries(output, limit, lease_seconds, now)
--   -> TABLE (event_id, kind, payload, created_at, attempts)
--
-- The next due deliveries of one output, oldest event first, for the
-- dispatcher to send: rows locked FOR UPDATE SKIP LOCKED, so dispatchers
-- running side by side never take the same one, and moved `lease_seconds`
-- ahead with their attempt counted, so one whose dispatcher dies is sent
-- again after the lease (at least once). finish_delivery() records how it
-- went.
-- Example: SELECT * FROM claim_deliveries('home_assistant', 100, 60);
-- Raises nothing of its own.
CREATE OR REPLACE FUNCTION claim_deliveries(
    p_output        text,
    p_limit         integer     DEFAULT 100,
    p_lease_seconds integer     DEFAULT 60,
    p_now           timestamptz DEFAULT now()
) RETURNS TABLE (event_id uuid, kind text, payload jsonb, created_at timestamptz, attempts integer)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT d.event_id
          FROM deliveries AS d
          JOIN events AS e ON e.event_id = d.event_id
         WHERE d.output = p_output AND d.state = 'pending' AND d.next_attempt_at <= p_now
         ORDER BY e.created_at, e.event_id
         LIMIT p_limit
           FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        UPDATE deliveries AS d
           SET attempts = d.attempts + 1,
               next_attempt_at = p_now + make_interval(secs => p_lease_seconds)
          FROM due
         WHERE d.event_id = due.event_id AND d.output = p_output
        RETURNING d.event_id, d.attempts
    )
    SELECT e.event_id, e.kind, e.payload, e.created_at, c.attempts
      FROM claimed AS c
      JOIN events AS e ON e.event_id = c.event_id
     ORDER BY e.created_at, e.event_id
$$;
