-- studio_text_errors(value, field, index, external_id, required, max_length,
--                    integer_ok, text) -> SETOF jsonb
--
-- Every error of one text field: studio_text_error()'s (on `text`, the
-- normalised value the caller stores, computed here when NULL), and when
-- the value is an object or array, what studio_privacy_scan() finds inside
-- it (so a nested photo field is named as such). Call it in FROM
-- (LATERAL), where PostgreSQL inlines it.
-- Example: SELECT e FROM studio_text_errors('{"url": "x"}', 'name', 0, '1', true, 255) AS e;
-- Raises nothing. Pure.
DROP FUNCTION IF EXISTS studio_text_errors(jsonb, text, integer, text, boolean, integer, boolean);
CREATE OR REPLACE FUNCTION studio_text_errors(
    p_value       jsonb,
    p_field       text,
    p_index       integer,
    p_external_id text,
    p_required    boolean,
    p_max_length  integer,
    p_integer_ok  boolean DEFAULT false,
    p_text        text    DEFAULT NULL
) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT err
    FROM (SELECT studio_text_error(p_value, p_field, p_index, p_external_id, p_required,
                                   p_max_length, p_integer_ok, p_text) AS err) AS checked
    WHERE err IS NOT NULL
    UNION ALL
    SELECT studio_privacy_scan(p_value, p_field, p_index, p_external_id)
    WHERE jsonb_typeof(p_value) IN ('object', 'array')
$$;
