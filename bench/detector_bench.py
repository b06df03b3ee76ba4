"""Small faces in camera frames: what the fine (full-size) detector pass finds
and what it costs, against InsightFace's 640-px detector in the same run.

For each frame size (720p, 1080p, 4K) and face size (24, 40, 60 px), each
demo person's face is pasted into a blurred camera-like scene and detected
two ways: STUDIO_DET_SIZE=640 (the old default: every frame shrunk to
640 px) and auto (each frame at its own size, plus the bordered 640 pass for
big faces). Found = a detection on the pasted face whose embedding is nearest
to that person's reference among all the people (identified correctly).
Frames per second are detector + embedding on this machine's CPU.

    .venv/bin/python bench/detector_bench.py [--frames 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from worker.face_engine import FaceEngine, load_engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PEOPLE = PROJECT_ROOT / "demo" / "people"
SCENE = PROJECT_ROOT / "demo" / "probes" / "kit_with_rose.jpg"
FRAMES = {"720p": (1280, 720), "1080p": (1920, 1080), "4K": (3840, 2160)}
FACE_SIZES = (24, 40, 60)


def references(engine: FaceEngine) -> tuple[list[str], np.ndarray, list[tuple]]:
    """One (name, unit vector) per person, and their portrait with its face."""
    names, vectors, portraits = [], [], []
    for folder in sorted(p for p in PEOPLE.iterdir() if p.is_dir()):
        image = cv2.imread(str(sorted(folder.iterdir())[0]))
        face = max(engine.detect(image), key=lambda d: d.size)
        names.append(folder.name)
        vectors.append(engine.embed([(image, face)])[0])
        portraits.append((image, face))
    matrix = np.asarray(vectors)
    return names, matrix / np.linalg.norm(matrix, axis=1, keepdims=True), portraits


def frame_with(portrait, frame_size, face_px, rng) -> tuple[np.ndarray, tuple[float, float]]:
    image, face = portrait
    scale = face_px / (face.box[2] - face.box[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = frame_size
    frame = cv2.GaussianBlur(cv2.resize(cv2.imread(str(SCENE)), frame_size), (0, 0), 20)
    h, w = min(small.shape[0], height), min(small.shape[1], width)
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    frame[top : top + h, left : left + w] = small[:h, :w]
    return frame, (left + face.box[0] * scale, top + face.box[1] * scale)


def run(frames_per_cell: int) -> list[str]:
    root = Path(tempfile.mkdtemp(prefix="studio-det-bench-"))
    engines = {
        "640": load_engine("buffalo_s", root, det_size=640),
        "auto": load_engine("buffalo_s", root, det_size=None),
    }
    names, matrix, portraits = references(engines["auto"])
    rows = [
        "| frame | face px | found and identified, 640 | same, auto | fps 640 | fps auto | cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, size in FRAMES.items():
        for face_px in FACE_SIZES:
            rng = np.random.default_rng(face_px)
            cases = [
                (person, *frame_with(portraits[person], size, face_px, rng))
                for _ in range(frames_per_cell)
                for person in range(len(names))
            ]
            found = dict.fromkeys(engines, 0)
            seconds = dict.fromkeys(engines, 0.0)
            for person, frame, (x, y) in cases:
                for mode, engine in engines.items():  # interleaved: same load for both
                    start = time.perf_counter()
                    faces = engine.detect(frame)
                    vectors = engine.embed([(frame, f) for f in faces])
                    seconds[mode] += time.perf_counter() - start
                    for face, vector in zip(faces, vectors, strict=True):
                        if (
                            abs(face.box[0] - x) < face_px / 2
                            and abs(face.box[1] - y) < face_px / 2
                        ):
                            best = int(np.argmax(matrix @ (vector / np.linalg.norm(vector))))
                            found[mode] += best == person
                            break
            n = len(cases)
            fps = {mode: n / seconds[mode] for mode in engines}
            rows.append(
                f"| {label} | {face_px} | {found['640']}/{n} | {found['auto']}/{n} "
                f"| {fps['640']:.1f} | {fps['auto']:.1f} | {fps['640'] / fps['auto']:.1f}× |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=6, help="frames per person and cell")
    args = parser.parse_args()
    rows = run(args.frames)
    write_section(
        "detector",
        "Small faces in camera frames: detector at 640 px against each frame's own size",
        f".venv/bin/python bench/detector_bench.py --frames {args.frames}",
        [
            "buffalo_s on CPU (2 cores). Found = the pasted face detected and its",
            "embedding nearest to the right person among the demo people;",
            "cost = how many times slower auto is than 640 per frame.",
            "",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
