"""Frames from a camera feed: an image, a video file, or a stream URL.

Frames are sampled at a chosen rate and held in memory only. A stream
(any source written as a URL: rtsp://, http://, ...) that drops or cannot
be opened is opened again after a growing pause, because cameras reboot
and networks blink; a file simply ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("camera")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# Pauses before reopening a stream: doubled after each failed try up to the
# cap, and back to the first once a frame arrives again.
FIRST_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 30.0


class SourceError(ValueError):
    """The source cannot be read: no such file, not an image or video, or a
    stream that stayed away longer than allowed."""


@dataclass(frozen=True)
class Frame:
    number: int  # frame number in the file, or frames read from a stream since start
    seconds: float | None  # time into the feed; None for a still image
    image: np.ndarray  # BGR
    at: float = 0.0  # wall-clock time it was read (time.time())


def is_stream(source: str) -> bool:
    return "://" in source


def is_image(source: str) -> bool:
    return not is_stream(source) and Path(source).suffix.lower() in IMAGE_SUFFIXES


def check_source(source: str) -> None:
    """Refuse a missing or unreadable file before any model is loaded. Raises SourceError."""
    if is_stream(source):
        return
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{source}: no such file")
    if not path.is_file():
        raise SourceError(f"{source}: not a file")


def frames(
    source: str,
    fps: float,
    *,
    max_retries: int | None = None,
    open_capture: Callable[[str], cv2.VideoCapture] = cv2.VideoCapture,
    sleep: Callable[[float], object] = time.sleep,
    stop: threading.Event | None = None,
) -> Iterator[Frame]:
    """Frames of `source` sampled at about `fps` a second. A stream is reopened
    after a drop, `max_retries` times in a row at most (None: for ever), until
    `stop` is set. Raises SourceError."""
    check_source(source)
    if is_image(source):
        image = cv2.imread(source)
        if image is None:
            raise SourceError(f"{source}: not an image this tool can read")
        yield Frame(0, None, image, time.time())
        return
    if not is_stream(source):
        yield from _sampled(source, open_capture(source), fps, start=0, stream=False)
        return
    failures = 0
    pause = FIRST_PAUSE_SECONDS
    read = 0
    while not (stop and stop.is_set()):
        before = read
        for frame in _sampled(source, open_capture(source), fps, start=read, stream=True):
            read = frame.number + 1
            failures, pause = 0, FIRST_PAUSE_SECONDS
            yield frame
        if read == before:
            failures += 1
        if max_retries is not None and failures > max_retries:
            raise SourceError(f"{source}: stream unavailable after {max_retries} retries")
        log.warning("%s: stream dropped or unavailable; reopening in %.0f s", source, pause)
        if stop:
            stop.wait(pause)
        else:
            sleep(pause)
        pause = min(MAX_PAUSE_SECONDS, pause * 2)


def _sampled(
    source: str, capture: cv2.VideoCapture, fps: float, *, start: int, stream: bool
) -> Iterator[Frame]:
    """Every n-th frame of one opened capture, numbered on from `start`."""
    try:
        if not capture.isOpened():
            if stream:
                return
            raise SourceError(f"{source}: not a video this tool can read")
        native = capture.get(cv2.CAP_PROP_FPS)
        native = native if 0 < native < 1000 else 25.0  # streams often report nothing
        step = max(1, round(native / fps))
        number = start
        seen = 0
        while True:
            ok, image = capture.read()
            if not ok:
                if not stream and seen == 0:
                    raise SourceError(f"{source}: no frame could be decoded")
                return
            if number % step == 0:
                yield Frame(number, round(number / native, 3), image, time.time())
            number += 1
            seen += 1
    finally:
        capture.release()
