"""A photo catalog served from a folder, speaking the catalog API the worker reads.

    DIR/<person>/<photo>.jpg      one subfolder per person, every photo shows them
    DIR/face_boxes.json           optional: {"<person>/<photo>": [x1, y1, x2, y2]}

Routes, in the shapes the seed gives for Alfred's catalog (extras marked +):

    GET /api/photos/<id>              {"photo_id", "person_id", "person_name", "file_url",
                                       + "face_box"?}
    GET /api/photos/<id>/file         the photo's bytes
    GET /api/batches/<id>/photos      {"photos": [{"photo_id", "person_id", "person_name",
                                       + "file_url", + "face_box"?}, ...], + "batch_id"}
  + GET /api/people                   {"people": [{"person_id", "person_name", "photo_count"}]}
  + GET /api/batches                  {"batches": [{"batch_id", "photo_count"}]}

`GET /api/people` is what `studio alfred sync` reads; the seed's Alfred has
no such route (it lists its people from its own database), so its cron pipes
that list into `studio sync -` instead.

IDs are stable: a person's ID is its folder name, a photo's ID is derived
from its path, so restarting the catalog or adding photos changes no ID.
Batch "all" holds every photo; each person is also a batch of their photos.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, jsonify, request, send_file

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


@dataclass(frozen=True)
class Photo:
    id: str
    person_id: str
    path: Path
    face_box: list[float] | None = None


@dataclass
class FolderCatalog:
    root: Path
    people: dict[str, str] = field(default_factory=dict)  # id -> display name
    photos: dict[str, Photo] = field(default_factory=dict)

    @classmethod
    def scan(cls, root: Path) -> FolderCatalog:
        root = Path(root).resolve()
        boxes_file = root / "face_boxes.json"
        boxes = json.loads(boxes_file.read_text()) if boxes_file.exists() else {}
        catalog = cls(root)
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            catalog.people[folder.name] = folder.name.replace("_", " ").title()
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in PHOTO_SUFFIXES:
                    relative = f"{folder.name}/{path.name}"
                    photo_id = hashlib.sha1(relative.encode()).hexdigest()[:12]
                    catalog.photos[photo_id] = Photo(
                        photo_id, folder.name, path, boxes.get(relative)
                    )
        return catalog

    def photo_json(self, photo: Photo) -> dict:
        answer = {
            "photo_id": photo.id,
            "person_id": photo.person_id,
            "person_name": self.people[photo.person_id],
            "file_url": f"/api/photos/{photo.id}/file",
        }
        if photo.face_box:
            answer["face_box"] = photo.face_box
        return answer

    def batch(self, batch_id: str) -> list[Photo]:
        if batch_id == "all":
            return list(self.photos.values())
        if batch_id in self.people:
            return [p for p in self.photos.values() if p.person_id == batch_id]
        abort(404)


def create_catalog_app(root: Path, token: str | None = None) -> Flask:
    """The catalog API over `root`; with `token`, every request must bear it."""
    catalog = FolderCatalog.scan(root)
    app = Flask(__name__)

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/api/people")
    def people():
        counts: dict[str, int] = {}
        for photo in catalog.photos.values():
            counts[photo.person_id] = counts.get(photo.person_id, 0) + 1
        return jsonify(
            {
                "people": [
                    {"person_id": pid, "person_name": name, "photo_count": counts.get(pid, 0)}
                    for pid, name in catalog.people.items()
                ]
            }
        )

    @app.get("/api/photos/<photo_id>")
    def photo(photo_id: str):
        if photo_id not in catalog.photos:
            abort(404)
        return jsonify(catalog.photo_json(catalog.photos[photo_id]))

    @app.get("/api/photos/<photo_id>/file")
    def photo_file(photo_id: str):
        if photo_id not in catalog.photos:
            abort(404)
        return send_file(catalog.photos[photo_id].path)

    @app.get("/api/batches")
    def batches():
        ids = ["all", *catalog.people]
        return jsonify(
            {"batches": [{"batch_id": b, "photo_count": len(catalog.batch(b))} for b in ids]}
        )

    @app.get("/api/batches/<batch_id>/photos")
    def batch_photos(batch_id: str):
        return jsonify(
            {
                "batch_id": batch_id,
                "photos": [catalog.photo_json(p) for p in catalog.batch(batch_id)],
            }
        )

    return app
