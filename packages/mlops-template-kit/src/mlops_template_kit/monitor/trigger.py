"""What a violation starts, by the stage's `on_drift` (inference_config.json): `retrain` starts the
build-train repository's local run (the local stand-in for the retraining pipeline run the AWS
rule starts; its model still waits for a person's approval), `notify` prints one line (the local
stand-in for the notification).

As in AWS, the retraining run sets only what the build-train pipeline declares: `DATA` (its
InputDataUrl) for a repository whose pipeline reads S3; nothing for one whose pipeline reads an
Athena query (its local run queries the CSV tables under its own input prefix), whose local run
would refuse InputDataUrl as an undeclared parameter.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mlops_template_kit import contract
from mlops_template_kit.monitor.errors import MonitorError
from mlops_template_kit.pipeline.config import CONFIG

RETRAIN, NOTIFY = "retrain", "notify"


def retrain_command(data: str | None) -> list[str]:
    """The build-train repository's local run, on `data` (the newest data) when given."""
    return ["make", "--no-print-directory", "local-run", *([f"DATA={data}"] if data else [])]


def train_data_source(train_repo: Path) -> str:
    """What the build-train repository's pipeline reads: input.json's data.source (s3 or athena)."""
    path = train_repo / CONFIG
    try:
        source = json.loads(path.read_text(encoding="utf-8"))["data"]["source"]
    except (OSError, ValueError, KeyError, TypeError):
        raise MonitorError(
            f"on_drift=retrain: cannot read data.source from {path}: is {train_repo} a build-train repository?"
        ) from None
    if source not in contract.DATA_SOURCES:
        raise MonitorError(f"{path}: data.source {source!r} is not one of {', '.join(contract.DATA_SOURCES)}")
    return source


def retraining_data(source: str, data: str | None, train_repo: Path) -> tuple[str | None, str]:
    """The DATA the local run gets and what the retraining line says about it; MonitorError for
    --data given to a repository whose pipeline reads Athena (it declares no InputDataUrl)."""
    if source == contract.ATHENA_SOURCE:
        if data:
            raise MonitorError(
                f"--data/DATA is the InputDataUrl of a pipeline that reads S3; {train_repo} reads an Athena query "
                "(data.source athena): leave DATA out, its local run queries the CSV tables under its input prefix"
            )
        return None, " (data.source athena: no DATA, its query reads the local tables under its input prefix)"
    return data, "" if data else " (no DATA: its pipeline's default input prefix)"


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
    data, about = retraining_data(train_data_source(train_repo), data, train_repo)
    command = retrain_command(data)
    shown = " ".join(command)
    if dry_run:
        print(f"retrain (dry run): would run `{shown}` in {train_repo}{about}")
        return 0
    print(f"retrain: running `{shown}` in {train_repo}{about} (the new model waits for approval)", flush=True)
    return subprocess.run(command, cwd=train_repo, check=False).returncode
