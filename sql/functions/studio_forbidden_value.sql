-- studio_forbidden_value(text) -> text
--
-- Why a string may not cross into Studio, or NULL when it may: 'url' (any
-- scheme://, and data:, blob:, file:, mailto:, javascript:, cid:),
-- 'image_data' (base64 of an image, raw image bytes, or a base64 blob of
-- 128+ characters mixing cases and digits; hex digests pass), 'file_path' (POSIX absolute, ~/, ./, ../, a Windows drive
-- or UNC path) or 'file_name' (ends in an image file extension).
-- Example: studio_forbidden_value('s3://bucket/a.jpg') -> 'url'.
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_forbidden_value(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_value ~* '^[a-z][a-z0-9+.-]*://' OR p_value ~* '^(data|blob|file|mailto|javascript|cid):'
            THEN 'url'
        WHEN p_value ~ '^(iVBORw0KGgo|R0lGOD[dl]h|UklGR|/9j/|Qk[0-9A-Za-z+/]{2}AAAAAA)'
          OR p_value ~ '^(\u0089PNG|\u00ff\u00d8\u00ff|GIF8[79]a|RIFF....WEBP)'
          OR (length(p_value) >= 128 AND p_value ~ '^[A-Za-z0-9+/_-]+={0,2}$'
              AND p_value ~ '[A-Z]' AND p_value ~ '[a-z]' AND p_value ~ '[0-9]')
            THEN 'image_data'
        WHEN p_value ~ '^(/|~[/\\]|\.\.?[/\\])' OR p_value ~ '^[A-Za-z]:[\\/]' OR p_value ~ '^\\\\'
            THEN 'file_path'
        WHEN p_value ~* '\.(jpe?g|png|gif|bmp|webp|heic|heif|tiff?|avif)\s*$'
            THEN 'file_name'
    END
$$;
