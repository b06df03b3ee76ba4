"""`studio serve` and `studio catalog serve` as child processes, for the demo, the
benchmarks and the tests: a free port, the process, and the wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import requests

STUDIO = str(Path(sys.executable).parent / "studio")


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Poll `url` until it answers below 500. Raises RuntimeError (and kills the
    process) when the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


def spawn_studio(
    env: dict[str, str] | None = None, *, log: IO | int = subprocess.DEVNULL, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    """`studio serve` on a free port with `env` (default: this process's); return
    the process and its base URL once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [STUDIO, "serve", "--workers", str(workers)],
        env={**(os.environ if env is None else env), "STUDIO_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/healthz", process, "studio serve")
    return process, base


def spawn_catalog(
    folder: Path,
    *,
    env: dict[str, str] | None = None,
    log: IO | int = subprocess.DEVNULL,
    host: str = "127.0.0.1",
) -> tuple[subprocess.Popen, str]:
    """`studio catalog serve folder` on a free port of `host` (0.0.0.0 for
    other hosts to reach it); return the process and its URL on the loopback."""
    port = free_port()
    process = subprocess.Popen(
        [STUDIO, "catalog", "serve", str(folder), "--host", host, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/api/people", process, "the catalog")
    return process, url
