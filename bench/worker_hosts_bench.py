"""Worker throughput as hosts are added, against the physical limit, in one run.

1, 2 and 3 `studio-worker`s, each in a network namespace of its own (a host,
as separate GPU machines are: it reaches Studio and the catalog over its own
cable, never the loopback), claim jobs from one Studio over HTTP. Each host
is one CPU core: the worker is pinned to a core (taskset) and its models to
one thread (STUDIO_INFERENCE_THREADS=1), so the machine's cores are the
hosts' whole budget.

- limit: the bare model loop (detect, choose, embed in the worker's batches)
  with one thread over the same photos, already decoded, measured first on
  1, 2, … cores at once (a process a core): N hosts can do at most what
  min(N, cores) loops do side by side. Two loops side by side do less than
  twice one where the cores share a physical core, caches or memory
  bandwidth; the limit counts that.
- hosts: photos done between the first claim and the last completion (the
  jobs' started_at and finished_at, so model loading is not counted), with
  everything the worker does: claim, catalog metadata and bytes over HTTP,
  decoding, inference, ingest over HTTP, heartbeats, completion.

Studio, its database and the catalog run on the same cores as the hosts; the
share of the machine's busy time that was not the workers' (from /proc/stat
and the workers' own CPU time) says how much they took.

Photos are synthetic for throughput: the demo photos at 640 px and at
slightly different scales (new bytes and new vectors, so nothing is
deduplicated away). Correctness with real photos (every job once, a killed
host's job taken over) is tests/scale/test_worker_hosts.py.

    .venv/bin/python bench/worker_hosts_bench.py [--photos 360] [--hosts 1 2 3]

Needs root and iproute2's `ip` (make install brings it), as the tests do.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import cv2
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import network_hosts
from ingest_bench import bench_database
from report import write_section
from worker_bench import PEOPLE, model_loop

from app.processes import spawn_catalog, spawn_studio
from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import CatalogClient
from worker.face_embed_worker import WorkerSettings, decode
from worker.face_engine import OFFLINE_PACK, FaceEngine, offline_pack
from worker.studio_client import StudioClient

BIN = Path(sys.executable).parent
SIDE = 640  # long side of the synthetic photos
PER_JOB = 10
SCOPES = "{identities:write,embeddings:write,jobs:submit,jobs:work}"


def synthetic_catalog(folder: Path, photos: int) -> int:
    """`photos` photos of the demo people (round robin over their photos), each
    at its own scale of SIDE px; how many were written."""
    sources = sorted(p for p in PEOPLE.rglob("*") if p.is_file())
    for index in range(photos):
        source = sources[index % len(sources)]
        image = cv2.imread(str(source))
        scale = SIDE * (1 - 0.002 * (index // len(sources))) / max(image.shape[:2])
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        (folder / source.parent.name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / source.parent.name / f"{index:04d}-{source.stem}.jpg"), resized)
    return photos


def loop_on_core(core: int, folder: Path, models: Path, start, rates) -> None:
    """The bare model loop pinned to `core` with one thread: its photos/s into
    `rates` (run in a process of its own, started with the others at `start`)."""
    os.sched_setaffinity(0, {core})
    engine = FaceEngine(models, OFFLINE_PACK, threads=1)
    settings = WorkerSettings()
    images = [decode(p.read_bytes()) for p in sorted(folder.rglob("*.jpg"))]
    model_loop(engine, images[:5], settings)  # warm-up
    start.wait()
    rates.put(len(images) / model_loop(engine, images, settings))


def model_loops(cores: int, folder: Path, models: Path) -> float:
    """Photos/s of the bare model loop on `cores` cores at once, one process a
    core: what that many one-core hosts could do at best on this machine
    (cores that share a physical core or memory bandwidth do less together
    than each alone, and this counts it)."""
    context = multiprocessing.get_context("spawn")
    start, rates = context.Barrier(cores), context.Queue()
    available = sorted(os.sched_getaffinity(0))
    processes = [
        context.Process(target=loop_on_core, args=(available[i], folder, models, start, rates))
        for i in range(cores)
    ]
    for process in processes:
        process.start()
    total = sum(rates.get(timeout=1800) for _ in processes)
    for process in processes:
        process.join()
    return total


def busy_core_seconds() -> float:
    """CPU time the whole machine has spent busy since boot, every core summed."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def run_hosts(
    count: int, url: str, token: str, studio_port: str, catalog_port: str, models: Path, logs: Path
) -> tuple[float, float]:
    """Photos/s of `count` hosts over every photo of the catalog, from the first
    claim to the last completion; and the share of the machine's busy time
    that was not the workers' (Studio, PostgreSQL, the catalog)."""
    cores = sorted(os.sched_getaffinity(0))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE jobs, embeddings")
    studio = StudioClient(f"http://127.0.0.1:{studio_port}", token)
    catalog = CatalogClient(f"http://127.0.0.1:{catalog_port}")
    photos = [p.id for p in catalog.batch("all")]
    for start in range(0, len(photos), PER_JOB):
        submit_photos(studio, "alfred_catalog", photo_ids=photos[start : start + PER_JOB])
    workers, worker_cpu = [], 0.0
    busy_before = busy_core_seconds()
    with network_hosts.hosts(count) as machines:
        try:
            for index, host in enumerate(machines):
                log = (logs / f"hosts-{count}-worker-{index}.log").open("wb")
                workers.append(
                    subprocess.Popen(
                        host.command(
                            "taskset",
                            "-c",
                            str(cores[index % len(cores)]),
                            "env",
                            f"STUDIO_URL=http://{host.server}:{studio_port}",
                            f"STUDIO_TOKEN={token}",
                            f"ALFRED_URL=http://{host.server}:{catalog_port}",
                            f"STUDIO_MODEL={OFFLINE_PACK}",
                            f"STUDIO_MODEL_ROOT={models}",
                            "STUDIO_INFERENCE_THREADS=1",
                            str(BIN / "studio-worker"),
                            "--worker-id",
                            f"host-{index}",
                            "--exit-when-idle",
                        ),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                log.close()
            for worker in workers:
                # ip netns exec, taskset and env each exec the next: the child
                # is the worker, and its own CPU time comes with its exit.
                _, status, usage = os.wait4(worker.pid, 0)
                worker.returncode = os.waitstatus_to_exitcode(status)
                worker_cpu += usage.ru_utime + usage.ru_stime
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=60)
    busy = busy_core_seconds() - busy_before
    with psycopg.connect(url) as conn:
        done, workers_seen, seconds = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'completed'), count(DISTINCT worker_id), "
            "extract(epoch FROM max(finished_at) - min(started_at)) FROM jobs"
        ).fetchone()
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    if done != jobs:
        raise SystemExit(f"{count} hosts: {jobs - done} of {jobs} jobs not completed; see {logs}")
    others = max(0.0, busy - worker_cpu) / busy
    print(
        f"{count} host(s): {len(photos)} photos in {seconds:.1f} s by {workers_seen} worker(s); "
        f"{others:.0%} of the busy CPU time was not the workers'"
    )
    return len(photos) / float(seconds), others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=360, help="synthetic photos (default 360)")
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    why = network_hosts.available()
    if why:
        raise SystemExit(f"error: no hosts can be made here: {why}")

    root = Path(tempfile.mkdtemp(prefix="worker-hosts-bench-"))
    catalog_dir, models = root / "people", offline_pack(root / "models")
    photos = synthetic_catalog(catalog_dir, args.photos)
    cores = len(os.sched_getaffinity(0))
    limits = {n: model_loops(n, catalog_dir, models) for n in range(1, cores + 1)}
    for n, rate in limits.items():
        print(f"model loop on {n} core(s) at once, one thread each: {rate:.1f} photos/s")

    url = bench_database()
    with psycopg.connect(url, autocommit=True) as conn:
        token = conn.execute(
            "SELECT token FROM create_api_token('hosts-bench', %s)", (SCOPES,)
        ).fetchone()[0]
    # Both servers listen on every interface: the hosts reach them over their cables.
    server, studio_local = spawn_studio(
        {**os.environ, "STUDIO_DATABASE_URL": url, "STUDIO_HOST": "0.0.0.0"}, workers=2
    )
    catalog, catalog_local = spawn_catalog(catalog_dir, host="0.0.0.0")
    rates, others = {}, {}
    try:
        sync_people(
            CatalogClient(catalog_local), StudioClient(studio_local, token), "alfred_catalog"
        )
        for count in args.hosts:
            rates[count], others[count] = run_hosts(
                count,
                url,
                token,
                studio_local.rsplit(":", 1)[1],
                catalog_local.rsplit(":", 1)[1],
                models,
                root,
            )
    finally:
        catalog.terminate()
        server.terminate()
        catalog.wait(timeout=30)
        server.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)

    one = rates.get(1)
    rows = []
    for count, rate in rates.items():
        ceiling = limits[min(count, cores)]
        speedup = f"{rate / one:.2f}×" if one else "–"
        rows.append(
            f"| {count} | {min(count, cores)} | {rate:.1f} | {speedup} | {ceiling:.1f} "
            f"| {rate / ceiling:.2f} | {others[count]:.0%} |"
        )
        print(rows[-1])
    if args.no_write:
        return
    write_section(
        "worker-hosts",
        "Worker hosts: throughput as hosts are added, against the cores they have",
        "make bench  # bench/worker_hosts_bench.py",
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {cores} cores, "
            f"{OFFLINE_PACK} on CPUExecutionProvider. {photos} synthetic photos (the demo "
            f"photos at {SIDE} px, each at its own scale), jobs of {PER_JOB}; each host a "
            "network namespace of its own, pinned to one core with one inference thread. "
            "Limit: the bare model loop with one thread, run at once on as many cores "
            "as the hosts can use, one process a core ("
            + ", ".join(f"{n} core{'s' * (n > 1)}: {r:.1f} photos/s" for n, r in limits.items())
            + ").",
            "",
            "| hosts | cores they can use | photos/s | speed-up over one host "
            "| limit photos/s | ratio to the limit | busy CPU time not the workers' |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Throughput grows with hosts until they run out of cores; past that a host",
            "adds nothing but waits its turn (three hosts on two cores). The jobs are",
            "claimed with FOR UPDATE SKIP LOCKED, so hosts never wait for each other's",
            "claims, and ingests of one source share its lock (tests/scale). The gap to",
            "the limit is mostly each worker's own: it decodes the photos on its core",
            "(the loop is given them decoded) and talks HTTP to the catalog and Studio.",
            "The last column is what the rest of the system took from the same cores",
            "(Studio, PostgreSQL and the catalog serving the photos and storing the",
            "vectors), a few percent whatever the number of hosts: the server side is",
            "not what limits adding hosts. Model loading is in the workers' CPU time",
            "but not in photos/s (timed from the first claim).",
        ],
    )


if __name__ == "__main__":
    main()
