"""Who is on camera: detect, assess, embed and identify the faces of a feed.

The camera side holds frames in memory only and sends embeddings, never
images, to whatever matches them: Studio's `POST /api/recognize` (ApiMatcher,
with a token; no database credentials on the camera box), or the `studio`
command's own recognizer when it runs beside the database.

A face that fails the recognition quality gates (worker/face_quality.py) is
at most `uncertain`, with its reasons in the output, and never stamps a
sighting. In a video the faces are followed as tracks (worker/face_tracks.py)
and each track is decided once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from worker.camera_feed import Frame, SourceError, frames
from worker.face_engine import FaceEngine
from worker.face_quality import RECOGNITION_GATES, assess
from worker.face_tracks import Observation, Tracker, decide_track
from worker.studio_client import StudioClient

PROBES_PER_CALL = 256  # the API's limit per recognize call


class Matcher(Protocol):
    """Matches probe embeddings against the gallery of one model."""

    model: str

    def match(self, probes: np.ndarray, k: int, record_sighting: bool) -> list[dict]:
        """One recognize result (decision, candidates, ...) per probe row."""

    def gallery(self) -> list[dict]:
        """Identities and references per model, as GET /api/gallery lists them."""


class ApiMatcher:
    """Studio's recognize endpoint, with the camera's token."""

    def __init__(self, client: StudioClient, model: str):
        self.client = client
        self.model = model

    def match(self, probes: np.ndarray, k: int, record_sighting: bool) -> list[dict]:
        results: list[dict] = []
        for start in range(0, len(probes), PROBES_PER_CALL):
            chunk = probes[start : start + PROBES_PER_CALL]
            answer = self.client.recognize(
                chunk.tolist(), model=self.model, k=k, record_sighting=record_sighting
            )
            results.extend(answer["results"])
        return results

    def gallery(self) -> list[dict]:
        return self.client.gallery()["models"]


def gallery_warning(matcher: Matcher) -> str | None:
    """Why every face would come out unknown, or None when the model has references."""
    models = {row["model"]: row for row in matcher.gallery()}
    row = models.get(matcher.model)
    if row and row["references"]:
        return None
    others = ", ".join(f"{m} ({r['references']} references)" for m, r in sorted(models.items()))
    where = f"it holds references of {others} only" if others else "it is empty"
    return (
        f"the gallery has no reference faces of model {matcher.model} ({where}); every face "
        f"will be unknown: enrol people with this model, or set STUDIO_MODEL to one the gallery has"
    )


def recognize_source(
    source: str,
    engine: FaceEngine,
    matcher: Matcher,
    *,
    fps: float = 2.0,
    k: int = 3,
    per_frame: bool = False,
    record_sightings: bool = False,
    annotate_dir: Path | None = None,
    max_retries: int | None = None,
    stop: threading.Event | None = None,
    on_frame: Callable[[Frame, list[dict]], None] | None = None,
) -> Iterator[dict]:
    """JSON-ready lines: for an image, one `face` line per face; for a video or
    stream, one `track` line per track when it ends, and each frame's `face`
    lines too when `per_frame`. Once `stop` is set, the open tracks are
    finished and the feed is left. `on_frame` hears of every sampled frame
    with its faces' lines. Raises camera_feed.SourceError."""
    tracker: Tracker | None = None
    stop = stop or threading.Event()
    try:
        for frame in frames(source, fps, max_retries=max_retries, stop=stop):
            if stop.is_set():
                break
            if frame.seconds is not None and tracker is None:
                tracker = Tracker()
            lines, observations = identify_frame(frame, engine, matcher, k, record_sightings)
            if on_frame is not None:
                on_frame(frame, lines)
            if annotate_dir is not None and lines:
                _annotate(frame, lines, annotate_dir / f"frame-{frame.number:06d}.jpg")
            if tracker is None:
                yield from ({"kind": "face", "source": source, **line} for line in lines)
                continue
            ids, closed = tracker.update(frame.seconds, observations)
            yield from (_track_line(source, t) for t in closed)
            if per_frame:
                for line, track_id in zip(lines, ids, strict=True):
                    yield {"kind": "face", "source": source, "track": track_id, **line}
    except SourceError:
        # The feed is gone: the faces seen so far still make their tracks.
        if tracker is not None:
            yield from (_track_line(source, t) for t in tracker.finish())
        raise
    if tracker is not None:
        yield from (_track_line(source, t) for t in tracker.finish())


def identify_frame(
    frame: Frame, engine: FaceEngine, matcher: Matcher, k: int, record: bool = False
) -> tuple[list[dict], list[Observation]]:
    """One frame's faces: a line each (box, quality, the recognize answer capped
    by quality) and an observation each for the tracker."""
    detections = engine.detect(frame.image)
    if not detections:
        return [], []
    qualities = [assess(frame.image, d) for d in detections]
    reasons = [q.reasons(RECOGNITION_GATES) for q in qualities]
    vectors = engine.embed([(frame.image, d) for d in detections])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    results = _match(matcher, vectors, k, [record and not r for r in reasons])
    lines, observations = [], []
    for detection, quality, why, vector, result in zip(
        detections, qualities, reasons, vectors, results, strict=True
    ):
        result = capped(result, why)
        lines.append(
            {
                "frame": frame.number,
                "time": frame.seconds,
                "box": [round(v) for v in detection.box],
                "det_score": round(detection.score, 3),
                **result,
                "quality": {**quality.to_json(), "reasons": why},
            }
        )
        observations.append(
            Observation(
                frame.number,
                frame.seconds or 0.0,
                detection.box,
                vector,
                quality.weight,
                result,
                frame.at,
            )
        )
    return lines, observations


def _match(matcher: Matcher, vectors: np.ndarray, k: int, record: Sequence[bool]) -> list[dict]:
    """Match every face, stamping sightings only for the faces allowed to."""
    results: list[dict | None] = [None] * len(vectors)
    for flag in (True, False):
        rows = [i for i, r in enumerate(record) if r is flag]
        if rows:
            for i, result in zip(rows, matcher.match(vectors[rows], k, flag), strict=True):
                results[i] = result
    return results  # type: ignore[return-value]


def capped(result: dict, reasons: list[str]) -> dict:
    """A face that failed a quality gate is at most uncertain: its best
    candidate stays listed, but nobody is named."""
    if not reasons or result["decision"] != "identified":
        return result
    return {**result, "decision": "uncertain", "identity": None, "name": None, "external_id": None}


def _track_line(source: str, track) -> dict:
    observations = track.observations
    return {
        "kind": "track",
        "source": source,
        "track": track.track_id,
        "start": observations[0].seconds,
        "end": observations[-1].seconds,
        "started_at": _iso(observations[0].at),
        "ended_at": _iso(observations[-1].at),
        "frames": len(observations),
        **decide_track(track),
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def _annotate(frame: Frame, lines: list[dict], path: Path) -> None:
    colours = {"identified": (0, 200, 0), "uncertain": (0, 200, 255), "unknown": (0, 0, 255)}
    image = frame.image.copy()
    for line in lines:
        x1, y1, x2, y2 = line["box"]
        colour = colours[line["decision"]]
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        label = line["name"] or line["decision"]
        cv2.putText(image, label, (x1, max(0, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
