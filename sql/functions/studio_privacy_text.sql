-- studio_privacy_text(value text) -> text
--
-- The form of a string that the privacy rules (studio_forbidden_value)
-- read: what a browser, an HTTP client or a person would take it for.
-- NFKC (full-width and compatibility forms fold), percent-escapes and HTML
-- character references decoded (studio_unescape), invisible characters
-- removed (zero-width spaces and joiners, bidi controls, soft hyphens,
-- variation selectors, tag characters: 'ht<U+200B>tp' reads 'http'),
-- slashes, backslashes, colons and dots that merely look like ASCII ones
-- (U+2044, U+2215, U+2236, U+3002 ...) and Cyrillic and Greek letters
-- that look like Latin ones made ASCII, whitespace and control characters
-- trimmed at both ends. Nothing stores this form; it only decides. It is a
-- function of the normalised value (studio_normalized_text) too, so a
-- value is judged the same before and after it is stored.
-- Example: studio_privacy_text(' ｈｔｔｐ%3A//x') -> 'http://x'.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_privacy_text(p_value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v_text text := p_value;
BEGIN
    -- Printable ASCII without "%" and "&" (nearly every name and key) has
    -- nothing to decode or fold.
    IF v_text !~ '[^ -$''-~]' THEN
        RETURN CASE WHEN left(v_text, 1) = ' ' OR right(v_text, 1) = ' ' THEN btrim(v_text) ELSE v_text END;
    END IF;
    IF v_text ~ '[^ -~]' THEN
        v_text := normalize(v_text, NFKC);
    END IF;
    IF v_text ~ '%[0-9A-Fa-f]{2}|&#|&[A-Za-z]+;' THEN
        v_text := normalize(studio_unescape(v_text), NFKC);
    END IF;
    IF v_text ~ '[^ -~]' THEN
        v_text := regexp_replace(v_text,
            '[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e'
            '\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8'
            '\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]', '', 'g');
        v_text := translate(v_text,
            U&'\2044\2215\29f8\2571\27cb\2216\29f5\29f9\2572\27cd\02d0\02f8\0589\05c3\2236\a789'
            || U&'\16ec\205a\3002\06d4\a4f8\2e31\0701\0430\0435\043e\0440\0441\0445\0443\0456\0458'
            || U&'\0455\04bb\0501\051d\051b\0261\0410\0412\0415\041a\041c\041d\041e\0420\0421\0422'
            || U&'\0425\0405\0406\0408\03bf\03b1\03c1\03bd\03b9\03ba\03c4\03c5\0391\0392\0395\0396'
            || U&'\0397\0399\039a\039c\039d\039f\03a1\03a4\03a5\03a7',
            '/////\\\\\::::::::.....aeopcxyijshdwqgABEKMHOPCTXSIJoapviktuABEZHIKMNOPTYX');
    END IF;
    IF v_text ~ '^[[:space:][:cntrl:]\u0085\u1680\u2028\u2029]|[[:space:][:cntrl:]\u0085\u1680\u2028\u2029]$' THEN
        v_text := regexp_replace(v_text, '^[[:space:][:cntrl:]\u0085\u1680\u2028\u2029]+|'
                                         '[[:space:][:cntrl:]\u0085\u1680\u2028\u2029]+$', '', 'g');
    END IF;
    RETURN v_text;
END
$$;
