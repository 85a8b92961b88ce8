"""`make bench`: whole-process benchmarks of the template set, reported as medians and ratios.

Figures are wall-clock seconds of whole processes on this machine, measured in one run; compare
ratios rather than absolute times across machines. Each row: the figure, its median, the target
issue 12 sets, the before value measured in the same run where there is an old way to compare
with (pip for setups), their ratio, and whether the target is met. Set BENCH_RUNS to change the
run count, BENCH_SETUP_RUNS the fresh-setup pairs (default 1: each pip setup takes minutes), and
BENCH_FULL_TEST=0 to skip `make test` on a fresh clone (its row then says "skipped").
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from scripts.bake import OFFLINE_ENV, REPO_ROOT, bake
from scripts.bench_local import (
    bench_demo,
    bench_endpoint,
    bench_executor_overhead,
    bench_monitor,
    bench_tracking_overhead,
)
from scripts.bench_package import bench_packaging
from scripts.bench_setup import bench_fresh_setups, bench_full_test_suite
from scripts.timing import HEADER, Figure, repeat, time_command

BENCH_DIR = REPO_ROOT / ".bench"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PYTHON = sys.executable
# Issue 12: the training pipeline definition, whole process, SDK import included.
DEFINITION_TARGET_S = 3.0


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
    """Training pipeline definition build, whole process, SDK import included, offline. No older
    builder is left to run in the same run: the row has a target and no before value."""
    project = bake("build-train", BENCH_DIR / "definition")
    command = [str(Path(PYTHON).parent / "mlops-kit"), "pipeline", "definition"]
    env = {**OFFLINE_ENV, "BUILD_ID": "bench"}
    figure = repeat("training pipeline definition build (offline)", lambda: time_command(command, project, env), RUNS)
    figure.target = DEFINITION_TARGET_S
    return [figure]


BENCHMARKS: list[Callable[[], list[Figure]]] = [
    bench_fresh_setups,
    bench_full_test_suite,
    bench_demo,
    bench_definition_build,
    bench_executor_overhead,
    bench_tracking_overhead,
    bench_bakes,
    bench_endpoint,
    bench_monitor,
    bench_packaging,
]


def main() -> int:
    """Run every benchmark, print one row per figure and keep the numbers in .bench/results.json."""
    BENCH_DIR.mkdir(exist_ok=True)
    results = []
    print(HEADER, flush=True)
    for benchmark in BENCHMARKS:
        for figure in benchmark():
            print(figure.row(), flush=True)
            results.append(figure.record())
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
