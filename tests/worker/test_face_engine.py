"""The face engine on real photos: every photo size yields its face; no silent downloads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import DATA_FACES

from worker.face_engine import FaceEngine, ModelNotFound

PHOTOS = sorted((DATA_FACES / "people").glob("*/*"))


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_full_photo_and_tight_150px_crop_both_yield_the_face(engine, path):
    image = cv2.imread(str(path))
    faces = engine.detect(image)
    assert len(faces) == 1
    x1, y1, x2, y2 = (int(v) for v in faces[0].box)
    crop = image[max(0, y1) : y2, max(0, x1) : x2]  # the face fills the frame
    crop = cv2.resize(crop, (150, round(150 * crop.shape[0] / crop.shape[1])))
    crop_faces = engine.detect(crop)
    assert len(crop_faces) == 1
    full, tight = engine.embed([(image, faces[0]), (crop, crop_faces[0])])
    cosine = float(full @ tight / np.linalg.norm(full) / np.linalg.norm(tight))
    assert cosine > 0.8, "the crop must give the same person's vector"


def test_embeddings_are_512_floats_and_batched(engine):
    image = cv2.imread(str(DATA_FACES / "probes" / "obama_and_biden.jpg"))
    faces = engine.detect(image)
    vectors = engine.embed([(image, face) for face in faces])
    assert vectors.shape == (len(faces), 512) and len(faces) >= 2
    assert np.all(np.isfinite(vectors))


def test_missing_model_folder_is_a_clear_error_not_a_download(tmp_path, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the engine tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ModelNotFound, match="buffalo_l"):
        FaceEngine(tmp_path, "buffalo_l")


def test_the_provider_that_runs_is_reported(engine):
    assert set(engine.providers) == {"detection", "recognition"}
    assert all(p.endswith("ExecutionProvider") for p in engine.providers.values())
