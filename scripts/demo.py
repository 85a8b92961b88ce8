"""`make demo`: the whole loop on bundled sample data, offline, on this machine.

Bakes both repos into demo/, then, at the same time, runs the training pipeline locally to a
registered model and checks the deploy repo's stage configurations; shows the pipeline
definition the local run built (as a DAG); approves the model, serves it on loopback and runs
the deploy repo's integration, stress and ML tests against it; then sends it unshifted and shifted
traffic, captured in Model Monitor's format, and runs the deploy repo's `make monitor` on each. It
ends with what to do next by hand.

The generated repos' unit tests are not run here: the monorepo's `make test` runs them in every
covering bake (tests/test_bake.py), and the demo is the loop, not the test suite.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
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
STAGES = 6


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
            f"    cd {here(deploy)} && make serve-local CAPTURE=build/capture  # capture the requests it answers",
            f"    cd {here(deploy)} && make monitor DRY_RUN=1  # check them against the model's baseline",
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


# --- issue 14: local monitoring ----------------------------------------------------------------------

# Records per request of the demo's traffic: 442 sample records in 9 requests keep the stage short.
MONITOR_BATCH = 50
# The shifted traffic: two features moved by about two of their standard deviations (bmi ~4.4,
# glucose ~11.5 in the sample data), so the data-quality check must name exactly these two.
SHIFTS = {"bmi": 10.0, "glucose": 25.0}


def demo_traffic(problem_type: str) -> tuple[dict[str, object], list]:
    """The sample data's raw features as sent to the endpoint (as they are, and shifted) and their labels."""
    from mlops_template_kit.local_endpoint.sample_bundle import sample_records

    records = sample_records(problem_type)
    labels = [c for c in ("progression", "high_progression") if c in records]
    features = records.drop(columns=["id", *labels])
    shifted = features.copy()
    for column, shift in SHIFTS.items():
        shifted[column] = (shifted[column] + shift).round(4)
    return {"unshifted": features, "shifted": shifted}, records[labels[0]].tolist()


def write_ground_truth(path: Path, labels: list) -> Path:
    """Model Monitor's ground-truth lines for the demo's requests: one per inference id, a label a record."""
    lines = []
    for start in range(0, len(labels), MONITOR_BATCH):
        data = "\n".join(str(label) for label in labels[start : start + MONITOR_BATCH])
        ground = {"groundTruthData": {"data": data, "encoding": "CSV"}, "eventMetadata": {"eventId": f"demo-{start}"}}
        lines.append(json.dumps({**ground, "eventVersion": "0"}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def send_traffic(endpoint, frame) -> None:
    """`frame` in small CSV requests to the running endpoint, each with an inference id."""
    import http.client

    host, port = endpoint.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    for start in range(0, len(frame), MONITOR_BATCH):
        body = frame.iloc[start : start + MONITOR_BATCH].to_csv(index=False, header=False)
        headers = {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": f"demo-{start}"}
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise DemoFailed(f"the local endpoint answered {response.status} to the demo's traffic")
    connection.close()


def prepare_monitoring(model: Path, answers: dict) -> Future:
    """Load the model into an in-process endpoint and build the traffic in the background, while
    stage 5's tests run in their own process: what the monitoring stage needs is ready when it starts."""
    from mlops_template_kit.local_endpoint.server import RunningEndpoint

    def load() -> tuple:
        endpoint = RunningEndpoint(model, naming.endpoint(answers["project_name"], answers["project_id"], "staging"))
        return endpoint, demo_traffic(answers["problem_type"])

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-monitoring").submit(load)


def monitor_traffic(deploy: Path, prepared: Future) -> None:
    """Capture each traffic in its own folder, then run `make monitor` on both at the same time
    (DRY_RUN: the retraining run is named, not started), each into its own reports."""
    started = time.perf_counter()
    root = deploy / "build" / "demo-monitor"
    shutil.rmtree(root, ignore_errors=True)
    endpoint, (frames, labels) = prepared.result()
    waited = time.perf_counter() - started

    def check(name: str) -> list[str]:
        truth = write_ground_truth(root / name / "ground-truth.jsonl", labels)
        command = make_command("monitor", f"CAPTURE={root / name / 'capture'}", f"GROUND_TRUTH={truth}")
        # --silent: the report, not make's echo of the command line.
        return [command[0], "--silent", *command[1:], f"REPORTS={root / name / 'reports'}", "DRY_RUN=1"]

    endpoint.start()
    try:
        for name, frame in frames.items():
            endpoint.capture_to(root / name / "capture")
            send_traffic(endpoint, frame)
        endpoint.capture_to(None)  # every captured line is on disk before the checks read it
        checks = {name: start(check(name), deploy, capture=True) for name in frames}
    finally:
        endpoint.stop()  # while the checks run: stopping waits for the server's next poll
    try:
        for name, process in checks.items():
            shift = (
                ", ".join(f"{column} +{value:g}" for column, value in SHIFTS.items()) if name == "shifted" else "none"
            )
            print(f"\n{name} traffic ({len(frames[name])} records, shift: {shift}):")
            print(finish(process, deploy).rstrip())
    finally:
        for process in checks.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    print(f"\nmonitoring stage: {time.perf_counter() - started:.1f} s ({waited:.1f} s of it waiting for the model)")


def tracking_overhead_note(results: Path | None = None) -> str:
    """The tracking overhead per run that `make bench` last measured, or how to measure it.
    BENCH_RESULTS is read at call time, so a test can point it elsewhere."""
    try:
        figures = json.loads((results or BENCH_RESULTS).read_text())
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
    prepared = prepare_monitoring(model, answers)
    run(make_command("test-local", "MODEL=registry"), deploy)
    banner(6, "Monitor it locally: unshifted, then shifted traffic against the registered baseline (make monitor)")
    monitor_traffic(deploy, prepared)
    # The card first: the demo ends at the MLflow UI command (issue 16).
    return model_card_note(train) + "\n\n" + what_next(train, deploy, package, model)


def model_card_note(train: Path) -> str:
    """The registered model's card as the local run rendered it (issue 15): what an auditor reads."""
    cards = sorted((train / ".local-run" / "runs").glob("*/model_card.md"), key=lambda path: path.stat().st_mtime)
    if not cards:
        raise DemoFailed(f"the local run wrote no model card under {train / '.local-run' / 'runs'}")
    shown = cards[-1].relative_to(REPO_ROOT) if cards[-1].is_relative_to(REPO_ROOT) else cards[-1]
    return (
        f"The registered model's card ({shown}, model_card.json beside it):\n\n{cards[-1].read_text(encoding='utf-8')}"
    )


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
