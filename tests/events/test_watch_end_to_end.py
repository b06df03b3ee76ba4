"""From a camera to Home Assistant and a webhook, every part real: `studio
watch` on a video file camera, a live Studio, `studio events run` with a real
MQTT broker and a local webhook receiver that is down at first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA_FACES, make_token, wait_for
from test_webhooks import SECRET, Receiver, receiving

from app import webhook_signature
from app.processes import free_port

STUDIO = str(Path(sys.executable).parent / "studio")
CLIP = DATA_FACES / "probes" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    from worker.face_engine import offline_pack

    return offline_pack(tmp_path_factory.mktemp("models"))


def test_a_camera_reaches_home_assistant_and_a_signed_webhook(
    live_server, db_url, conn, enrolled, broker, listen, model_root, tmp_path
):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    hook_port = free_port()  # the receiver is down: nothing listens there yet
    config = tmp_path / "events.toml"
    config.write_text(
        f'[[mqtt]]\nname = "home"\nhost = "127.0.0.1"\nport = {broker}\n'
        "presence_quiet_seconds = 600\n\n"
        f'[[webhook]]\nname = "alerts"\nurl = "http://127.0.0.1:{hook_port}/hook"\n'
        f'secret = "{SECRET}"\nbackoff_seconds = 0.5\nmax_backoff_seconds = 1\n'
        # Retried for as long as the camera takes, however busy the machine:
        # the dead letters are another test's.
        "max_attempts = 1000\n\n"
        "[dispatcher]\npoll_seconds = 0.2\n"
    )
    subscriber = listen("studio/#", "homeassistant/#")
    dispatcher = subprocess.Popen(
        [STUDIO, "events", "run", "--config", str(config)],
        env=clean | {"STUDIO_DATABASE_URL": db_url},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: conn.execute("SELECT count(*) FROM event_outputs").fetchone()[0] == 2, 60)
        cameras = tmp_path / "cameras.toml"
        cameras.write_text(f'[[camera]]\nname = "stage"\nurl = "{CLIP}"\nfps = 2\n')
        token = make_token(conn, ["recognize", "sightings:write"])
        watched = subprocess.run(
            [STUDIO, "watch", str(cameras)],
            env=clean
            | {
                "STUDIO_URL": live_server,
                "STUDIO_TOKEN": token,
                "STUDIO_MODEL": "buffalo_s",
                "STUDIO_MODEL_ROOT": str(model_root),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert watched.returncode == 0, watched.stderr

        # The sighting rows: one a track, Miranda among the identified.
        named = conn.execute(
            """SELECT i.identity_id::text, i.external_id FROM sightings s
               JOIN identities i USING (identity_id) WHERE s.decision = 'identified'"""
        ).fetchall()
        miranda = next(i for i, e in named if e == "lin_manuel_miranda")
        assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] >= 5

        # MQTT: the sighting events, the person's retained state and presence,
        # and Home Assistant's discovery configs.
        compact = miranda.replace("-", "")
        # Every event the MQTT output was given reaches the broker (the
        # dispatcher works through them after the camera service is done).
        published = conn.execute(
            "SELECT count(*) FROM deliveries WHERE output = 'home'"
        ).fetchone()[0]
        assert published >= 1
        subscriber.wait_for(lambda: len(subscriber.on("studio/sighting/stage")) >= published)
        events = [json.loads(p) for p in subscriber.on("studio/sighting/stage")]
        assert all(e["sighting"]["decision"] == "identified" for e in events)
        state = json.loads(
            subscriber.wait_for(lambda: subscriber.last(f"studio/person/{miranda}/state"))
        )
        assert state["camera"] == "stage" and state["external_id"] == "lin_manuel_miranda"
        assert (
            subscriber.wait_for(lambda: subscriber.last(f"studio/person/{miranda}/presence/stage"))
            == b"ON"
        )
        discovery = json.loads(
            subscriber.wait_for(
                lambda: subscriber.last(f"homeassistant/sensor/studio_{compact}_last_seen/config")
            )
        )
        assert discovery["state_topic"] and discovery["availability_topic"] == "studio/status"
        assert subscriber.last("studio/status") == b"online"

        # The webhook: down at first, so the deliveries wait with a backoff;
        # then delivered, signed, once the receiver is up.
        wait_for(
            lambda: conn.execute(
                """SELECT count(*) FROM deliveries
                   WHERE output = 'alerts' AND attempts >= 1 AND state = 'pending'"""
            ).fetchone()[0],
            60,
        )
        receiver = Receiver()
        with receiving(receiver, hook_port):
            wait_for(
                lambda: conn.execute(
                    """SELECT bool_and(state = 'delivered') FROM deliveries
                       WHERE output = 'alerts'"""
                ).fetchone()[0],
                60,
            )
        assert receiver.requests
        for headers, body in receiver.requests:
            assert webhook_signature.verify(SECRET, headers[webhook_signature.HEADER], body)
            assert json.loads(body)["sighting"]["decision"] == "identified"
        delivered = {json.loads(body)["event_id"] for _, body in receiver.requests}
        assert delivered == {e["event_id"] for e in events}
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        try:
            dispatcher.communicate(timeout=30)
        finally:
            if dispatcher.poll() is None:
                dispatcher.kill()
