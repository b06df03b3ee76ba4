-- studio_require_source(source_system, allowed) -> void
--
-- Refuses a caller bound to other source systems: raises 42501
-- (insufficient_privilege) unless `allowed` is NULL (any system) or holds
-- `source_system`. The API passes the token's binding; psql callers pass
-- nothing and are bound by their database privileges instead.
-- Example: PERFORM studio_require_source('other_system', '{alfred_catalog}');
CREATE OR REPLACE FUNCTION studio_require_source(p_source_system text, p_allowed text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_allowed IS NOT NULL AND NOT (p_source_system = ANY (p_allowed)) THEN
        RAISE EXCEPTION 'this caller may not touch identities of source system "%"', p_source_system
            USING ERRCODE = '42501',
                  HINT = format('allowed source systems: %s', array_to_string(p_allowed, ', '));
    END IF;
END
$$;
