"""Decision thresholds measured on the user's own gallery (`studio calibrate`).

The gallery's references are the only labelled faces Studio has, so they are
the data: every reference in turn plays a probe against the rest of the
gallery, exactly as the recognizer scores a probe (cosine similarity with an
identity's *best* reference):

- a genuine score: the reference against the best of its own identity's
  *other* references (leave-one-out). One per reference of an identity with
  two references or more. Not every within-identity pair: the recognizer
  never compares a probe with one chosen reference, it takes the best, and
  n references of one person give n-1 such chances, not n(n-1)/2 independent
  ones;
- impostor scores: the reference against the best reference of every *other*
  identity, one per (reference, other identity). The maximum over an
  identity's references is what a stranger faces, so pairs would understate
  the tail of an identity with many references.

The false-accept rate (FAR) is per comparison: the share of impostor scores
that reach a threshold, i.e. the chance that a stranger's face is taken for
one given identity. A stranger faces every identity, so the chance that
*someone* claims them grows with the gallery (about identities x FAR); the
summary reports that too, measured by treating each reference as a stranger
to the rest of the gallery (its own identity left out).

- identify: the lowest threshold (on a 0.0001 grid) at which at most
  target_far of the impostor scores reach it;
- uncertain: the same at a looser rate (ten times the target by default): a
  face that close to someone goes to a human, not to a name;
- margin: what an identification must lead the runner-up by. A gallery holds
  no look-alike strangers, so what a margin saves cannot be measured from
  it; what it costs can: the genuine matches that reach identify but lead
  the best other identity by less. The margin is the code's default, lowered
  where this gallery shows the default would demote more than 1% of them.

How much data a rate needs is the database's rule
(set_recognition_thresholds(): the rule of three and the genuine minimum);
this module measures and the CLI asks the database before storing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app import queries
from app.db import Database
from app.person_recognizer import Thresholds, default_thresholds

# Thresholds are chosen on this grid: a DBA reads and types 0.4213, not
# 0.42128905654.
GRID = 1e-4
# Genuine matches the margin may demote, at most (see the module's text).
MARGIN_COST = 0.01
# Impostor scores kept in memory at most (4 bytes each); a larger gallery
# keeps those of a fixed random sample of its references as probes.
MAX_IMPOSTOR_SCORES = 20_000_000
# Probes scored at once: a block x references matrix of float32.
BLOCK = 256
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class Scores:
    """What the gallery measures: scores of each kind and what they came from."""

    genuine: np.ndarray  # per reference of an identity with 2+ references
    # Per reference (all of them): the best and second-best score of another
    # identity (-inf where there is none), and its own leave-one-out score
    # (-inf for an identity's only reference).
    own: np.ndarray
    others: np.ndarray  # (references, 2)
    impostor: np.ndarray  # sorted ascending
    identities: int
    references: int
    genuine_identities: int
    impostor_probes: int  # references whose impostor scores were kept


def load_references(database: Database, model: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's gallery as unit vectors grouped by identity, and the first row
    of each identity."""
    rows = database.fetch_all(queries.CALIBRATION_GALLERY, model)
    vectors = np.zeros((len(rows), 512), dtype=np.float32)
    starts = []
    previous = None
    for i, (identity_id, vector) in enumerate(rows):
        vectors[i] = vector.to_numpy()
        if identity_id != previous:
            starts.append(i)
            previous = identity_id
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.where(norms == 0, 1, norms)
    return vectors, np.asarray(starts, dtype=np.int64)


def measure(
    vectors: np.ndarray,
    starts: np.ndarray,
    *,
    max_impostor_scores: int = MAX_IMPOSTOR_SCORES,
    seed: int = 0,
) -> Scores:
    """Genuine and impostor scores of a gallery: unit `vectors` grouped by
    identity, `starts` the first row of each identity."""
    count = len(vectors)
    identities = len(starts)
    sizes = np.diff(np.append(starts, count))
    owner = np.repeat(np.arange(identities), sizes)
    own = np.full(count, -np.inf, dtype=np.float32)
    others = np.full((count, 2), -np.inf, dtype=np.float32)
    # Which references' impostor scores are kept: all of them unless there
    # are too many, then a fixed sample (the same on every run).
    per_probe = max(identities - 1, 0)
    kept = np.ones(count, dtype=bool)
    if per_probe and count * per_probe > max_impostor_scores:
        kept[:] = False
        chosen = np.random.default_rng(seed).choice(
            count, max(1, max_impostor_scores // per_probe), replace=False
        )
        kept[chosen] = True
    impostor_parts = []
    for low in range(0, count, BLOCK):
        high = min(low + BLOCK, count)
        rows = np.arange(high - low)
        scores = vectors[low:high] @ vectors.T
        scores[rows, np.arange(low, high)] = -np.inf  # a reference is not its own match
        per_identity = np.maximum.reduceat(scores, starts, axis=1)
        mine = owner[low:high]
        own[low:high] = per_identity[rows, mine]
        per_identity[rows, mine] = -np.inf
        if identities >= 2:
            best_two = -np.partition(-per_identity, 1, axis=1)[:, :2]
            others[low:high] = best_two
            # Every column but the probe's own identity.
            mask = np.ones_like(per_identity, dtype=bool)
            mask[rows, mine] = False
            keep = kept[low:high]
            impostor_parts.append(per_identity[keep][mask[keep]])
    genuine = own[np.isfinite(own)]
    impostor = (
        np.sort(np.concatenate(impostor_parts)) if impostor_parts else np.zeros(0, np.float32)
    )
    return Scores(
        genuine=genuine,
        own=own,
        others=others,
        impostor=impostor,
        identities=identities,
        references=count,
        genuine_identities=int(np.sum(sizes >= 2)),
        impostor_probes=int(kept.sum()) if identities >= 2 else 0,
    )


def reaching(sorted_scores: np.ndarray, threshold: float) -> int:
    """How many of the (ascending) scores reach `threshold`."""
    return len(sorted_scores) - int(np.searchsorted(sorted_scores, threshold, side="left"))


def threshold_at(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold on the grid, within 0-1, that at most `far` of the
    (ascending) impostor scores reach."""
    n = len(impostor)
    allowed = math.floor(far * n + 1e-9)  # 0.29 x 100 is 28.999999999999996
    if allowed >= n:
        return 0.0
    highest_refused = float(impostor[n - 1 - allowed])
    steps = math.floor(highest_refused / GRID) + 1
    while reaching(impostor, steps * GRID) > allowed:  # float rounding at the grid line
        steps += 1
    return min(max(round(steps * GRID, 4), 0.0), 1.0)


@dataclass(frozen=True)
class Outcome:
    """What thresholds do to the measured scores, decided as decide() does."""

    far_at_identify: float
    far_at_uncertain: float
    gar_at_identify: float  # genuine references identified as their own identity
    gar_at_uncertain: float  # genuine scores at least at uncertain
    misidentified: int  # genuine references identified as someone else
    demoted_by_margin: int  # genuine scores at identify the margin turned uncertain
    strangers_identified: int  # references, as strangers to the rest, given a name
    strangers_uncertain: int


def outcome(scores: Scores, thresholds: Thresholds) -> Outcome:
    identify, uncertain, margin = thresholds.identify, thresholds.uncertain, thresholds.margin
    genuine_rows = np.isfinite(scores.own)
    own = scores.own[genuine_rows].astype(np.float64)
    best, second = (scores.others[genuine_rows].astype(np.float64)).T
    own_on_top = own >= best
    identified_right = own_on_top & (own >= identify) & (own - best >= margin)
    demoted = own_on_top & (own >= identify) & (own - best < margin)
    wrong_on_top = ~own_on_top & (best >= identify) & (best - np.maximum(own, second) >= margin)
    stranger_best, stranger_second = scores.others.astype(np.float64).T
    named = (stranger_best >= identify) & (stranger_best - stranger_second >= margin)
    flagged = ~named & (stranger_best >= uncertain)
    impostors = max(len(scores.impostor), 1)
    genuine = max(len(own), 1)
    has_other = scores.identities >= 2
    return Outcome(
        far_at_identify=reaching(scores.impostor, identify) / impostors,
        far_at_uncertain=reaching(scores.impostor, uncertain) / impostors,
        gar_at_identify=int(identified_right.sum()) / genuine,
        gar_at_uncertain=int((own >= uncertain).sum()) / genuine,
        misidentified=int(wrong_on_top.sum()),
        demoted_by_margin=int(demoted.sum()),
        strangers_identified=int(named.sum()) if has_other else 0,
        strangers_uncertain=int(flagged.sum()) if has_other else 0,
    )


def choose_margin(scores: Scores, identify: float, default: float) -> float:
    """The default margin, lowered to where it would demote at most MARGIN_COST
    of the genuine matches that reach identify with their own identity on top."""
    rows = np.isfinite(scores.own)
    own = scores.own[rows].astype(np.float64)
    best = scores.others[rows, 0].astype(np.float64)
    at_identify = (own >= identify) & (own >= best)
    leads = np.sort(own[at_identify] - best[at_identify])
    if len(leads) == 0:
        return default
    # Any margin up to the (k+1)-th smallest lead demotes at most k of them.
    smallest_kept = float(leads[math.floor(MARGIN_COST * len(leads))])
    return max(0.0, min(default, math.floor(smallest_kept / GRID) * GRID))


@dataclass(frozen=True)
class Calibration:
    model: str
    target_far: float
    uncertain_far: float
    scores: Scores
    thresholds: Thresholds
    outcome: Outcome | None  # None when the scores cannot give thresholds at all

    def request(self, *, dry_run: bool) -> dict:
        """The set_recognition_thresholds() request that stores this calibration."""
        s, o = self.scores, self.outcome
        request = {
            "model": self.model,
            "identify": self.thresholds.identify,
            "uncertain": self.thresholds.uncertain,
            "margin": self.thresholds.margin,
            "target_far": self.target_far,
            "uncertain_far": self.uncertain_far,
            "identities": s.identities,
            "reference_count": s.references,
            "genuine_identities": s.genuine_identities,
            "genuine_scores": len(s.genuine),
            "impostor_scores": len(s.impostor),
            "dry_run": dry_run,
        }
        if o is not None:
            request |= {
                "far_at_identify": o.far_at_identify,
                "gar_at_identify": o.gar_at_identify,
                "far_at_uncertain": o.far_at_uncertain,
                "gar_at_uncertain": o.gar_at_uncertain,
            }
        return request


def calibrate(
    model: str,
    vectors: np.ndarray,
    starts: np.ndarray,
    *,
    target_far: float,
    uncertain_far: float | None = None,
    max_impostor_scores: int = MAX_IMPOSTOR_SCORES,
) -> Calibration:
    """Measure the gallery and choose thresholds for `target_far` (per
    comparison) and `uncertain_far` (default ten times it, at most 1)."""
    uncertain_far = min(1.0, 10 * target_far) if uncertain_far is None else uncertain_far
    scores = measure(vectors, starts, max_impostor_scores=max_impostor_scores)
    default = default_thresholds(model)
    if len(scores.impostor) == 0 or len(scores.genuine) == 0:
        # Nothing to choose from: the database refuses this calibration, and
        # says how much is missing; the defaults only fill the request.
        thresholds = Thresholds(default.identify, default.uncertain, default.margin)
        return Calibration(model, target_far, uncertain_far, scores, thresholds, None)
    identify = threshold_at(scores.impostor, target_far)
    uncertain = min(threshold_at(scores.impostor, uncertain_far), identify)
    margin = choose_margin(scores, identify, default.margin)
    thresholds = Thresholds(identify, uncertain, margin, source="calibrated")
    return Calibration(
        model, target_far, uncertain_far, scores, thresholds, outcome(scores, thresholds)
    )


# ------------------------------------------------------------ what it prints


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:.4g} ({part:,} of {whole:,})" if whole else "- (none)"


def summary(calibration: Calibration) -> str:
    """The terminal report: counts, quantiles, thresholds, what they do, histogram."""
    c, s, o, t = calibration, calibration.scores, calibration.outcome, calibration.thresholds
    lines = [
        f"gallery of {c.model}: {s.references:,} references of {s.identities:,} identities "
        f"({s.genuine_identities:,} with two references or more)",
        f"  genuine scores   {len(s.genuine):>12,}  each reference against the best of its "
        "identity's other references",
        f"  impostor scores  {len(s.impostor):>12,}  each reference against the best reference "
        "of every other identity"
        + (
            f" ({s.impostor_probes:,} of {s.references:,} references, sampled)"
            if s.impostor_probes < s.references
            else ""
        ),
        "",
        "            " + "".join(f"{q * 100:>7g}%" for q in QUANTILES),
    ]
    for name, values in (("genuine", s.genuine), ("impostor", s.impostor)):
        cells = (
            "".join(f"{v:>8.3f}" for v in np.quantile(values, QUANTILES))
            if len(values)
            else "   (none)"
        )
        lines.append(f"  {name:<10}{cells}")
    if o is None:
        return "\n".join(lines)
    impostors, genuine = len(s.impostor), len(s.genuine)
    false_at_identify = _rate(reaching(s.impostor, t.identify), impostors)
    false_at_uncertain = _rate(reaching(s.impostor, t.uncertain), impostors)
    identified = _rate(round(o.gar_at_identify * genuine), genuine)
    flagged = _rate(round(o.gar_at_uncertain * genuine), genuine)
    lines += [
        "",
        f"thresholds for a false-accept rate of {c.target_far:g} per comparison "
        f"(uncertain at {c.uncertain_far:g}):",
        f"  identify   {t.identify:.4f}   false accepts {false_at_identify}"
        f"   genuine identified {identified}",
        f"  uncertain  {t.uncertain:.4f}   false accepts {false_at_uncertain}"
        f"   genuine at least uncertain {flagged}",
        f"  margin     {t.margin:.4f}   demotes {o.demoted_by_margin:,} genuine matches at "
        f"identify to uncertain; {o.misidentified:,} references named as someone else",
        f"  each reference as a stranger to the rest of the gallery: "
        f"{_rate(o.strangers_identified, s.references)} named, "
        f"{o.strangers_uncertain:,} uncertain",
        *_stranger_hint(c),
        "",
        *text_histogram(s.genuine, s.impostor, t),
    ]
    return "\n".join(lines)


def _stranger_hint(calibration: Calibration) -> list[str]:
    """A stranger faces every identity: say so when that flags many of them."""
    s, o = calibration.scores, calibration.outcome
    if o is None or (o.strangers_identified + o.strangers_uncertain) <= 0.1 * s.references:
        return []
    return [
        f"  hint: a stranger is compared with all {s.identities:,} identities, so a rate "
        "per comparison adds up; for fewer strangers flagged or named, lower --uncertain-far "
        f"or --target-far towards the share you accept divided by {s.identities:,}"
    ]


def text_histogram(
    genuine: np.ndarray, impostor: np.ndarray, thresholds: Thresholds, width: int = 24
) -> list[str]:
    """Both distributions in 0.05 bins, highest scores first; each bar is its
    bin's share of its own distribution, scaled to that distribution's
    fullest bin; the thresholds are marked on their bins."""
    step = 0.05
    both = np.concatenate([genuine, impostor])
    low = math.floor(float(both.min()) / step) * step
    high = math.ceil(float(both.max()) / step + 1e-9) * step
    edges = np.linspace(low, high, round((high - low) / step) + 1)
    g_counts = np.histogram(genuine, edges)[0]
    i_counts = np.histogram(impostor, edges)[0]
    lines = [f"  {'score':>6}  {'genuine':<{width + 10}}impostor"]
    for b in range(len(edges) - 2, -1, -1):
        marks = [
            f"<- {name} {value:.4f}"
            for name, value in (
                ("identify", thresholds.identify),
                ("uncertain", thresholds.uncertain),
            )
            if edges[b] <= value < edges[b + 1] or (b == len(edges) - 2 and value >= edges[-1])
        ]
        genuine_bar = _bar(g_counts[b], g_counts.max(), width)
        impostor_bar = _bar(i_counts[b], i_counts.max(), width)
        lines.append(
            f"  {edges[b]:>6.2f}  {genuine_bar} {g_counts[b]:>8,}  "
            f"{impostor_bar} {i_counts[b]:>10,}  {' '.join(marks)}".rstrip()
        )
    return lines


def _bar(count: int, most: int, width: int) -> str:
    length = 0 if most == 0 or count == 0 else max(1, round(count / most * width))
    return ("#" * length).ljust(width)


def write_histogram(path: str, calibration: Calibration) -> None:
    """A PNG of both distributions (share of each per 0.01 bin, log scale) with
    the thresholds marked. Raises ImportError without OpenCV, OSError when
    the file cannot be written."""
    import cv2  # the worker's and full install's; the API host has none

    s, t = calibration.scores, calibration.thresholds
    width, height, left, right, top, bottom = 960, 540, 80, 30, 60, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    both = np.concatenate([s.genuine, s.impostor])
    low = math.floor(float(both.min()) * 10) / 10
    high = math.ceil(float(both.max()) * 10 + 1e-9) / 10
    edges = np.linspace(low, high, round((high - low) * 100) + 1)
    largest = max(len(s.genuine), len(s.impostor), 10)
    floor_exponent = -math.ceil(math.log10(largest))

    def x_of(score: float) -> int:
        return left + round((score - low) / (high - low) * plot_w)

    def y_of(share: float) -> int:
        fraction = (math.log10(share) - floor_exponent) / -floor_exponent
        return top + plot_h - round(fraction * plot_h)

    for values, colour in ((s.impostor, (60, 60, 220)), (s.genuine, (60, 170, 60))):
        counts = np.histogram(values, edges)[0]
        overlay = image.copy()
        for b, count in enumerate(counts):
            if count:
                share = max(count / len(values), 10**floor_exponent)
                cv2.rectangle(
                    overlay,
                    (x_of(edges[b]), y_of(share)),
                    (x_of(edges[b + 1]) - 1, top + plot_h),
                    colour,
                    -1,
                )
        image = cv2.addWeighted(overlay, 0.6, image, 0.4, 0)
    black, grey = (0, 0, 0), (110, 110, 110)
    cv2.rectangle(image, (left, top), (left + plot_w, top + plot_h), black, 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for tick in np.arange(low, high + 1e-9, 0.1):
        x = x_of(float(tick))
        cv2.line(image, (x, top + plot_h), (x, top + plot_h + 5), black, 1)
        cv2.putText(image, f"{tick:.1f}", (x - 14, top + plot_h + 22), font, 0.45, black, 1)
    for exponent in range(floor_exponent, 1):
        y = y_of(10.0**exponent)
        cv2.line(image, (left - 5, y), (left, y), black, 1)
        cv2.putText(image, f"1e{exponent}", (left - 52, y + 5), font, 0.45, black, 1)
    # identify a solid line, uncertain a dashed one, each named at its top.
    for name, value, colour, dash, label_y in (
        ("identify", t.identify, black, plot_h, top + 16),
        ("uncertain", t.uncertain, grey, 7, top + 34),
    ):
        x = x_of(value)
        for y in range(top, top + plot_h, dash + 5):
            cv2.line(image, (x, y), (x, min(y + dash, top + plot_h)), colour, 2)
        cv2.putText(image, f"{name} {value:.4f}", (x + 5, label_y), font, 0.45, colour, 1)
    cv2.putText(
        image,
        f"{calibration.model}: cosine similarity, share of scores per 0.01 (log scale); "
        f"false-accept rate {calibration.target_far:g}",
        (left, 24),
        font,
        0.5,
        black,
        1,
    )
    cv2.putText(image, f"genuine ({len(s.genuine):,})", (left, 46), font, 0.5, (60, 170, 60), 2)
    cv2.putText(
        image, f"impostor ({len(s.impostor):,})", (left + 180, 46), font, 0.5, (60, 60, 220), 2
    )
    cv2.putText(image, "score", (left + plot_w // 2 - 20, height - 12), font, 0.5, black, 1)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"{path}: cannot write the histogram (a .png file in a folder that exists)")
