-- studio_raise_invalid(errors jsonb) -> void
--
-- Raises SQLSTATE 22023 (invalid_parameter_value) when `errors` (a JSON array
-- of studio_error objects) is not empty; returns quietly otherwise. DETAIL is
-- the JSON array itself, so callers parse it instead of matching messages.
-- The list is capped, so that a refusal is small whatever was sent: at most
-- 1,000 errors and 256 Ki characters of JSON (each error is itself capped by
-- studio_error); past either, the list is cut and a last entry with code
-- 'too_many_errors' says how many more there were. The message counts them
-- all.
-- Example: PERFORM studio_raise_invalid('[]');  -- no-op
CREATE OR REPLACE FUNCTION studio_raise_invalid(p_errors jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c_max_errors CONSTANT integer := 1000;
    -- Room left for the too_many_errors entry under the 256 Ki cap.
    c_max_chars  CONSTANT integer := 262144 - 200;
    v_count      integer := jsonb_array_length(p_errors);
    v_shown      jsonb := p_errors;
    v_kept       integer;
BEGIN
    IF v_count = 0 THEN
        RETURN;
    END IF;
    IF v_count > c_max_errors OR length(p_errors::text) > c_max_chars THEN
        SELECT coalesce(jsonb_agg(e ORDER BY ord), '[]'), count(*)
          INTO v_shown, v_kept
          FROM (SELECT e, ord, sum(length(e::text) + 2) OVER (ORDER BY ord) AS upto
                  FROM jsonb_array_elements(p_errors) WITH ORDINALITY AS x (e, ord)
                 WHERE ord <= c_max_errors) AS running
         WHERE upto <= c_max_chars;
        IF v_kept < v_count THEN
            v_shown := v_shown || jsonb_build_array(studio_error(
                NULL, NULL, NULL, 'too_many_errors',
                format('%s more errors not shown', v_count - v_kept)));
        END IF;
    END IF;
    RAISE EXCEPTION 'payload rejected: % error(s); nothing was changed', v_count
        USING ERRCODE = '22023',
              DETAIL = v_shown::text,
              HINT = 'DETAIL is a JSON array of every error with its index, external_id, field, code and message.';
END
$$;
