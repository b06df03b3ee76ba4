-- Decision thresholds are data, per model: `studio calibrate` measures them
-- on the gallery itself (genuine scores leave-one-out within an identity,
-- impostor scores across identities) and stores them here through
-- set_recognition_thresholds(), which validates and names every bad field.
-- A DBA may also change a row in psql; the CHECKs below keep any row sane
-- whoever writes it. A model without a row uses the constants in
-- app/person_recognizer.py (THRESHOLDS), the defaults before a calibration.
--
-- The measurement columns say what a calibration rested on; they are NULL
-- for thresholds set by hand (target_far NULL). They are counts and rates
-- only: nothing here can hold a score list, a vector or a photo.

CREATE TABLE recognition_thresholds (
    model              varchar(50)      NOT NULL,
    -- Cosine similarities, as the recognizer compares them.
    identify           double precision NOT NULL,
    uncertain          double precision NOT NULL,
    margin             double precision NOT NULL,
    -- The false-accept rates the calibration aimed at, per comparison of a
    -- stranger's face with one identity.
    target_far         double precision,
    uncertain_far      double precision,
    -- What the gallery held, and how many scores of each kind it gave.
    identities         integer,
    reference_count    integer,
    genuine_identities integer,
    genuine_scores     integer,
    -- bigint: references x identities passes 2^31 in a large gallery.
    impostor_scores    bigint,
    -- What the chosen thresholds do on those scores.
    far_at_identify    double precision,
    gar_at_identify    double precision,
    far_at_uncertain   double precision,
    gar_at_uncertain   double precision,
    calibrated_at      timestamptz      NOT NULL DEFAULT now(),
    calibrated_by      text,
    -- Moved by any later change (a DBA's UPDATE included), so a listing shows
    -- thresholds edited by hand after their calibration.
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT recognition_thresholds_pkey PRIMARY KEY (model),
    CONSTRAINT recognition_thresholds_model_check CHECK (model <> ''),
    -- NaN compares above every number in PostgreSQL, so it fails these too.
    CONSTRAINT recognition_thresholds_order_check CHECK (
        0 <= uncertain AND uncertain <= identify AND identify <= 1),
    CONSTRAINT recognition_thresholds_margin_check CHECK (0 <= margin AND margin <= 1),
    CONSTRAINT recognition_thresholds_far_check CHECK (
        (target_far > 0 AND target_far < 1)
        AND (uncertain_far IS NULL OR (target_far <= uncertain_far AND uncertain_far <= 1))),
    CONSTRAINT recognition_thresholds_counts_check CHECK (
        identities >= 0 AND reference_count >= 0 AND genuine_identities >= 0
        AND genuine_scores >= 0 AND impostor_scores >= 0
        AND genuine_identities <= identities AND genuine_scores <= reference_count),
    CONSTRAINT recognition_thresholds_rates_check CHECK (
        far_at_identify BETWEEN 0 AND 1 AND gar_at_identify BETWEEN 0 AND 1
        AND far_at_uncertain BETWEEN 0 AND 1 AND gar_at_uncertain BETWEEN 0 AND 1),
    -- A measured calibration must rest on enough data (set_recognition_thresholds
    -- names what is missing): a false-accept rate f can only be shown with
    -- about 3/f impostor scores (the rule of three: with none of n accepted,
    -- the 95% upper bound of the rate is 3/n), and a genuine distribution
    -- needs 20 scores from 5 identities with two references or more.
    -- (A CASE, so that a zero rate is refused rather than divided by.)
    CONSTRAINT recognition_thresholds_enough_data_check CHECK (
        CASE WHEN target_far IS NULL THEN true
             WHEN target_far <= 0 THEN false
             ELSE coalesce(impostor_scores, 0) >= ceil(3 / target_far::numeric)
                  AND coalesce(genuine_scores, 0) >= 20
                  AND coalesce(genuine_identities, 0) >= 5 END)
);

-- A change of thresholds reaches running recognizers like a gallery change:
-- the same NOTIFY on studio_gallery (migration 0006), on which each
-- recognizer re-reads its thresholds with its gallery.
CREATE TRIGGER recognition_thresholds_gallery_notify
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON recognition_thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION studio_notify_gallery();

-- updated_at follows every change that does not set it itself.
CREATE FUNCTION recognition_thresholds_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER recognition_thresholds_touch
    BEFORE UPDATE ON recognition_thresholds
    FOR EACH ROW EXECUTE FUNCTION recognition_thresholds_touch();
