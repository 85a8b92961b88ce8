"""Authorization harness: would AWS allow what our products do, offline? (issue 10, decision D1)

- authz.policies: snapshots of the AWS managed policies the products rely on (provenance in
  authz/policies/README.md, refresh with `python -m authz.refresh`).
- authz.roles: the SageMaker product roles with those policies; `with_platform` adds what a
  platform template attaches to a role.
- authz.evaluate: `decide(policies, Request(action, resource, context), boundary)` with IAM's
  evaluation logic (authz.conditions holds the condition operators).
- authz.escalation: `findings(policy, role_key)`: cloudsplaining plus the Studio-reachable rule.
- authz.template: CloudFormation YAML (short-form intrinsics) and the intrinsic evaluator.
- authz.cfn: what CloudFormation's handlers call per resource type and property (registry schemas);
  authz.stack turns a template into those calls at real ARNs; authz.check asks each once.
- authz.provision / authz.stages: every product (all parameter combinations) against the launch
  role, the platform stacks, and the deploy repo's stage stacks (all deploy options).
- `python -m authz`: the summary (resources, actions and run-time calls checked, denied, escalations).
"""
