-- studio_float4_fits(number jsonb) -> boolean
--
-- Whether a JSON number can be stored as a 32-bit float as given: true
-- unless reading it as `real` overflows (magnitude past 3.4e38: 1e39) or
-- underflows to zero (1e-46, 1e-400); the rounding every decimal gets is
-- fine. NULL for anything but a number. The same reading as the `real` and
-- `vector` columns: PostgreSQL's float4 input, which refuses both cases
-- (pgvector's input would store an underflow as 0 without a word).
-- Example: studio_float4_fits('1e-46') -> false.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_float4_fits(p_number jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF jsonb_typeof(p_number) <> 'number' THEN
        RETURN NULL;
    END IF;
    PERFORM (p_number #>> '{}')::real;
    RETURN true;
EXCEPTION WHEN numeric_value_out_of_range THEN
    RETURN false;
END
$$;
