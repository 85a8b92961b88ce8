"""Authorization harness: would AWS allow what our products do, offline? (issue 10, decision D1)

- authz.policies: snapshots of the AWS managed policies the products rely on (provenance in
  authz/policies/README.md, refresh with `python -m authz.refresh`).
- authz.roles: the SageMaker product roles with those policies; `with_platform` adds what a
  platform template attaches to a role.
- authz.evaluate: `decide(policies, Request(action, resource, context), boundary)` with IAM's
  evaluation logic (authz.conditions holds the condition operators).
- authz.escalation: `findings(policy, role_key)`: cloudsplaining plus the Studio-reachable rule.
- authz.template: CloudFormation YAML (short-form intrinsics) and the intrinsic evaluator.
"""
