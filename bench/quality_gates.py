"""Face quality gates, measured: where size, blur, pose and the detector's
score start costing identifications, with the real buffalo_s models.

Genuine faces: every demo reference of a person with two or more photos, and
every probe face (demo/probes) whose clean embedding names its person. Each
is degraded (pasted smaller into a 1080p frame, blurred with a Gaussian of
sigma a share of the face's size, JPEG quality 15, darkened), detected
again with the engine's detector, embedded and compared with the person's
*other* references (genuine score) and with everybody else's (impostor
score). Pose comes from the Hamilton clip (demo/probes), where Lin-Manuel
Miranda turns his head on stage. Run by hand (a few minutes on 2 cores);
its tables and the gates they chose are in docs/recognition.md, "Face
quality".

    .venv/bin/python bench/quality_gates.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from worker import face_quality
from worker.face_engine import Detection, FaceEngine, load_engine
from worker.face_quality import ENROLMENT_GATES, RECOGNITION_GATES, assess, pose

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PEOPLE = PROJECT_ROOT / "demo" / "people"
PROBES = PROJECT_ROOT / "demo" / "probes"
CLIP = PROBES / "short_hamilton_clip.mp4"
SCENE = PROBES / "kit_with_rose.jpg"
IDENTIFY = 0.50  # buffalo_s's default identify threshold
# Where the clip shows Lin-Manuel Miranda: alone on stage and close to the
# camera (every face in these frames is his), and small at the right of the
# stage in its first frames.
CLIP_LIN_FRAMES = range(84, 211)
CLIP_LIN_SMALL = (range(0, 21), 450)  # frames, and the least x of his box

FACE_PX = (14, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 96)
BLUR_SHARE = (0.0, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.05, 0.06, 0.08)
SIDES = (32, 48, 64, 112)


@dataclass
class Face:
    person: str
    file: Path
    image: np.ndarray
    detection: Detection


@dataclass
class Measured:
    kind: str
    level: float
    found: bool
    genuine: float = float("nan")
    impostor: float = float("nan")
    size: float = float("nan")
    sharpness: dict | None = None
    yaw: float = float("nan")
    pitch: float = float("nan")
    det_score: float = float("nan")


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


class Gallery:
    def __init__(self, engine: FaceEngine):
        self.engine = engine
        self.refs: list[tuple[str, Path, np.ndarray]] = []
        self.portraits: list[Face] = []
        for path in sorted(PEOPLE.glob("*/*")):
            image = cv2.imread(str(path))
            face = max(engine.detect(image), key=lambda d: d.size)
            self.refs.append((path.parent.name, path, unit(engine.embed([(image, face)])[0])))
            self.portraits.append(Face(path.parent.name, path, image, face))

    def scores(self, vector: np.ndarray, exclude: Path | None) -> dict[str, float]:
        best: dict[str, float] = {}
        for person, path, ref in self.refs:
            if path != exclude:
                best[person] = max(best.get(person, -1.0), float(ref @ vector))
        return best

    def genuine_faces(self) -> list[Face]:
        counts: dict[str, int] = {}
        for person, _, _ in self.refs:
            counts[person] = counts.get(person, 0) + 1
        faces = [f for f in self.portraits if counts[f.person] > 1]
        for path in sorted(PROBES.glob("*.jpg")):
            image = cv2.imread(str(path))
            for detection in self.engine.detect(image):
                scores = self.scores(unit(self.engine.embed([(image, detection)])[0]), None)
                person = max(scores, key=scores.get)
                if scores[person] >= IDENTIFY:
                    faces.append(Face(person, path, image, detection))
        return faces


def sharpness_at(image: np.ndarray, box, side: int) -> float:
    kept = face_quality.SHARPNESS_SIDE
    face_quality.SHARPNESS_SIDE = side
    try:
        return face_quality.sharpness(image, box)
    finally:
        face_quality.SHARPNESS_SIDE = kept


def measure(gallery: Gallery, face: Face, kind: str, level: float, image, centre) -> Measured:
    """Detect in `image`, take the detection nearest `centre`, score it."""
    best = None
    for detection in gallery.engine.detect(image):
        x = (detection.box[0] + detection.box[2]) / 2 - centre[0]
        y = (detection.box[1] + detection.box[3]) / 2 - centre[1]
        distance = float(np.hypot(x, y))
        if distance < max(detection.size, 8) / 2 and (best is None or distance < best[0]):
            best = (distance, detection)
    if best is None:
        return Measured(kind, level, found=False)
    detection = best[1]
    quality = assess(image, detection)
    scores = gallery.scores(unit(gallery.engine.embed([(image, detection)])[0]), face.file)
    return Measured(
        kind,
        level,
        found=True,
        genuine=scores[face.person],
        impostor=max(v for k, v in scores.items() if k != face.person),
        size=quality.size,
        sharpness={side: sharpness_at(image, detection.box, side) for side in SIDES},
        yaw=quality.yaw,
        pitch=quality.pitch,
        det_score=quality.det_score,
    )


def centre_of(detection: Detection, scale: float = 1.0, offset=(0, 0)) -> tuple[float, float]:
    x1, y1, x2, y2 = detection.box
    return ((x1 + x2) / 2 * scale + offset[0], (y1 + y2) / 2 * scale + offset[1])


def degraded(gallery: Gallery, faces: list[Face]) -> list[Measured]:
    scene = cv2.GaussianBlur(cv2.resize(cv2.imread(str(SCENE)), (1920, 1080)), (0, 0), 20)
    rng = np.random.default_rng(7)
    out: list[Measured] = []
    for n, face in enumerate(faces, 1):
        image, detection = face.image, face.detection
        for share in BLUR_SHARE:
            blurred = cv2.GaussianBlur(image, (0, 0), share * detection.size) if share else image
            out.append(measure(gallery, face, "blur", share, blurred, centre_of(detection)))
        _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 15])
        jpeg = cv2.imdecode(data, cv2.IMREAD_COLOR)
        out.append(measure(gallery, face, "jpeg", 15, jpeg, centre_of(detection)))
        for gain in (0.3, 0.15):
            noise = rng.normal(0, 2, image.shape)
            dark = np.clip(image * gain + noise, 0, 255).astype(np.uint8)
            out.append(measure(gallery, face, "dark", gain, dark, centre_of(detection)))
        for px in FACE_PX:
            scale = px / (detection.box[2] - detection.box[0])
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            frame = scene.copy()
            h, w = min(small.shape[0], 1080), min(small.shape[1], 1920)
            top, left = min(300, 1080 - h), 400
            frame[top : top + h, left : left + w] = small[:h, :w]
            centre = centre_of(detection, scale, (left, top))
            out.append(measure(gallery, face, "size", px, frame, centre))
        print(f"  {n}/{len(faces)} {face.person} {face.file.name}", flush=True)
    return out


def clip_faces(gallery: Gallery, step: int = 3) -> list[tuple[bool, float, float, float, float]]:
    """(is Lin, his score, best score of anyone, yaw, pitch) for the clip's faces."""
    capture = cv2.VideoCapture(str(CLIP))
    rows, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            for detection in gallery.engine.detect(frame):
                scores = gallery.scores(unit(gallery.engine.embed([(frame, detection)])[0]), None)
                quality = assess(frame, detection)
                lin = index in CLIP_LIN_FRAMES or (
                    index in CLIP_LIN_SMALL[0] and detection.box[0] > CLIP_LIN_SMALL[1]
                )
                rows.append(
                    (
                        lin,
                        scores["lin_manuel_miranda"],
                        max(scores.values()),
                        quality.yaw,
                        quality.pitch,
                    )
                )
        index += 1
    return rows


def median(values) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def share(values, threshold=IDENTIFY) -> str:
    values = list(values)
    return f"{sum(v >= threshold for v in values)}/{len(values)}" if values else "-"


def tables(records: list[Measured], clip, frontal) -> list[str]:
    lines: list[str] = []
    found = [r for r in records if r.found]
    clean = median(r.genuine for r in found if r.kind == "blur" and r.level == 0)

    lines += [
        "Size: the face pasted into a 1080p frame at a width of N px.",
        "",
        "| face px | found | box's shorter side | genuine median | ≥ 0.50 | impostor max |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for px in FACE_PX:
        rows = [r for r in records if r.kind == "size" and r.level == px]
        hit = [r for r in rows if r.found]
        sizes = [r.size for r in hit] or [float("nan")]
        lines.append(
            f"| {px} | {len(hit)}/{len(rows)} | {min(sizes):.1f}–{max(sizes):.1f} "
            f"| {median(r.genuine for r in hit):.3f} | {share(r.genuine for r in hit)} "
            f"| {max((r.impostor for r in hit), default=float('nan')):.3f} |"
        )
    side = face_quality.SHARPNESS_SIDE
    lines += [
        "",
        f"Blur: a Gaussian of sigma = share × the face's size; sharpness at {side} px.",
        "",
        "| sigma / face | sharpness median (min–max) | genuine median | ≥ 0.50 | impostor max |",
        "|---:|---|---:|---:|---:|",
    ]
    for level in BLUR_SHARE:
        hit = [r for r in found if r.kind == "blur" and r.level == level]
        sharp = [r.sharpness[side] for r in hit]
        lines.append(
            f"| {level:.3f} | {median(sharp):.4f} ({min(sharp):.4f}–{max(sharp):.4f}) "
            f"| {median(r.genuine for r in hit):.3f} | {share(r.genuine for r in hit)} "
            f"| {max(r.impostor for r in hit):.3f} |"
        )
    lines += [
        "",
        "Not blur: the same faces at full size, JPEG quality 15 or darkened.",
        "",
        "| degradation | sharpness min | genuine median | ≥ 0.50 |",
        "|---|---:|---:|---:|",
    ]
    for kind, level, label in (
        ("jpeg", 15, "JPEG q15"),
        ("dark", 0.3, "dark ×0.3"),
        ("dark", 0.15, "dark ×0.15"),
    ):
        hit = [r for r in found if r.kind == kind and r.level == level]
        lines.append(
            f"| {label} | {min(r.sharpness[side] for r in hit):.4f} "
            f"| {median(r.genuine for r in hit):.3f} | {share(r.genuine for r in hit)} |"
        )

    # Which scale to measure sharpness at: the one that best separates the
    # faces that should pass (clean, JPEG, dark, small) from those blurred
    # past identification.
    lines += [
        "",
        "Sharpness measured with the face's region shrunk to N px (never enlarged):",
        "lowest value among faces that must pass (clean, JPEG, dark, any size) against",
        "the highest among faces blurred with sigma ≥ 4 % of their size.",
        "",
        "| N px | must pass: min | blurred: max | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for n in SIDES:
        keep = [
            r.sharpness[n]
            for r in found
            if r.kind in ("jpeg", "dark", "size") or (r.kind == "blur" and r.level == 0)
        ]
        blurred = [r.sharpness[n] for r in found if r.kind == "blur" and r.level >= 0.04]
        lines.append(
            f"| {n} | {min(keep):.4f} | {max(blurred):.4f} | {min(keep) / max(blurred):.1f} |"
        )

    gates = RECOGNITION_GATES
    lines += [
        "",
        "Detector score, among faces that pass the recognition gates for size,",
        "sharpness and pose (every degradation above):",
        "",
        "| score | faces | genuine median | ≥ 0.50 |",
        "|---|---:|---:|---:|",
    ]
    rest = [
        r
        for r in found
        if r.size >= gates.min_size
        and r.sharpness[side] >= gates.min_sharpness
        and abs(r.yaw) <= gates.max_yaw
        and abs(r.pitch) <= gates.max_pitch
    ]
    for low, high in ((0.5, 0.6), (0.6, 0.7), (0.7, 0.75), (0.75, 0.8), (0.8, 0.85), (0.85, 1)):
        hit = [r for r in rest if low <= r.det_score < high]
        lines.append(
            f"| {low:.2f}–{high:.2f} | {len(hit)} | {median(r.genuine for r in hit):.3f} "
            f"| {share(r.genuine for r in hit)} |"
        )

    lines += [
        "",
        "Pose, from the Hamilton clip (every 3rd frame): Lin-Manuel Miranda (frames",
        "0–20, small, and 84–210, alone on stage) against his one reference; every",
        "other face of the clip against whoever it resembles most.",
        "",
        "| abs(yaw) | Lin: faces | his median | ≥ 0.50 | others: faces | best score max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for low, high in ((0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 91)):
        lin = [r for r in clip if r[0] and low <= abs(r[3]) < high]
        other = [r for r in clip if not r[0] and low <= abs(r[3]) < high]
        lines.append(
            f"| {low}–{min(high, 90)}° | {len(lin)} | {median(r[1] for r in lin):.3f} "
            f"| {share(r[1] for r in lin)} | {len(other)} "
            f"| {max((r[2] for r in other), default=float('nan')):.3f} |"
        )
    pitches = [r[4] for r in clip if r[0]]
    references = [r for r in found if r.kind == "blur" and r.level == 0]
    lines += [
        "",
        f"Pitch: Lin's faces in the clip span {min(pitches):.0f}° to {max(pitches):.0f}° "
        f"(median {median(pitches):.0f}°); the demo's undegraded faces "
        f"{min(r.pitch for r in references):.0f}° to {max(r.pitch for r in references):.0f}°, "
        f"yaw {min(r.yaw for r in references):.0f}° to {max(r.yaw for r in references):.0f}°.",
        f"Landmarks of the demo's near-frontal faces (abs(yaw) < 15°), in eye distances: "
        f"nose {frontal[0]:.3f} below the eyes (NOSE_DROP), mouth {frontal[1]:.3f} "
        f"(MOUTH_DROP); median genuine score undegraded {clean:.3f}.",
    ]
    return lines


def frontal_drops(gallery: Gallery, faces: list[Face]) -> tuple[float, float]:
    """Median nose and mouth drops below the eye line, in eye distances, of
    the near-frontal faces (what NOSE_DROP and MOUTH_DROP are set from)."""
    noses, mouths = [], []
    for face in faces:
        points = face.detection.keypoints
        if abs(pose(points)[0]) >= 15:
            continue
        eyes = (points[0] + points[1]) / 2
        axis = points[1] - points[0]
        distance = float(np.hypot(*axis))
        across = np.array([-axis[1], axis[0]]) / distance
        noses.append(float((points[2] - eyes) @ across) / distance)
        mouths.append(float(((points[3] + points[4]) / 2 - eyes) @ across) / distance)
    return median(noses), median(mouths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    start = time.perf_counter()
    engine = load_engine("buffalo_s", Path(tempfile.mkdtemp(prefix="studio-quality-")))
    gallery = Gallery(engine)
    faces = gallery.genuine_faces()
    print(f"{len(faces)} genuine faces; degrading each:", flush=True)
    records = degraded(gallery, faces)
    clip = clip_faces(gallery)
    print()
    print("\n".join(tables(records, clip, frontal_drops(gallery, faces))))
    print()
    print(f"gates in use: recognition {RECOGNITION_GATES}")
    print(f"              enrolment   {ENROLMENT_GATES}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
