"""Galleries for calibration tests: clustered like faces, enrolled through
ingest_embeddings as a worker would leave them."""

from __future__ import annotations

import json

import numpy as np


def clustered(identities: int, per: int, seed: int) -> np.ndarray:
    """(identities, per, 512) unit vectors clustered like faces
    (bench/recognition_bench.py): two photos of one person score about 0.5,
    strangers about 0."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((identities, 512))
    samples = centres[:, None, :] + rng.standard_normal((identities, per, 512))
    return samples / np.linalg.norm(samples, axis=2, keepdims=True)


def enrol(conn, vectors: np.ndarray, model: str = "buffalo_s", source: str = "alfred_catalog"):
    """Person i (external_id p{i}) with the reference faces vectors[i]."""
    payload = {
        "source_system": source,
        "model": model,
        "results": [
            {
                "external_id": f"p{i}",
                "name": f"Person {i}",
                "faces": [{"embedding": v.tolist()} for v in person],
            }
            for i, person in enumerate(vectors)
        ],
    }
    conn.execute("SELECT ingest_embeddings(%s::jsonb)", (json.dumps(payload),))
