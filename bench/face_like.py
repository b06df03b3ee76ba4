"""Galleries of any size whose neighbourhoods are those of real faces.

Uniform random vectors have no neighbourhoods (every point is about as far
from every other), so an index tuned or measured on them says nothing about
faces. Here every vector comes from a real embedding:

1. The real cloud. Each face of the demo photos (demo/people, and the
   labelled faces of demo/probes) and of InsightFace's sample photos (people
   nobody enrolled) is cut out with a margin and augmented VIEWS times:
   mirrored, cropped and shifted, rotated a little, blurred, darkened or
   brightened, JPEG-compressed, shrunk to a camera-sized face. Each view is
   detected and embedded again by the real model (buffalo_s on CPU), so the
   spread of one person's vectors is the model's own answer to changes of
   pose, light and quality; people with several photos add the larger spread
   between photos.
2. New people. A synthetic identity is a real person's cloud moved by an
   orthogonal map (a rotation): every cosine inside the cloud is kept, so the
   within-identity spread stays the real one, while the cloud lands in a new
   place. The map leaves the direction all face embeddings share (their mean)
   alone and permutes and sign-flips the coordinates orthogonal to it, so two
   synthetic people are as similar as two real strangers, not as two random
   vectors. Each vector is then perturbed a little (cosine about 0.98 to its
   source), so no two identities are exact copies of one geometry.

A gallery is `identities` people with `per` references each, drawn from
their cloud, and one held-out view per person to use as a probe (a new photo
of a known person). The real cloud is computed once and cached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.config import PROJECT_ROOT
from worker.face_quality import ENROLMENT_GATES, RECOGNITION_GATES, assess

VIEWS = 48  # augmented views per real face
MARGIN = 1.2  # the crop around a face box, as a share of its size on each side
PERTURB = 0.2  # norm of the noise added to a unit vector (cosine ~0.98 to its source)
STRANGER_MIN_PX = 40
SAME_PERSON = 0.6  # two clean faces scoring this are one person (buffalo_s)


@dataclass(frozen=True)
class RealCloud:
    """Unit embeddings of augmented real faces; `labels[i]` is the person of
    row i, `enrol[i]` whether it passes the enrolment gates (else only the
    recognition gates)."""

    vectors: np.ndarray
    labels: np.ndarray
    enrol: np.ndarray
    people: list[str]

    def by_person(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(every view, the views that may be references) of each person."""
        return [
            (self.vectors[self.labels == p], self.vectors[(self.labels == p) & self.enrol])
            for p in range(len(self.people))
        ]


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _faces(engine, root: Path = PROJECT_ROOT) -> list[tuple[str, np.ndarray, object]]:
    """(person, image, detection) for every usable real face."""
    import insightface

    faces = []
    for folder in sorted((root / "demo" / "people").iterdir()):
        for photo in sorted(folder.iterdir()):
            image = cv2.imread(str(photo))
            found = engine.detect(image) if image is not None else []
            if found:
                faces.append((folder.name, image, max(found, key=lambda d: d.size)))
    if not faces:
        raise SystemExit("no faces found in demo/people")
    # Probe photos name who is in them but not where: each face joins the
    # person its embedding is nearest to, when it is clearly that person.
    names = sorted({p for p, _, _ in faces})
    refs = unit(engine.embed([(img, d) for _, img, d in faces]))
    means = unit(np.stack([refs[[p == n for p, _, _ in faces]].mean(0) for n in names]))
    for photo in sorted((root / "demo" / "probes").glob("*.jp*g")):
        image = cv2.imread(str(photo))
        found = [d for d in engine.detect(image) if d.size >= STRANGER_MIN_PX]
        if not found:
            continue
        scores = unit(engine.embed([(image, d) for d in found])) @ means.T
        for d, row in zip(found, scores, strict=True):
            if row.max() >= 0.45:
                faces.append((names[int(row.argmax())], image, d))
    samples = Path(insightface.__file__).parent / "data" / "images"
    for photo in sorted(samples.glob("*.*")):
        image = cv2.imread(str(photo))
        if image is None or photo.stem.startswith("mask"):
            continue  # four photos of one masked face
        for i, d in enumerate(engine.detect(image)):
            if d.size >= STRANGER_MIN_PX:
                faces.append((f"stranger:{photo.stem}:{i}", image, d))
    # A face found twice (or a stranger who is one of the people) would give
    # one person two labels: keep the first of any faces of different labels
    # that the model scores as one person.
    vectors = unit(engine.embed([(img, d) for _, img, d in faces]))
    kept: list[int] = []
    for i, (person, _, _) in enumerate(faces):
        if all(faces[k][0] == person or vectors[i] @ vectors[k] < SAME_PERSON for k in kept):
            kept.append(i)
    return [faces[i] for i in kept]


def _augment(image: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    """One camera-like view of the face in `box`: crop, shift, mirror, rotate,
    blur, light, JPEG and resolution all drawn at random."""
    x1, y1, x2, y2 = box
    size = max(x2 - x1, y2 - y1)
    cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * size
    cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * size
    half = size * (0.5 + MARGIN) * rng.uniform(0.85, 1.2)
    angle = rng.uniform(-15, 15)
    out = int(min(400, max(112, 2 * half)))
    scale = out / (2 * half)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += (out / 2 - cx, out / 2 - cy)
    view = cv2.warpAffine(image, matrix, (out, out), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        view = view[:, ::-1].copy()
    if rng.random() < 0.4:
        view = cv2.GaussianBlur(view, (0, 0), rng.uniform(0.5, 2.0))
    view = cv2.convertScaleAbs(view, alpha=rng.uniform(0.45, 1.3), beta=rng.uniform(-20, 20))
    if rng.random() < 0.3:
        # A camera-sized face: 40-80 px across, blown back up for the detector.
        shrink = min(1.0, rng.uniform(40, 80) / (size * scale))
        small = max(16, int(out * shrink))
        view = cv2.resize(cv2.resize(view, (small, small)), (out, out))
    if rng.random() < 0.5:
        _, data = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 90))])
        view = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return view


def real_cloud(engine, cache: Path, views: int = VIEWS, seed: int = 5) -> RealCloud:
    """The augmented real faces, embedded (from `cache` when it was made with these views)."""
    meta = cache.with_suffix(".json")
    if cache.exists() and meta.exists():
        saved = json.loads(meta.read_text())
        if saved["views"] == views and saved["seed"] == seed:
            data = np.load(cache)
            return RealCloud(data["vectors"], data["labels"], data["enrol"], saved["people"])
    rng = np.random.default_rng(seed)
    faces = _faces(engine)
    people = sorted({p for p, _, _ in faces})
    vectors, labels, enrol = [], [], []
    for person, image, detection in faces:
        batch = []
        for _ in range(views):
            view = _augment(image, detection.box, rng)
            # The face nearest the view's centre (in a group photo a
            # neighbour may be in the crop too), kept if a camera would try
            # to name it.
            found = engine.detect(view)
            if not found:
                continue
            middle = view.shape[1] / 2
            face = min(
                found,
                key=lambda d: (
                    abs(d.box[0] + d.box[2] - 2 * middle) + abs(d.box[1] + d.box[3] - 2 * middle)
                ),
            )
            quality = assess(view, face)
            if quality.passes(RECOGNITION_GATES):
                batch.append((view, face))
                enrol.append(quality.passes(ENROLMENT_GATES))
        if batch:
            vectors.append(unit(engine.embed(batch)))
            labels += [people.index(person)] * len(batch)
    cloud = RealCloud(
        np.concatenate(vectors).astype(np.float32), np.asarray(labels), np.asarray(enrol), people
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=cloud.vectors, labels=cloud.labels, enrol=cloud.enrol)
    meta.write_text(json.dumps({"views": views, "seed": seed, "people": people}))
    return cloud


class Synthesizer:
    """New identities from a real cloud (see the module's docstring)."""

    def __init__(self, cloud: RealCloud, seed: int = 17):
        people = [
            (views, refs) for views, refs in cloud.by_person() if len(refs) and len(views) > 1
        ]
        # The direction every face embedding shares: each real person counts once.
        mean = unit(np.stack([views.mean(0) for views, _ in people]).mean(0))
        # An orthonormal basis whose first vector is that direction.
        rng = np.random.default_rng(seed)
        seeded = np.column_stack([mean, rng.standard_normal((512, 511))])
        basis, _ = np.linalg.qr(seeded)
        basis[:, 0] *= np.sign(basis[:, 0] @ mean)
        self.basis = basis.astype(np.float32)
        # Per real person: every view in that basis, and which may be references.
        self.people = [
            (views @ self.basis, np.flatnonzero((views @ refs.T).max(1) > 0.9999))
            for views, refs in people
        ]

    def identities(
        self, first: int, count: int, per: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """`count` people: their references (count, per, 512), views that pass
        the enrolment gates, and one other view each (count, 512) to probe
        with, any that passes the recognition gates; all unit length."""
        refs = np.empty((count, per + 1, 512), dtype=np.float32)
        for j in range(count):
            views, enrolable = self.people[(first + j) % len(self.people)]
            probe = rng.integers(len(views))
            pool = enrolable[enrolable != probe] if len(enrolable) > 1 else enrolable
            refs[j, :per] = views[rng.choice(pool, per, replace=len(pool) < per)]
            refs[j, per] = views[probe]
        # The map: the shared direction stays, the other 511 coordinates are
        # permuted and sign-flipped (an orthogonal map, so cosines inside a
        # person's cloud are unchanged), one map per person.
        perms = np.argsort(rng.random((count, 511)), axis=1) + 1
        signs = rng.choice(np.float32([-1, 1]), (count, 1, 511))
        refs[:, :, 1:] = np.take_along_axis(refs, perms[:, None, :], axis=2) * signs
        noise = rng.standard_normal(refs.shape).astype(np.float32)
        noise[:, :, 0] = 0
        refs += noise * (PERTURB / np.sqrt(511))
        vectors = unit(refs.reshape(-1, 512) @ self.basis.T).reshape(count, per + 1, 512)
        return vectors[:, :per], vectors[:, per]
