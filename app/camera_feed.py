"""Faces on camera feeds: an image, a video file or a stream URL, sampled, identified.

One JSON-ready dict per face seen, with the frame time for video. Frames
come from OpenCV (files, RTSP/HTTP streams); nothing is stored unless
annotated frames are asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from app.person_recognizer import PersonRecognizer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def frames(source: str, fps: float) -> Iterator[tuple[int, float | None, np.ndarray]]:
    """(frame number, seconds into the feed or None for an image, BGR frame)."""
    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(source)
        if image is None:
            raise ValueError(f"{source}: not an image OpenCV can read")
        yield 0, None, image
        return
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f"{source}: not a video or stream OpenCV can open")
    native = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(native / fps))
    number = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if number % step == 0:
                yield number, round(number / native, 3), frame
            number += 1
    finally:
        capture.release()


def recognize_source(
    source: str,
    engine,
    recognizer: PersonRecognizer,
    *,
    fps: float = 2.0,
    k: int = 3,
    annotate_dir: Path | None = None,
) -> Iterator[dict]:
    """Detect, embed and identify every face of the sampled frames."""
    for number, seconds, frame in frames(source, fps):
        faces = engine.detect(frame)
        if not faces:
            continue
        matches = recognizer.match(engine.embed([(frame, f) for f in faces]), k=k)
        for face, match in zip(faces, matches, strict=True):
            yield {
                "source": source,
                "frame": number,
                "time": seconds,
                "box": [round(v) for v in face.box],
                "det_score": round(face.score, 3),
                **match.to_json(),
            }
        if annotate_dir is not None:
            _annotate(frame, faces, matches, annotate_dir / f"frame-{number:06d}.jpg")


def _annotate(frame, faces, matches, path: Path) -> None:
    colours = {"identified": (0, 200, 0), "uncertain": (0, 200, 255), "unknown": (0, 0, 255)}
    for face, match in zip(faces, matches, strict=True):
        x1, y1, x2, y2 = (round(v) for v in face.box)
        colour = colours[match.decision]
        cv2.rectangle(frame, (x1, y1), (x2, y2), colour, 2)
        label = match.best.name if match.decision == "identified" and match.best else match.decision
        cv2.putText(frame, label, (x1, max(0, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), frame)
