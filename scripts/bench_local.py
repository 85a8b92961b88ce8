"""Benchmarks of the local loop: executor overhead, the local endpoint, and `make demo`.

Executor overhead compares a local run of the real pipeline definition (steps cached off) with
the same step scripts run directly in sequence on the same data, in alternating pairs. The local
run also builds the definition (SageMaker SDK import included), which is measured on its own by
the definition benchmark; the ratio with that build time taken out is reported too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from scripts.bake import REPO_ROOT, bake
from scripts.timing import Figure, paired_ratio, repeat, time_command

BENCH_DIR = REPO_ROOT / ".bench"
PYTHON = sys.executable
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONPATH": "algorithms",
}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def _direct_steps(project: Path, work: Path) -> list[tuple[list[str], dict]]:
    """The pipeline's script steps as plain commands: prepare, train, evaluate."""
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
    return [(prepare, {}), (train, train_env), (evaluate, {})]


def bench_executor_overhead() -> list[Figure]:
    """Local run of the definition vs the same scripts run directly, paired A B A B ..."""
    project = bake("build-train", BENCH_DIR / "local-run")
    work = BENCH_DIR / "direct-steps"
    sample = "from shared_libraries.sample_data import write_sample_data as w; import sys; w(sys.argv[1], sys.argv[2])"
    raw_file = str(work / "raw" / "diabetes.csv")
    time_command([PYTHON, "-c", sample, raw_file, "binary_classification"], project, OFFLINE_ENV)
    steps = _direct_steps(project, work)

    def local_run() -> float:
        return time_command([PYTHON, "-m", "ml_pipelines.local_run", "--no-cache"], project, OFFLINE_ENV)

    def direct() -> float:
        return sum(time_command(command, project, {**OFFLINE_ENV, **env}) for command, env in steps)

    definition = [PYTHON, "ml_pipelines/training/ml-pipeline-training.py", "definition"]
    build = repeat("definition build inside the local run", lambda: time_command(definition, project, OFFLINE_ENV), 3)
    runs, scripts, ratio = paired_ratio("local run (A) vs step scripts directly (B)", local_run, direct, RUNS)
    without_build = [a - build.median for a in runs.runs]
    net = Figure(
        "executor overhead without the definition build: (A - build)/B",
        [a / b for a, b in zip(without_build, scripts.runs, strict=True)],
        unit="x",
    )
    return [runs, scripts, ratio, build, net]


def bench_endpoint() -> list[Figure]:
    """The deploy repo's local endpoint: latency at 1 and 32 clients, throughput, overhead."""
    project = bake("deploy", BENCH_DIR / "endpoint")
    time_command([PYTHON, "-m", "app_infra.local_endpoint", "bench", "--model", "sample"], project, OFFLINE_ENV)
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
    """`make demo` wall time once the environment is set up."""
    return [repeat("make demo (after setup)", lambda: time_command(["make", "demo"], REPO_ROOT), runs=1, warmup=0)]
