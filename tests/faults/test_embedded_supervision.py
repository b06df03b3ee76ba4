"""`studio serve` keeps its embedded PostgreSQL alive: when the postmaster dies,
serve starts it again (with backoff while starting fails), logs it, and
/readyz says so."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import tempfile
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.embedded_db import Supervisor, postmaster_running
from app.processes import spawn_studio


class FlakyServer:
    """A stand-in postmaster: dies on demand; each restart fails a set number of times."""

    def __init__(self, failures: list[int], supervisor_dir: Path):
        self.alive = True
        self.failures = list(failures)  # failing tries before each restart succeeds
        self.states_seen_while_down: list[str] = []
        self.state_file = supervisor_dir / "studio-supervisor.json"

    def running(self) -> bool:
        return self.alive

    def restart(self) -> None:
        self.states_seen_while_down.append(json.loads(self.state_file.read_text())["state"])
        if self.failures[0] > 0:
            self.failures[0] -= 1
            raise RuntimeError("pre-existing shared memory block is still in use")
        self.failures.pop(0)
        self.alive = True


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(failures=st.lists(st.integers(0, 5), min_size=1, max_size=4))
def test_every_death_is_restarted_with_backoff_and_reported(caplog, failures):
    folder = Path(tempfile.mkdtemp(prefix="studio-supervisor-"))
    server = FlakyServer(failures, folder)
    supervisor = Supervisor(
        folder,
        interval=0.002,
        first_backoff=0.001,
        max_backoff=0.004,
        running=server.running,
        restart=server.restart,
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.embedded_db"):
        supervisor.start()
        try:
            for death in range(1, len(failures) + 1):
                server.alive = False
                assert _wait_for(lambda: server.alive), "not restarted"
                assert _wait_for(lambda d=death: supervisor.state["restarts"] == d)
                state = json.loads(supervisor.state_file.read_text())  # written before
                # After every death: running again, every restart counted.
                assert (state["state"], state["restarts"]) == ("running", death)
                assert (state["last_error"] is not None) == any(failures[:death])
        finally:
            supervisor.stop()
    assert not supervisor.state_file.exists()
    assert set(server.states_seen_while_down) == {"restarting"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is not running; restarting" in m for m in messages) == len(failures)
    assert sum("restarted after" in m for m in messages) == len(failures)
    # Backoff: each death's failed tries wait 1, 2, 4, 4 ... ms (doubling, capped).
    waits = [float(w) for w in re.findall(r"next try in ([0-9.e-]+) s", "\n".join(messages))]
    expected = [min(0.001 * 2**i, 0.004) for n in failures for i in range(n)]
    assert waits == pytest.approx(expected)


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


def _readyz(base: str) -> tuple[int, dict]:
    try:
        response = requests.get(f"{base}/readyz", timeout=30)
    except requests.ConnectionError:
        return 0, {}
    return response.status_code, response.json()


@pytest.fixture
def served(tmp_path):
    """`studio serve` on its own embedded database; its admin token and log."""
    data_dir = Path(tempfile.mkdtemp(prefix="studio-served-")) / "data"
    log_path = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_DATA_DIR"] = str(data_dir)
    with log_path.open("wb") as log:
        process, base = spawn_studio(env, log=log)
    token = re.search(r"gts_[A-Za-z0-9_-]+", log_path.read_text()).group(0)
    yield base, token, data_dir, log_path
    process.terminate()
    process.wait(timeout=60)
    assert not postmaster_running(data_dir), "serve stopped its server on exit"


# A crash, an immediate shutdown and a fast shutdown. (SIGTERM asks for a smart
# shutdown, which waits for every client to leave: the server stays up, and
# that is an operator's business, not a death.)
SIGNALS = [signal.SIGKILL, signal.SIGQUIT, signal.SIGINT]


@pytest.mark.slow
def test_serve_restarts_its_killed_database_and_readyz_reports_it(served):
    base, token, data_dir, log_path = served
    headers = {"Authorization": f"Bearer {token}"}
    status, body = _readyz(base)
    assert status == 200 and body["embedded_database"]["state"] == "running"
    acknowledged: list[str] = []
    deaths = 0

    @settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
    @given(kills=st.lists(st.sampled_from(SIGNALS), min_size=1, max_size=2))
    def kill_and_check(kills):
        nonlocal deaths
        for sig in kills:
            key = str(len(acknowledged))
            synced = requests.post(
                f"{base}/api/identities/sync",
                json={"source_system": "s", "identities": [{"external_id": key, "name": "P"}]},
                headers=headers,
                timeout=30,
            )
            assert synced.status_code == 200, synced.text
            acknowledged.append(key)
            old = _postmaster_pid(data_dir)
            os.kill(old, sig)
            deaths += 1
            # Invariant after every death: ready again on a new postmaster, the
            # restart counted and logged, nothing acknowledged lost.
            deadline = time.monotonic() + 60
            while True:
                status, body = _readyz(base)
                if status == 200 and body["embedded_database"]["restarts"] >= deaths:
                    break
                assert time.monotonic() < deadline, (status, body, log_path.read_text()[-3000:])
                time.sleep(0.2)
            assert body["embedded_database"]["state"] == "running"
            assert _postmaster_pid(data_dir) != old
            listing = requests.get(
                f"{base}/api/identities/external",
                headers=headers,
                params={"limit": 1000},
                timeout=30,
            )
            assert listing.status_code == 200, listing.text
            stored = {i["external_id"] for i in listing.json()["identities"]}
            assert stored == set(acknowledged)

    kill_and_check()
    log = log_path.read_text()
    assert log.count("is not running; restarting it") == deaths
    assert log.count("embedded PostgreSQL restarted after") == deaths
