"""Every bound the API states, each number once: the SQL functions enforce
them, the routes check the recognition ones themselves, and the OpenAPI
document (app/openapi/) publishes them. The fuzz test fails when the
document and the SQL disagree."""

from __future__ import annotations

import numpy as np

# What sql/functions enforce, each number once here; the fuzz test fails
# when the document and the SQL disagree.
SOURCE_SYSTEM_MAX = 50  # identities.source_system
KEY_MAX = 255  # external_id, photo and batch IDs
NAME_MAX = 255
MODEL_MAX = 50
WORKER_ID_MAX = 100
LEASE_SECONDS = (10, 3600)
PHOTO_IDS_MAX = 10_000
MAX_ATTEMPTS = (1, 10)
PRIORITY = (-100, 100)
IDENTITY_PAGE_MAX = 1000
JOB_PAGE_MAX = 500
JOB_FIELD_BYTES = {"progress": 4096, "result": 524_288, "error": 4096}  # studio_job_field_sizes
BIGINT_MAX = 2**63 - 1  # job IDs
# PostgreSQL's float4 input rounds a decimal to the nearest 32-bit float.
# The largest magnitude it rounds to a finite one: the midpoint above the
# largest float rounds to infinity, and the float64 at that midpoint prints
# (as JSON writers print it) a shade below it. The largest it rounds to zero,
# refused for any number but 0: half the smallest subnormal float.
FLOAT4_ROUNDS_FINITE = 2**128 - 2**103
FLOAT4_ROUNDS_TO_ZERO = 2.0**-150
JOB_STATES = ("queued", "running", "retrying", "completed", "failed")
# Sightings (record_sighting, sightings_page).
CAMERA_MAX = 100
FRAMES_MAX = 2**31 - 1
SIGHTING_PAGE_MAX = 1000
DECISIONS = ("identified", "uncertain", "unknown")
# How far ahead of the database's clock a camera's clock may run: a sighting
# ending later than this is refused rather than pinning last_seen in the future.
CLOCK_SKEW_MINUTES = 15

# Recognition: checked by app/routes/recognize.py.
MAX_PROBES = 256
MAX_K = 100
DIMENSIONS = 512
FLOAT32_MAX = float(np.finfo(np.float32).max)
SEARCH_PATHS = ("auto", "exact", "ann")
