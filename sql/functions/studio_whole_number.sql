-- studio_whole_number(value jsonb) -> numeric
--
-- The value of a JSON number that is a whole number, however it is written
-- (5, 5.0 and 5e0 are the same integer in JSON and to JSON Schema, and a
-- client serialising floats sends 5.0), or NULL for anything else: a
-- fraction, a string (even "5"), null, an absent field.
-- Callers check the range of what it returns and store it as an integer.
-- Example: studio_whole_number('300.0') -> 300; studio_whole_number('"300"') -> NULL.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_whole_number(p_value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(p_value) = 'number'
                     AND (p_value #>> '{}')::numeric = trunc((p_value #>> '{}')::numeric)
                THEN trim_scale((p_value #>> '{}')::numeric) END
$$;
