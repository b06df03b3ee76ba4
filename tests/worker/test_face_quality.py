"""Face quality: the pose estimate on exact landmark geometry, sharpness at a
face's own scale, the gates on real faces with the buffalo_s models, and the
enrolment gates in a real job."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from helpers import DATA_FACES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_support import FAST, catalog_client, catalog_of

from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import Person
from worker.face_embed_worker import FaceEmbedWorker, WorkerSettings, assessed, choose_face
from worker.face_engine import Detection
from worker.face_quality import (
    ENROLMENT_GATES,
    MOUTH_DROP,
    NOSE_DEPTH,
    NOSE_DROP,
    REASONS,
    RECOGNITION_GATES,
    FaceQuality,
    assess,
    pose,
    sharpness,
)
from worker.folder_catalog import FolderCatalog

OBAMA = DATA_FACES / "people" / "obama" / "obama.jpg"
BIDEN = DATA_FACES / "people" / "biden" / "biden.jpg"
FAST_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def face_model(yaw: float, pitch: float, roll: float, scale: float, centre) -> np.ndarray:
    """The five landmarks of the face model that `pose()` assumes, pitched
    (positive: up) and then turned (positive: the nose to the image's right),
    rolled, scaled and placed, projected orthographically."""
    model = np.array(
        [[-0.5, 0, 0], [0.5, 0, 0], [0, NOSE_DROP, NOSE_DEPTH], [-0.4, MOUTH_DROP, 0],
         [0.4, MOUTH_DROP, 0]]
    )  # fmt: skip
    p, y, r = (math.radians(v) for v in (pitch, yaw, roll))
    # y points down the face, so pitching up moves the nose tip up (-y).
    up = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    turn = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    flat = (turn @ up @ model.T).T[:, :2]
    rolled = flat @ np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
    return rolled * scale + np.asarray(centre)


placements = {
    "roll": st.floats(-180, 180),
    "scale": st.floats(5, 3000),
    "centre": st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
}


@FAST_PROPERTY
@given(yaw=st.floats(-75, 75), pitch=st.floats(-30, 60), **placements)
def test_pose_inverts_the_face_model(yaw, pitch, roll, scale, centre):
    estimate = pose(face_model(yaw, pitch, roll, scale, centre))
    assert estimate == pytest.approx((yaw, pitch), abs=0.05)


@FAST_PROPERTY
@given(yaw=st.floats(-60, 60), pitch=st.floats(-75, -45), **placements)
def test_a_face_pitched_far_down_is_told_by_its_mouth(yaw, pitch, roll, scale, centre):
    # Past about -39° the nose alone cannot tell this pose from a milder one.
    estimate = pose(face_model(yaw, pitch, roll, scale, centre))
    assert estimate == pytest.approx((yaw, pitch), abs=0.05)


@FAST_PROPERTY
@given(
    shift=st.floats(0.01, 0.5),
    more=st.floats(0.01, 0.5),
    sign=st.sampled_from([-1, 1]),
    roll=placements["roll"],
    scale=placements["scale"],
    centre=placements["centre"],
)
def test_moving_the_nose_turns_the_face_that_way_and_further(
    shift, more, sign, roll, scale, centre
):
    """Frontal is zero; the nose moved along the eye line turns the face to
    that side, further the further it moves; moved up, it tilts the face up."""
    frontal = face_model(0, 0, roll, scale, centre)
    assert pose(frontal) == pytest.approx((0, 0), abs=1e-4)
    along = frontal[1] - frontal[0]  # one eye distance, along the eye line
    down = np.array([-along[1], along[0]])  # one eye distance, down the face

    def moved(offset):
        points = frontal.copy()
        points[2] = points[2] + offset
        return pose(points)

    yaw_near, _ = moved(sign * shift * along)
    yaw_far, _ = moved(sign * (shift + more) * along)
    assert math.copysign(1, yaw_near) == sign
    assert abs(yaw_far) > abs(yaw_near) > 0
    _, pitch_near = moved(-shift * NOSE_DROP * down)
    _, pitch_far = moved(-min(0.99, shift + more) * NOSE_DROP * down)
    assert 0 < pitch_near < pitch_far


@pytest.mark.parametrize(
    "points",
    [
        np.zeros((5, 2)),  # every landmark on one point
        np.array([[0, 0], [10, 0], [5, 5], [2, -10], [8, -10]]),  # mouth above the eyes
        np.full((5, 2), np.nan),
    ],
    ids=["one_point", "mouth_above_eyes", "nan"],
)
def test_landmarks_no_face_could_have_are_turned(points):
    quality = assess(np.zeros((100, 100, 3), np.uint8), Detection((0, 0, 50, 50), 0.9, points))
    assert "turned" in quality.reasons(RECOGNITION_GATES)


qualities = st.builds(
    FaceQuality,
    size=st.floats(0, 4000),
    sharpness=st.floats(0, 20),
    yaw=st.floats(-90, 90),
    pitch=st.floats(-90, 90),
    det_score=st.floats(0, 1),
)


@FAST_PROPERTY
@given(quality=qualities, better=qualities)
def test_weight_reasons_and_json_hold_together(quality, better):
    recognition, enrolment = quality.reasons(RECOGNITION_GATES), quality.reasons(ENROLMENT_GATES)
    assert recognition == [r for r in REASONS if r in recognition]
    assert set(recognition) <= set(enrolment), "enrolment is the stricter set"
    assert 0 < quality.weight <= 1
    assert (quality.weight == 1) == (not enrolment)
    if recognition:
        assert quality.weight <= 0.25
    # Improving one measure never lowers the weight.
    for field, improved in (
        ("size", max(quality.size, better.size)),
        ("sharpness", max(quality.sharpness, better.sharpness)),
        ("yaw", min(quality.yaw, better.yaw, key=abs)),
        ("pitch", min(quality.pitch, better.pitch, key=abs)),
        ("det_score", max(quality.det_score, better.det_score)),
    ):
        values = {**quality.__dict__, field: improved}
        assert FaceQuality(**values).weight >= quality.weight
    answer = quality.to_json()
    assert json.loads(json.dumps(answer)) == answer
    assert all(type(v) is float for v in answer.values())
    assert answer["weight"] == round(quality.weight, 3)


@pytest.fixture(scope="module")
def obama(engine):
    image = cv2.imread(str(OBAMA))
    (face,) = engine.detect(image)
    return image, face


def _scaled(image, face, size):
    """The photo shrunk so that the face is `size` px wide, and its box there."""
    scale = size / (face.box[2] - face.box[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return small, tuple(v * scale for v in face.box)


@FAST_PROPERTY
@given(size=st.integers(20, 230))
def test_sharpness_does_not_punish_a_small_face(obama, size):
    image, face = obama
    small, box = _scaled(image, face, size)
    assert sharpness(small, box) >= ENROLMENT_GATES.min_sharpness


@FAST_PROPERTY
@given(gain=st.floats(0.25, 1.0))
def test_a_dark_face_is_not_a_blurred_one(obama, gain):
    image, face = obama
    dark = np.round(image * gain).astype(np.uint8)
    assert sharpness(dark, face.box) == pytest.approx(sharpness(image, face.box), rel=0.15)


def test_sharpness_falls_as_blur_grows(obama):
    image, face = obama
    values = [
        sharpness(cv2.GaussianBlur(image, (0, 0), share * face.size) if share else image, face.box)
        for share in (0, 0.01, 0.02, 0.04, 0.08)
    ]
    assert values == sorted(values, reverse=True) and values[-1] < values[0] / 20


def test_a_sharp_frontal_face_passes_both_gates(obama):
    quality = assess(*obama)
    assert quality.reasons(RECOGNITION_GATES) == [] and quality.reasons(ENROLMENT_GATES) == []
    assert abs(quality.yaw) < 10 and quality.weight == 1


def test_a_heavily_blurred_face_fails_blurred(engine, obama):
    image, face = obama
    blurred = cv2.GaussianBlur(image, (0, 0), 0.08 * face.size)
    (found,) = engine.detect(blurred)
    quality = assess(blurred, found)
    assert "blurred" in quality.reasons(RECOGNITION_GATES)
    assert "blurred" in quality.reasons(ENROLMENT_GATES)


@pytest.mark.parametrize("frame_size", [(1920, 1080), (3840, 2160)])
def test_a_24_px_face_in_a_large_frame_can_be_identified_but_not_enrolled(
    engine, obama, frame_size
):
    image, face = obama
    small, box = _scaled(image, face, 24)
    width, height = frame_size
    scene = cv2.resize(cv2.imread(str(DATA_FACES / "probes" / "kit_with_rose.jpg")), frame_size)
    frame = cv2.GaussianBlur(scene, (0, 0), 20)
    top, left = height // 3, width // 5
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    found = [d for d in engine.detect(frame) if abs(d.box[0] - (left + box[0])) < 12]
    assert len(found) == 1
    quality = assess(frame, found[0])
    assert quality.reasons(RECOGNITION_GATES) == [], quality
    assert quality.reasons(ENROLMENT_GATES) == ["small_face"], quality


def test_a_face_turned_away_fails_turned(obama):
    image, face = obama
    x1, y1, x2, y2 = face.box
    centre = ((x1 + x2) / 2, (y1 + y2) / 2.2)
    for yaw, pitch in ((60, 0), (-60, 0), (0, 50), (0, -50)):
        landmarks = face_model(yaw, pitch, 0, (x2 - x1) * 0.45, centre)
        quality = assess(image, Detection(face.box, face.score, landmarks))
        assert quality.reasons(RECOGNITION_GATES) == ["turned"], (yaw, pitch, quality)


def test_a_face_in_profile_in_the_clip_fails_turned(engine):
    capture = cv2.VideoCapture(str(DATA_FACES / "probes" / "short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 30)  # a man in profile fills the left of the stage
    ok, frame = capture.read()
    capture.release()
    assert ok
    profile = max(engine.detect(frame), key=lambda d: d.size)
    quality = assess(frame, profile)
    assert "turned" in quality.reasons(RECOGNITION_GATES) and abs(quality.yaw) > 60


def _with_pasted(base, other, size, blur):
    """`base` with `other`'s face pasted in its lower right corner, `size` px wide."""
    image, _ = base
    pasted, face = other
    small, box = _scaled(pasted, face, size)
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, y1 = max(0, x1 - size // 4), max(0, y1 - size // 4)
    crop = small[y1 : y2 + size // 4, x1 : x2 + size // 4]
    if blur:
        crop = cv2.GaussianBlur(crop, (0, 0), blur * size)
    out = image.copy()
    h, w = crop.shape[:2]
    out[-h - 10 : -10, -w - 10 : -10] = crop
    return out


def test_a_bystander_too_poor_to_recognise_does_not_make_the_photo_ambiguous(engine, obama):
    biden_image = cv2.imread(str(BIDEN))
    biden = (biden_image, max(engine.detect(biden_image), key=lambda d: d.size))
    person = Person("obama", "Barack Obama")
    blurred = _with_pasted(obama, biden, 90, 0.08)
    faces = assessed(blurred, engine.detect(blurred))
    assert len(faces) == 2, "the blurred bystander is found"
    face, reason = choose_face(faces, person, WorkerSettings())
    assert reason is None and face.box == pytest.approx(obama[1].box, abs=2)

    sharp = _with_pasted(obama, biden, 90, 0)
    faces = assessed(sharp, engine.detect(sharp))
    assert len(faces) == 2 and all(q.passes(RECOGNITION_GATES) for _, q in faces)
    assert choose_face(faces, person, WorkerSettings()) == (None, "ambiguous")


def test_a_blurred_reference_is_refused_and_named_in_the_job_summary(
    studio, engine, tmp_path, conn
):
    image = cv2.imread(str(DATA_FACES / "people" / "obama" / "obama2.jpg"))
    (face,) = engine.detect(image)
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(image, (0, 0), 0.08 * face.size))
    root = tmp_path / "people"
    photos = {"obama": [OBAMA, blurred], "biden": [BIDEN]}
    with catalog_of(root, photos) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        FaceEmbedWorker(studio, catalog, engine, FAST).run(exit_when_idle=True)
    blurred_id = next(
        p.id for p in FolderCatalog.scan(root).photos.values() if p.path.name == "1.jpg"
    )
    result = studio.job(job["job_id"])["result"]
    assert result["skipped"] == {"blurred": 1}
    assert result["skipped_photos"] == [{"photo_id": blurred_id, "reason": "blurred"}]
    assert result["embeddings_stored"] == 2
    counts = conn.execute(
        "SELECT i.external_id, count(*) FROM identities i JOIN embeddings e USING (identity_id) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [("biden", 1), ("obama", 1)]
    # What was stored for obama is the sharp photo's face, not the blurred one's.
    sharp = cv2.imread(str(OBAMA))
    expected = engine.embed([(sharp, engine.detect(sharp)[0])])[0]
    similarity = conn.execute(
        "SELECT 1 - (e.vector <=> %s::vector) FROM identities i JOIN embeddings e "
        "USING (identity_id) WHERE i.external_id = 'obama'",
        (str(expected.tolist()),),
    ).fetchone()[0]
    assert similarity > 0.999
