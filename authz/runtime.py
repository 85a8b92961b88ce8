"""Run-time calls for `python -m authz`, read from `.authz/calls/*.jsonl`, one JSON object a line.

Two record formats, because two producers exist:
- mapped: {"role": <authz.roles key>, "action", "resource", "context": {...}, "source"}: one IAM
  request, evaluated as is;
- raw botocore recordings of the end-to-end tests ({"role", "service", "operation", "params",
  "stack", ...}): attributed to the role that makes the call in AWS and mapped to IAM requests by
  authz.calls (the recorder's own module), so there is one mapping, not two. Calls it attributes to
  no role (test set-up, local-only stand-ins) or to the publisher are counted, not evaluated.
Anything else is bad input: one line naming the file and line.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAPPED_KEYS = {"role", "action", "resource", "context", "source"}
RAW_KEYS = {"role", "service", "operation", "params"}


class BadInput(ValueError):
    """A recorded call that cannot be evaluated; the message names the file and line."""


@dataclass(frozen=True)
class Call:
    role: str
    action: str
    resource: str
    context: tuple
    where: str


@dataclass
class Recorded:
    checked: int = 0
    skipped: int = 0
    requests: list[Call] = field(default_factory=list)


def freeze(context: dict) -> tuple:
    """A request context as a hashable, ordered tuple (lists become tuples)."""
    return tuple(sorted((key, tuple(v) if isinstance(v, list) else v) for key, v in context.items()))


def read(folder: Path, roles: set[str]) -> Recorded:
    """Every recorded call under folder, validated and turned into IAM requests."""
    recorded = Recorded()
    for where, call in _lines(folder):
        requests = _requests(call, where, roles)
        if requests is None:
            recorded.skipped += 1
        else:
            recorded.checked += 1
            recorded.requests += requests
    return recorded


def _lines(folder: Path) -> Iterator[tuple[str, dict]]:
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                call = json.loads(line)
            except json.JSONDecodeError as problem:
                raise BadInput(f"{path}:{number}: not JSON ({problem.msg})") from None
            yield f"{path}:{number}", call


def _requests(call: object, where: str, roles: set[str]) -> list[Call] | None:
    if isinstance(call, dict) and set(call) >= MAPPED_KEYS and isinstance(call["context"], dict):
        _known(call["role"], where, roles)
        return [
            Call(call["role"], call["action"], call["resource"], freeze(call["context"]), f"run-time {call['source']}")
        ]
    if isinstance(call, dict) and set(call) >= RAW_KEYS:
        return _raw(call, where, roles)
    raise BadInput(
        f"{where}: expected a mapped call ({', '.join(sorted(MAPPED_KEYS))}; context an object) or a raw recording"
    )


def _known(role: str, where: str, roles: set[str]) -> None:
    if role not in roles:
        raise BadInput(f"{where}: unknown role {role!r} (one of {', '.join(sorted(roles))})")


def _raw(call: dict, where: str, roles: set[str]) -> list[Call] | None:
    try:
        # import_module honours sys.modules (a package attribute set by an earlier import would not).
        recorder = importlib.import_module("authz.calls")
    except ImportError:
        raise BadInput(f"{where}: a raw botocore recording, and authz.calls (which maps them) is missing") from None
    attributed = recorder.attribute(call)
    if attributed.role is None or attributed.role in recorder.NOT_EVALUATED:
        return None
    _known(attributed.role, where, roles)
    try:
        requests = recorder.requests(call)
    except ValueError as problem:  # an operation with no IAM mapping yet
        raise BadInput(f"{where}: {problem}") from None
    source = f"run-time {recorder.where(call)}"
    return [Call(attributed.role, r.action, r.resource, freeze(r.context), source) for r in requests]
