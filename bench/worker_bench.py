"""Worker throughput against the bare model loop, measured in one run.

- model_loop: detect + choose + embed over images already decoded in
  memory, one photo after another: what the models alone cost.
- worker: a whole face_detect_embed job through the real pipeline (claim,
  catalog metadata and downloads over HTTP, decode, detect, embed in
  batches, ingest over HTTP, heartbeats, complete) on the same photos.

Pipeline efficiency = worker photos/s ÷ model-loop photos/s (target ≥ 0.9):
how much of the models' speed the plumbing keeps. The provider that really
ran is printed (the GPU build of onnxruntime falls back to CPU silently).

Each faces-per-call size (--batches, 1, 8 and 32 by default) is measured
both ways. On a GPU host (`make install-gpu && make bench`) the results go
into a section of their own, with the card's name.

    .venv/bin/python bench/worker_bench.py [--copies 10] [--batches 1 8 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_database, start_server
from report import write_section

from app.config import PROJECT_ROOT
from app.processes import spawn_catalog
from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import CatalogClient, Person
from worker.face_embed_worker import (
    FaceEmbedWorker,
    WorkerSettings,
    assessed,
    choose_face,
    decode,
)
from worker.face_engine import OFFLINE_PACK, FaceEngine, offline_pack
from worker.studio_client import StudioClient

PEOPLE = PROJECT_ROOT / "demo" / "people"


def model_loop(engine: FaceEngine, images: list, settings: WorkerSettings) -> float:
    """Detect and choose per image, embed in the worker's batch size: the models'
    own best, with nothing around them."""
    start = time.perf_counter()
    batch = []
    for image in images:
        face, _ = choose_face(assessed(image, engine.detect(image)), Person("p", "P"), settings)
        if face is not None:
            batch.append((image, face))
        if len(batch) >= settings.embed_batch:
            engine.embed(batch)
            batch = []
    engine.embed(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="copies of each demo photo")
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=[1, 8, 32],
        help="faces per recogniser call to measure (default 1 8 32)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    catalog_dir = root / "people"
    for folder in PEOPLE.iterdir():
        (catalog_dir / folder.name).mkdir(parents=True)
        for copy in range(args.copies):
            for photo in folder.iterdir():
                shutil.copyfile(photo, catalog_dir / folder.name / f"{copy}-{photo.name}")
    files = sorted(p for p in catalog_dir.rglob("*") if p.is_file())
    photos = len(files)

    engine = FaceEngine(offline_pack(root / "models"), OFFLINE_PACK)
    encoded = [p.read_bytes() for p in files]
    start = time.perf_counter()
    images = [decode(data) for data in encoded]
    decode_s = time.perf_counter() - start
    loops = {}
    for batch in args.batches:
        settings = WorkerSettings(embed_batch=batch)
        model_loop(engine, images[:3], settings)  # warm-up
        loops[batch] = model_loop(engine, images, settings)
    del images, encoded

    url = bench_database()
    with psycopg.connect(url, autocommit=True) as conn:
        token = conn.execute(
            "SELECT token FROM create_api_token('worker-bench', "
            "'{identities:write,embeddings:write,jobs:submit,jobs:work}')"
        ).fetchone()[0]
    server, base = start_server(url)
    catalog_process, catalog_url = spawn_catalog(catalog_dir)
    rows = []
    try:
        catalog = CatalogClient(catalog_url)
        studio = StudioClient(base, token)
        sync_people(catalog, studio, "alfred_catalog")
        for batch in args.batches:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE embeddings")  # every run stores every face anew
            job = submit_photos(studio, "alfred_catalog", batch_id="all")
            settings = WorkerSettings(embed_batch=batch)
            worker = FaceEmbedWorker(studio, catalog, engine, settings, worker_id="bench")
            start = time.perf_counter()
            worker.run(exit_when_idle=True)
            worker_s = time.perf_counter() - start
            result = studio.job(job["job_id"])["result"]
            loop_rate, worker_rate = photos / loops[batch], photos / worker_s
            with_decode_rate = photos / (loops[batch] + decode_s)
            print(
                f"batch {batch}, {photos} photos on {engine.provider}: model loop "
                f"{loop_rate:.1f} photos/s ({with_decode_rate:.1f} with decoding), worker "
                f"{worker_rate:.1f} photos/s, efficiency {worker_rate / loop_rate:.2f} "
                f"({worker_rate / with_decode_rate:.2f} against models + decoding); "
                f"stored {result['embeddings_stored']}",
                flush=True,
            )
            rows.append(
                f"| {engine.provider} | {batch} | {photos} | {loop_rate:.1f} "
                f"| {with_decode_rate:.1f} | {worker_rate:.1f} | {worker_rate / loop_rate:.2f} "
                f"| {worker_rate / with_decode_rate:.2f} |"
            )
    finally:
        catalog_process.terminate()
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)

    if args.no_write:
        return
    gpu = engine.provider == "CUDAExecutionProvider"
    write_section(
        "worker-gpu" if gpu else "worker",
        "Worker on a GPU: photos per second against the bare model loop"
        if gpu
        else "Worker: photos per second against the bare model loop",
        "make install-gpu && make bench  # bench/worker_bench.py"
        if gpu
        else "make bench  # bench/worker_bench.py",
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
            f"{os.cpu_count()} cores{', ' + gpu_name() if gpu else ''}, {OFFLINE_PACK} "
            f"models, provider that ran: {engine.provider} (detection: "
            f"{engine.providers['detection']}). {photos} photos ({args.copies} copies of the "
            f"{photos // args.copies} demo photos, 374 px to 2204 px), one face each.",
            "",
            "| provider | faces per recogniser call | photos | model loop /s "
            "| models + decoding /s | worker /s | efficiency (target ≥ 0.9) "
            "| against models + decoding |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "The model loop detects and chooses per image and embeds in batches of the",
            "worker's size, over images already decoded in memory. The worker does the",
            "whole job: claim, catalog metadata and downloads over HTTP, decoding (both",
            "in a thread pool ahead of inference), batched recognition, ingest over",
            "HTTP, heartbeats and completion. On 2 cores inference already keeps both",
            "busy, so the decoding the pipeline must do (and the model loop was given",
            'for free) competes with it instead of overlapping: "models + decoding" is',
            "the fair floor there. With more cores than inference uses, as on GPU",
            "machines, decoding runs beside inference. Detection runs one photo at a",
            "time whatever the batch (each photo has its own size); the batch is the",
            "recogniser's.",
            *(
                []
                if gpu
                else [
                    "",
                    "No GPU machine has been lent to this project's sessions so far, so",
                    "there is no GPU row yet; on one, `make install-gpu && make bench`",
                    "writes it in a section of its own with the card's name and the",
                    "provider that really ran.",
                ]
            ),
        ],
    )


def gpu_name() -> str:
    """The card's name, as nvidia-smi gives it."""
    try:
        return (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            .stdout.strip()
            .splitlines()[0]
        )
    except (OSError, subprocess.SubprocessError, IndexError):
        return "GPU of unknown name"


if __name__ == "__main__":
    main()
