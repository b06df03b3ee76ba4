"""The face engine on real photos: every photo size yields its face; no silent downloads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import DATA_FACES

from worker.face_engine import FaceEngine, ModelNotFound, parse_det_size, parse_threads

PHOTOS = sorted((DATA_FACES / "people").glob("*/*"))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("width", [150, 800, 2000])
@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_tight_crop_of_any_size_yields_the_face(engine, path, width):
    image = cv2.imread(str(path))
    faces = engine.detect(image)
    assert len(faces) == 1
    x1, y1, x2, y2 = (int(v) for v in faces[0].box)
    crop = image[max(0, y1) : y2, max(0, x1) : x2]  # the face fills the frame
    crop = cv2.resize(crop, (width, round(width * crop.shape[0] / crop.shape[1])))
    crop_faces = engine.detect(crop)
    assert len(crop_faces) == 1
    full, tight = engine.embed([(image, faces[0]), (crop, crop_faces[0])])
    assert _cosine(full, tight) > 0.8, "the crop must give the same person's vector"


@pytest.mark.parametrize(
    ("frame_size", "face_px"), [((1920, 1080), 24), ((1920, 1080), 40), ((3840, 2160), 24)]
)
def test_a_small_face_in_a_large_frame_is_found_and_embedded(engine, frame_size, face_px):
    portrait = cv2.imread(str(DATA_FACES / "people" / "obama" / "obama.jpg"))
    face = engine.detect(portrait)[0]
    x1, _, x2, _ = (int(v) for v in face.box)
    scale = face_px / (x2 - x1)
    small = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = frame_size
    # A plain, blurred scene; the face somewhere off-centre.
    scene = cv2.resize(cv2.imread(str(DATA_FACES / "probes" / "kit_with_rose.jpg")), frame_size)
    frame = cv2.GaussianBlur(scene, (0, 0), 20)
    top, left = height // 3, width // 5
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    found = [d for d in engine.detect(frame) if abs(d.box[0] - (left + x1 * scale)) < face_px / 2]
    assert len(found) == 1, "the small face is found at the frame's own resolution"
    assert found[0].size >= face_px * 0.7
    reference, probe = engine.embed([(portrait, face), (frame, found[0])])
    assert _cosine(reference, probe) > 0.5, "and it is the same person"


def test_det_size_names_the_variable_when_wrong():
    assert parse_det_size(None) is None and parse_det_size("auto") is None
    assert parse_det_size("1920") == 1920
    for bad in ("50x0", "100", "641", "-640", "¹⁶⁰", "②", "６４０", "٦٤٠"):
        with pytest.raises(ValueError, match="STUDIO_DET_SIZE"):
            parse_det_size(bad)


@pytest.mark.parametrize(
    ("det_size", "image", "expected"),
    [
        (None, (501, 700), (512, 704)),  # auto: the image's own size, on the stride
        (None, (3840, 2160), (3840, 2176)),
        (None, (8000, 4000), (4096, 2048)),  # auto never past MAX_FINE_SIDE
        (640, (1920, 1080), (640, 384)),  # a long side shrinks larger images to it
        (8192, (501, 700), (512, 704)),  # and never enlarges smaller ones
        (1280, (640, 480), (640, 480)),
    ],
)
def test_the_detector_input_shrinks_to_det_size_and_never_enlarges(det_size, image, expected):
    engine = FaceEngine.__new__(FaceEngine)  # the arithmetic only: no models
    engine.det_size = det_size
    assert engine.fine_input(*image) == expected


def test_threads_name_the_variable_when_wrong():
    assert parse_threads(None) is None and parse_threads("0") is None
    assert parse_threads("00") is None and parse_threads("1") == 1 and parse_threads(" 16 ") == 16
    for bad in ("", " ", "-1", "257", "1.5", "two", "²", "６", "٦"):
        with pytest.raises(ValueError, match="STUDIO_INFERENCE_THREADS"):
            parse_threads(bad)


def test_an_engine_held_to_one_thread_gives_the_same_vectors(engine, tmp_path_factory):
    from worker.face_engine import OFFLINE_PACK, offline_pack

    single = FaceEngine(offline_pack(tmp_path_factory.mktemp("models")), OFFLINE_PACK, threads=1)
    for session in (single.detector.session, single.recognizer.session):
        options = session.get_session_options()
        assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    image = cv2.imread(str(DATA_FACES / "probes" / "obama_and_biden.jpg"))
    faces, alone = engine.detect(image), single.detect(image)
    assert np.allclose([f.box for f in faces], [f.box for f in alone], atol=0.5)
    both = engine.embed([(image, f) for f in faces])
    assert np.allclose(both, single.embed([(image, f) for f in faces]), atol=1e-3)


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
