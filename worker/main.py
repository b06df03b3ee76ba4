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


class SettingError(ValueError):
    """A variable is missing or wrong; the message names it."""


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
        """Raises SettingError naming the variable that is missing or wrong.
        Values are read as `studio` reads them: surrounding spaces dropped, an
        empty text the same as none, an empty whole number
        (STUDIO_INFERENCE_THREADS) refused."""
        value = {name: (env.get(name) or "").strip() for name in ENVIRONMENT}
        studio_url = value["STUDIO_URL"]
        if not studio_url:
            raise SettingError("set STUDIO_URL (and STUDIO_TOKEN) to the Studio API")
        for name in ("STUDIO_URL", "ALFRED_URL"):
            if value[name] and not _is_http_url(value[name]):
                raise SettingError(f"{name}={value[name]!r}: expected an http:// or https:// URL")
        level = (value["STUDIO_LOG_LEVEL"] or "INFO").upper()
        if level not in logs.LEVELS:
            raise SettingError(f"STUDIO_LOG_LEVEL={level!r}: use DEBUG, INFO, WARNING, ERROR")
        fmt = (value["STUDIO_LOG_FORMAT"] or "text").lower()
        if fmt not in ("text", "json"):
            raise SettingError(f"STUDIO_LOG_FORMAT={fmt!r}: use text or json")
        from worker.face_engine import parse_det_size, parse_threads

        try:
            det_size = parse_det_size(env.get("STUDIO_DET_SIZE"))
            threads = parse_threads(env.get("STUDIO_INFERENCE_THREADS"))
        except ValueError as exc:
            raise SettingError(str(exc)) from exc
        root = value["STUDIO_MODEL_ROOT"]
        return cls(
            studio_url=studio_url,
            studio_token=value["STUDIO_TOKEN"] or None,
            alfred_url=value["ALFRED_URL"] or "http://alfred:8082",
            alfred_token=value["ALFRED_TOKEN"] or None,
            model=value["STUDIO_MODEL"] or "buffalo_l",
            model_root=Path(root) if root else None,
            det_size=det_size,
            inference_threads=threads,
            log_level=level,
            log_format=fmt,
        )


def _is_http_url(text: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def environment_epilog() -> str:
    """The variables the worker reads, for --help (studio-worker's and `studio worker`'s)."""
    width = max(map(len, ENVIRONMENT))
    return "environment:\n" + "\n".join(
        f"  {name:<{width}} {text}" for name, text in ENVIRONMENT.items()
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio-worker",
        description="Claim face_detect_embed jobs from Studio, read the photos from the "
        "catalog into memory, and post face vectors (never photos) back to Studio.",
        epilog=environment_epilog(),
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
        type=_lease_seconds,
        default=120,
        help="how long a claim holds a job between heartbeats, 10 to 3600 (default %(default)s)",
    )


def _lease_seconds(text: str) -> int:
    """--lease-seconds: Studio's bounds, checked before the models load."""
    if not text.strip().isascii() or not text.strip().isdigit() or not 10 <= int(text) <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of seconds from 10 to 3600")
    return int(text)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Run the worker as `args` say. Returns the exit status."""
    from worker.catalog_client import CatalogClient
    from worker.face_embed_worker import (
        FaceEmbedWorker,
        StudioUnavailable,
        WorkerRefused,
        WorkerSettings,
    )
    from worker.face_engine import ModelNotFound, load_engine
    from worker.studio_client import StudioClient

    try:
        config = WorkerEnvironment.read(os.environ if env is None else env)
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    try:
        worker.run(max_jobs=1 if args.once else None, exit_when_idle=args.exit_when_idle)
    except WorkerRefused as exc:  # the token, the model: nothing here can succeed
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StudioUnavailable as exc:  # asked to exit when idle, but idle is unknown
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
