"""The build step deploys the newest Approved package, never a Rejected or pending one."""

from __future__ import annotations

import pytest

from app_infra.errors import DeployError
from app_infra.model_registry import newest_approved


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
