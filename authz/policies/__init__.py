"""The AWS managed policy documents the products rely on, as snapshots kept in this repository.

Why snapshots: the harness must answer offline and reproducibly; README.md beside this file says
where each snapshot came from, which version it is, and how to refresh it (`python -m authz.refresh`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "aws-managed"


def names() -> list[str]:
    """Every policy that has a snapshot."""
    return sorted(path.stem for path in SNAPSHOTS.glob("*.json"))


@cache
def _load(name: str) -> str:
    path = SNAPSHOTS / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no snapshot of AWS managed policy {name} in {SNAPSHOTS}")
    return path.read_text(encoding="utf-8")


def managed(name: str) -> dict:
    """The snapshot's policy document (a fresh copy: callers may change it)."""
    return json.loads(_load(name))
