"""`python -m authz`: would AWS allow what our products, stage stacks and code ask for?

Prints one summary block (products and parameter combinations, resources, actions and run-time
calls checked, denials, escalations), then one line per denial and escalation. Exit status 1 on
any denial or escalation, 2 on unreadable input (one line, nothing written).

Run-time calls are read from `.authz/calls/*.jsonl` when present (written by the recorder of the
end-to-end tests), one JSON object a line:
{"role": <authz.roles key>, "action": ..., "resource": ..., "context": {...}, "source": ...}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from authz import provision, stages
from authz.cfn import UnknownType
from authz.check import Ledger
from authz.template import Unresolvable

# At the repository root, where the end-to-end tests record them.
CALLS_DIR = Path(__file__).resolve().parents[1] / ".authz" / "calls"
CALL_KEYS = {"role", "action", "resource", "context", "source"}


class BadInput(ValueError):
    """A recorded call that cannot be evaluated; the message names the file and line."""


def read_calls(folder: Path, roles: set[str]) -> list[dict]:
    """Every recorded call, validated (keys, known role, context an object)."""
    calls = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                calls.append(_call(line, f"{path}:{number}", roles))
    return calls


def _call(line: str, where: str, roles: set[str]) -> dict:
    try:
        call = json.loads(line)
    except json.JSONDecodeError as problem:
        raise BadInput(f"{where}: not JSON ({problem.msg})") from None
    if not isinstance(call, dict) or not set(call) >= CALL_KEYS or not isinstance(call["context"], dict):
        raise BadInput(f"{where}: expected an object with {', '.join(sorted(CALL_KEYS))} (context an object)")
    if call["role"] not in roles:
        raise BadInput(f"{where}: unknown role {call['role']!r} (one of {', '.join(sorted(roles))})")
    return call


def check_calls(ledger: Ledger, calls: list[dict]) -> None:
    """Each recorded call against the role that makes it in AWS."""
    for call in calls:
        context = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in call["context"].items()))
        ledger.ask(call["role"], call["action"], call["resource"], context, f"run-time {call['source']}")


def summary(ledger: Ledger, products: dict[str, int], platform: int, stage_combos: int, calls: int) -> list[str]:
    combos = ", ".join(f"{key} {count}" for key, count in products.items())
    return [
        "authz: would AWS allow it?",
        f"  products: {len(products)} ({combos} parameter combinations; role launch)",
        f"  platform stacks: {platform} (role {provision.PLATFORM_ADMIN})",
        f"  stage stacks: {stage_combos} deploy option combinations (role {stages.STAGE_STACK_ROLE})",
        f"  resources checked: {len(ledger.resources)}",
        f"  actions checked: {ledger.actions_checked} (distinct role/action/resource/context)",
        f"  run-time calls checked: {calls}" + ("" if calls else " (none recorded in .authz/calls/)"),
    ]


def main() -> int:
    ledger = Ledger()
    ledger.roles.setdefault(provision.PLATFORM_ADMIN, provision.ADMIN_ROLE)
    try:
        calls = read_calls(CALLS_DIR, set(ledger.roles)) if CALLS_DIR.is_dir() else []
    except BadInput as problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    try:
        products = provision.check_products(ledger)
        platform = provision.check_portfolio(ledger)
        stage_combos = stages.check_stage_stacks(ledger)
    except (UnknownType, Unresolvable) as problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    check_calls(ledger, calls)
    denials, escalations = ledger.denials(), ledger.escalations()
    lines = summary(ledger, products, platform, stage_combos, len(calls))
    lines += [f"  denied: {len(denials)}", f"  escalations: {len(escalations)}"]
    print("\n".join(lines + [denial.line() for denial in denials] + escalations))
    return 1 if denials or escalations else 0


if __name__ == "__main__":
    raise SystemExit(main())
