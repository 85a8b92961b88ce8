"""Can a policy be used to gain more than it grants? `findings(policy_document, role_key)`.

Two checks, because they catch different things:
1. cloudsplaining's privilege-escalation combinations (Rhino Security Labs' list), run as the
   established analyser. It only looks at unconditioned statements on Resource "*".
2. Our rule (team decision D1) for roles a Studio user can act through
   (`authz.roles.ROLES[key].studio_reachable`; an unknown key counts as reachable): such a role
   must not be able to create or change roles or policies, or pass roles other than fixed ones,
   unless a permissions boundary is enforced by condition. Scoped ARNs such as `role/sagemaker-*`
   do not make this safe: whoever can create a role there and pass it can give it any policy.

The rule is evaluated with authz.evaluate (IAM's own logic) on probe requests, so a Deny or a
condition that closes the gap is honoured, and one that only looks like it does is not:
- CreateRole / PutRolePolicy / AttachRolePolicy / PutRolePermissionsBoundary are safe only if denied
  both without an `iam:PermissionsBoundary` in the request and with an unrelated boundary. IAM
  documents this key for exactly these calls
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PermissionsBoundary,
  pattern: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
  "Delegating responsibility to others using permissions boundaries").
- UpdateAssumeRolePolicy, CreatePolicyVersion, SetDefaultPolicyVersion,
  DeleteRolePermissionsBoundary, DeleteRolePolicy... the first four cannot be bounded by that key
  (the last two remove, which cannot grant): any grant of the first four is a finding.
- PassRole is safe on fixed role ARNs, or on a name pattern where this same policy may create roles
  only under a boundary (the delegation pattern: the namespace holds bounded roles only; roles that
  already exist there are the platform team's to keep out).
"""

from __future__ import annotations

import re

from cloudsplaining.scan.policy_document import PolicyDocument

from authz.evaluate import Request, decide
from authz.roles import ROLES

ACCOUNT = "123456789012"
BOUNDED = ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary")
ALWAYS = (
    "iam:UpdateAssumeRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeleteRolePermissionsBoundary",
)
_UNRELATED_BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess-not-a-boundary"
_BOUNDARY_KEY = "iam:permissionsboundary"
_CONTEXT = {"aws:PrincipalAccount": ACCOUNT, "aws:RequestedRegion": "us-east-1"}


def findings(policy_document: dict, role_key: str) -> list[str]:
    """One line per problem; empty when the policy passes both checks."""
    result = [
        f"cloudsplaining: {item['type']} ({', '.join(item['actions'])})"
        for item in PolicyDocument(policy_document).allows_privilege_escalation
    ]
    role = ROLES.get(role_key)
    if role is None or role.studio_reachable:
        result += _studio_rule(policy_document, role_key)
    return result


def _studio_rule(document: dict, role_key: str) -> list[str]:
    problems = []
    for action in BOUNDED:
        for probe in _probes(document, action):
            if _allowed(document, action, probe, None) or _allowed(document, action, probe, _UNRELATED_BOUNDARY):
                problems.append(f"{role_key}: {action} on {probe} without an enforced permissions boundary")
    for action in ALWAYS:
        problems += [
            f"{role_key}: {action} on {p}" for p in _probes(document, action) if _reachable(document, action, p)
        ]
    return problems + _pass_role(document, role_key)


def _pass_role(document: dict, role_key: str) -> list[str]:
    problems = []
    for pattern in _patterns(document, "iam:PassRole"):
        probe = _instantiate(pattern)
        if _fixed(pattern) or not _reachable(document, "iam:PassRole", probe):
            continue
        if not _bounded_namespace(document, probe):
            problems.append(f"{role_key}: iam:PassRole on {pattern} (not a fixed role, no boundary-only namespace)")
    return problems


def _bounded_namespace(document: dict, role_arn: str) -> bool:
    """CreateRole on this name is possible, but only with a permissions boundary."""
    boundary = _declared_boundary(document)
    return (
        boundary is not None
        and _allowed(document, "iam:CreateRole", role_arn, boundary)
        and not _allowed(document, "iam:CreateRole", role_arn, None)
        and not _allowed(document, "iam:CreateRole", role_arn, _UNRELATED_BOUNDARY)
    )


def _declared_boundary(document: dict) -> str | None:
    """The boundary the policy names (Allow ...Equals or Deny ...NotEquals alike); probes decide
    whether it is really enforced."""
    for statement in _statements(document):
        for pairs in statement.get("Condition", {}).values():
            for key, values in pairs.items():
                if key.lower() == _BOUNDARY_KEY:
                    first = values[0] if isinstance(values, list) else values
                    return _instantiate(str(first))
    return None


def _allowed(document: dict, action: str, resource: str, boundary: str | None) -> bool:
    """Allowed with (or without) this iam:PermissionsBoundary, whatever the other condition keys
    say: we cannot know them, so only the boundary condition is relied on."""
    context = dict(_CONTEXT)
    if boundary is not None:
        context["iam:PermissionsBoundary"] = boundary
    return decide([_relaxed(document, keep={_BOUNDARY_KEY})], Request(action, resource, context)).allowed


def _reachable(document: dict, action: str, resource: str) -> bool:
    """Allowed for some request: no condition is relied on."""
    return decide([_relaxed(document, keep=set())], Request(action, resource, dict(_CONTEXT))).allowed


def _relaxed(document: dict, keep: set[str]) -> dict:
    """The document as the most permissive caller sees it: Allow statements lose every condition
    key not in `keep`; Deny statements that depend on other keys are dropped."""
    statements = []
    for statement in _statements(document):
        condition = statement.get("Condition", {})
        keys = {key.lower() for pairs in condition.values() for key in pairs}
        if statement.get("Effect") == "Deny":
            if keys <= keep:
                statements.append(statement)
            continue
        kept = {op: {k: v for k, v in pairs.items() if k.lower() in keep} for op, pairs in condition.items()}
        kept = {op: pairs for op, pairs in kept.items() if pairs}
        relaxed = {k: v for k, v in statement.items() if k != "Condition"}
        statements.append({**relaxed, "Condition": kept} if kept else relaxed)
    return {"Version": "2012-10-17", "Statement": statements}


def _probes(document: dict, action: str) -> list[str]:
    return sorted({_instantiate(pattern) for pattern in _patterns(document, action)})


def _patterns(document: dict, action: str) -> list[str]:
    """Resource patterns of the Allow statements whose Action covers `action` ("*" for NotResource)."""
    patterns = []
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        probe = {k: v for k, v in statement.items() if k not in ("Condition", "Resource", "NotResource")}
        probe["Resource"] = "*"
        if not decide([{"Version": "2012-10-17", "Statement": [probe]}], Request(action, "*", {})).allowed:
            continue
        resources = statement.get("Resource", "*") if "NotResource" not in statement else "*"
        patterns += resources if isinstance(resources, list) else [resources]
    return patterns


def _fixed(pattern: str) -> bool:
    """A role ARN naming one role: no wildcard or variable after `:role/`."""
    name = pattern.partition(":role/")[2]
    return bool(name) and not re.search(r"[*?]|\$\{", name)


def _instantiate(pattern: str) -> str:
    """A concrete ARN the pattern matches: variables and wildcards filled in, "*" -> some role."""
    if pattern == "*":
        return f"arn:aws:iam::{ACCOUNT}:role/any-role"
    text = re.sub(r"\$\{[^}]*\}", ACCOUNT, pattern)
    parts = text.split(":", 5)
    if len(parts) == 6 and parts[4] in ("*", "?"):
        parts[4] = ACCOUNT
    return ":".join(parts).replace("*", "x").replace("?", "x")


def _statements(document: dict) -> list[dict]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]
