"""Faces followed from frame to frame, and one decision per track.

A single frame of a camera is a poor witness: the face is small, turned or
blurred, and one bad frame can name a stranger. A track gathers the frames
of one face, linked by box overlap and by embedding continuity (at a couple
of sampled frames a second a face may move far, but it stays like itself),
and decides once, by a vote of its frames weighted by their quality.

The vote (`decide_track`): the identity with the most `identified` weight
is the track's answer when that weight is at least VOTE_SHARE of the whole
track's and at least twice any other identity's; otherwise the track is
`uncertain` when any frame named or nearly named someone, else `unknown`.
docs/recognition.md gives the measurements that chose the numbers.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from worker.face_engine import iou

# Linking a face to a track: cosine similarity to the track's running mean
# embedding, plus a bonus for box overlap with the track's last box.
MIN_LINK_SIMILARITY = 0.30  # below this, never the same face
MIN_FAR_LINK_SIMILARITY = 0.45  # a face that moved off its last box must look this alike
OVERLAP_BONUS = 0.5  # weight of IoU in the link score
MAX_GAP_SECONDS = 2.0  # a track not seen for longer is over
VOTE_SHARE = 0.4  # share of the track's weight that must name the identity
MIN_WEIGHT = 0.05  # every frame counts a little, however poor


@dataclass
class Observation:
    """One face in one frame, with what recognition said of it."""

    frame: int
    seconds: float
    box: tuple[float, float, float, float]
    embedding: np.ndarray  # unit length
    weight: float  # quality, 0..1
    result: dict  # the recognize answer for this face (decision, candidates, ...)
    at: float = 0.0  # wall-clock time of the frame (time.time())


@dataclass
class Track:
    track_id: int
    observations: list[Observation] = field(default_factory=list)
    _sum: np.ndarray = field(default_factory=lambda: np.zeros(512, dtype=np.float32))

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    @property
    def mean_embedding(self) -> np.ndarray:
        norm = float(np.linalg.norm(self._sum))
        return self._sum / norm if norm else self._sum

    def add(self, observation: Observation) -> None:
        self.observations.append(observation)
        self._sum = self._sum + max(observation.weight, MIN_WEIGHT) * observation.embedding

    def link_score(self, observation: Observation) -> float | None:
        """How well the face continues this track; None when it cannot."""
        similarity = float(self.mean_embedding @ observation.embedding)
        overlap = iou(self.last.box, observation.box)
        if similarity < MIN_LINK_SIMILARITY:
            return None
        if overlap == 0 and similarity < MIN_FAR_LINK_SIMILARITY:
            return None
        return similarity + OVERLAP_BONUS * overlap


class Tracker:
    """Links each frame's faces to the open tracks; a track closes after
    MAX_GAP_SECONDS without its face."""

    def __init__(self, max_gap_seconds: float = MAX_GAP_SECONDS):
        self.max_gap_seconds = max_gap_seconds
        self.open: list[Track] = []
        self._ids = itertools.count(1)

    def update(
        self, seconds: float, observations: list[Observation]
    ) -> tuple[list[int], list[Track]]:
        """Place one frame's faces: the track id of each, and the tracks that closed."""
        closed = [t for t in self.open if seconds - t.last.seconds > self.max_gap_seconds]
        self.open = [t for t in self.open if t not in closed]
        # Greedy assignment, best link first: one face per track per frame.
        pairs = sorted(
            (
                (score, ti, oi)
                for ti, track in enumerate(self.open)
                for oi, obs in enumerate(observations)
                if (score := track.link_score(obs)) is not None
            ),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for _, ti, oi in pairs:
            if ti in used_tracks or oi in assigned:
                continue
            used_tracks.add(ti)
            assigned[oi] = self.open[ti]
        ids = []
        for oi, obs in enumerate(observations):
            track = assigned.get(oi)
            if track is None:
                track = Track(next(self._ids))
                self.open.append(track)
            track.add(obs)
            ids.append(track.track_id)
        return ids, closed

    def finish(self) -> list[Track]:
        """Close every open track (the feed ended)."""
        closed, self.open = self.open, []
        return closed


def decide_track(track: Track) -> dict:
    """The track's decision by a quality-weighted vote of its frames, with the
    identity (when identified), the leading candidate's best and mean
    similarity over the frames, and the votes."""
    weights = [max(o.weight, MIN_WEIGHT) for o in track.observations]
    total = sum(weights)
    identified: dict[str, float] = defaultdict(float)
    leaning: dict[str, float] = defaultdict(float)  # identified or uncertain
    nearest: dict[str, float] = defaultdict(float)  # any frame's best candidate
    candidates: dict[str, dict] = {}
    votes = {"identified": 0, "uncertain": 0, "unknown": 0}
    for obs, weight in zip(track.observations, weights, strict=True):
        decision = obs.result["decision"]
        votes[decision] += 1
        best = obs.result["candidates"][0] if obs.result["candidates"] else None
        if best is None:
            continue
        key = best["identity_id"]
        candidates.setdefault(key, best)
        nearest[key] += weight
        if decision == "unknown":
            continue
        leaning[key] += weight
        if decision == "identified":
            identified[key] += weight
    decision, leader = "unknown", None
    if identified:
        leader = max(identified, key=identified.__getitem__)
        runner_up = max((w for k, w in identified.items() if k != leader), default=0.0)
        if identified[leader] >= VOTE_SHARE * total and identified[leader] >= 2 * runner_up:
            decision = "identified"
    if decision == "unknown" and leaning:
        leader = max(leaning, key=leaning.__getitem__)
        decision = "uncertain"
    elif decision == "unknown" and nearest:
        # Nobody is named, but the scores say how far the nearest one was.
        leader = max(nearest, key=nearest.__getitem__)
    scores = [_similarity(o.result, leader) for o in track.observations] if leader else []
    scores = [s for s in scores if s is not None]
    identity = candidates[leader] if decision == "identified" else None
    return {
        "decision": decision,
        "identity": identity,
        "name": identity["name"] if identity else None,
        "external_id": identity["external_id"] if identity else None,
        "candidate": candidates[leader]["name"] if leader and decision == "uncertain" else None,
        "best_similarity": round(max(scores), 4) if scores else None,
        "mean_similarity": round(float(np.mean(scores)), 4) if scores else None,
        "votes": votes,
    }


def _similarity(result: dict, identity_id: str) -> float | None:
    for candidate in result["candidates"]:
        if candidate["identity_id"] == identity_id:
            return candidate["similarity"]
    return None
