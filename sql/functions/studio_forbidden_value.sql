-- studio_forbidden_value(text) -> text
--
-- Why a string may not cross into Studio, or NULL when it may. The rules
-- read the string as a browser or a person would (studio_privacy_text:
-- NFKC, percent-escapes and character references decoded, invisible
-- characters dropped, look-alike slashes, colons and letters made ASCII,
-- ends trimmed), and look anywhere in it, not only at its start:
--
-- 'image_data': base64 (standard or URL-safe) of a PNG, JPEG, GIF, WebP/
--   RIFF, BMP, TIFF, HEIC/AVIF, JPEG XL, PSD or SVG file, even with spaces
--   inside; the raw bytes of one (\x89PNG, \xff\xd8\xff, GIF8, <svg); a
--   ";base64," part; a run of 128+ characters of *standard* base64 with a
--   "+" or "/" in it (binary data, whatever it holds).
-- 'url': any "scheme:/" or "scheme:\" (http://, https:/x, http:\\x, s3://,
--   blob:, file:///), a protocol-relative "//host", a host with a port and
--   a path (alfred:8082/api/photos/1), "www.", an IPv4 address before ":",
--   "/" or "\", a host of a common top-level domain before a path
--   (example.com/x), a data: URI ("data:" then ",", ";" or a media type),
--   "mailto:" with an address, "cid:", "javascript:", "vbscript:",
--   "filesystem:" followed at once by something.
-- 'file_path': a Windows drive (C:\, D:/), a UNC path (\\host), "~/", "./",
--   "../" at the start of a word, a POSIX absolute path into a system or
--   user folder (/home/, /Users/, /var/, /mnt/, /Volumes/ ...); and, when
--   the whole value is one path, an absolute one of three or more segments
--   or one with a photo folder as a segment (photos/15, /api/images/3).
-- 'file_name': an image or camera-raw file extension (.jpg, .jfif, .heic,
--   .dng, .cr3, .nef ... ) followed by no letter or digit (so "a.jpg.",
--   "1.jpeg?x=1" and "a.png:large" count), written in lower or upper case,
--   or in any case inside a path or URL.
--
-- Allowed on purpose, because real names and keys look like them: a name
-- starting with "/" (/Ann) and a two-segment key (/people/15); a
-- capitalised word after a dot outside a path (Mr.Png, St.Tiff); "Data:"
-- or "mailto:" followed by a space and words (Data: Lieutenant Commander,
-- mailto: Jo); "urn:", "Re:" and other colons not followed by a slash;
-- URL-safe base64 and hex IDs of any length (opaque catalog IDs); a
-- relative path inside a sentence (a worker's "GET /api/photos/7 failed").
-- Example: studio_forbidden_value('s3://bucket/a.jpg') -> 'url'.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_forbidden_value(p_value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v_text    text := studio_privacy_text(p_value);
    v_compact text;
    -- Image and camera-raw extensions; upper() of it is the upper-case list.
    c_ext     CONSTANT text := 'jpe?g|jpe|jfif|pjpeg|pjp|png|apng|gif|bmp|dib|webp|heics?|heif|hif|avif'
                               '|tiff?|jxl|jp2|j2k|jpf|jpx|ico|svgz?|psd|exr|tga|dng|cr2|cr3|crw|nef'
                               '|nrw|arw|srf|sr2|orf|rw2|raf|pef|ptx|srw|x3f|3fr|erf|kdc|dcr|mrw|mos'
                               '|iiq|rwl|raw|k25|mef|fff|rwz';
BEGIN
    -- Base64 read with its spaces taken out; a cheap look for the pieces of
    -- the signatures first, so that the full pattern runs only on the rare
    -- value that has one.
    v_compact := CASE WHEN strpos(v_text, ' ') > 0 THEN replace(v_text, ' ', '') ELSE v_text END;
    IF (strpos(v_compact, 'AAAA') > 0 OR strpos(v_compact, '9j') > 0 OR strpos(v_compact, 'UklGR') > 0
        OR strpos(v_compact, 'iVBORw0KGg') > 0 OR strpos(v_compact, 'R0lGOD') > 0
        OR strpos(v_compact, 'SUkqA') > 0 OR strpos(v_compact, 'TU0AK') > 0
        OR strpos(v_compact, 'OEJQU') > 0 OR strpos(v_compact, 'PHN2Z') > 0
        OR strpos(v_compact, 'GIF8') > 0 OR strpos(v_compact, '<') > 0 OR strpos(v_compact, ';') > 0
        OR strpos(v_compact, U&'\0089') > 0 OR strpos(v_compact, U&'\00ff') > 0)
       -- Only the characters the file's first bytes fix, whatever follows.
       AND v_compact ~ ('iVBORw0KGg|R0lGOD[dl]h|UklGR|SUkqA|TU0AK|OEJQU|PHN2Z|[/_]9j[/_]'
                        '|Qk[A-Za-z0-9+/_-]{6}AAAA|AAAA[A-Za-z0-9+/_-]{2}Z0eXB|AAAADEpYTC'
                        '|\u0089PNG|\u00ff\u00d8\u00ff|GIF8[79]a|<[Ss][Vv][Gg]|;[Bb][Aa][Ss][Ee]64,') THEN
        RETURN 'image_data';
    END IF;
    -- Nested, so the query below runs only for the few long values.
    IF length(v_text) >= 128 AND v_text ~ '[A-Za-z0-9+/]{128}' THEN
        IF EXISTS (SELECT 1 FROM regexp_matches(v_text, '[A-Za-z0-9+/]{128,}', 'g') AS m
                   WHERE m[1] ~ '[+/]') THEN
            RETURN 'image_data';
        END IF;
    END IF;

    -- Every rule below needs one of these characters.
    IF v_text !~ '[:/\\.~]' THEN
        RETURN NULL;
    END IF;

    IF v_text ~* '(^|[^[:alnum:]])[a-z]:[/\\]' OR v_text ~ '(^|[[:space:](\[<"''=])\\\\[^[:space:]\\]' THEN
        RETURN 'file_path';
    END IF;
    IF v_text ~* ('[a-z][a-z0-9+.-]*:[/\\]'
                  '|(^|[[:space:](\[<"''=])//[^[:space:]/]'
                  '|[a-z0-9-]+(\.[a-z0-9-]+)*:[0-9]{1,5}[/\\?#]'
                  '|\[[0-9a-f:.]+\](:[0-9]{1,5})?[/\\?#]'
                  '|(^|[^a-z0-9.-])www[0-9]*\.[a-z0-9-]'
                  '|(^|[^0-9.])[0-9]{1,3}(\.[0-9]{1,3}){3}[:/\\]'
                  '|[a-z0-9-]\.(com|net|org|edu|gov|mil|int|io|co|me|app|dev|cloud|info|biz|xyz|site'
                  '|online|tech|ai|local|localhost|lan|home|internal|arpa|photos|photo|pics|gallery'
                  '|de|uk|fr|nl|es|it|eu|ru|cn|jp|br|in|au|ca|ch|se|no|fi|dk|pl|be|at|cz|pt|us|tv'
                  '|ly|gl|gg|to|is)(:[0-9]{1,5})?[/\\?#]'
                  '|(^|[^a-z0-9])data:[[:space:]]*(,|;|[a-z0-9.+-]+/[a-z0-9.+-]+)'
                  '|(^|[^a-z0-9])mailto:[[:space:]]*[^[:space:]@]+@'
                  '|(^|[^a-z0-9])(cid|javascript|vbscript|filesystem):[^[:space:]]') THEN
        RETURN 'url';
    END IF;
    IF v_text ~* ('(^|[[:space:](\[<"''=])(~|\.\.?)[/\\]'
                  '|(^|[[:space:](\[<"''=])/(home|users|etc|var|tmp|mnt|media|srv|opt|root|private'
                  '|volumes|usr|data|storage|nas|shares?|library|proc|dev|run|sys|net|bin|lib|boot'
                  '|applications|system|sdcard|dcim)/')
       OR (v_text !~ '[[:space:]]' AND v_text ~ '[/\\]'
           AND (v_text ~ '^/[^/]+/[^/]+/[^/]'
                OR v_text ~* ('(^|[/\\])(photos?|images?|imgs?|pics?|pictures?|thumbnails?|thumbs?'
                              '|files?|uploads?|assets?|avatars?|originals?|previews?|dcim|media'
                              '|downloads?)([/\\?#]|$)'))) THEN
        RETURN 'file_path';
    END IF;
    IF v_text ~ ('\.(' || c_ext || ')(?![[:alnum:]])')
       OR v_text ~ ('\.(' || upper(c_ext) || ')(?![[:alnum:]])')
       OR (v_text ~ '[/\\?#=&]' AND v_text ~* ('\.(' || c_ext || ')(?![[:alnum:]])')) THEN
        RETURN 'file_name';
    END IF;
    RETURN NULL;
END
$$;
