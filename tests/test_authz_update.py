"""Would "Update project" (scripts/update_project.py) to the next release work under the launch role?
Every product's version bump, at every parameter combination, evaluated with authz.update; and
the update rules themselves (replacement, code used only at creation, custom resources) on
hand-made resources."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authz import update
from authz.check import Ledger
from authz.roles import ROLES, deployed_roles
from authz.stack import ACCOUNT
from scripts import catalog
from tests.product_ledger import evaluated_fixture, product_denials

PRODUCTS = {product.key: product for product in catalog.products()}
STACK = "stack"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-p-1-lifecycle"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/{ROLES['lambda'].name}"


def _function(key: str, name: str = "sagemaker-p-1-lifecycle") -> dict:
    return {
        "FunctionName": name,
        "Role": LAMBDA_ROLE,
        "Code": {"S3Bucket": "mlops-project-templates-1", "S3Key": f"{key}/functions/project-lifecycle.zip"},
    }


def _calls(resource_type: str, old: dict, new: dict) -> set[tuple[str, str, str]]:
    needs = update.update_needs("Resource", resource_type, old, new, STACK)
    return {(need.phase, need.action, need.resource) for need in needs}


evaluated = evaluated_fixture(update.check_updates)


@pytest.mark.parametrize("key", sorted(PRODUCTS))
def test_every_combination_of_the_product_updates_to_the_next_release_under_the_launch_role(evaluated, key):
    denied = product_denials(evaluated, key)
    assert not denied, "\n".join(denied)


def test_a_version_bump_replaces_the_lifecycle_code_which_the_managed_launch_policy_cannot():
    """Without the platform stack's LaunchUpdatePolicy the update is refused at the function."""
    managed_only = {**deployed_roles(), "launch": ROLES["launch"]}
    ledger = Ledger(roles=managed_only)
    update.check_update(ledger, PRODUCTS["build-train"])
    denied = {(denial.action, denial.resource) for denial in ledger.denials()}
    assert ("lambda:UpdateFunctionCode", FUNCTION.replace("p-1", "p-" + "x" * 18)) in denied


def test_an_unchanged_resource_asks_nothing():
    assert _calls("AWS::Lambda::Function", _function("1.0.0"), _function("1.0.0")) == set()


def test_new_code_updates_the_function_reads_the_new_object_and_passes_its_role_again():
    calls = _calls("AWS::Lambda::Function", _function("1.0.0"), _function("1.1.0"))
    assert ("update", "lambda:UpdateFunctionCode", FUNCTION) in calls
    assert (
        "update",
        "s3:GetObject",
        "arn:aws:s3:::mlops-project-templates-1/1.1.0/functions/project-lifecycle.zip",
    ) in calls
    assert ("update", "iam:PassRole", LAMBDA_ROLE) in calls
    assert not any(action == "lambda:CreateFunction" for _, action, _ in calls)


def test_a_renamed_function_is_replaced_created_new_and_deleted_old():
    calls = _calls("AWS::Lambda::Function", _function("1.0.0"), _function("1.0.0", name="sagemaker-p-1-renamed"))
    assert ("create", "lambda:CreateFunction", FUNCTION.replace("lifecycle", "renamed")) in calls
    assert ("delete", "lambda:DeleteFunction", FUNCTION) in calls
    assert not any(phase == "update" for phase, _, _ in calls)


def test_a_repository_whose_seed_changed_is_not_updated():
    """CodeCommit uses Code only at creation: a new seed key calls nothing."""
    old = {"RepositoryName": "sagemaker-p-1-build", "Code": {"S3": {"Bucket": "b", "Key": "1.0.0/seed.zip"}}}
    new = {**old, "Code": {"S3": {"Bucket": "b", "Key": "1.1.0/seed.zip"}}}
    assert _calls("AWS::CodeCommit::Repository", old, new) == set()
    described = {**new, "RepositoryDescription": "changed"}
    assert (
        "update",
        "codecommit:UpdateRepositoryDescription",
        "arn:aws:codecommit:us-east-1:123456789012:sagemaker-p-1-build",
    ) in _calls("AWS::CodeCommit::Repository", old, described)


def test_a_custom_resource_with_new_properties_invokes_its_function():
    old = {"ServiceToken": FUNCTION, "SeedKey": "1.0.0/seed.zip"}
    calls = _calls("Custom::SeedRepository", old, {**old, "SeedKey": "1.1.0/seed.zip"})
    assert calls == {("update", "lambda:InvokeFunction", FUNCTION)}


def test_a_changed_service_token_replaces_the_custom_resource():
    old = {"ServiceToken": FUNCTION}
    new = {"ServiceToken": FUNCTION.replace("lifecycle", "other")}
    phases = {phase for phase, _, _ in _calls("Custom::SeedRepository", old, new)}
    assert phases == {"create", "delete"}


def test_the_platform_update_grant_is_limited_to_lifecycle_functions():
    launch = deployed_roles()["launch"]
    added = [policy for policy in launch.policies if policy not in ROLES["launch"].policies]
    statements = [s for policy in added for s in policy["Statement"] if "lambda:UpdateFunctionCode" in s["Action"]]
    assert [s["Resource"] for s in statements] == [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-*-lifecycle"]
    narrower = replace(launch, policies=[*ROLES["launch"].policies, *added])
    ledger = Ledger(roles={"launch": narrower})
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-p-1-something-else"
    assert not ledger.ask("launch", "lambda:UpdateFunctionCode", other, (), "test").allowed
