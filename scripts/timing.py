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
    """One measured figure: its runs, reported as median (min-max), with the target it must meet
    and the before value (the old way, measured in the same run) when there is one."""

    name: str
    runs: list[float]
    unit: str = "s"
    target: float | None = None
    before: Figure | None = None
    skipped: bool = False

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def ratio(self) -> float | None:
        """This figure over its before value (below 1: faster than before)."""
        if self.before is None or not self.runs or not self.before.runs:
            return None
        return self.median / self.before.median

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if self.target is None or self.median is None:
            return "-"
        return "meets" if self.median <= self.target else "misses"

    def row(self) -> str:
        """name, median, target, before, ratio, verdict, then the spread of the runs."""

        def amount(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f} {self.unit}"

        median = "skipped" if self.skipped else amount(self.median)
        before = amount(self.before.median) if self.before else "-"
        target = "-" if self.target is None else f"<= {self.target:g} {self.unit}"
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        spread = f"(min {min(self.runs):.3f}, max {max(self.runs):.3f}, n={len(self.runs)})" if self.runs else ""
        return f"{self.name:<62} {median:>13} {target:>11} {before:>13} {ratio:>7} {self.verdict:>8}  {spread}"

    def record(self) -> dict:
        """The figure as .bench/results.json keeps it."""
        return {
            "name": self.name,
            "median": self.median,
            "unit": self.unit,
            "runs": self.runs,
            "target": self.target,
            "before": self.before.record() if self.before else None,
            "ratio": self.ratio,
            "verdict": self.verdict,
        }


HEADER = f"{'figure':<62} {'median':>13} {'target':>11} {'before':>13} {'ratio':>7} {'verdict':>8}  (spread)"


def time_command(command: Sequence[str], cwd: Path, env: dict | None = None, inherit: bool = True) -> float:
    """Wall seconds of one run of a command; a failing run aborts the benchmark. `inherit=False`
    gives the command only `env` (a fresh setup must not see this environment's PYTHONPATH)."""
    start = time.perf_counter()
    full_env = {**os.environ, **(env or {})} if inherit else dict(env or {})
    result = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True)
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


def against_before(
    name: str, new: Callable[[], float], old: Callable[[], float], runs: int, target: float | None = None
) -> Figure:
    """The new way and the old one (its before value) in turn, new old new old ..., no warm-up
    (each run is a fresh start); the ratio is new over old, medians."""
    new_runs, old_runs = [], []
    for _ in range(runs):
        new_runs.append(new())
        old_runs.append(old())
    return Figure(name, new_runs, target=target, before=Figure(f"{name} (before)", old_runs))
