-- studio_rfc3339(text) -> timestamptz
--
-- An RFC 3339 date-time with its offset (section 5.6: "2026-05-01T08:15:02Z",
-- "2026-05-01T10:15:02.120+02:00", "t" and "z" in either case), or NULL for
-- anything else: no offset, a space instead of "T", a month 13, a 30
-- February, a minute 99, year 0000, or PostgreSQL's own spellings ("now",
-- "today", "May 1 2026") that timestamptz input would take. Any offset up
-- to ±23:59 is read (PostgreSQL's input stops at ±15:59); a leap second
-- (":60") is the next second; fractions past microseconds are rounded.
-- This is what the document's format "date-time" says, no more and no less.
-- Example: studio_rfc3339('2026-05-01T10:15:02+02:00') -> 2026-05-01 08:15:02+00
-- Raises nothing. Pure.
CREATE OR REPLACE FUNCTION studio_rfc3339(p_text text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_part  text[] := regexp_match(
        p_text,
        '^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?'
        || '(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))$');
    v_year  integer;
    v_month integer;
    v_day   integer;
    v_local timestamp;
BEGIN
    IF v_part IS NULL THEN
        RETURN NULL;
    END IF;
    v_year := v_part[1]::integer;
    v_month := v_part[2]::integer;
    v_day := v_part[3]::integer;
    IF v_year < 1 OR v_month NOT BETWEEN 1 AND 12 OR v_day < 1
       OR v_day > extract(day FROM make_date(v_year, v_month, 1) + interval '1 month - 1 day')
       OR v_part[4]::integer > 23 OR v_part[5]::integer > 59 OR v_part[6]::integer > 60
       OR coalesce(v_part[9]::integer, 0) > 23 OR coalesce(v_part[10]::integer, 0) > 59 THEN
        RETURN NULL;
    END IF;
    v_local := make_timestamp(v_year, v_month, v_day, v_part[4]::integer, v_part[5]::integer, 0)
               + (v_part[6] || coalesce(v_part[7], ''))::numeric * interval '1 second';
    IF v_part[8] IS NOT NULL THEN
        v_local := v_local - (CASE v_part[8] WHEN '-' THEN -1 ELSE 1 END)
                   * (v_part[9]::integer * interval '1 hour' + v_part[10]::integer * interval '1 minute');
    END IF;
    RETURN v_local AT TIME ZONE 'UTC';
END
$$;
