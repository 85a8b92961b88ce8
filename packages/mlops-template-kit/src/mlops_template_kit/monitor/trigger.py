"""What a violation starts, by the stage's `on_drift` (inference_config.json): `retrain` starts the
build-train repository's local run (the local stand-in for the retraining pipeline run the AWS
rule starts; its model still waits for a person's approval), `notify` prints one line (the local
stand-in for the notification)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlops_template_kit.monitor.errors import MonitorError

RETRAIN, NOTIFY = "retrain", "notify"


def retrain_command(data: str | None) -> list[str]:
    """The build-train repository's local run, on `data` (the newest data) when given."""
    return ["make", "--no-print-directory", "local-run", *([f"DATA={data}"] if data else [])]


def default_train_repo(repo_root: Path, project_name: str) -> Path:
    """Where `make new` and the demo put the build-train repository: beside this one."""
    return repo_root.resolve().parent / f"{project_name}-build-train"


def on_violation(on_drift: str, summary: str, train_repo: Path, data: str | None, dry_run: bool) -> int:
    """Start what `on_drift` asks for; the exit code of the retraining run (0 for notify or a dry run)."""
    if on_drift == NOTIFY:
        print(f"notify: {summary}")
        return 0
    if on_drift != RETRAIN:
        raise MonitorError(f"on_drift {on_drift!r} is not one of {RETRAIN}, {NOTIFY}")
    if not (train_repo / "Makefile").is_file():
        raise MonitorError(
            f"on_drift=retrain: no build-train repository at {train_repo}: "
            "set TRAIN_REPO=<its folder> (or --train-repo)"
        )
    command = retrain_command(data)
    shown = " ".join(command)
    if dry_run:
        print(f"retrain (dry run): would run `{shown}` in {train_repo}")
        return 0
    print(f"retrain: running `{shown}` in {train_repo} (the new model waits for approval)", flush=True)
    return subprocess.run(command, cwd=train_repo, check=False).returncode
