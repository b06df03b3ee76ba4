"""Settings, read once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults DESIGN.md documents."""

    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 5050
    studio_url: str | None = None
    studio_token: str | None = None
    alfred_url: str = "http://alfred:8082"
    alfred_token: str | None = None
    model_root: Path | None = None
    model: str = "buffalo_l"
    max_body_bytes: int = 32 * 1024 * 1024
    pool_size: int = 8
    # /metrics shows every source system's gallery and job counts, so it needs
    # a token with the metrics scope; STUDIO_METRICS_PUBLIC=1 opens it to a
    # scrape network that cannot send one.
    metrics_public: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from STUDIO_* / ALFRED_* variables, then apply overrides."""
        env = os.environ if env is None else env
        data_dir = env.get("STUDIO_DATA_DIR")
        model_root = env.get("STUDIO_MODEL_ROOT")
        settings = cls(
            database_url=env.get("STUDIO_DATABASE_URL") or None,
            data_dir=Path(data_dir).resolve() if data_dir else cls.data_dir,
            host=env.get("STUDIO_HOST", cls.host),
            port=int(env.get("STUDIO_PORT", cls.port)),
            studio_url=env.get("STUDIO_URL") or None,
            studio_token=env.get("STUDIO_TOKEN") or None,
            alfred_url=env.get("ALFRED_URL", cls.alfred_url),
            alfred_token=env.get("ALFRED_TOKEN") or None,
            model_root=Path(model_root) if model_root else None,
            model=env.get("STUDIO_MODEL", cls.model),
            max_body_bytes=int(env.get("STUDIO_MAX_BODY_BYTES", cls.max_body_bytes)),
            pool_size=int(env.get("STUDIO_POOL_SIZE", cls.pool_size)),
            metrics_public=env.get("STUDIO_METRICS_PUBLIC", "").strip().lower()
            in ("1", "true", "yes", "on"),
        )
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(settings, **overrides)
