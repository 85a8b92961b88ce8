"""The build step deploys the newest Approved package, never a Rejected or pending one."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import (
    ApprovedModel,
    group_arn,
    merged_policy,
    newest_approved,
    share_with_stage_account,
    stage_read_statement,
)


def test_newest_approved_package_is_chosen(aws, settings, registry):
    model = newest_approved(aws.client("sagemaker"), settings.model_package_group)
    # Newer Rejected and PendingManualApproval versions exist; the newest Approved one wins.
    assert model.arn == registry["approved"]
    assert model.version == 2
    assert model.model_data_url == registry["model_data_url"]
    assert model.evaluation_uri == registry["evaluation"]
    assert model.baseline_statistics_uri.endswith("statistics.json")
    assert model.baseline_constraints_uri.endswith("constraints.json")
    assert model.metadata["build_id"]


def test_approving_a_later_version_makes_it_the_one_deployed(aws, settings, registry):
    client = aws.client("sagemaker")
    client.update_model_package(ModelPackageArn=registry["pending"], ModelApprovalStatus="Approved")
    assert newest_approved(client, settings.model_package_group).arn == registry["pending"]


def test_no_approved_package_fails_with_one_clear_line(aws, settings, register_package):
    client = aws.client("sagemaker")
    client.create_model_package_group(ModelPackageGroupName=settings.model_package_group)
    url = "s3://bucket/model.tar.gz"
    register_package(client, settings.model_package_group, "Rejected", url)
    register_package(client, settings.model_package_group, "PendingManualApproval", url)
    with pytest.raises(DeployError) as raised:
        newest_approved(client, settings.model_package_group)
    message = str(raised.value)
    assert "no Approved model package" in message and settings.model_package_group in message
    assert "\n" not in message


def test_a_group_that_does_not_exist_has_nothing_approved(aws):
    with pytest.raises(DeployError, match="no Approved model package"):
        newest_approved(aws.client("sagemaker"), "no-such-group")


# --- multi-account: the stage account may read the group (moto 5.2.5 has no group policies, so
# the two calls are stubbed; the recorder still sees them, botocore's before-parameter-build) ----

STAGE_ACCOUNT = "222222222222"
GROUP = "Diabetes-p-localdemo001"
MODEL = ApprovedModel(
    arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP.lower()}/3",
    group=GROUP,
    version=3,
    model_data_url="s3://sagemaker-project-p-localdemo001/diabetes/model.tar.gz",
    image="image",
)
NO_POLICY = {"service_error_code": "ResourceNotFound", "service_message": "no policy"}


@pytest.fixture
def stubbed(aws):
    client = aws.client("sagemaker")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect_put(stubber, policy: dict) -> None:
    stubber.add_response(
        "put_model_package_group_policy",
        {"ModelPackageGroupArn": group_arn(MODEL)},
        {"ModelPackageGroupName": GROUP, "ResourcePolicy": json.dumps(policy)},
    )


def test_a_group_without_policy_gets_one_statement_for_the_stage_account(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("get_model_package_group_policy", **NO_POLICY)
    statement = stage_read_statement(MODEL, STAGE_ACCOUNT)
    _expect_put(stubber, {"Version": "2012-10-17", "Statement": [statement]})
    assert share_with_stage_account(client, MODEL, STAGE_ACCOUNT) is True
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{STAGE_ACCOUNT}:root"}
    group = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/Diabetes-p-localdemo001"
    assert statement["Resource"] == [
        group,
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/Diabetes-p-localdemo001/*",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/diabetes-p-localdemo001/*",
    ]


def test_sharing_keeps_other_statements_and_replaces_its_own(stubbed):
    client, stubber = stubbed
    other = {"Sid": "SomeoneElse", "Effect": "Allow", "Principal": {"AWS": "333333333333"}, "Action": "*"}
    stale = {**stage_read_statement(MODEL, STAGE_ACCOUNT), "Action": ["sagemaker:DescribeModelPackage"]}
    current = {"Version": "2012-10-17", "Statement": [stale, other]}
    stubber.add_response(
        "get_model_package_group_policy", {"ResourcePolicy": json.dumps(current)}, {"ModelPackageGroupName": GROUP}
    )
    _expect_put(stubber, {"Version": "2012-10-17", "Statement": [other, stage_read_statement(MODEL, STAGE_ACCOUNT)]})
    assert share_with_stage_account(client, MODEL, STAGE_ACCOUNT) is True


def test_an_up_to_date_policy_is_not_put_again(stubbed):
    client, stubber = stubbed
    current = merged_policy(None, stage_read_statement(MODEL, STAGE_ACCOUNT))
    stubber.add_response("get_model_package_group_policy", {"ResourcePolicy": json.dumps(current)})
    assert share_with_stage_account(client, MODEL, STAGE_ACCOUNT) is False


def test_a_refused_policy_change_fails_with_one_line_naming_the_group(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("get_model_package_group_policy", **NO_POLICY)
    stubber.add_client_error("put_model_package_group_policy", service_error_code="AccessDeniedException")
    with pytest.raises(DeployError) as raised:
        share_with_stage_account(client, MODEL, STAGE_ACCOUNT)
    message = str(raised.value)
    assert GROUP in message and STAGE_ACCOUNT in message and "\n" not in message


def test_an_unreadable_policy_fails_with_one_line(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("get_model_package_group_policy", service_error_code="AccessDeniedException")
    with pytest.raises(DeployError, match="cannot read the policy"):
        share_with_stage_account(client, MODEL, STAGE_ACCOUNT)
