-- studio_raise_invalid(errors jsonb) -> void
--
-- Raises SQLSTATE 22023 (invalid_parameter_value) when `errors` (a JSON array
-- of studio_error objects) is not empty; returns quietly otherwise. DETAIL is
-- the JSON array itself, so callers parse it instead of matching messages.
-- Past 1,000 errors the list is cut and a last entry with code
-- 'too_many_errors' says how many more there were.
-- Example: PERFORM studio_raise_invalid('[]');  -- no-op
CREATE OR REPLACE FUNCTION studio_raise_invalid(p_errors jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_count integer := jsonb_array_length(p_errors);
    v_shown jsonb := p_errors;
BEGIN
    IF v_count = 0 THEN
        RETURN;
    END IF;
    IF v_count > 1000 THEN
        v_shown := jsonb_path_query_array(p_errors, '$[0 to 999]')
                   || jsonb_build_array(studio_error(NULL, NULL, NULL, 'too_many_errors',
                                        format('%s more errors not shown', v_count - 1000)));
    END IF;
    RAISE EXCEPTION 'payload rejected: % error(s); nothing was changed', v_count
        USING ERRCODE = '22023',
              DETAIL = v_shown::text,
              HINT = 'DETAIL is a JSON array of every error with its index, external_id, field, code and message.';
END
$$;
