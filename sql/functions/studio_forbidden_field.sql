-- studio_forbidden_field(key) -> boolean
--
-- True when a JSON field name is, or contains as a word, one of image, photo,
-- thumbnail, url, uri, path or file (plural and compound forms such as
-- filename, imagedata, photo_url, imagePath, ThumbnailBytes included). Words
-- are split at case changes, digits and punctuation, so unrelated words that
-- merely contain the letters (profile, photographer, pathway) pass.
-- Example: studio_forbidden_field('photoUrl') -> true. Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_forbidden_field(p_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(regexp_replace(p_key, '([a-z0-9])([A-Z])', '\1_\2', 'g'),
                                '([A-Z]+)([A-Z][a-z])', '\1_\2', 'g'))
           ~ '(^|[^a-z])(image|photo|thumbnail|url|uri|path|file)(s|name|names|data|bytes|path|paths|url|urls|uri|uris)?([^a-z]|$)'
$$;
