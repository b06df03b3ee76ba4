"""Recognition quality on camera-like frames, end to end, with frames per second.

Takes a folder of labelled people (PEOPLE/<person>/<photos>; the demo
people by default) and enrols all but the last photo of each person through
the real pipeline (folder catalog, Studio API, face_embed_worker, the
database); a person with one photo is enrolled and never probed. The held-out
photos become probe sets, each photo pasted at random places into a blurred
camera-like scene:

- 1080p and 4K frames with faces 24, 40 and 60 px wide;
- 1080p frames with 100-px faces, degraded: Gaussian blur (sigma 1.5), JPEG
  quality 15, dark (a third of the light), grey, rotated by ±20°.

Every frame goes through what a camera box runs (worker/camera_recognition:
detect, quality, embed, match against the gallery with its thresholds, the
quality cap). Per set: identified (the right person), uncertain, missed (no
face found where it was pasted), wrong person named, and stranger
false-accepts: the same answer with the probe's own person taken out of the
gallery (each person in turn left out), decided again by the same rule —
any name then is a stranger accepted. Frames per second cover detection,
quality, embedding and matching.

    .venv/bin/python bench/recognition_quality.py [--people DIR] [--placements 8] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detector_bench import SCENE
from ingest_bench import bench_database, start_server
from report import write_section

from app.camera_matcher import DatabaseMatcher
from app.config import PROJECT_ROOT
from app.db import Database
from app.person_recognizer import Candidate, PersonRecognizer, decide
from app.processes import spawn_catalog
from worker.alfred_side import submit_photos, sync_people
from worker.camera_feed import Frame
from worker.camera_recognition import capped, identify_frame
from worker.catalog_client import CatalogClient
from worker.face_embed_worker import FaceEmbedWorker
from worker.face_engine import load_engine
from worker.studio_client import StudioClient

FRAMES = {"1080p": (1920, 1080), "4K": (3840, 2160)}
FACE_SIZES = (24, 40, 60)
DEGRADED_FACE_PX = 100


def split(people: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(enrolment photos, probe photos) per person: all but the last, and the last."""
    enrol, probe = {}, {}
    for folder in sorted(p for p in people.iterdir() if p.is_dir()):
        photos = sorted(p for p in folder.iterdir() if p.is_file())
        enrol[folder.name] = photos[:-1] or photos
        probe[folder.name] = photos[-1:] if len(photos) > 1 else []
    return enrol, probe


def enrol(enrolment: dict[str, list[Path]], engine, root: Path) -> str:
    """Enrol the photos through the folder catalog, the API and the worker; the database URL."""
    catalog_dir = root / "catalog"
    for person, photos in enrolment.items():
        (catalog_dir / person).mkdir(parents=True)
        for photo in photos:
            shutil.copyfile(photo, catalog_dir / person / photo.name)
    url = bench_database()
    with Database(url) as database:
        token = database.fetch_one(
            "SELECT token FROM create_api_token('quality-bench', "
            "'{identities:write,embeddings:write,jobs:submit,jobs:work}')"
        )[0]
    server, base = start_server(url)
    catalog_process, catalog_url = spawn_catalog(catalog_dir)
    try:
        catalog, studio = CatalogClient(catalog_url), StudioClient(base, token)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        FaceEmbedWorker(studio, catalog, engine, worker_id="bench").run(exit_when_idle=True)
        result = studio.job(job["job_id"])["result"]
        print(
            f"enrolled: {result['identities']} people, {result['embeddings_stored']} faces, "
            f"skipped {result['skipped_photos']}"
        )
    finally:
        catalog_process.terminate()
        server.terminate()
    return url


def degrade(image: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    if how == "blur":
        return cv2.GaussianBlur(image, (0, 0), 1.5)
    if how == "jpeg15":
        encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 15])[1]
        return cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if how == "dark":
        return (image.astype(np.float32) / 3).astype(np.uint8)
    if how == "grey":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return image


def paste(portrait, frame_size, face_px, rng, rotate: float = 0.0):
    """The portrait scaled so its face is `face_px` wide, rotated about the face,
    pasted at a random place into a blurred scene; the frame and the face's centre."""
    image, face = portrait
    scale = face_px / (face.box[2] - face.box[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx, cy = (face.box[0] + face.box[2]) / 2 * scale, (face.box[1] + face.box[3]) / 2 * scale
    if rotate:
        matrix = cv2.getRotationMatrix2D((cx, cy), rotate, 1.0)
        small = cv2.warpAffine(small, matrix, (small.shape[1], small.shape[0]))
    width, height = frame_size
    frame = cv2.GaussianBlur(cv2.resize(cv2.imread(str(SCENE)), frame_size), (0, 0), 20)
    h, w = min(small.shape[0], height), min(small.shape[1], width)
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    frame[top : top + h, left : left + w] = small[:h, :w]
    return frame, (left + cx, top + cy)


def probe_sets(portraits: dict[str, tuple], placements: int):
    """(set name, frame size, face px, degradation, rotation) for every set."""
    for label, size in FRAMES.items():
        for face_px in FACE_SIZES:
            yield f"{label}, {face_px} px", size, face_px, None, 0.0
    for how in ("blur", "jpeg15", "dark", "grey", "rotated"):
        yield f"1080p, {DEGRADED_FACE_PX} px, {how}", FRAMES["1080p"], DEGRADED_FACE_PX, how, 20.0


def sample_strangers(engine) -> dict[str, tuple]:
    """Faces nobody enrolled: InsightFace's own sample photos (a group photo and
    a portrait, shipped with the insightface package), each face a stranger."""
    import insightface

    folder = Path(insightface.__file__).parent / "data" / "images"
    strangers = {}
    for photo in sorted(folder.glob("*.*")):
        image = cv2.imread(str(photo))
        if image is None or photo.stem.startswith("mask"):
            continue  # the mask samples are one face, four colours of mask
        for i, face in enumerate(engine.detect(image)):
            if face.size >= 40:
                strangers[f"stranger:{photo.stem}:{i}"] = (image, face)
    return strangers


def run_strangers(engine, matcher, strangers, face_px: int, placements: int) -> dict:
    """Never-enrolled faces in 1080p frames: any name given is a stranger accepted."""
    rng = np.random.default_rng(face_px)
    counts = {"probes": 0, "missed": 0, "uncertain": 0, "stranger_accepted": 0}
    seconds = 0.0
    for _ in range(placements):
        for portrait in strangers.values():
            frame, (x, y) = paste(portrait, FRAMES["1080p"], face_px, rng)
            start = time.perf_counter()
            lines, _ = identify_frame(Frame(0, None, frame), engine, matcher, k=100)
            seconds += time.perf_counter() - start
            counts["probes"] += 1
            line = _at(lines, x, y, face_px)
            if line is None:
                counts["missed"] += 1
            elif line["decision"] == "identified":
                counts["stranger_accepted"] += 1
            elif line["decision"] == "uncertain":
                counts["uncertain"] += 1
    return counts | {"fps": counts["probes"] / seconds}


def _at(lines: list[dict], x: float, y: float, face_px: int) -> dict | None:
    """The line of the face detected where one was pasted, if any."""
    for line in lines:
        x1, y1, x2, y2 = line["box"]
        if abs((x1 + x2) / 2 - x) < face_px / 2 and abs((y1 + y2) / 2 - y) < face_px / 2:
            return line
    return None


def candidates(line: dict) -> list[Candidate]:
    return [Candidate(**c) for c in line["candidates"]]


def run_set(engine, matcher, thresholds, portraits, spec, placements: int, verbose: bool) -> dict:
    name, size, face_px, how, rotate = spec
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    counts = dict.fromkeys(
        ("probes", "identified", "uncertain", "missed", "wrong", "stranger_accepted"), 0
    )
    seconds = 0.0
    for index in range(placements):
        for person, portrait in portraits.items():
            angle = rotate * (1 if index % 2 else -1)
            frame, (x, y) = paste(portrait, size, face_px, rng, angle)
            frame = degrade(frame, how, rng)
            start = time.perf_counter()
            lines, _ = identify_frame(Frame(0, None, frame), engine, matcher, k=100)
            seconds += time.perf_counter() - start
            counts["probes"] += 1
            line = _at(lines, x, y, face_px)
            if line is None:
                counts["missed"] += 1
                continue
            if verbose:
                own = [c["similarity"] for c in line["candidates"] if c["external_id"] == person]
                other = [c["similarity"] for c in line["candidates"] if c["external_id"] != person]
                print(
                    f"  {name}: {person} {line['decision']}, own {max(own, default=None)}, "
                    f"best other {max(other, default=None)}, quality {line['quality']}"
                )
            if line["decision"] == "identified":
                counts["identified" if line["external_id"] == person else "wrong"] += 1
            elif line["decision"] == "uncertain":
                counts["uncertain"] += 1
            # The same face, its person out of the gallery: a stranger.
            others = [c for c in candidates(line) if c.external_id != person]
            stranger = capped({"decision": decide(others, thresholds)}, line["quality"]["reasons"])
            counts["stranger_accepted"] += stranger["decision"] == "identified"
    return counts | {"name": name, "fps": counts["probes"] / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=Path, default=PROJECT_ROOT / "demo" / "people")
    parser.add_argument("--placements", type=int, default=8, help="frames per probe photo and set")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--verbose", action="store_true", help="a line per probe, with its scores")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="quality-bench-"))
    engine = load_engine("buffalo_s", root / "models")
    enrolment, probes = split(args.people)
    url = enrol(enrolment, engine, root)
    portraits = {}
    for person, photos in probes.items():
        for photo in photos:
            image = cv2.imread(str(photo))
            portraits[person] = (image, max(engine.detect(image), key=lambda d: d.size))
    rows = [
        "| probe set | probes | identified | uncertain | missed | wrong person "
        "| strangers accepted | frames/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with Database(url) as database:
        recognizer = PersonRecognizer(database, engine.model_name, listen=False)
        matcher = DatabaseMatcher(recognizer)
        thresholds = recognizer.thresholds
        for spec in probe_sets(portraits, args.placements):
            c = run_set(engine, matcher, thresholds, portraits, spec, args.placements, args.verbose)
            n = c["probes"]
            rows.append(
                f"| {c['name']} | {n} | {c['identified']} ({c['identified'] / n:.0%}) "
                f"| {c['uncertain']} | {c['missed']} | {c['wrong']} "
                f"| {c['stranger_accepted']} | {c['fps']:.2f} |"
            )
            print(rows[-1], flush=True)
        strangers = sample_strangers(engine)
        for face_px in (24, 40):
            c = run_strangers(engine, matcher, strangers, face_px, args.placements)
            rows.append(
                f"| never enrolled: {len(strangers)} faces of InsightFace's samples, "
                f"1080p, {face_px} px | {c['probes']} | – | {c['uncertain']} | {c['missed']} "
                f"| – | {c['stranger_accepted']} | {c['fps']:.2f} |"
            )
            print(rows[-1], flush=True)
    shutil.rmtree(root, ignore_errors=True)
    if args.no_write:
        return
    people = sum(1 for p in probes.values() if p)
    write_section(
        "recognition-quality",
        "Recognition quality on camera-like frames",
        f".venv/bin/python bench/recognition_quality.py --placements {args.placements}",
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
            f"{os.cpu_count()} cores, buffalo_s on {engine.provider}, detector at each "
            f"frame's own size (STUDIO_DET_SIZE=auto). Gallery: {len(enrolment)} people "
            f"enrolled through the worker; probes: the held-out photo of {people} of them, "
            f"pasted {args.placements} times a set. Thresholds: identify "
            f"{thresholds.identify}, uncertain {thresholds.uncertain}, margin "
            f"{thresholds.margin}. Strangers accepted: the same probes with their own person "
            "left out of the gallery. Frames/s: detection, quality, embedding and matching,",
            "on a shared machine (other work ran beside it, more during the first sets than",
            "the last): compare the ratios in the detector section for what each choice costs.",
            "",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
