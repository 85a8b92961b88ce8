"""Ask IAM (authz.evaluate) each distinct question once and keep what was checked and denied.

Why a ledger: the product evaluation walks hundreds of parameter combinations whose stacks mostly
ask the same questions; deciding each distinct (role, action, resource, context) once keeps the
whole run in seconds, while the ledger still remembers every place a denied call comes from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from authz.evaluate import Decision, Request, decide
from authz.roles import ROLES, Role


@dataclass(frozen=True)
class Denial:
    role: str
    action: str
    resource: str
    reason: str
    where: tuple[str, ...]

    def line(self) -> str:
        places = ", ".join(self.where[:3]) + (f" (+{len(self.where) - 3} more)" if len(self.where) > 3 else "")
        return f"DENIED {self.role} {self.action} {self.resource} <- {places}"


@dataclass
class Ledger:
    """Every question asked, the answers, and where each question came from."""

    roles: dict[str, Role] = field(default_factory=lambda: dict(ROLES))
    decisions: dict[tuple, Decision] = field(default_factory=dict)
    places: dict[tuple, set[str]] = field(default_factory=lambda: defaultdict(set))
    resources: set[str] = field(default_factory=set)

    def ask(self, role_key: str, action: str, resource: str, context: Iterable, where: str) -> Decision:
        """IAM's answer for one call by a role (decided once per distinct question)."""
        frozen = tuple(context)
        key = (role_key, action, resource, frozen)
        self.places[key].add(where)
        if key not in self.decisions:
            role = self.roles[role_key]
            request = Request(action, resource, {name: list(v) if isinstance(v, tuple) else v for name, v in frozen})
            self.decisions[key] = decide(role.policies, request, role.boundary)
        return self.decisions[key]

    def denials(self) -> list[Denial]:
        """Each denied question once, with every place it was asked from."""
        return [
            Denial(key[0], key[1], key[2], decision.reason, tuple(sorted(self.places[key])))
            for key, decision in sorted(self.decisions.items(), key=lambda item: item[0][:3])
            if not decision.allowed
        ]

    @property
    def actions_checked(self) -> int:
        return len(self.decisions)
