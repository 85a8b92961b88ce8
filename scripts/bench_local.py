"""Benchmarks of the local loop: executor overhead, the local endpoint, and `make demo`.

Executor overhead compares a local run of the real pipeline definition (steps cached off) with
the same step scripts run directly in sequence on the same data, in alternating pairs. Building
the definition (SageMaker SDK import included) is measured on its own by the definition
benchmark.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

from moto.server import ThreadedMotoServer

from scripts.bake import OFFLINE_ENV as BASE_OFFLINE_ENV
from scripts.bake import REPO_ROOT, bake
from scripts.timing import Figure, paired_ratio, repeat, time_command

BENCH_DIR = REPO_ROOT / ".bench"
PYTHON = sys.executable
OFFLINE_ENV = {**BASE_OFFLINE_ENV, "PYTHONPATH": "algorithms"}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
# Issue 12's targets: the demo after setup, and the executor against the scripts run directly.
DEMO_TARGET_S = 60.0
EXECUTOR_TARGET_RATIO = 1.25
# Issue 16's target: what MLflow tracking may add to one local run (demo.py's closing note reports it).
TRACKING_TARGET_S = 3.0
TRACKING_FIGURE = "tracking overhead per run (A - B)"


def _direct_steps(project: Path, work: Path) -> list[tuple[list[str], dict]]:
    """The pipeline's script steps as plain commands: prepare, train, evaluate, check bias."""
    config = json.loads((project / "ml_pipelines" / "training" / "input.json").read_text())
    prepare = [PYTHON, "algorithms/preprocessing/prepare_data/__main__.py", "--input-dir", str(work / "raw")]
    prepare += ["--output-dir", str(work / "prepared"), "--problem-type", "binary_classification"]
    prepare += ["--target-column", "high_progression", "--id-column", "id", "--categorical-columns", "sex"]
    train = [PYTHON, "algorithms/training/train_model/__main__.py", "--problem_type", "binary_classification"]
    for name, value in config["hyperparameters"].items():
        train += [f"--{name}", str(value)]
    train_env = {
        "SM_CHANNEL_TRAIN": str(work / "prepared" / "train"),
        "SM_CHANNEL_VALIDATION": str(work / "prepared" / "validation"),
        "SM_CHANNEL_PREPROCESSOR": str(work / "prepared" / "preprocessor"),
        "SM_MODEL_DIR": str(work / "model"),
        "SM_OUTPUT_DATA_DIR": str(work / "output"),
    }
    evaluate = [PYTHON, "algorithms/postprocessing/evaluate_model/__main__.py", "--model-dir", str(work / "model")]
    evaluate += ["--test-dir", str(work / "prepared" / "test"), "--output-dir", str(work / "evaluation")]
    steps = [(prepare, {}), (train, train_env), (evaluate, {})]
    if "responsible_ai" in config:  # the bias step (issue 15), with the arguments the pipeline gives it
        steps.append((_check_bias_command(config, work), {}))
    return steps


def _check_bias_command(config: dict, work: Path) -> list[str]:
    section = config["responsible_ai"]
    command = [PYTHON, "algorithms/postprocessing/check_bias/__main__.py", "--model-dir", str(work / "model")]
    command += ["--train-dir", str(work / "prepared" / "train"), "--test-dir", str(work / "prepared" / "test")]
    command += ["--output-dir", str(work / "bias"), "--facet-column", section["facet"]["column"]]
    command += ["--facet-value", section["facet"]["value"], "--shap-rows", str(section["shap"]["rows"])]
    command += ["--shap-background", str(section["shap"]["background"])]
    command += ["--random-seed", str(config["data"]["random_seed"])]
    if "label_threshold" in section:
        command += ["--label-threshold", str(section["label_threshold"])]
    return command


def bench_executor_overhead() -> list[Figure]:
    """The executor running the saved definition vs the same scripts run directly, paired A B A B.

    One full local run first sets up the emulator's bucket, sample data and code and saves the
    definition; the timed runs then execute that definition with caching off, so the figure is
    the executor's own cost (the definition build is timed separately)."""
    project = bake("build-train", BENCH_DIR / "local-run")
    work = BENCH_DIR / "direct-steps"
    sample = "from shared_libraries.sample_data import write_sample_data as w; import sys; w(sys.argv[1], sys.argv[2])"
    raw_file = str(work / "raw" / "diabetes.csv")
    time_command([PYTHON, "-c", sample, raw_file, "binary_classification"], project, OFFLINE_ENV)
    steps = _direct_steps(project, work)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # keep the emulator's request log out of the figures
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # Untracked: MLflow's cost has a row of its own (bench_tracking_overhead), and the scripts run
    # directly track nothing either.
    env = {**OFFLINE_ENV, "AWS_ENDPOINT_URL": f"http://{host}:{port}", "MLFLOW_TRACKING_URI": ""}
    try:
        time_command([PYTHON, "-m", "mlops_template_kit.local_run"], project, env)
        saved = ["--definition", ".local-run/definition.json", "--no-cache"]

        def local_run() -> float:
            return time_command([PYTHON, "-m", "mlops_template_kit.local_run", *saved], project, env)

        def direct() -> float:
            return sum(time_command(command, project, {**OFFLINE_ENV, **extra}) for command, extra in steps)

        label = "executor on the saved definition (A) vs scripts directly (B)"
        local, scripts, ratio = paired_ratio(label, local_run, direct, RUNS)
        ratio.target = EXECUTOR_TARGET_RATIO
        return [local, scripts, ratio]
    finally:
        server.stop()


def bench_tracking_overhead() -> list[Figure]:
    """MLflow tracking's cost per local run (issue 16): the saved definition run with caching off,
    tracked into a fresh local store (what `make demo` pays: the store's schema is created too)
    vs with MLFLOW_TRACKING_URI="" (nothing tracked), paired A B A B; the figure is A - B per pair."""
    project = BENCH_DIR / "local-run"  # baked and run once by bench_executor_overhead
    if not (project / ".local-run" / "definition.json").is_file():
        project = bake("build-train", BENCH_DIR / "local-run")
    store = project / ".local-run" / "mlflow"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**OFFLINE_ENV, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    untracked_env = {**env, "MLFLOW_TRACKING_URI": ""}
    tracked_env = {key: value for key, value in {**os.environ, **env}.items() if key != "MLFLOW_TRACKING_URI"}
    try:
        time_command([PYTHON, "-m", "mlops_template_kit.local_run"], project, untracked_env)
        saved = [PYTHON, "-m", "mlops_template_kit.local_run", "--definition", ".local-run/definition.json"]
        saved.append("--no-cache")

        def tracked() -> float:
            shutil.rmtree(store, ignore_errors=True)
            return time_command(saved, project, tracked_env, inherit=False)

        def untracked() -> float:
            return time_command(saved, project, untracked_env)

        label = "local run tracked in MLflow (A) vs not (B)"
        with_tracking, without, _ = paired_ratio(label, tracked, untracked, RUNS)
        overhead = Figure(
            TRACKING_FIGURE,
            [a - b for a, b in zip(with_tracking.runs, without.runs, strict=True)],
            target=TRACKING_TARGET_S,
        )
        return [with_tracking, without, overhead]
    finally:
        server.stop()


def bench_endpoint() -> list[Figure]:
    """The deploy repo's local endpoint: latency at 1 and 32 clients, throughput, overhead."""
    project = bake("deploy", BENCH_DIR / "endpoint")
    time_command(
        [PYTHON, "-m", "mlops_template_kit.cli", "local-endpoint", "bench", "--model", "sample"], project, OFFLINE_ENV
    )
    report = json.loads((project / "build" / "benchmark.json").read_text())
    figures = []
    for series in report["series"]:
        label = f"local endpoint {series['name']} ({series['clients']} client(s), {series['requests']} requests)"
        figures.append(Figure(f"{label} p50", [series["p50_ms"]], unit="ms"))
        figures.append(Figure(f"{label} p99", [series["p99_ms"]], unit="ms"))
        figures.append(Figure(f"{label} throughput", [series["throughput_rps"]], unit="r/s"))
    overhead = report["serving_overhead_p50_ms"]
    figures.append(Figure("local endpoint serving overhead at p50, 1 client", [overhead], unit="ms"))
    return figures


def bench_demo() -> list[Figure]:
    """`make demo` wall time once the environment is set up (`-o` the stamp: "after setup" holds
    even when this checkout's requirements.txt is newer than a shared environment's stamp)."""
    command = ["make", "--no-print-directory", "-o", ".venv/.requirements.stamp", "demo"]
    figure = repeat("make demo (after setup)", lambda: time_command(command, REPO_ROOT), runs=RUNS, warmup=0)
    figure.target = DEMO_TARGET_S
    return [figure]


# --- issue 14: the local monitor ---------------------------------------------------------------------

MONITOR_RECORDS = 10_000


def write_monitor_inputs(project: Path, records: int = MONITOR_RECORDS) -> dict[str, Path]:
    """A baseline of the sample data's features, `records` captured requests of it shifted (one
    record each, as a real-time caller sends them) and their ground truth, under project/build/."""
    from mlops_template_kit.local_endpoint.sample_bundle import sample_records
    from mlops_template_kit.monitor import capture, data_quality

    frame = sample_records("regression")
    features = frame.drop(columns=["id", "progression"])
    statistics = data_quality.statistics({name: [str(v) for v in features[name]] for name in features.columns})
    folder = project / "build" / "bench-monitor"
    shutil.rmtree(folder, ignore_errors=True)  # a capture folder keeps every writer's file: start empty
    (folder / "baseline").mkdir(parents=True)
    (folder / "baseline" / "statistics.json").write_text(json.dumps(statistics))
    (folder / "baseline" / "constraints.json").write_text(json.dumps(data_quality.constraints(statistics)))
    writer = capture.CaptureWriter(folder / "capture", "bench-endpoint")
    truth = []
    rows = features.assign(bmi=features["bmi"] + 10).to_csv(index=False, header=False).splitlines()
    labels = frame["progression"].tolist()
    for index in range(records):
        answer = json.dumps({"predictions": [{"prediction": 150.0}]}).encode()
        writer.add(
            capture.record(rows[index % len(rows)].encode(), "text/csv", answer, "application/json", f"r{index}")
        )
        ground = {"data": str(labels[index % len(labels)]), "encoding": "CSV"}
        truth.append(
            json.dumps({"groundTruthData": ground, "eventMetadata": {"eventId": f"r{index}"}, "eventVersion": "0"})
        )
    writer.close()
    (folder / "ground-truth.jsonl").write_text("\n".join(truth) + "\n")
    return {
        "baseline": folder / "baseline",
        "capture": folder / "capture",
        "ground_truth": folder / "ground-truth.jsonl",
    }


def bench_monitor() -> list[Figure]:
    """`mlops-kit monitor` on 10k captured records with ground truth (data and model quality, the
    reports written, the retraining run named in a dry run): the whole process, imports included."""
    project = bake("deploy", BENCH_DIR / "monitor", {"problem_type": "regression", "on_drift": "notify"})
    inputs = write_monitor_inputs(project)
    command = [PYTHON, "-m", "mlops_template_kit.cli", "monitor", "--capture", str(inputs["capture"])]
    command += ["--ground-truth", str(inputs["ground_truth"]), "--baseline", str(inputs["baseline"]), "--dry-run"]
    label = f"local monitor per {MONITOR_RECORDS // 1000}k captured records (data + model quality)"
    return [repeat(label, lambda: time_command(command, project, OFFLINE_ENV), runs=RUNS)]
