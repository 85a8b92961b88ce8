"""authz.escalation: cloudsplaining's combinations plus our Studio-reachable rule (team decision D1)."""

from __future__ import annotations

from authz.escalation import findings

STAGE_ROLES = "arn:aws:iam::123456789012:role/sagemaker-*"
BOUNDARY = "arn:aws:iam::123456789012:policy/sagemaker-stage-boundary"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def with_boundary(value=BOUNDARY, operator="StringEquals") -> dict:
    return {operator: {"iam:PermissionsBoundary": value}}


def test_deploy_access_grant_is_an_escalation():
    # What `make deploy-access` attaches to the use role today (deploy_role.yaml, Sid ManageStageRoles):
    # create, rewrite and pass any sagemaker-* role, no boundary.
    grant = policy(
        allow(
            ["iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "iam:GetRole"],
            STAGE_ROLES,
        )
    )
    problems = findings(grant, "codebuild")
    assert any("iam:CreateRole" in line and "boundary" in line for line in problems)
    assert any("iam:PutRolePolicy" in line for line in problems)
    assert any("iam:UpdateAssumeRolePolicy" in line for line in problems)
    assert any("iam:PassRole" in line for line in problems)


def test_create_role_under_an_enforced_boundary_with_pass_role_in_that_namespace_is_not():
    grant = policy(
        allow("iam:CreateRole", STAGE_ROLES, Condition=with_boundary()),
        allow(["iam:PassRole", "iam:GetRole"], STAGE_ROLES),
    )
    assert findings(grant, "codebuild") == []


def test_a_boundary_condition_that_accepts_any_policy_is_no_boundary():
    grant = policy(
        allow("iam:CreateRole", STAGE_ROLES, Condition=with_boundary("arn:aws:iam::*:policy/*", "StringLike")),
        allow("iam:PassRole", STAGE_ROLES),
    )
    problems = findings(grant, "codebuild")
    assert any("iam:CreateRole" in line for line in problems)
    assert any("iam:PassRole" in line for line in problems)


def test_a_boundary_enforced_by_deny_counts():
    grant = policy(
        allow(["iam:CreateRole", "iam:PassRole"], STAGE_ROLES),
        {
            "Effect": "Deny",
            "Action": "iam:CreateRole",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}},
        },
    )
    assert findings(grant, "codebuild") == []


def test_other_conditions_do_not_hide_an_unbounded_create_role():
    grant = policy(allow("iam:CreateRole", STAGE_ROLES, Condition={"StringEquals": {"aws:RequestTag/team": "ml"}}))
    assert any("iam:CreateRole" in line for line in findings(grant, "codebuild"))


def test_rewriting_a_bounded_role_trust_or_a_policy_version_is_always_flagged():
    grant = policy(
        allow("iam:CreateRole", STAGE_ROLES, Condition=with_boundary()),
        allow("iam:UpdateAssumeRolePolicy", STAGE_ROLES),
        allow("iam:CreatePolicyVersion", BOUNDARY),
    )
    problems = findings(grant, "execution")
    assert any("UpdateAssumeRolePolicy" in line for line in problems)
    assert any("CreatePolicyVersion" in line for line in problems)


def test_pass_role_on_fixed_roles_to_named_services_is_not():
    grant = policy(
        allow(
            "iam:PassRole",
            [
                "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
                "arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalogProductsCloudformationRole",
            ],
            Condition={
                "StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "cloudformation.amazonaws.com"]}
            },
        )
    )
    assert findings(grant, "codebuild") == []


def test_pass_role_on_any_role_is_flagged_even_to_one_service():
    grant = policy(
        allow(
            "iam:PassRole",
            "arn:aws:iam::*:role/*",
            Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    assert any("iam:PassRole" in line for line in findings(grant, "execution"))


def test_cloudsplaining_combinations_are_reported():
    grant = policy(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "*"))
    problems = findings(grant, "launch")
    assert "cloudsplaining: PassExistingRoleToNewLambdaThenInvoke" in " ".join(problems)


def test_our_rule_applies_to_studio_reachable_and_unknown_roles_only():
    grant = policy(allow(["iam:CreateRole", "iam:PassRole"], STAGE_ROLES))
    assert findings(grant, "launch") == []  # not reachable: Studio users run only the product's template
    assert findings(grant, "events") == []
    assert findings(grant, "codebuild")
    assert findings(grant, "stage-deploy")  # a role this module does not know is treated as reachable


def test_an_unconditioned_deny_removes_the_grant():
    grant = policy(
        allow(["iam:UpdateAssumeRolePolicy", "iam:PassRole"], STAGE_ROLES),
        {"Effect": "Deny", "Action": ["iam:UpdateAssumeRolePolicy", "iam:PassRole"], "Resource": "*"},
    )
    assert findings(grant, "codebuild") == []
