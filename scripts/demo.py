"""`make demo`: the whole loop on bundled sample data, offline, on this machine.

Bakes both repos into demo/, then, at the same time, runs the training pipeline locally to a
registered model and checks the deploy repo's stage configurations; shows the pipeline
definition the local run built (as a DAG); approves the model, serves it on loopback and runs
the deploy repo's integration, stress and ML tests against it. It ends with what to do next by
hand.

The generated repos' unit tests are not run here: the monorepo's `make test` runs them in every
covering bake (tests/test_bake.py), and the demo is the loop, not the test suite.
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
from scripts.bench_local import TRACKING_FIGURE

DEMO_DIR = REPO_ROOT / "demo"
# Issue 16: the closing note reports this make bench figure (scripts/bench_local.py) when there is one.
BENCH_RESULTS = REPO_ROOT / ".bench" / "results.json"
VENV = Path(sys.executable).parent.parent
STAGES = 5


class DemoFailed(RuntimeError):
    """A stage of the demo failed; the message (one line) says which and why."""


def banner(number: int, title: str) -> None:
    print(f"\n== {number}/{STAGES} {title}", flush=True)


def command_env() -> dict[str, str]:
    """A generated repo's commands get the monorepo's environment (same pins) and no real AWS."""
    return {**os.environ, **OFFLINE_ENV, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def make_command(target: str, *variables: str) -> list[str]:
    # VENV= names an existing environment: the generated Makefile uses it as it is (no reinstall).
    return ["make", "--no-print-directory", target, f"VENV={VENV}", *variables]


def start(command: list[str], cwd: Path, capture: bool) -> subprocess.Popen:
    output = subprocess.PIPE if capture else None
    return subprocess.Popen(command, cwd=cwd, env=command_env(), text=True, stdout=output, stderr=output)


def finish(process: subprocess.Popen, cwd: Path) -> str:
    """Wait for `process`; its standard output, or DemoFailed after showing what it printed."""
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        for text in (stdout, stderr):
            if text:
                print(text[-3000:], file=sys.stderr)
        raise DemoFailed(f"`{' '.join(process.args)}` failed in {cwd.name} (exit {process.returncode})")
    return stdout or ""


def run(command: list[str], cwd: Path, capture: bool = False) -> str:
    return finish(start(command, cwd, capture), cwd)


def train_and_prepare(train: Path, deploy: Path) -> None:
    """The local run streams its progress while the deploy repo's config check, independent of it,
    runs at the same time. The local run builds the pipeline definition and saves it, so the
    definition shown is that one, not a second build of the same thing."""
    banner(2, "Run the training pipeline locally (no AWS, no Docker); meanwhile check deploy's configs")
    configs = start(make_command("validate"), deploy, capture=True)
    local_run = start(make_command("local-run"), train, capture=False)
    try:
        finish(local_run, train)
        checked = finish(configs, deploy)
    finally:
        for process in (configs, local_run):
            if process.poll() is None:
                process.kill()
                process.wait()
    print(f"\ndeploy's stage configurations:\n{checked.rstrip()}")
    saved = train / ".local-run" / "definition.json"
    banner(3, f"The training pipeline's definition, built offline by the local run ({saved.name})")
    try:
        print(summarise(json.loads(saved.read_text(encoding="utf-8"))))
    except (OSError, ValueError) as problem:
        raise DemoFailed(f"the local run left no readable definition at {saved}: {problem}") from problem


def approve_newest_model(group: str) -> dict:
    """The person's approval in the model registry, which is what triggers a deployment."""
    client = boto3.client("sagemaker")
    packages = client.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    if not packages["ModelPackageSummaryList"]:
        raise DemoFailed(f"the local run registered no model in {group}")
    newest = packages["ModelPackageSummaryList"][0]["ModelPackageArn"]
    client.update_model_package(ModelPackageArn=newest, ModelApprovalStatus="Approved")
    return client.describe_model_package(ModelPackageName=newest)


def keep_model(package: dict, destination: Path) -> Path:
    """Copy the approved model out of the emulator, which stops with the demo."""
    uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    destination.write_bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return destination


def what_next(train: Path, deploy: Path, package: dict, model: Path) -> str:
    """Where everything is and the commands that repeat each stage by hand."""

    def here(path: Path) -> str:
        return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)

    return "\n".join(
        [
            "What next",
            f"  build/train repo   {here(train)}",
            f"  deploy repo        {here(deploy)}",
            f"  local run results  {here(train / '.local-run')} (step sandboxes, outputs and cache)",
            f"  registered model   {package['ModelPackageArn']} (Approved; in the demo's emulator, gone now)",
            f"  its model.tar.gz   {here(model)}",
            "  Repeat a stage by hand (each repo: `make setup` once, or VENV=<an environment with its pins>):",
            f"    cd {here(train)} && make test        # its unit tests",
            f"    cd {here(train)} && make pipeline    # the pipeline definition, offline",
            f"    cd {here(train)} && make local-run   # train on the sample data to a registered model",
            f"    cd {here(deploy)} && make test       # its unit tests",
            f"    cd {here(deploy)} && make validate   # the stage configurations",
            f"    cd {here(deploy)} && make test-local MODEL=../{model.name} TEST_DATA=<CSV>  # serve, test",
            f"    cd {here(deploy)} && make serve-local MODEL=../{model.name}  # serve it on 127.0.0.1",
            "  The whole loop on your own data, with a registry that outlives each run (both READMEs):",
            f"    cd {here(train)} && make local-aws-start   # local S3 + model registry, kept in .local-aws/",
            f"    cd {here(train)} && make local-run DATA=<your CSV folder or file>",
            f"    cd {here(train)} && make approve           # the newest model, in the local registry",
            f"    cd {here(deploy)} && make serve-local      # then make test-local",
            f"    cd {here(train)} && make local-aws-stop    # saves the state; local-aws-start loads it",
            f"  MLflow: the local run tracked its training and evaluation in {here(train / '.local-run' / 'mlflow')}",
            f"    ({tracking_overhead_note()}); browse them, side by side with the notebook's runs:",
            f"    cd {here(train)} && make mlflow-ui         # http://127.0.0.1:5000",
        ]
    )


def tracking_overhead_note(results: Path = BENCH_RESULTS) -> str:
    """The tracking overhead per run that `make bench` last measured, or how to measure it."""
    try:
        figures = json.loads(results.read_text())
    except (OSError, ValueError):
        figures = []
    for figure in figures if isinstance(figures, list) else []:
        if isinstance(figure, dict) and figure.get("name") == TRACKING_FIGURE and figure.get("median") is not None:
            return f"tracking overhead per run: {figure['median']:.1f} s, measured by make bench"
    return "make bench measures the tracking overhead per run"


def local_aws() -> ThreadedMotoServer:
    """One S3 + SageMaker emulator on loopback shared by both repos, as one AWS account would be."""
    # The emulator's request log would interleave with the demo's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(OFFLINE_ENV, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    return server


def the_loop() -> str:
    """Every stage in order; the closing "what next" text."""
    banner(1, f"Bake build-train and deploy into {DEMO_DIR.relative_to(REPO_ROOT)}/")
    train = bake("build-train", DEMO_DIR)
    deploy = bake("deploy", DEMO_DIR)
    print(f"baked {train.relative_to(REPO_ROOT)} and {deploy.relative_to(REPO_ROOT)}")
    train_and_prepare(train, deploy)
    banner(4, "Approve the registered model (the lead data scientist's review)")
    answers = json.loads((train / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = approve_newest_model(naming.model_package_group(answers["project_name"], answers["project_id"]))
    print(f"approved {package['ModelPackageArn']}")
    model = keep_model(package, DEMO_DIR / "model.tar.gz")
    banner(5, "Serve the approved model on 127.0.0.1 and run the deploy repo's integration, stress and ML tests")
    run(make_command("test-local", "MODEL=registry"), deploy)
    return what_next(train, deploy, package, model)


def main() -> int:
    """Run every stage; one line and a non-zero exit when a stage fails."""
    started = time.perf_counter()
    server = local_aws()
    try:
        closing = the_loop()
    except DemoFailed as failure:
        print(f"demo failed: {failure}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s\n\n{closing}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
