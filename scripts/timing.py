"""Whole-process timing for the benchmarks: repeated runs, medians and paired ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Figure:
    """One measured figure: its runs, reported as median (min-max)."""

    name: str
    runs: list[float]
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def row(self) -> str:
        low, high = min(self.runs), max(self.runs)
        return f"{self.name:<70} {self.median:>9.3f} {self.unit:<3} (min {low:.3f}, max {high:.3f}, n={len(self.runs)})"


def time_command(command: Sequence[str], cwd: Path, env: dict | None = None) -> float:
    """Wall seconds of one run of a command; a failing run aborts the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def repeat(name: str, action: Callable[[], float], runs: int = 5, warmup: int = 1) -> Figure:
    """Run `action` (returning seconds) warmup + runs times; keep the counted runs."""
    for _ in range(warmup):
        action()
    return Figure(name, [action() for _ in range(runs)])


def paired_ratio(
    name: str, first: Callable[[], float], second: Callable[[], float], runs: int = 5
) -> tuple[Figure, Figure, Figure]:
    """Alternate two actions (A B A B ...) so machine drift hits both; ratio A/B pair by pair."""
    first(), second()
    a_runs, b_runs = [], []
    for _ in range(runs):
        a_runs.append(first())
        b_runs.append(second())
    ratios = [a / b for a, b in zip(a_runs, b_runs, strict=True)]
    return Figure(f"{name}: A", a_runs), Figure(f"{name}: B", b_runs), Figure(f"{name}: A/B", ratios, unit="x")
