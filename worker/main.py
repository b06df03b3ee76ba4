"""`studio-worker` (and `python -m worker`): face_embed_worker on a GPU host.

It stands alone: it reads its settings from the environment, talks to
Studio and the catalog over HTTP, and imports nothing of the server (no
Flask, psycopg or Prometheus), so a GPU host installs only the worker's
role (`pip install '.[worker]'`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker import logs

# Only what --help needs is imported here: the models, OpenCV and the clients
# load when the worker runs, so `studio --help` stays fast.
ENVIRONMENT = {
    "STUDIO_URL": "Studio's API, e.g. http://studio:5050 (required)",
    "STUDIO_TOKEN": "a token with scopes jobs:work and embeddings:write",
    "ALFRED_URL": "the photo catalog (default http://alfred:8082)",
    "ALFRED_TOKEN": "the catalog's bearer token, if it wants one",
    "STUDIO_MODEL": "the face model pack (default buffalo_l; buffalo_s is the offline pack)",
    "STUDIO_MODEL_ROOT": "where packs live: ROOT/models/NAME (default ~/.insightface)",
    "STUDIO_DET_SIZE": "detector input: auto (each photo's own size, default) or a long side",
    "STUDIO_INFERENCE_THREADS": "CPU threads per model: 0 (default) lets onnxruntime decide",
    "STUDIO_LOG_LEVEL": "DEBUG, INFO (default), WARNING or ERROR",
    "STUDIO_LOG_FORMAT": "text (default) or json: one object a line",
}


@dataclass(frozen=True)
class WorkerEnvironment:
    studio_url: str
    studio_token: str | None
    alfred_url: str
    alfred_token: str | None
    model: str
    model_root: Path | None
    det_size: int | None
    inference_threads: int | None
    log_level: str
    log_format: str

    @classmethod
    def read(cls, env: Mapping[str, str]) -> WorkerEnvironment:
        """Raises SystemExit naming the variable that is missing or wrong."""
        studio_url = env.get("STUDIO_URL")
        if not studio_url:
            raise SystemExit("error: set STUDIO_URL (and STUDIO_TOKEN) to the Studio API")
        level = env.get("STUDIO_LOG_LEVEL", "INFO").upper()
        if level not in logs.LEVELS:
            raise SystemExit(f"error: STUDIO_LOG_LEVEL={level!r}: use DEBUG, INFO, WARNING, ERROR")
        fmt = env.get("STUDIO_LOG_FORMAT", "text").lower()
        if fmt not in ("text", "json"):
            raise SystemExit(f"error: STUDIO_LOG_FORMAT={fmt!r}: use text or json")
        root = env.get("STUDIO_MODEL_ROOT")
        from worker.face_engine import parse_det_size, parse_threads

        try:
            det_size = parse_det_size(env.get("STUDIO_DET_SIZE"))
            threads = parse_threads(env.get("STUDIO_INFERENCE_THREADS"))
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from exc
        return cls(
            studio_url=studio_url,
            studio_token=env.get("STUDIO_TOKEN") or None,
            alfred_url=env.get("ALFRED_URL") or "http://alfred:8082",
            alfred_token=env.get("ALFRED_TOKEN") or None,
            model=env.get("STUDIO_MODEL") or "buffalo_l",
            model_root=Path(root) if root else None,
            det_size=det_size,
            inference_threads=threads,
            log_level=level,
            log_format=fmt,
        )


def build_parser() -> argparse.ArgumentParser:
    width = max(map(len, ENVIRONMENT))
    lines = "\n".join(f"  {name:<{width}} {text}" for name, text in ENVIRONMENT.items())
    parser = argparse.ArgumentParser(
        prog="studio-worker",
        description="Claim face_detect_embed jobs from Studio, read the photos from the "
        "catalog into memory, and post face vectors (never photos) back to Studio.",
        epilog=f"environment:\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--worker-id", help="name in job records (default: host:object id)")
    parser.add_argument("--once", action="store_true", help="handle one job, then exit")
    parser.add_argument("--exit-when-idle", action="store_true", help="exit when no job waits")
    parser.add_argument(
        "--lease-seconds",
        type=int,
        default=120,
        help="how long a claim holds a job between heartbeats (default %(default)s)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Run the worker as `args` say. Returns the exit status."""
    from worker.catalog_client import CatalogClient
    from worker.face_embed_worker import FaceEmbedWorker, WorkerSettings
    from worker.face_engine import ModelNotFound, load_engine
    from worker.studio_client import StudioClient

    config = WorkerEnvironment.read(os.environ if env is None else env)
    logs.configure(config.log_level, config.log_format)
    try:
        engine = load_engine(
            config.model, config.model_root, config.det_size, config.inference_threads
        )
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    worker = FaceEmbedWorker(
        StudioClient(config.studio_url, config.studio_token),
        CatalogClient(config.alfred_url, config.alfred_token),
        engine,
        WorkerSettings(lease_seconds=args.lease_seconds),
        worker_id=args.worker_id,
    )
    worker.install_signal_handlers()
    worker.run(max_jobs=1 if args.once else None, exit_when_idle=args.exit_when_idle)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
