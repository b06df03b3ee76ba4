"""The camera commands: `studio recognize` (who is in an image, a video or a
stream) and `studio watch` (the camera service, several cameras at once).

With STUDIO_URL set, faces are matched by the API (POST /api/recognize with
STUDIO_TOKEN): only embeddings leave the camera box, which needs no database
credentials. Without it, the command matches against the database itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from app.camera_matcher import DatabaseMatcher
from app.cli.backend import open_database
from app.cli.output import CommandError
from app.cli.parsing import CLIENT, environment
from app.config import Settings
from app.limits import MAX_K
from app.person_recognizer import PersonRecognizer

# What the face engine on a camera box reads.
ENGINE = ("model", "model_root", "det_size", "inference_threads")


def add_commands(sub: argparse._SubParsersAction) -> None:
    recognize = sub.add_parser(
        "recognize",
        help="identify faces in an image, video or stream",
        description="Detect the faces in an image, a video or a stream and match each "
        "against the gallery. An image gives one JSON line a face; a video or stream "
        "follows each face as a track and gives one JSON line a track when it ends "
        "(with --per-frame, each frame's faces too). Through the API when STUDIO_URL "
        "is set, else straight to the database.",
        epilog=environment(*CLIENT, *ENGINE),
    )
    recognize.add_argument("source", help="an image, a video file or a stream URL")
    recognize.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    recognize.add_argument("--k", type=int, default=3, help="candidates per face")
    recognize.add_argument(
        "--per-frame", action="store_true", help="in a video, also one line per face per frame"
    )
    recognize.add_argument(
        "--save-annotated",
        metavar="DIR",
        help="write annotated frames here (images of faces: a local debugging aid)",
    )
    recognize.add_argument(
        "--record-sightings",
        action="store_true",
        help="update first_seen / last_seen of identified people",
    )
    recognize.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="give up on a stream after N failed reopenings in a row (default: never)",
    )
    recognize.set_defaults(func=cmd_recognize)

    watch = sub.add_parser(
        "watch",
        help="watch cameras and record who is seen (the camera service)",
        description="Watch the cameras of a TOML file ([[camera]] tables: name, url, fps, "
        "enabled) until stopped: faces are detected and embedded here, matched by Studio "
        "(STUDIO_URL, STUDIO_TOKEN with scopes recognize and sightings:write), followed as "
        "tracks, and each finished track is recorded as a sighting. SIGTERM finishes the "
        "open tracks and exits. A file camera plays once; streams are reopened after a drop.",
        epilog=environment("studio_url", "studio_token", *ENGINE),
    )
    watch.add_argument("config", help="the cameras file (TOML)")
    watch.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve GET /healthz (the status of every camera) on this port",
    )
    watch.add_argument(
        "--status-seconds", type=float, default=60.0, help="log a status line per camera this often"
    )
    watch.set_defaults(func=cmd_watch)


def camera_engine(settings: Settings):
    """The face engine as STUDIO_MODEL, STUDIO_DET_SIZE and
    STUDIO_INFERENCE_THREADS say; a wrong value is a CommandError before any
    model loads."""
    from worker.face_engine import load_engine, parse_det_size, parse_threads

    try:
        det_size = parse_det_size(settings.det_size)
        threads = parse_threads(str(settings.inference_threads))
    except ValueError as exc:
        raise CommandError(str(exc), status=2) from exc
    return load_engine(settings.model, settings.model_root, det_size, threads)


def _asked_once(settings: Settings):
    """A client for the checks made before minutes of model loading: it asks
    once, since a Studio that is away is found out soon enough after (the
    cameras retry it themselves)."""
    from worker.studio_client import StudioClient

    return StudioClient(settings.studio_url, settings.studio_token, unavailable_retries=0)


def cmd_recognize(args: argparse.Namespace, settings: Settings) -> int:
    from worker.camera_feed import SourceError, check_source, is_image
    from worker.camera_recognition import ApiMatcher, gallery_warning, recognize_source
    from worker.camera_service import CameraConfigError, check_recognition
    from worker.face_engine import ModelNotFound
    from worker.studio_client import StudioClient

    if not math.isfinite(args.fps) or args.fps <= 0:
        raise CommandError("--fps must be a number above 0", status=2)
    if not 1 <= args.k <= MAX_K:
        raise CommandError(f"--k must be from 1 to {MAX_K}", status=2)
    if args.max_retries is not None and args.max_retries < 0:
        raise CommandError("--max-retries must be 0 or more", status=2)
    client = (
        StudioClient(settings.studio_url, settings.studio_token) if settings.studio_url else None
    )
    try:
        check_source(args.source)  # before minutes of model loading, not after
        if client is not None:
            check_recognition(_asked_once(settings), settings.model)
        engine = camera_engine(settings)
    except (SourceError, ModelNotFound, CameraConfigError) as exc:
        raise CommandError(str(exc), status=2) from exc
    if client is not None:
        matcher = ApiMatcher(client, engine.model_name)
    else:
        recognizer = PersonRecognizer(open_database(settings), engine.model_name, listen=False)
        matcher = DatabaseMatcher(recognizer)
    warning = gallery_warning(matcher)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    annotate = Path(args.save_annotated) if args.save_annotated else None
    if annotate is not None:
        print(
            f"warning: --save-annotated writes frames, images of people's faces, to {annotate}/ "
            "on this machine: a debugging aid; delete them when done",
            file=sys.stderr,
        )
    faces = 0
    try:
        for line in recognize_source(
            args.source,
            engine,
            matcher,
            fps=args.fps,
            k=args.k,
            per_frame=args.per_frame,
            record_sightings=args.record_sightings,
            annotate_dir=annotate,
            max_retries=args.max_retries,
        ):
            faces += 1
            print(json.dumps(line), flush=True)
    except SourceError as exc:
        raise CommandError(str(exc), status=2) from exc
    if not faces:
        where = "in the image" if is_image(args.source) else "in any sampled frame"
        print(f"{args.source}: no face found {where}", file=sys.stderr)
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from worker.camera_recognition import gallery_warning
    from worker.camera_service import (
        CameraConfigError,
        CameraService,
        check_with_studio,
        read_cameras,
        serve_health,
    )
    from worker.face_engine import ModelNotFound
    from worker.studio_client import StudioClient

    if not settings.studio_url:
        raise CommandError("set STUDIO_URL (and STUDIO_TOKEN) to the Studio API", status=2)
    if args.health_port is not None and not 1 <= args.health_port <= 65535:
        raise CommandError("--health-port must be from 1 to 65535", status=2)
    if not math.isfinite(args.status_seconds) or args.status_seconds <= 0:
        raise CommandError("--status-seconds must be a number above 0", status=2)
    client = StudioClient(settings.studio_url, settings.studio_token)
    try:
        cameras = read_cameras(Path(args.config))
        check_with_studio(_asked_once(settings), cameras, settings.model)
        engine = camera_engine(settings)
    except (CameraConfigError, ModelNotFound) as exc:
        raise CommandError(str(exc), status=2) from exc
    service = CameraService(cameras, engine, client, status_seconds=args.status_seconds)
    warning = gallery_warning(service.matcher)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop.set())
    health = serve_health(service, args.health_port) if args.health_port is not None else None
    names = ", ".join(c.name for c in cameras)
    where = f"; GET /healthz on port {health.server_address[1]}" if health else ""
    print(f"watching {len(cameras)} camera(s): {names}{where}", file=sys.stderr, flush=True)
    try:
        return service.run()
    finally:
        if health is not None:
            health.shutdown()
