"""Frames from files and streams: missing files refused early, streams reopened
with growing pauses after a drop, through OpenCV and a real HTTP stream."""

from __future__ import annotations

from itertools import islice, pairwise

import numpy as np
import pytest
from helpers import DATA_FACES

from worker.camera_feed import (
    FIRST_PAUSE_SECONDS,
    MAX_PAUSE_SECONDS,
    SourceError,
    check_source,
    frames,
)

CLIP = DATA_FACES / "probes" / "short_hamilton_clip.mp4"


def test_missing_file_is_refused_before_anything_is_read(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        check_source(str(tmp_path / "nope.jpg"))
    with pytest.raises(SourceError, match="not a file"):
        list(frames(str(tmp_path), 2.0))


def test_a_file_that_is_no_image_or_video_is_a_clear_error(tmp_path):
    for name in ("broken.jpg", "broken.mp4"):
        (tmp_path / name).write_bytes(b"not a picture at all")
        with pytest.raises(SourceError, match=name):
            list(frames(str(tmp_path / name), 2.0))


def test_a_video_file_is_sampled_and_ends():
    sampled = list(frames(str(CLIP), 2.0))
    assert 15 <= len(sampled) <= 25  # about ten seconds at two frames a second
    times = [f.seconds for f in sampled]
    assert times == sorted(times) and all(
        b - a == pytest.approx(0.5, abs=0.05) for a, b in pairwise(times)
    )


class FlakyCapture:
    """A stream that gives `frames_per_open[i]` frames on its i-th opening, then drops."""

    def __init__(self, script: list[int]):
        self.script = script
        self.opened = 0

    def __call__(self, source: str):
        count = self.script[self.opened] if self.opened < len(self.script) else 0
        self.opened += 1
        return _Capture(count)


class _Capture:
    def __init__(self, count: int):
        self.left = count

    def isOpened(self) -> bool:
        return self.left > 0

    def get(self, prop: int) -> float:
        return 10.0

    def read(self):
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        pass


def test_a_dropped_stream_is_reopened_with_growing_pauses_reset_by_a_frame():
    pauses: list[float] = []
    capture = FlakyCapture([5, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0])
    feed = frames("rtsp://camera/1", 10.0, max_retries=8, open_capture=capture, sleep=pauses.append)
    numbers = [f.number for f in islice(feed, 8)]
    assert numbers == list(range(8))  # numbering goes on across reopenings
    with pytest.raises(SourceError, match="after 8 retries"):
        list(feed)
    # after the first drop: 1 s, then 2, 4; frames came back, so 1 s again,
    # doubling up to the cap.
    first = FIRST_PAUSE_SECONDS
    assert pauses[:4] == [first, first * 2, first * 4, first]
    assert max(pauses) <= MAX_PAUSE_SECONDS
    assert pauses[4:] == sorted(pauses[4:])


def test_a_stream_that_never_opens_is_given_up_after_max_retries():
    pauses: list[float] = []
    feed = frames(
        "rtsp://nowhere/1", 2.0, max_retries=3, open_capture=FlakyCapture([]), sleep=pauses.append
    )
    with pytest.raises(SourceError, match="unavailable after 3 retries"):
        list(feed)
    assert len(pauses) == 3


def test_a_real_http_stream_is_read_again_after_it_ends_and_given_up_when_gone(mjpeg_camera):
    server, url = mjpeg_camera(frames=20)
    pauses: list[float] = []
    feed = frames(url, 25.0, max_retries=2, sleep=pauses.append)
    got = list(islice(feed, 50))  # 20 frames an opening: two reopenings
    assert [f.number for f in got] == list(range(50))
    assert pauses == [FIRST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS]
    server.shutdown()
    server.server_close()
    with pytest.raises(SourceError, match="after 2 retries"):
        list(feed)
