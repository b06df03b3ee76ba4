-- studio_normalized_text(value jsonb) -> text
--
-- The one form in which a text field of a payload is checked and stored:
-- Unicode NFKC (full-width, mathematical and other compatibility forms fold
-- to their plain letters: 'ｈｔｔｐ' -> 'http'), then spaces trimmed at both
-- ends (NFKC has already made U+00A0, U+2000-U+200A, U+3000 ... plain
-- spaces; U+0085, U+1680, U+2028 and U+2029 are trimmed too). A JSON
-- number gives its text (numeric catalog IDs), a whole one as the integer
-- it is (15.0 -> '15', as studio_whole_number reads it); any other JSON
-- type, NULL.
-- Payload functions compute it once per field and hand the same value to
-- the checks (studio_text_error) and to the INSERT, so what was checked is
-- exactly what is stored. Idempotent: normalising a normalised value
-- changes nothing.
-- Example: studio_normalized_text('" ｈｔｔｐ://x "') -> 'http://x'.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_normalized_text(p_value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(p_value) NOT IN ('string', 'number') THEN NULL
                WHEN jsonb_typeof(p_value) = 'number'
                    THEN coalesce(studio_whole_number(p_value)::text, p_value #>> '{}')
                -- ASCII is its own NFKC: skip the normalisation for it.
                WHEN octet_length(p_value #>> '{}') = length(p_value #>> '{}')
                    THEN btrim(p_value #>> '{}', ' ')
                ELSE btrim(normalize(p_value #>> '{}', NFKC), U&' \0085\1680\2028\2029') END
$$;
