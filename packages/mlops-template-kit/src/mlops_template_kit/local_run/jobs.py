"""Run a job's process the way its container would, with `/opt/ml` mapped into a sandbox."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import StepFailed
from .report import Console

CONTAINER_ROOT = "/opt/ml"
# `/opt/ml` at the start of a path: alone, or after `=`, a quote, a colon, a space.
_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?![\w.-])")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
STDERR_TAIL = 20
# A local step shares the machine with the emulator, the runner and often other jobs: numerical
# libraries that start one thread per core then fight over it (a 1.8 s training took 21.9 s under
# load). One thread each unless the user exported their own value. XGBoost's `nthread` defaults to
# OpenMP's maximum, which OMP_NUM_THREADS sets (xgboost.readthedocs.io, parameter.html "nthread";
# checked: xgboost 3.0.5 runs 2 OS threads instead of 5 with it); scikit-learn's
# HistGradientBoosting* also use OpenMP; numpy's BLAS reads the OpenBLAS/MKL variables.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def map_paths(value: str, sandbox: Path) -> str:
    """Replace every container path (`/opt/ml/...`) inside a string by its sandbox twin."""
    return _CONTAINER_PATH.sub(lambda _: f"{sandbox.as_posix()}{CONTAINER_ROOT}", value)


def local_path(container_path: str, sandbox: Path) -> Path:
    """The sandbox folder of a container path; only paths under /opt/ml exist in a sandbox."""
    if not isinstance(container_path, str) or not _CONTAINER_PATH.match(container_path):
        raise StepFailed(f"container path {container_path!r} is outside {CONTAINER_ROOT}")
    return Path(map_paths(container_path, sandbox))


def command(entrypoint: Iterable[str], sandbox: Path) -> list[str]:
    """The entrypoint and arguments with paths mapped and `python3` meaning this interpreter."""
    words = [map_paths(str(word), sandbox) for word in entrypoint]
    if not words:
        raise StepFailed("the job has no entrypoint")
    if _PYTHON.match(words[0]):
        return [sys.executable, *words[1:]]
    if shutil.which(words[0]) is None:
        raise StepFailed(f"entrypoint {words[0]!r} is not available on this machine (only its container has it)")
    return words


def environment(variables: dict[str, object] | None, sandbox: Path) -> dict[str, str]:
    """This process's environment (numerical libraries on one thread unless it says otherwise)
    plus the job's variables, container paths mapped."""
    env = {**SINGLE_THREAD, **os.environ}
    env.update({str(name): map_paths(str(value), sandbox) for name, value in (variables or {}).items()})
    # Line by line, so the prefixed log reads as the job runs.
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Finished:
    """A finished process: its exit code, every line it wrote, the tail of its stderr."""

    returncode: int
    lines: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)


def _pump(stream, label: str, console: Console, lines: list[str], tail: deque | None, log) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        console.step_line(label, line)
        lines.append(line)
        log.write(raw)
        if tail is not None:
            tail.append(line)


def run(argv: list[str], *, cwd: Path, env: dict[str, str], label: str, console: Console, log_dir: Path) -> Finished:
    """Run a process to its end, echoing its output prefixed with `label` and keeping a log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    tail: deque[str] = deque(maxlen=STDERR_TAIL)
    with (
        open(log_dir / "stdout.log", "w", encoding="utf-8") as out_log,
        open(log_dir / "stderr.log", "w", encoding="utf-8") as err_log,
    ):
        try:
            process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
            )
        except OSError as error:
            raise StepFailed(f"cannot start {argv[0]}: {error.strerror}") from None
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, label, console, lines, None, out_log)),
            threading.Thread(target=_pump, args=(process.stderr, label, console, lines, tail, err_log)),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        returncode = process.wait()
    return Finished(returncode, lines, list(tail))


def check(finished: Finished, what: str) -> None:
    """Fail the step when its process did not exit with 0."""
    if finished.returncode == 0:
        return
    message = f"{what} exited with code {finished.returncode}"
    if any(_CONTAINER_PATH.search(line) for line in finished.stderr_tail):
        # Only paths the definition passes are mapped; a script default still points at /opt/ml.
        message += f" after using a path under {CONTAINER_ROOT} that the definition does not pass to it"
    raise StepFailed(message, finished.stderr_tail)
