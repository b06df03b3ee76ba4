"""`studio calibrate`: decision thresholds measured on the gallery, stored per model."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from app import queries
from app.cli.backend import open_database, refusal
from app.cli.output import CommandError, print_table, when
from app.cli.parsing import DATABASE, environment
from app.config import Settings
from app.db import DatabaseError


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate above 0 and below 1")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    calibrate = sub.add_parser(
        "calibrate",
        help="measure decision thresholds on the gallery and store them",
        description="Measure genuine scores (each reference against the best of its "
        "identity's other references) and impostor scores (each reference against the "
        "best reference of every other identity) on the model's gallery, choose "
        "identify, uncertain and margin for the target false-accept rate, print both "
        "distributions, and store the thresholds in the database, where every "
        "recognizer of the model reads them within a second. Refused, with exit "
        "status 2 and nothing stored, when the gallery is too small to show the rate. "
        "Reads vectors only, never photos.",
        epilog=environment(*DATABASE, "model"),
    )
    calibrate.add_argument(
        "--model", help="the model whose gallery is measured (default: STUDIO_MODEL)"
    )
    calibrate.add_argument(
        "--target-far",
        type=_rate,
        default=0.001,
        metavar="RATE",
        help="false-accept rate allowed at identify, per comparison of a stranger's "
        "face with one identity; needs 3 / RATE impostor scores",
    )
    calibrate.add_argument(
        "--uncertain-far",
        type=_rate,
        metavar="RATE",
        help="false-accept rate at uncertain, from --target-far up (unset: ten times --target-far)",
    )
    calibrate.add_argument(
        "--histogram", metavar="FILE.png", help="also draw both distributions into a PNG"
    )
    calibrate.add_argument(
        "--dry-run", action="store_true", help="measure and print, store nothing"
    )
    calibrate.add_argument(
        "--show", action="store_true", help="list each model's thresholds and change nothing"
    )
    calibrate.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from app import calibration

    model = args.model or settings.model
    caller = f"cli:{getpass.getuser()}"
    if args.show:
        with open_database(settings) as database:
            show(database)
        return 0
    if args.uncertain_far is not None and args.uncertain_far < args.target_far:
        raise CommandError("--uncertain-far must not be below --target-far", 2)
    if args.histogram and not args.histogram.lower().endswith(".png"):
        raise CommandError(f"--histogram {args.histogram}: the file must end in .png", 2)
    if args.histogram:
        try:
            import cv2  # noqa: F401  (checked before any work: the setup, not the data)
        except ImportError:
            raise CommandError(
                "--histogram needs OpenCV (cv2): install the worker extra or run make install",
                2,
            ) from None
    with open_database(settings) as database:
        vectors, starts = calibration.load_references(database, model)
        result = calibration.calibrate(
            model, vectors, starts, target_far=args.target_far, uncertain_far=args.uncertain_far
        )
        # The database judges whether the data suffice (its rule, for every
        # writer), before anything is printed, drawn or stored.
        check = result.request(dry_run=True)
        try:
            database.value(queries.SET_RECOGNITION_THRESHOLDS, json.dumps(check), caller)
        except DatabaseError as exc:
            return _refused(exc, result)
        print(calibration.summary(result))
        if args.histogram:
            calibration.write_histogram(args.histogram, result)
            print(f"\nhistogram: {args.histogram}")
        if args.dry_run:
            print("\ndry run: nothing stored")
            return 0
        stored = result.request(dry_run=False)
        database.value(queries.SET_RECOGNITION_THRESHOLDS, json.dumps(stored), caller)
    print(f"\nstored for {model}: running recognizers use them within a second")
    return 0


def _refused(exc: DatabaseError, result) -> int:
    """Too little data (or another refusal): one line saying what was measured,
    then one line per reason, with what is needed; exit status 2."""
    body = refusal(exc).body
    s = result.scores
    print(
        f"error: cannot calibrate {result.model} at a false-accept rate of "
        f"{result.target_far:g}: its gallery has {s.references:,} references of "
        f"{s.identities:,} identities ({s.genuine_identities:,} with two references or "
        "more); nothing stored",
        file=sys.stderr,
    )
    for error in body.get("errors", []):
        print(
            f"  [{error.get('field')}] {error.get('code')}: {error.get('message')}", file=sys.stderr
        )
    return 2


def show(database) -> None:
    """Each model's thresholds: the stored ones, and the defaults of models with
    references or defaults in code but no calibration."""
    from app.person_recognizer import THRESHOLDS, default_thresholds

    stored = {row[0]: row for row in database.fetch_all(queries.LIST_RECOGNITION_THRESHOLDS)}
    with_references = {model for model, _ in database.fetch_all(queries.GALLERY_SIZES)}
    rows = []
    for model in sorted({*stored, *with_references, *THRESHOLDS}):
        if model not in stored:
            t = default_thresholds(model)
            rows.append(
                [
                    model,
                    f"{t.identify:.4f}",
                    f"{t.uncertain:.4f}",
                    f"{t.margin:.4f}",
                    "default",
                    "-",
                    "-",
                    "-",
                    "-",
                ]
            )
            continue
        (
            _,
            identify,
            uncertain,
            margin,
            target_far,
            _,
            _,
            _,
            _,
            genuine,
            impostor,
            *_,
            calibrated_at,
            _,
            updated_at,
        ) = stored[model]
        rows.append(
            [
                model,
                f"{identify:.4f}",
                f"{uncertain:.4f}",
                f"{margin:.4f}",
                "calibrated" if target_far is not None else "set by hand",
                f"{target_far:g}" if target_far is not None else "-",
                f"{genuine:,} / {impostor:,}" if target_far is not None else "-",
                when(calibrated_at),
                when(updated_at) if updated_at > calibrated_at else "-",
            ]
        )
    print_table(
        [
            "model",
            "identify",
            "uncertain",
            "margin",
            "source",
            "target FAR",
            "genuine / impostor",
            "stored",
            "changed since",
        ],
        rows,
    )
