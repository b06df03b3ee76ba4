"""`studio recognize`: who is in an image, a video or a stream."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.backend import open_database
from app.cli.output import CommandError
from app.cli.parsing import DATABASE, environment
from app.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    recognize = sub.add_parser(
        "recognize",
        help="identify faces in an image, video or stream",
        description="Detect the faces in an image, a video or a stream and match each "
        "against the gallery: one JSON line a face, with its best candidates.",
        epilog=environment(*DATABASE, "model", "model_root"),
    )
    recognize.add_argument("source", help="an image, a video file or a stream URL")
    recognize.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    recognize.add_argument("--k", type=int, default=3, help="candidates per face")
    recognize.add_argument("--save-annotated", metavar="DIR", help="write annotated frames here")
    recognize.add_argument(
        "--record-sightings",
        action="store_true",
        help="update first_seen / last_seen of identified people",
    )
    recognize.set_defaults(func=cmd_recognize)


def cmd_recognize(args: argparse.Namespace, settings: Settings) -> int:
    from app.camera_feed import recognize_source
    from app.person_recognizer import PersonRecognizer, record_sightings
    from worker.face_engine import ModelNotFound, load_engine

    try:
        engine = load_engine(settings.model, settings.model_root)
    except ModelNotFound as exc:
        raise CommandError(str(exc), status=2) from exc
    recognizer = PersonRecognizer(open_database(settings), engine.model_name, listen=False)
    annotate = Path(args.save_annotated) if args.save_annotated else None
    try:
        for sighting in recognize_source(
            args.source, engine, recognizer, fps=args.fps, k=args.k, annotate_dir=annotate
        ):
            print(json.dumps(sighting), flush=True)
            if args.record_sightings and sighting["identity"]:
                record_sightings(recognizer.database, [sighting["identity"]["identity_id"]])
    except ValueError as exc:  # a source OpenCV cannot read
        raise CommandError(str(exc), status=2) from exc
    return 0
