"""What the user sees: step-prefixed log lines, a status line per step, and the final table."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

STATUSES = ("succeeded", "cached", "failed", "skipped", "not run")


@dataclass
class StepResult:
    """How one step of a run ended."""

    name: str
    type: str
    status: str = "not run"
    seconds: float | None = None
    detail: str = ""


@dataclass
class Summary:
    """Everything the final table shows."""

    results: list[StepResult]
    metrics: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    model_cards: list[Any] = field(default_factory=list)
    failure: str | None = None
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """True when no step failed."""
        return self.failure is None


def flatten_metrics(document: Any, prefix: str = "") -> dict[str, Any]:
    """Numeric leaves of a property file; `{"auc": {"value": 0.9}}` reads as `auc = 0.9`."""
    if isinstance(document, dict):
        if _is_number(document.get("value")):
            # Model-quality form {"value": .., "standard_deviation": ..}: the value is the metric.
            return {prefix or "value": document["value"]}
        flat: dict[str, Any] = {}
        for key, value in document.items():
            flat.update(flatten_metrics(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "value": document} if _is_number(document) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Console:
    """Writes progress to a stream; safe to call from the threads that read step output."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._lock = threading.Lock()

    def _write(self, stream: TextIO, text: str) -> None:
        with self._lock:
            stream.write(text + "\n")
            stream.flush()

    def say(self, text: str) -> None:
        """A line of the command's own narration."""
        self._write(self.out, text)

    def step_started(self, result: StepResult) -> None:
        """The status line printed when a step starts."""
        self._write(self.out, f"==> {result.name} ({result.type}): running")

    def step_line(self, label: str, line: str) -> None:
        """One line a step's process wrote, prefixed with the step's name."""
        self._write(self.out, f"{label} | {line}")

    def step_finished(self, result: StepResult) -> None:
        """The status line printed when a step ends."""
        duration = f" in {result.seconds:.1f}s" if result.seconds is not None else ""
        detail = f": {result.detail}" if result.detail else ""
        self._write(self.out, f"<== {result.name}: {result.status}{duration}{detail}")

    def summary(self, summary: Summary) -> None:
        """The final table, the metrics of every property file, the registered packages."""
        self._write(self.out, "\n" + table(summary.results))
        for source, metrics in summary.metrics:
            self._write(self.out, f"\nMetrics from {source}:")
            width = max(map(len, metrics), default=0)
            for name, value in metrics.items():
                self._write(self.out, f"  {name:<{width}}  {value:.6g}")
        for package in summary.packages:
            self._write(
                self.out,
                f"\nRegistered model package: {package.get('ModelPackageGroupName')} "
                f"version {package.get('ModelPackageVersion')} ({package.get('ModelApprovalStatus')})\n"
                f"  {package.get('ModelPackageArn')}",
            )
        for path in summary.model_cards:
            self._write(self.out, f"\nModel card: {path} (and model_card.json beside it)")
        if summary.failure:
            for line in summary.stderr_tail:
                self._write(self.err, f"  | {line}")
            self._write(self.err, f"\nPipeline failed: {summary.failure}")
        else:
            self._write(self.out, "\nPipeline succeeded.")


def table(results: list[StepResult]) -> str:
    """Steps, status, duration and detail as aligned columns."""
    rows = [("Step", "Type", "Status", "Duration", "Detail")]
    for result in results:
        seconds = f"{result.seconds:.1f}s" if result.seconds is not None else "-"
        rows.append((result.name, result.type, result.status, seconds, result.detail))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
