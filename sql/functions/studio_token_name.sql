-- studio_token_name(name) -> text
--
-- A token name as it is stored and looked up: Unicode NFKC (so a no-break or
-- full-width space is a space, and full-width letters are letters), then
-- whitespace (any Unicode White_Space, and zero-width spaces) trimmed from
-- both ends. create_api_token() stores this form and checks it (not the raw
-- input) for blanks and duplicates; revoke_api_token() looks names up in the
-- same form, so " alfred" and "alfred" are one name.
-- Example: SELECT studio_token_name(E' alfred\u00a0');  -> 'alfred'
-- Raises nothing (NULL in, NULL out). Pure.
CREATE OR REPLACE FUNCTION studio_token_name(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Spelled out rather than \s alone, whose reach depends on the locale.
    SELECT regexp_replace(
        normalize(p_name, NFKC),
        '^[\s\u0085\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+'
        '|[\s\u0085\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+$',
        '', 'g')
$$;
