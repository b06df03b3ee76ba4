"""What a new user of `studio` meets first: --version, --help that answers their
questions, and errors that are one line and an exit status, never a traceback."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import fields
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import build_parser, main
from app.config import Settings
from app.processes import free_port
from worker.main import ENVIRONMENT as WORKER_ENVIRONMENT

STUDIO = str(Path(sys.executable).parent / "studio")
VARIABLES = {item.metadata["env"] for item in fields(Settings)}


def studio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "ALFRED_"))}
    return subprocess.run(
        [STUDIO, *args], env=clean | (env or {}), capture_output=True, text=True, timeout=120
    )


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command and subcommand: (its words, its parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


def epilog_variables(parser: argparse.ArgumentParser) -> list[str]:
    text = parser.epilog or ""
    if "environment:" not in text:
        return []
    block = text.split("environment:", 1)[1]
    return re.findall(r"^  ([A-Z_]+)\s", block, flags=re.MULTILINE)


def test_version_is_the_installed_package_version():
    result = studio("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"studio {version('groundtruth-studio-sync')}"


def test_every_option_with_a_default_shows_it_in_help():
    checked = 0
    for words, parser in commands(build_parser()):
        text = " ".join(parser.format_help().split())  # undo the wrapping
        for action in parser._actions:
            if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
                continue
            shown = rf"\(default:? {re.escape(str(action.default))}\)"  # the worker's: no colon
            assert re.search(shown, text), (words, action.dest)
            checked += 1
    assert checked >= 10  # serve, ingest, catalog, alfred, recognize, index, audit


@pytest.mark.parametrize(
    ("words", "variables"),
    [
        (("serve",), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR", "STUDIO_HOST", "STUDIO_PORT"}),
        (("migrate",), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("psql",), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("token", "create"), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("sync",), {"STUDIO_URL", "STUDIO_TOKEN", "STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("ingest",), {"STUDIO_URL", "STUDIO_TOKEN", "STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("identities", "delete"), {"STUDIO_URL", "STUDIO_TOKEN", "STUDIO_DATABASE_URL"}),
        (("import",), {"STUDIO_URL", "STUDIO_TOKEN", "STUDIO_DATABASE_URL"}),
        (("export",), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("audit",), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("index", "build"), {"STUDIO_DATABASE_URL", "STUDIO_DATA_DIR"}),
        (("recognize",), {"STUDIO_DATABASE_URL", "STUDIO_MODEL", "STUDIO_MODEL_ROOT"}),
        (("models", "offline"), {"STUDIO_MODEL_ROOT"}),
        (("alfred", "sync"), {"ALFRED_URL", "ALFRED_TOKEN", "STUDIO_URL", "STUDIO_TOKEN"}),
        (("alfred", "submit"), {"STUDIO_URL", "STUDIO_TOKEN"}),
        (("worker",), {"STUDIO_URL", "STUDIO_TOKEN", "ALFRED_URL", "STUDIO_MODEL"}),
    ],
)
def test_help_names_the_environment_variables_a_command_reads(words, variables):
    parser = dict(commands(build_parser()))[words]
    listed = epilog_variables(parser)
    assert variables <= set(listed), listed
    known = VARIABLES | set(WORKER_ENVIRONMENT)
    assert set(listed) <= known and len(listed) == len(set(listed))
    text = parser.format_help()
    assert all(f"  {variable}" in text for variable in variables)


def test_every_listed_variable_carries_its_help_and_default():
    by_variable = {item.metadata["env"]: item for item in fields(Settings)}
    for words, parser in commands(build_parser()):
        if words == ("worker",):
            continue  # the worker's own table (worker/main.py), tested with studio-worker
        lines = (parser.epilog or "").split("environment:", 1)[-1].splitlines()
        for variable in epilog_variables(parser):
            line = next(line for line in lines if line.startswith(f"  {variable} "))
            item = by_variable[variable]
            assert item.metadata["help"] in line, (words, line)
            if item.default is not None and item.default is not False:
                assert f"(default: {item.default})" in line, (words, line)


def test_the_top_level_help_lists_every_command_and_variable():
    result = studio("--help")
    assert result.returncode == 0
    for words, _ in commands(build_parser()):
        if len(words) == 1:
            assert f"    {words[0]} " in result.stdout
    assert set(re.findall(r"^  ([A-Z_]+)\s", result.stdout, flags=re.MULTILINE)) >= VARIABLES
    ingest = studio("ingest", "--help").stdout
    assert "(default: 1000)" in ingest and "STUDIO_URL" in ingest


# ------------------------------------------------ one error handler


def _bad_int(text: str) -> bool:
    return not (text.strip().isascii() and text.strip().isdigit())


ENVIRONMENT_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
BAD_VALUES = st.one_of(
    st.tuples(
        st.sampled_from(["STUDIO_PORT", "STUDIO_MAX_BODY_BYTES", "STUDIO_POOL_SIZE"]),
        ENVIRONMENT_TEXT.filter(_bad_int),
    ),
    st.tuples(
        st.just("STUDIO_METRICS_PUBLIC"),
        ENVIRONMENT_TEXT.filter(
            lambda t: (
                t.strip().lower() not in ("1", "true", "yes", "on", "", "0", "false", "no", "off")
            )
        ),
    ),
    st.tuples(
        st.just("STUDIO_LOG_LEVEL"),
        ENVIRONMENT_TEXT.filter(
            lambda t: t.strip().upper() not in ("DEBUG", "INFO", "WARNING", "ERROR")
        ),
    ),
)
# Commands that would touch a database, a server or a file if they started.
ARGVS = [
    ["serve"],
    ["migrate"],
    ["db-url"],
    ["token", "list"],
    ["token", "revoke", "x"],
    ["sync", "people.csv", "--source-system", "s"],
    ["ingest", "faces.json"],
    ["identities"],
    ["export", "out.json", "--source-system", "s"],
    ["audit"],
    ["index", "status"],
    ["alfred", "submit", "--batch", "b"],
]


@settings(max_examples=60, deadline=None)
@given(bad=BAD_VALUES, argv=st.sampled_from(ARGVS))
def test_a_wrong_setting_is_one_line_naming_it_before_anything_runs(bad, argv, tmp_path_factory):
    variable, value = bad
    out, err = io.StringIO(), io.StringIO()
    folder = tmp_path_factory.mktemp("bad-setting")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv(variable, value)
        patch.setenv("STUDIO_DATA_DIR", str(folder / "data"))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    assert status == 2
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}="), lines
    assert list(folder.iterdir()) == []  # nothing started, nothing written


@pytest.mark.parametrize(
    ("args", "env", "status", "message"),
    [
        (
            ["sync", "missing.csv", "--source-system", "s"],
            {},
            1,
            "error: cannot read missing.csv: ",
        ),
        (["sync", "bad.json"], {}, 1, "error: bad.json is not JSON: "),
        (["sync", "list.json"], {}, 1, "error: no source_system in the JSON; pass --source-system"),
        (["ingest", "bad.json"], {}, 1, "error: bad.json is not JSON: "),
        (
            ["alfred", "submit", "--batch", "b"],
            {},
            1,
            "error: set STUDIO_URL (and STUDIO_TOKEN) to the Studio API",
        ),
        (["catalog", "serve", "no-such-folder"], {}, 2, "error: no-such-folder is not a folder"),
        (
            ["token", "list"],
            {"STUDIO_PORT": "50x0"},
            2,
            "error: STUDIO_PORT='50x0': expected a whole number",
        ),
        (
            ["migrate"],
            {
                "STUDIO_DATABASE_URL": "postgresql://studio@127.0.0.1:{port}/studio?connect_timeout=5"
            },
            2,
            "error: ",
        ),
    ],
)
def test_expected_errors_are_one_line_and_an_exit_status(tmp_path, args, env, status, message):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text('[{"external_id": "1", "name": "Ann"}]')
    port = str(free_port())  # nothing listens there
    env = {k: v.replace("{port}", port) for k, v in env.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "ALFRED_"))}
    result = subprocess.run(
        [STUDIO, *args],
        env=clean | {"STUDIO_DATA_DIR": str(tmp_path / "data")} | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["0", "-3", "x", "1.5"])
def test_faces_per_call_must_be_a_whole_number_above_zero(value):
    result = studio("ingest", "faces.json", "--faces-per-call", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(f"{value!r} is not a whole number above 0")


def test_serve_on_a_busy_port_says_so_in_one_line_before_anything(tmp_path):
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).parent / "studio"), "serve", "--port", str(port)],
            env={"PATH": "/usr/bin:/bin", "STUDIO_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "choose another with --port or STUDIO_PORT"
    ]
    assert not (tmp_path / "data").exists(), "nothing was started"
