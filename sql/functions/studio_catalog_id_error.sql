-- studio_catalog_id_error(value, field) -> jsonb
--
-- The error for a photo or batch ID that could not travel safely as one
-- segment of a catalog URL, or NULL. The worker puts these IDs into
-- `/api/photos/{id}` and `/api/batches/{id}/photos` with its catalog token:
-- a "/", "?", "#", "%" or "\" would let a submitter steer it to another
-- catalog path, and a leading dot could make a "." or ".." segment. Allowed:
-- 1-255 of A-Z a-z 0-9 _ . ~ = + : @ -, not starting with a dot (numbers,
-- UUIDs, base64url and the seed's "photo_001" / "batch_2026_02_25" all fit).
-- worker/catalog_client.py checks the same pattern (CATALOG_ID).
-- Values of the wrong type are studio_text_error()'s to report; this says
-- nothing about them. Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_catalog_id_error(
    p_value jsonb,
    p_field text
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT studio_error(NULL, NULL, p_field, 'invalid_value',
                        p_field || ' must be 1 to 255 of A-Z a-z 0-9 _ . ~ = + : @ - '
                        || 'and not start with a dot (it becomes part of a catalog URL)')
    WHERE jsonb_typeof(p_value) IN ('string', 'number')
      AND (p_value #>> '{}') !~ '^[A-Za-z0-9_~=+:@-][A-Za-z0-9_.~=+:@-]{0,254}$'
$$;
