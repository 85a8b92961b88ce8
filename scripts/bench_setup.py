"""Fresh environments, timed from nothing: the monorepo's `make setup`, a generated repo's
`make setup`, and `make test` on a fresh clone, as CI and a new colleague meet them.

"Fresh" means a new clone or bake, no `.venv`, and an empty, temporary uv and pip cache for
every run, so each run downloads its packages from the package index (network needed). The
before value is the same setup with pip (`make setup INSTALLER=pip`), in turn with uv's runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.bake import REPO_ROOT, bake
from scripts.timing import Figure, against_before, time_command

# "Setup in a minute" (issue 12): both the monorepo's and a generated repo's.
SETUP_TARGET_S = 60.0
# `make test` on a fresh clone, setup included (issue 12: 15 minutes; moonshot 10).
FULL_TEST_TARGET_S = 15 * 60.0
RUNS = int(os.environ.get("BENCH_SETUP_RUNS", "1"))
# What a fresh shell would not have: this environment's venv, kit source path and kit settings.
NOT_INHERITED = ("PYTHONPATH", "VIRTUAL_ENV", "UV_CACHE_DIR", "PIP_CACHE_DIR")


def fresh_env(scratch: Path) -> dict[str, str]:
    """This process's environment minus what would leak it into the new one, with cold caches."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED and not key.startswith("KIT_")}
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    return {**env, "UV_CACHE_DIR": str(cache / "uv"), "PIP_CACHE_DIR": str(cache / "pip")}


def clone_head(destination: Path) -> Path:
    """A clone of this checkout's committed HEAD (what CI checks out)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO_ROOT), str(destination)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head.stdout.strip()], cwd=destination, check=True)
    return destination


def timed_setup(project: Path, scratch: Path, installer: str) -> float:
    """One `make setup` from no environment and cold caches."""
    shutil.rmtree(project / ".venv", ignore_errors=True)
    try:
        return time_command(["make", "setup", f"INSTALLER={installer}"], project, fresh_env(scratch), inherit=False)
    finally:
        shutil.rmtree(project / ".venv", ignore_errors=True)
        for cache in scratch.glob("cache-*"):
            shutil.rmtree(cache, ignore_errors=True)


def setup_figure(name: str, project: Path, scratch: Path) -> Figure:
    return against_before(
        name,
        lambda: timed_setup(project, scratch, "uv"),
        lambda: timed_setup(project, scratch, "pip"),
        RUNS,
        target=SETUP_TARGET_S,
    )


def bench_fresh_setups() -> list[Figure]:
    """The monorepo's and a default build-train bake's `make setup`: uv, and pip as before."""
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as folder:
        scratch = Path(folder)
        monorepo = clone_head(scratch / "monorepo")
        generated = bake("build-train", scratch / "bake")
        return [
            setup_figure("fresh make setup, monorepo (cold cache; before: pip)", monorepo, scratch),
            setup_figure("fresh make setup, build-train bake (cold cache; before: pip)", generated, scratch),
        ]


def bench_full_test_suite() -> list[Figure]:
    """`make test` in a fresh clone, setup with uv and a cold cache included; BENCH_FULL_TEST=0 skips it."""
    name = "make test on a fresh clone (setup included)"
    if os.environ.get("BENCH_FULL_TEST", "1") == "0":
        return [Figure(name, [], target=FULL_TEST_TARGET_S, skipped=True)]
    with tempfile.TemporaryDirectory(prefix="bench-test-") as folder:
        scratch = Path(folder)
        clone = clone_head(scratch / "monorepo")
        seconds = time_command(["make", "test"], clone, fresh_env(scratch), inherit=False)
        return [Figure(name, [seconds], target=FULL_TEST_TARGET_S)]
