"""`make demo`: the whole loop on bundled sample data, offline, on this machine.

Bakes the build/train repo into demo/, runs its tests, builds its pipeline definition and shows
the DAG, runs the pipeline locally to a registered model, then bakes the deploy repo, serves the
registered model on loopback and runs the deploy repo's tests against it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from mlops_template_kit import naming
from mlops_template_kit.definition import summarise
from scripts.bake import OFFLINE_ENV, REPO_ROOT, bake

DEMO_DIR = REPO_ROOT / "demo"
VENV = Path(sys.executable).parent.parent


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


STAGES = 7


def build_train_stages(project: Path) -> None:
    banner(2, STAGES, "Run the build/train repo's tests")
    make("test", project)
    banner(3, STAGES, "Training pipeline definition, built offline")
    definition = run([str(Path(sys.executable).parent / "mlops-kit"), "pipeline", "definition"], project, capture=True)
    print(summarise(json.loads(definition)))
    banner(4, STAGES, "Run the training pipeline locally (no AWS, no Docker)")
    make("local-run", project)


def approve_newest_model(group: str) -> str:
    """The person's approval in the model registry, which is what triggers a deployment."""
    client = boto3.client("sagemaker")
    packages = client.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    newest = packages["ModelPackageSummaryList"][0]["ModelPackageArn"]
    client.update_model_package(ModelPackageArn=newest, ModelApprovalStatus="Approved")
    return newest


def deploy_stages(group: str) -> None:
    banner(5, STAGES, "Approve the registered model (the lead data scientist's review)")
    print(f"approved {approve_newest_model(group)}")
    banner(6, STAGES, f"Bake deploy into {DEMO_DIR.relative_to(REPO_ROOT)}/ and run its unit tests")
    project = bake("deploy", DEMO_DIR)
    print(f"baked {project.relative_to(REPO_ROOT)}")
    make("test", project)
    banner(7, STAGES, "Serve the approved model on 127.0.0.1 and run the integration, stress and ML tests")
    run(["make", "--no-print-directory", "test-local", f"VENV={VENV}", "MODEL=registry"], project)


def local_aws() -> ThreadedMotoServer:
    """One S3 + SageMaker emulator on loopback shared by both repos, as one AWS account would be."""
    # The emulator's request log would interleave with the demo's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(OFFLINE_ENV, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    return server


def main() -> int:
    """Run every stage; one line and a non-zero exit when a stage fails."""
    started = time.perf_counter()
    server = local_aws()
    try:
        banner(1, STAGES, f"Bake build-train into {DEMO_DIR.relative_to(REPO_ROOT)}/")
        project = bake("build-train", DEMO_DIR)
        print(f"baked {project.relative_to(REPO_ROOT)}")
        build_train_stages(project)
        record = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
        deploy_stages(naming.model_package_group(record["project_name"], record["project_id"]))
    except DemoFailed as failure:
        print(f"\ndemo failed: {failure}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
