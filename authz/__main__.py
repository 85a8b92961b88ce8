"""`python -m authz`: would AWS allow what our products, stage stacks and code ask for?

Prints one summary block (products and parameter combinations, resources, actions and run-time
calls checked, denials, escalations), then one line per denial and escalation. Exit status 1 on
any denial or escalation, 2 on unreadable input (one line, nothing written).

Run-time calls are read from `.authz/calls/*.jsonl` when present (authz.runtime: mapped calls, or
the end-to-end tests' raw botocore recordings).
"""

from __future__ import annotations

import sys
from pathlib import Path

from authz import provision, runtime, stages, update
from authz.cfn import UnknownType
from authz.check import Ledger
from authz.roles import deployed_roles
from authz.template import Unresolvable

# At the repository root, where the end-to-end tests record them.
CALLS_DIR = Path(__file__).resolve().parents[1] / ".authz" / "calls"


def check_calls(ledger: Ledger, recorded: runtime.Recorded) -> None:
    """Each recorded call against the role that makes it in AWS."""
    for call in recorded.requests:
        ledger.ask(call.role, call.action, call.resource, call.context, call.where)


def summary(
    ledger: Ledger,
    products: dict[str, int],
    updates: dict[str, int],
    platform: int,
    stage_combos: int,
    recorded: runtime.Recorded,
) -> list[str]:
    combos = ", ".join(f"{key} {count}" for key, count in products.items())
    return [
        "authz: would AWS allow it?",
        f"  products: {len(products)} ({combos} parameter combinations; role launch)",
        f"  product updates: {len(updates)} (release {update.FROM_VERSION} -> {update.TO_VERSION} at every"
        " parameter combination; role launch)",
        f"  platform stacks: {platform} (role {provision.PLATFORM_ADMIN})",
        f"  stage stacks: {stage_combos} deploy option combinations (role {stages.STAGE_STACK_ROLE};"
        " trigger: a person's one-off, not evaluated)",
        f"  resources checked: {len(ledger.resources)}",
        f"  actions checked: {ledger.actions_checked} (distinct role/action/resource/context)",
        f"  cross-account requests checked: {len(ledger.cross_account)} (stage roles reading the tooling"
        " account: identity and resource policy both)",
        f"  run-time calls checked: {recorded.checked}"
        + (f" ({recorded.skipped} more are test set-up or local-only)" if recorded.skipped else "")
        + ("" if recorded.checked or recorded.skipped else " (none recorded in .authz/calls/)"),
    ]


def main() -> int:
    ledger = Ledger(roles=deployed_roles())
    ledger.roles.setdefault(provision.PLATFORM_ADMIN, provision.ADMIN_ROLE)
    try:
        recorded = runtime.read(CALLS_DIR, set(ledger.roles)) if CALLS_DIR.is_dir() else runtime.Recorded()
    except runtime.BadInput as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        products = provision.check_products(ledger)
        updates = update.check_updates(ledger)
        platform = provision.check_portfolio(ledger)
        stage_combos = stages.check_stage_stacks(ledger)
    except (UnknownType, Unresolvable) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    check_calls(ledger, recorded)
    denials, escalations = ledger.denials(), ledger.escalations()
    lines = summary(ledger, products, updates, platform, stage_combos, recorded)
    lines += [f"  denied: {len(denials)}", f"  escalations: {len(escalations)}"]
    print("\n".join(lines + [denial.line() for denial in denials] + escalations))
    return 1 if denials or escalations else 0


if __name__ == "__main__":
    raise SystemExit(main())
