"""face_embed_worker: claim a job, turn its catalog photos into face vectors, post them.

    claim -> photo metadata -> photo bytes (memory) -> decode -> detect ->
    pick the labelled person's face -> embed (batched) -> group by person ->
    POST ingest-embeddings in chunks -> heartbeat progress -> complete

Photos are never written anywhere: bytes are decoded in memory and dropped
at once; only vectors, keys and names leave the worker. Downloads and
decoding run in a bounded thread pool ahead of inference.

Face choice: with the catalog's face box, the detection that overlaps it
best; without one, the photo's only face that is not a bystander (a face
too poor to recognise and under half the size of the photo's biggest). A
stranger in a group photo is never enrolled under someone else's name.
Either way the chosen face must pass the enrolment quality gates
(worker/face_quality.py), or the photo is skipped naming the gate.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import cv2
import numpy as np

from worker.catalog_client import (
    CatalogAnswerError,
    CatalogClient,
    CatalogError,
    Person,
    PhotoRef,
    SkippedPhoto,
    check_id,
)
from worker.face_engine import Detection, FaceEngine, iou
from worker.face_quality import (
    ENROLMENT_GATES,
    RECOGNITION_GATES,
    FaceQuality,
    QualityGates,
    assess,
)
from worker.studio_client import StudioClient, StudioError, ingest_chunks

log = logging.getLogger("face_embed_worker")


@dataclass(frozen=True)
class WorkerSettings:
    gates: QualityGates = ENROLMENT_GATES  # a reference failing them is refused
    # A face failing the recognition gates and under this share of the
    # photo's biggest face's size is a bystander: it cannot make the photo
    # ambiguous.
    bystander_share: float = 0.5
    min_box_overlap: float = 0.3  # IoU with the catalog's face box
    faces_per_ingest: int = 500  # one ingest call, well under the API's body limit
    embed_batch: int = 32  # faces per recogniser call
    prefetch: int = 8  # photos downloaded and decoded ahead of inference
    lease_seconds: int = 120
    heartbeat_seconds: float = 2.0  # also how often progress is reported
    poll_seconds: float = 2.0
    skipped_photos_listed: int = 1000  # photo IDs named in the job summary, at most


class JobAbandoned(RuntimeError):
    """The lease is gone (Studio said 409): another worker owns the job now."""


class JobStopped(RuntimeError):
    """The worker was asked to stop in the middle of the job."""


class WorkerRefused(RuntimeError):
    """Studio refuses this worker itself: its token (401, a missing scope), its
    model name, or its own claim (a worker ID or lease out of bounds). No job
    can succeed here, and none is to blame: the job held goes back to the
    queue, and the worker stops."""


class StudioUnavailable(RuntimeError):
    """Studio could not be asked for a job, and the worker was told to exit
    when idle: whether it is idle is not known."""


def refuses_worker(exc: StudioError) -> bool:
    """Whether a refusal is of the worker rather than of the job's data."""
    return exc.status in (401, 403) or (
        exc.status == 400 and any(e.get("field") == "model" for e in exc.errors)
    )


def assessed(image: np.ndarray, detections: list[Detection]) -> list[tuple[Detection, FaceQuality]]:
    """Each detection with its quality."""
    return [(d, assess(image, d)) for d in detections]


def choose_face(
    faces: list[tuple[Detection, FaceQuality]], person: Person, settings: WorkerSettings
) -> tuple[Detection | None, str | None]:
    """The labelled person's face, or None with the reason the photo is skipped.

    With the catalog's face box: the detection overlapping it best. Without:
    the one face that is not a bystander. A bystander fails the recognition
    gates (nobody could tell who it is) and is under `bystander_share` of
    the biggest face's size (behind the subject, not beside them); every
    other face could be the one the label is about, so two of them make the
    photo ambiguous. The face chosen must pass the enrolment gates, or the
    reason is the first gate it fails (small_face, blurred, turned,
    low_detection_score).
    """
    if person.face_box is not None:
        overlap, face, quality = max(
            ((iou(d.box, person.face_box), d, q) for d, q in faces),
            key=lambda s: s[0],
            default=(0.0, None, None),
        )
        if face is None or overlap < settings.min_box_overlap:
            return None, "no_face_in_box"
    elif not faces:
        return None, "no_face"
    else:
        biggest = max(d.size for d, _ in faces)
        candidates = [
            (d, q)
            for d, q in faces
            if q.passes(RECOGNITION_GATES) or d.size >= settings.bystander_share * biggest
        ]
        if len(candidates) > 1:
            return None, "ambiguous"
        face, quality = candidates[0]
    refused = quality.reasons(settings.gates)
    return (None, refused[0]) if refused else (face, None)


def decode(data: bytes) -> np.ndarray | None:
    """A BGR image from encoded bytes, in memory; None when they are no image."""
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)


@dataclass
class JobRun:
    """What one job has done so far."""

    total: int
    done: int = 0
    faces_detected: int = 0
    embeddings_stored: int = 0
    duplicates_skipped: int = 0
    identities_resolved: set[str] = field(default_factory=set)
    skipped: Counter = field(default_factory=Counter)
    skipped_photos: list[tuple[str, str]] = field(default_factory=list)
    pending: dict[str, tuple[str, list[dict]]] = field(default_factory=dict)
    # The photos each pending person's faces came from (never sent: only for
    # naming them in the summary if Studio refuses the person).
    pending_photos: dict[str, list[str]] = field(default_factory=dict)

    def pending_faces(self) -> int:
        return sum(len(faces) for _, faces in self.pending.values())

    def skip(self, photo_id: str, reason: str, count: int = 1) -> None:
        """Count a photo (or `count` faces of it) as skipped, and name the photo."""
        self.skipped[reason] += count
        self.skipped_photos.append((photo_id, reason))


class FaceEmbedWorker:
    def __init__(
        self,
        studio: StudioClient,
        catalog: CatalogClient,
        engine: FaceEngine,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
    ):
        self.studio = studio
        self.catalog = catalog
        self.engine = engine
        self.settings = settings or WorkerSettings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{id(self):x}"
        self.stopping = threading.Event()

    # ------------------------------------------------------------ the loop

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT: stop claiming, release the current job."""

        def _stop(signum, _frame):
            log.info("signal %s: stopping after the current photo", signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run(self, *, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        """Work jobs until stopped (or max_jobs, or idle). Returns jobs handled."""
        log.info("worker %s started; provider %s", self.worker_id, self.engine.provider)
        handled = 0
        while not self.stopping.is_set() and (max_jobs is None or handled < max_jobs):
            try:
                job = self.studio.claim_job(self.worker_id, self.settings.lease_seconds)
            except StudioError as exc:
                if exc.status in (400, 401, 403):  # the claim itself, the token
                    raise WorkerRefused(f"Studio refuses this worker's claims: {exc}") from exc
                if exit_when_idle:
                    raise StudioUnavailable(f"could not claim a job: {exc}") from exc
                log.warning("claim failed: %s", exc)
                job = None
            if job is None:
                if exit_when_idle:
                    break
                self.stopping.wait(self.settings.poll_seconds)
                continue
            self.process(job)
            handled += 1
        return handled

    # ------------------------------------------------------------ one job

    def process(self, job: dict) -> None:
        """Run one claimed job to complete, fail or release. Raises
        WorkerRefused (the job released) when Studio refuses the worker."""
        job_id = job["job_id"]
        log.info("job %s: attempt %s, config %s", job_id, job["attempt"], job["config"])
        run = JobRun(total=0)
        try:
            entries = self._resolve(job.get("config"))
            run = JobRun(total=len(entries))
            for entry in entries:
                if isinstance(entry, SkippedPhoto):
                    log.warning("job %s: photo %s skipped: %s", job_id, entry.id, entry.detail)
                    run.skip(entry.id, entry.reason)
                    run.done += 1
            photos = [e for e in entries if isinstance(e, PhotoRef)]
            self._heartbeat(job, run)
            self._work(job, photos, run)
            self._flush(job, run)
            result = self._summary(run)
            self.studio.complete_job(job, result)
            log.info("job %s completed: %s", job_id, result)
        except JobAbandoned:
            log.warning("job %s: lease lost to another worker; dropped", job_id)
        except JobStopped as exc:
            log.info("job %s: %s", job_id, exc)
            self._release(job, run)
        except CatalogError as exc:
            if exc.retryable and self.stopping.is_set():
                # Told to stop while the catalog was away: the outage is not
                # this job's to pay for; whoever claims it next tries again.
                log.info("job %s: stopping during a catalog outage (%s)", job_id, exc)
                self._release(job, run)
            else:
                self._fail(job, str(exc), retryable=exc.retryable)
        except StudioError as exc:
            if exc.status == 409:
                log.warning("job %s: lease lost; dropped", job_id)
            elif refuses_worker(exc):
                self._release(job, run)
                raise WorkerRefused(f"Studio refuses this worker: {exc}") from exc
            else:
                self._fail(job, f"Studio answered {exc.status}: {exc}", retryable=exc.status >= 500)
        except Exception as exc:
            # A defect or an input nobody foresaw: this job fails with the
            # cause, the worker goes on with the next one.
            log.exception("job %s: unexpected error", job_id)
            self._fail(job, f"worker error: {type(exc).__name__}: {exc}", retryable=False)

    def _release(self, job: dict, run: JobRun) -> None:
        """Give the job back unworked: claimable at once, the claim not counted."""
        try:
            self.studio.release_job(job, {"done": run.done, "total": run.total})
            log.info("job %s released for another worker", job["job_id"])
        except StudioError as exc:  # its lease runs out instead
            log.warning("job %s: could not release it: %s", job["job_id"], exc)

    def _fail(self, job: dict, error: str, *, retryable: bool) -> None:
        log.error("job %s failed: %s", job["job_id"], error)
        try:
            self.studio.fail_job(job, error, retryable=retryable)
        except StudioError as exc:
            log.warning("job %s: could not record the failure: %s", job["job_id"], exc)

    def _resolve(self, config: object) -> list[PhotoRef | SkippedPhoto]:
        """The job's photos from the catalog. A photo the catalog does not have
        or describes wrongly is skipped; an unreadable job or batch raises."""
        if not isinstance(config, dict) or ("batch_id" in config) == ("photo_ids" in config):
            raise CatalogAnswerError("job config needs exactly one of batch_id and photo_ids")
        if "batch_id" in config:
            return self.catalog.batch(config["batch_id"])
        photo_ids = config["photo_ids"]
        if not isinstance(photo_ids, list):
            raise CatalogAnswerError("job config: photo_ids must be a list")
        with ThreadPoolExecutor(self.catalog.max_concurrent) as pool:
            return list(pool.map(self._photo, photo_ids))

    def _photo(self, photo_id: object) -> PhotoRef | SkippedPhoto:
        try:
            return self.catalog.photo(check_id(photo_id, "photo_id"))
        except CatalogError as exc:
            if exc.retryable:
                raise
            name = str(photo_id)[:255] if isinstance(photo_id, (str, int)) else "?"
            return SkippedPhoto(name, exc.reason, str(exc))

    def _download(self, photo: PhotoRef) -> tuple[np.ndarray | None, str | None]:
        """Fetch and decode one photo; the encoded bytes are dropped here."""
        try:
            data = self.catalog.fetch(photo)
        except CatalogError as exc:
            if exc.retryable:
                raise
            return None, exc.reason
        image = decode(data)
        del data
        return (image, None) if image is not None else (None, "unreadable")

    def _prefetched(self, photos: list[PhotoRef]) -> Iterator[tuple[PhotoRef, Future]]:
        """Photos with their download+decode futures, at most `prefetch` ahead."""
        with ThreadPoolExecutor(self.settings.prefetch) as pool:
            pending = iter(photos)
            window = deque(
                (photo, pool.submit(self._download, photo))
                for photo in islice(pending, self.settings.prefetch)
            )
            while window:
                photo, future = window.popleft()
                for following in islice(pending, 1):
                    window.append((following, pool.submit(self._download, following)))
                yield photo, future

    def _work(self, job: dict, photos: list[PhotoRef], run: JobRun) -> None:
        to_embed: list[tuple[np.ndarray, Detection, Person, str]] = []  # image, face, who, photo
        last_beat = time.monotonic()
        for photo, future in self._prefetched(photos):
            if self.stopping.is_set():
                self._embed(to_embed, run)
                self._flush(job, run)
                raise JobStopped(
                    f"worker {self.worker_id} stopped after {run.done} of {run.total} photos; "
                    "released for another worker"
                )
            try:
                image, reason = future.result()
            except CatalogError as exc:
                raise CatalogError(
                    f"{exc} (job gave up at photo {photo.id})", retryable=True
                ) from exc
            if image is None:
                run.skip(photo.id, reason)
            else:
                self._choose(image, photo, run, to_embed)
            del image
            run.done += 1
            if len(to_embed) >= self.settings.embed_batch:
                self._embed(to_embed, run)
            if run.pending_faces() >= self.settings.faces_per_ingest:
                self._flush(job, run)
            if time.monotonic() - last_beat >= self.settings.heartbeat_seconds:
                self._heartbeat(job, run)
                last_beat = time.monotonic()
        self._embed(to_embed, run)

    def _choose(self, image, photo: PhotoRef, run: JobRun, to_embed: list) -> None:
        if not photo.people:
            run.skip(photo.id, "unlabelled")
            return
        if len(photo.people) > 1 and any(p.face_box is None for p in photo.people):
            run.skip(photo.id, "ambiguous")  # several people and no boxes to tell them apart
            return
        faces = assessed(image, self.engine.detect(image))
        run.faces_detected += len(faces)
        for person in photo.people:
            face, reason = choose_face(faces, person, self.settings)
            if face is None:
                log.info("photo %s: no reference for person %s: %s", photo.id, person.id, reason)
                run.skip(photo.id, reason)
            else:
                to_embed.append((image, face, person, photo.id))

    def _embed(self, to_embed: list, run: JobRun) -> None:
        if not to_embed:
            return
        vectors = self.engine.embed([(image, face) for image, face, _, _ in to_embed])
        for (_, face, person, photo_id), vector in zip(to_embed, vectors, strict=True):
            _, faces = run.pending.setdefault(person.id, (person.name, []))
            faces.append(
                {"embedding": vector.tolist(), "confidence": round(min(1.0, face.score), 4)}
            )
            run.pending_photos.setdefault(person.id, []).append(photo_id)
        to_embed.clear()

    def _flush(self, job: dict, run: JobRun) -> None:
        """POST the pending faces, grouped by person, in calls of at most
        faces_per_ingest faces, then forget them."""
        if not run.pending:
            return
        payload = {
            "source_system": job["config"]["source_system"],
            "model": self.engine.model_name,
            "results": [
                {"external_id": pid, "name": name, "faces": faces}
                for pid, (name, faces) in run.pending.items()
            ],
        }
        skipped_ids: set[str] = set()
        for chunk, _ in ingest_chunks(payload, self.settings.faces_per_ingest):
            response = self._ingest(chunk, run, skipped_ids)
            run.embeddings_stored += response["embeddings_stored"]
            run.duplicates_skipped += response.get("duplicates_skipped", 0)
            for item in response.get("skipped", []):
                skipped_ids.add(item["external_id"])
                run.skipped[item["reason"]] += item.get("faces", 0)
        run.identities_resolved |= set(run.pending) - skipped_ids
        run.pending.clear()
        run.pending_photos.clear()
        self._heartbeat(job, run)

    def _ingest(self, chunk: dict, run: JobRun, refused_ids: set[str]) -> dict:
        """One ingest call. People Studio refuses item by item (a key or a name
        it does not take, such as a catalog name that holds a URL) are left
        out, their photos skipped as `refused_by_studio`, and the rest sent
        again: one person's bad name costs their photos, not everyone's in the
        job. Any other refusal raises StudioError."""
        while True:
            try:
                return self.studio.ingest(chunk)
            except StudioError as exc:
                indexed = {e["index"] for e in exc.errors if isinstance(e.get("index"), int)}
                per_item = all(
                    isinstance(e.get("index"), int) or e.get("code") == "too_many_errors"
                    for e in exc.errors
                )
                results = chunk["results"]
                if exc.status != 400 or not indexed or not per_item:
                    raise
                if not indexed <= set(range(len(results))):
                    raise
                for index in sorted(indexed):
                    person = str(results[index].get("external_id"))
                    if person not in refused_ids:
                        refused_ids.add(person)
                        why = "; ".join(
                            f"{e.get('field')}: {e.get('message')}"
                            for e in exc.errors
                            if e.get("index") == index
                        )
                        log.warning("person %s refused by Studio: %s", person, why)
                        for photo_id in run.pending_photos.get(person, []):
                            run.skip(photo_id, "refused_by_studio")
                kept = [r for i, r in enumerate(results) if i not in indexed]
                if not kept:
                    return {"embeddings_stored": 0}
                chunk = {**chunk, "results": kept}

    def _heartbeat(self, job: dict, run: JobRun) -> None:
        try:
            self.studio.heartbeat(
                job, {"done": run.done, "total": run.total}, self.settings.lease_seconds
            )
        except StudioError as exc:
            if exc.status == 409:
                raise JobAbandoned from exc
            if refuses_worker(exc):  # the token was revoked mid-job: stop now
                raise
            log.warning("job %s: heartbeat failed: %s", job["job_id"], exc)

    def _summary(self, run: JobRun) -> dict:
        return {
            "photos": run.total,
            "faces_detected": run.faces_detected,
            "identities": len(run.identities_resolved),
            "embeddings_stored": run.embeddings_stored,
            "duplicates_skipped": run.duplicates_skipped,
            "skipped": dict(sorted(run.skipped.items())),
            # Which photos, so a catalog owner knows which need a face box or
            # a fix; IDs and reasons only.
            "skipped_photos": [
                {"photo_id": photo_id, "reason": reason}
                for photo_id, reason in run.skipped_photos[: self.settings.skipped_photos_listed]
            ],
            "skipped_photos_not_listed": max(
                0, len(run.skipped_photos) - self.settings.skipped_photos_listed
            ),
            "model": self.engine.model_name,
            "provider": self.engine.provider,
        }
