"""Face quality: how far one detected face can be trusted.

`assess(image, detection)` measures a face on four axes — its size in
pixels, its sharpness, its pose (yaw and pitch from the five landmarks) and
the detector's score — and `FaceQuality.reasons(gates)` names each gate it
fails. Two sets of gates: RECOGNITION_GATES (a camera face failing them is at
most `uncertain`) and the stricter ENROLMENT_GATES (a reference failing them
is refused). Every threshold but pitch's was chosen by measurement with
the real buffalo_s models (`bench/quality_gates.py`, docs/recognition.md,
"Face quality"); no measured face is pitched past 13°, so the pitch gates
are set short of where the nose alone stops telling a pitch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from worker.face_engine import Detection

# The face's own region is shrunk to at most this many pixels on its shorter
# side before sharpness is measured, and never enlarged: a big face is judged
# at a common scale (blur relative to the face, which is what the
# recogniser's 112-px crop sees) and a small one at its own resolution, so
# being small is never mistaken for being blurred.
SHARPNESS_SIDE = 64

# A five-point face model, in units of the distance between the eyes (x to
# the image's right, y down, z towards the camera): eyes at (±0.5, 0, 0), the
# nose tip NOSE_DROP below their midpoint and NOSE_DEPTH in front of it, the
# mouth MOUTH_DROP below them, in their plane. The drops are the medians of
# the detector's landmarks on the demo's near-frontal faces
# (bench/quality_gates.py prints them); the depth is a human nose's
# protrusion over the distance between the pupils. `pose()` inverts the
# orthographic projection of this model exactly, for any roll, scale and
# place, and any yaw and pitch whose nose still points towards the camera.
NOSE_DROP = 0.56
MOUTH_DROP = 0.98
NOSE_DEPTH = 0.45

REASONS = ("small_face", "blurred", "turned", "low_detection_score")


@dataclass(frozen=True)
class QualityGates:
    """The least a face must show: size (px, the box's shorter side),
    sharpness, and the detector's score; the most it may be turned (degrees)."""

    min_size: float
    min_sharpness: float
    max_yaw: float
    max_pitch: float
    min_det_score: float


# A face failing these is at most `uncertain`: past each, the median
# genuine score of the measured faces falls below buffalo_s's identify
# threshold (0.50), or faces of others score above it. The size gate sits
# below the box the detector reports for a face 24 px wide in a 1080p frame
# (23 px or more), so such a face can still be identified.
RECOGNITION_GATES = QualityGates(
    min_size=20.0, min_sharpness=0.004, max_yaw=45.0, max_pitch=30.0, min_det_score=0.7
)
# A reference failing these is refused: every probe is compared with it, so
# it must score like an undegraded face (median within 0.02 of it). The
# detector's score is the same gate: it says whether this is a face, and the
# other gates judge how good a one.
ENROLMENT_GATES = QualityGates(
    min_size=48.0, min_sharpness=0.06, max_yaw=35.0, max_pitch=20.0, min_det_score=0.7
)


@dataclass(frozen=True)
class FaceQuality:
    """One face's measurements (see `assess`)."""

    size: float  # px, the box's shorter side
    sharpness: float  # high-frequency share of the face region's contrast, 0 for flat
    yaw: float  # degrees; positive: the nose points to the image's right
    pitch: float  # degrees; positive: the face is tilted up
    det_score: float

    def reasons(self, gates: QualityGates) -> list[str]:
        """The gates this face fails, in the order of REASONS; empty when it passes."""
        failed = {
            "small_face": self.size < gates.min_size,
            "blurred": self.sharpness < gates.min_sharpness,
            "turned": abs(self.yaw) > gates.max_yaw or abs(self.pitch) > gates.max_pitch,
            "low_detection_score": self.det_score < gates.min_det_score,
        }
        return [reason for reason in REASONS if failed[reason]]

    def passes(self, gates: QualityGates) -> bool:
        return not self.reasons(gates)

    @property
    def weight(self) -> float:
        """0..1, how much this face should count in a vote over a track's
        frames: the product of one factor a measure, each 1 at or past its
        enrolment gate, rising from 0.25 to 1 between its recognition and
        enrolment gates, and 0.05 short of its recognition gate: a face
        failing a gate counts a little, never nothing, and only a face at
        full quality counts fully."""
        r, e = RECOGNITION_GATES, ENROLMENT_GATES
        factors = (
            _ramp(self.size, r.min_size, e.min_size),
            _ramp(self.sharpness, r.min_sharpness, e.min_sharpness),
            _ramp(-abs(self.yaw), -r.max_yaw, -e.max_yaw),
            _ramp(-abs(self.pitch), -r.max_pitch, -e.max_pitch),
            _ramp(self.det_score, r.min_det_score, e.min_det_score),
        )
        return math.prod(factors)

    def to_json(self) -> dict[str, float]:
        """Plain, rounded numbers for an answer or a log line."""
        return {
            "size": round(float(self.size), 1),
            "sharpness": round(float(self.sharpness), 4),
            "yaw": round(float(self.yaw), 1),
            "pitch": round(float(self.pitch), 1),
            "det_score": round(float(self.det_score), 4),
            "weight": round(self.weight, 3),
        }


def _ramp(value: float, at_recognition: float, at_enrolment: float) -> float:
    if value >= at_enrolment:
        return 1.0
    if value < at_recognition:
        return 0.05
    # Short of the enrolment gate is always short of 1, however little.
    return min(0.999, 0.25 + 0.75 * (value - at_recognition) / (at_enrolment - at_recognition))


def pose(keypoints: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees from the five landmarks (eyes, nose, mouth's
    corners): the nose's offset from the eyes' midpoint, across and along
    the eye line, over the eye distance. Roll is taken out first (alignment
    removes it, so it does not matter). Landmarks that no face could have
    (eyes on one point, the mouth not below them) are 90° turned."""
    points = np.asarray(keypoints, dtype=np.float64).reshape(5, 2)
    eyes = (points[0] + points[1]) / 2
    axis = points[1] - points[0]
    distance = float(np.hypot(*axis))
    if not (math.isfinite(distance) and distance > 1e-6 and np.all(np.isfinite(points))):
        return 90.0, 90.0
    along, across = axis / distance, np.array([-axis[1], axis[0]]) / distance
    nose_x = float((points[2] - eyes) @ along) / distance
    nose_y = float((points[2] - eyes) @ across) / distance
    mouth_y = float(((points[3] + points[4]) / 2 - eyes) @ across) / distance
    if mouth_y <= 1e-6:
        return 90.0, 90.0
    # The model's nose, pitched by p and then turned by y, lands at
    # x = R sin(p + a) tan(y), y = R cos(p + a) / cos(y), with
    # R = |(NOSE_DROP, NOSE_DEPTH)| and a its angle: c = cos²(y) solves
    # ny² c² - (nx² + ny² + R²) c + R² = 0.
    radius = math.hypot(NOSE_DROP, NOSE_DEPTH)
    offset = math.atan2(NOSE_DEPTH, NOSE_DROP)
    total = nose_x**2 + nose_y**2 + radius**2
    if nose_y**2 > 1e-12:
        root = math.sqrt(max(0.0, total**2 - 4 * nose_y**2 * radius**2))
        cos2 = (total - root) / (2 * nose_y**2)
    else:
        cos2 = radius**2 / total
    cos_yaw = math.sqrt(min(1.0, max(0.0, cos2)))
    yaw = math.copysign(math.acos(cos_yaw), nose_x)
    angle = math.acos(min(1.0, max(-1.0, nose_y * cos_yaw / radius)))
    # (yaw, p + a) and (-yaw, -(p + a)) project alike; a face pitched down
    # past -a is told by its mouth: the nose then sits further than
    # NOSE_DROP / MOUTH_DROP of the way down to it.
    if nose_y / mouth_y > (NOSE_DROP + NOSE_DEPTH * math.tan(offset)) / MOUTH_DROP:
        yaw, angle = -yaw, -angle
    return math.degrees(yaw), math.degrees(angle - offset)


def sharpness(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The variance of the Laplacian of the face's region over the variance
    of the region itself, with the region shrunk to SHARPNESS_SIDE (never
    enlarged). Contrast cancels out, so a dark face is not a blurred one; 0
    for a region outside the image or without contrast."""
    height, width = image.shape[:2]
    x1, y1 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x2, y2 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    if x2 - x1 < 3 or y2 - y1 < 3:
        return 0.0
    region = image[y1:y2, x1:x2]
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    # In floats before shrinking: rounding the shrunk region to whole grey
    # levels would add an edge energy of its own, the same for every face,
    # and hide how blurred a big face is.
    gray = gray.astype(np.float32)
    side = min(gray.shape)
    if side > SHARPNESS_SIDE:
        scale = SHARPNESS_SIDE / side
        size = (max(3, round(gray.shape[1] * scale)), max(3, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    contrast = float(gray.var())
    if contrast < 1e-3:
        return 0.0
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    # The border rows and columns see the padding, not the face.
    return float(laplacian[1:-1, 1:-1].var()) / contrast


def assess(image: np.ndarray, detection: Detection) -> FaceQuality:
    """The quality of `detection`, a face found in `image` (BGR)."""
    yaw, pitch = pose(detection.keypoints)
    return FaceQuality(
        size=float(detection.size),
        sharpness=sharpness(image, detection.box),
        yaw=yaw,
        pitch=pitch,
        det_score=float(detection.score),
    )
