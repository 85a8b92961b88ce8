"""Ask IAM (authz.evaluate) each distinct question once and keep what was checked and denied.

Why a ledger: the product evaluation walks hundreds of parameter combinations whose stacks mostly
ask the same questions; deciding each distinct (role, action, resource, context) once keeps the
whole run in seconds, while the ledger still remembers every place a denied call comes from.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from authz.evaluate import Decision, Request, decide
from authz.roles import ROLES, Role, deployed_roles


def role_key(role_name: str) -> str:
    """The authz.roles key of a role named by name or ARN; other roles keep their name (and count
    as Studio-reachable in authz.escalation, which treats unknown keys that way)."""
    name = role_name.rsplit("/", 1)[-1]
    return next((key for key, role in ROLES.items() if role.name == name), name)


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

    # The roles as deployed (authz.roles.deployed_roles): managed policies plus what our platform
    # and stage-access stacks attach, and the stage-access roles.
    roles: dict[str, Role] = field(default_factory=deployed_roles)
    decisions: dict[tuple, Decision] = field(default_factory=dict)
    places: dict[tuple, set[str]] = field(default_factory=lambda: defaultdict(set))
    resources: set[str] = field(default_factory=set)
    # Policies our templates create, each once: canonical JSON -> (role key, where).
    policies: dict[str, tuple[str, str]] = field(default_factory=dict)
    # The questions asked across accounts (a subset of decisions' keys), counted on their own.
    cross_account: set[tuple] = field(default_factory=set)

    def add_policy(self, document: dict, role_names: list[str], where: str) -> None:
        """Remember a policy a template creates, for the escalation check (authz.escalation)."""
        for role_name in role_names or [""]:
            key = json.dumps([document, role_key(role_name)], sort_keys=True)
            self.policies.setdefault(key, (role_key(role_name), where))

    def escalations(self) -> list[str]:
        """authz.escalation's findings for every remembered policy, one line each."""
        from authz.escalation import findings

        lines = []
        for key, (role, where) in sorted(self.policies.items(), key=lambda item: item[1]):
            document = json.loads(key)[0]
            lines += [f"ESCALATION {role or '(no role)'} {finding} <- {where}" for finding in findings(document, role)]
        return lines

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

    def ask_across(
        self, role_key: str, principal_arn: str, request: Request, resource_policy: dict | None, where: str
    ) -> Decision:
        """IAM's answer for a call by a role of another account (principal_arn) to a resource of
        this one, guarded by resource_policy: both sides must allow (authz.crossaccount)."""
        from authz.crossaccount import decide_across

        context = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in request.context.items()))
        key = (
            role_key,
            request.action,
            request.resource,
            context,
            principal_arn,
            json.dumps(resource_policy, sort_keys=True),
        )
        self.places[key].add(where)
        self.cross_account.add(key)
        if key not in self.decisions:
            self.decisions[key] = decide_across(self.roles[role_key], principal_arn, resource_policy, request)
        return self.decisions[key]

    def denials(self) -> list[Denial]:
        """Each denied (role, action, resource) once, with every place it was asked from."""
        grouped: dict[tuple, tuple[str, set[str]]] = {}
        for key, decision in self.decisions.items():
            if not decision.allowed:
                reason, places = grouped.setdefault(key[:3], (decision.reason, set()))
                places |= self.places[key]
        return [Denial(*key, reason, tuple(sorted(places))) for key, (reason, places) in sorted(grouped.items())]

    @property
    def actions_checked(self) -> int:
        return len(self.decisions)
