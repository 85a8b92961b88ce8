"""`make bench`: whole-process benchmarks of the template set, reported as medians and ratios.

Figures are wall-clock seconds of whole processes on this machine, measured in one run; compare
ratios rather than absolute times across machines. Set BENCH_RUNS to change the run count and
BENCH_FULL_TEST=0 to skip timing the whole test suite (it takes minutes).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from scripts.bake import OFFLINE_ENV, REPO_ROOT, bake
from scripts.bench_local import bench_demo, bench_endpoint, bench_executor_overhead
from scripts.bench_package import bench_packaging
from scripts.timing import Figure, repeat, time_command

BENCH_DIR = REPO_ROOT / ".bench"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PYTHON = sys.executable


def template_names() -> list[str]:
    menu = json.loads((REPO_ROOT / "cookiecutter.json").read_text())["templates"]
    return [name for name in menu if (REPO_ROOT / "templates" / name / "cookiecutter.json").exists()]


def bench_bakes() -> list[Figure]:
    """Bake time per template with its defaults, through the cookiecutter command line."""
    figures = []
    for name in template_names():
        output = BENCH_DIR / "bakes" / name
        command = [str(Path(PYTHON).parent / "cookiecutter"), "--no-input", "-f", "-o", str(output)]
        command += [str(REPO_ROOT), "--directory", f"templates/{name}"]
        figures.append(repeat(f"bake {name} (defaults)", lambda c=command: time_command(c, REPO_ROOT), RUNS))
    return figures


def bench_definition_build() -> list[Figure]:
    """Training pipeline definition build, SDK import included, offline."""
    project = bake("build-train", BENCH_DIR / "definition")
    command = [str(Path(PYTHON).parent / "mlops-kit"), "pipeline", "definition"]
    env = {**OFFLINE_ENV, "BUILD_ID": "bench"}
    return [repeat("training pipeline definition build (offline)", lambda: time_command(command, project, env), RUNS)]


def bench_full_test_suite() -> list[Figure]:
    """One run of `make test` (every test, both workers)."""
    if os.environ.get("BENCH_FULL_TEST", "1") == "0":
        return []
    return [repeat("full make test", lambda: time_command(["make", "test"], REPO_ROOT), runs=1, warmup=0)]


BENCHMARKS: list[Callable[[], list[Figure]]] = [
    bench_bakes,
    bench_definition_build,
    bench_executor_overhead,
    bench_endpoint,
    bench_packaging,
    bench_demo,
    bench_full_test_suite,
]


def main() -> int:
    """Run every benchmark, print one row per figure and keep the numbers in .bench/results.json."""
    BENCH_DIR.mkdir(exist_ok=True)
    results = []
    print(f"{'figure':<70} {'median':>9}     (spread, runs)")
    for benchmark in BENCHMARKS:
        for figure in benchmark():
            print(figure.row(), flush=True)
            results.append({"name": figure.name, "median": figure.median, "unit": figure.unit, "runs": figure.runs})
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
