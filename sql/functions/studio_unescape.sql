-- studio_unescape(value text) -> text
--
-- The text a browser or an HTTP client would read from `value`:
-- percent-escapes (%3A%2F%2F -> ://, as UTF-8, or byte by byte as Latin-1
-- when the bytes are no UTF-8), HTML character references (&#58; &#x2F;)
-- and the named ones a URL or path is spelt with (&colon; &sol; &bsol;
-- &period; &percnt; &amp;) decoded, repeatedly (up to four rounds, so
-- %253A -> %3A -> :).
-- Only the privacy check reads this form (studio_privacy_text); nothing
-- stores it. A %00 is dropped (text cannot hold NUL); a character
-- reference to NUL, a surrogate or past U+10FFFF stays as written.
-- Example: studio_unescape('http%3A%2F%2Fx') -> 'http://x'.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_unescape(p_value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v_text  text := p_value;
    v_bytes bytea;
BEGIN
    FOR round IN 1..4 LOOP
        EXIT WHEN v_text !~ '%[0-9A-Fa-f]{2}|&#[0-9]|&#[xX][0-9A-Fa-f]|&[A-Za-z]+;';

        IF v_text ~ '&[A-Za-z]+;' THEN
            v_text := replace(replace(replace(replace(replace(replace(v_text,
                          '&colon;', ':'), '&sol;', '/'), '&bsol;', '\'), '&period;', '.'),
                          '&percnt;', '%'), '&amp;', '&');
        END IF;

        SELECT string_agg(CASE
                   WHEN m[2] IS NOT NULL AND m[2]::bigint BETWEEN 1 AND 1114111
                        AND m[2]::bigint NOT BETWEEN 55296 AND 57343 THEN chr(m[2]::integer)
                   WHEN m[3] IS NOT NULL AND ('x' || lpad(m[3], 8, '0'))::bit(32)::bigint BETWEEN 1 AND 1114111
                        AND ('x' || lpad(m[3], 8, '0'))::bit(32)::bigint NOT BETWEEN 55296 AND 57343
                       THEN chr(('x' || lpad(m[3], 8, '0'))::bit(32)::integer)
                   ELSE m[1] END, '' ORDER BY ord)
          INTO v_text
          FROM regexp_matches(v_text, '(&#([0-9]{1,7});?|&#[xX]([0-9A-Fa-f]{1,6});?|[^&]+|&)', 'g')
               WITH ORDINALITY AS t (m, ord);

        -- NUL cannot be held in text: a %00 is dropped, as a URL parser
        -- that stops at it would read what surrounds it joined.
        v_text := replace(v_text, '%00', '');
        IF v_text ~ '%[0-9A-Fa-f]{2}' THEN
            SELECT string_agg(CASE WHEN m[1] IS NOT NULL THEN decode(replace(m[1], '%', ''), 'hex')
                                   ELSE convert_to(m[2], 'UTF8') END, ''::bytea ORDER BY ord)
              INTO v_bytes
              FROM regexp_matches(v_text, '((?:%[0-9A-Fa-f]{2})+)|([^%]+|%)', 'g') WITH ORDINALITY AS t (m, ord);
            BEGIN
                v_text := convert_from(v_bytes, 'UTF8');
            EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
                -- Not UTF-8: read each escaped byte as the Latin-1 character
                -- of that code, which keeps the ASCII a URL is made of.
                SELECT string_agg(CASE WHEN m[1] IS NOT NULL THEN chr(('x' || m[1])::bit(8)::integer)
                                       ELSE m[2] END, '' ORDER BY ord)
                  INTO v_text
                  FROM regexp_matches(v_text, '%([0-9A-Fa-f]{2})|([^%]+|%)', 'g')
                       WITH ORDINALITY AS t (m, ord);
            END;
        END IF;
    END LOOP;
    RETURN v_text;
END
$$;
