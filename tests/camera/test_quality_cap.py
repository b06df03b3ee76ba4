"""A face failing the recognition quality gates is never named and never
stamps a sighting, whatever the matcher says of it."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from helpers import DATA_FACES

from worker.camera_feed import Frame
from worker.camera_recognition import identify_frame


class EveryoneIsObama:
    """A matcher that names every face, and notes which faces may stamp a sighting."""

    model = "buffalo_s"

    def __init__(self):
        self.calls: list[tuple[int, bool]] = []

    def match(self, probes, k, record_sighting):
        self.calls.append((len(probes), record_sighting))
        best = {
            "identity_id": "1",
            "external_id": "obama",
            "source_system": "s",
            "name": "Obama",
            "similarity": 0.9,
        }
        return [
            {
                "decision": "identified",
                "identity": best,
                "name": "Obama",
                "external_id": "obama",
                "similarity": 0.9,
                "candidates": [best],
            }
            for _ in probes
        ]

    def gallery(self):
        return [{"model": "buffalo_s", "identities": 1, "references": 1}]


class WithAPoorCopy:
    """The real engine, plus a copy of each face with a detector score of 0.3."""

    def __init__(self, engine):
        self.engine = engine

    def detect(self, image):
        faces = self.engine.detect(image)
        return faces + [dataclasses.replace(f, score=0.3) for f in faces]

    def embed(self, faces):
        return self.engine.embed(faces)


def test_a_face_failing_a_gate_is_held_at_uncertain_and_stamps_no_sighting(engine):
    image = cv2.imread(str(DATA_FACES / "probes" / "obama1.jpg"))
    matcher = EveryoneIsObama()
    lines, observations = identify_frame(
        Frame(0, None, image), WithAPoorCopy(engine), matcher, k=3, record=True
    )
    good, poor = lines
    assert good["decision"] == "identified" and good["name"] == "Obama"
    assert good["quality"]["reasons"] == []
    assert poor["decision"] == "uncertain" and poor["name"] is None
    assert poor["identity"] is None and poor["external_id"] is None
    assert poor["candidates"][0]["name"] == "Obama"  # still listed, for a human
    assert "low_detection_score" in poor["quality"]["reasons"]
    # One call may stamp sightings (the good face), the other may not.
    assert sorted(matcher.calls) == [(1, False), (1, True)]
    assert [o.result["decision"] for o in observations] == ["identified", "uncertain"]
    assert all(np.isclose(np.linalg.norm(o.embedding), 1.0) for o in observations)
