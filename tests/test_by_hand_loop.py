"""The by-hand loop as a user plays it from the READMEs (issue 13's Done-when): bake both repos,
put a CSV folder of one's own beside them, then run the commands of the READMEs' marked block in
order: start the local AWS services, train on that folder, approve, serve (GET /ping), test the
served registry model, stop the services."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.bake import OFFLINE_ENV
from tests import bakery

pytestmark = pytest.mark.slow

KIT_SRC = bakery.REPO_ROOT / "packages" / "mlops-template-kit" / "src"
VENV = Path(sys.executable).parent.parent
MARKED_BLOCK = re.compile(r"<!-- by-hand-loop -->\s*```sh\n(?P<body>.*?)```", re.DOTALL)
SERVING = re.compile(r"serving at (?P<url>http://127\.0\.0\.1:\d+)")
OWN_DATA = "my-data"
OWN_FILE = "patients-2026.csv"
SERVE_TIMEOUT_SECONDS = 60


def loop_commands(readme: Path) -> list[str]:
    """The commands of the README's marked block, comments and blank lines dropped."""
    found = MARKED_BLOCK.search(readme.read_text(encoding="utf-8"))
    assert found, f"{readme} has no <!-- by-hand-loop --> sh block"
    lines = (line.split("#", 1)[0].strip() for line in found.group("body").splitlines())
    return [line for line in lines if line]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command_env() -> dict[str, str]:
    """As a user's shell: no AWS endpoint or credentials of its own; this worktree's kit."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(OFFLINE_ENV)
    # In front of what is there: the authz recorder's sitecustomize may be on it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KIT_SRC), str(bakery.REPO_ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def make(line: str, port: int) -> list[str]:
    # VENV= names the monorepo's environment (same pins; nothing is installed), as make demo does.
    return [*line.split(), "--no-print-directory", f"VENV={VENV}", f"LOCAL_AWS_PORT={port}"]


def write_own_data(train: Path, folder: Path) -> Path:
    """Labelled records with the sample's columns, under another file name and with other rows."""
    problem = json.loads((train / ".cruft.json").read_text())["context"]["cookiecutter"]["problem_type"]
    script = (
        "import sys; sys.path.insert(0, 'algorithms'); from shared_libraries import sample_data; "
        f"frame = sample_data.load_sample_frame({problem!r}); "
        f"frame.sample(frac=0.8, random_state=13).to_csv({str(folder / OWN_FILE)!r}, index=False); "
        "print(sample_data.SAMPLE_FILENAME)"
    )
    folder.mkdir()
    sample_name = subprocess.run(
        [sys.executable, "-c", script], cwd=train, env=command_env(), check=True, capture_output=True, text=True
    ).stdout.strip()
    assert sample_name != OWN_FILE
    return folder / OWN_FILE


def check_serving(command: list[str], cwd: Path) -> None:
    """Start serve-local in the background, GET /ping, stop it (its whole process group)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
        seen = []
        for line in process.stdout:
            seen.append(line)
            found = SERVING.search(line)
            if found:
                with urllib.request.urlopen(found.group("url") + "/ping", timeout=10) as answer:
                    assert answer.status == 200
                return
            assert time.monotonic() < deadline, "".join(seen)
        pytest.fail(f"serve-local ended without serving:\n{''.join(seen)}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def run_loop(commands: list[str], start: Path, port: int) -> list[str]:
    """Each command in order from `start`, following its `cd` lines; the make targets run."""
    cwd, ran = start, []
    for line in commands:
        if line.startswith("cd "):
            cwd = (cwd / line[3:].strip()).resolve()
            continue
        assert line.startswith("make "), f"the loop block holds only cd and make lines: {line}"
        command = make(line, port)
        if line.split()[1] == "serve-local":
            check_serving(command, cwd)
        else:
            result = subprocess.run(command, cwd=cwd, env=command_env(), capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{line} in {cwd.name}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            ran.append(f"{line}\n{result.stdout}")
        ran.append(line)
    return ran


def test_the_loop_from_the_readmes_on_own_data(tmp_path):
    train = bakery.bake("build-train", tmp_path)
    deploy = bakery.bake("deploy", tmp_path)
    own = write_own_data(train, tmp_path / OWN_DATA)
    train_commands = loop_commands(train / "README.md")
    deploy_commands = loop_commands(deploy / "README.md")
    # The deploy README's walk-through is the same loop, from the deploy repository.
    assert deploy_commands == [f"cd ../{train.name}", *train_commands]
    port = free_port()
    try:
        output = "\n".join(run_loop(deploy_commands, deploy, port))
    finally:
        subprocess.run(make("make local-aws-stop", port), cwd=train, env=command_env(), capture_output=True)
    assert f"Uploaded 1 input files from ../{OWN_DATA}" in output and "input/my-data/" in output
    assert "approved arn:aws:sagemaker:" in output and "passed" in output
    assert "saved" in output and (train / ".local-aws" / "state" / "manifest.json").is_file()
    assert own.is_file()
