"""The model-approval rule fires for an Approved package of this project's group only.

The rule is created from the template in moto's CloudFormation. moto cannot deliver to a
CodePipeline target, so after checking that target the test swaps it for an SQS queue, which
records what moto's EventBridge matches.
"""

from __future__ import annotations

import json
import warnings

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import deploy, stacks


@pytest.fixture
def rule_queue(aws, settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy.deploy_trigger(settings, aws, {})
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = naming.event_rule(settings.project_id, "model-approved")
    events = aws.client("events")
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert target["Arn"].endswith(":" + stacks.deploy_pipeline_name(settings, {}))
    events.remove_targets(Rule=rule, Ids=[target["Id"]])
    events.put_targets(Rule=rule, Targets=[{"Id": "record", "Arn": queue_arn}])
    return sqs, queue_url


def _state_change(group: str, status: str) -> dict:
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": 3,
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group.lower()}/3",
        "ModelApprovalStatus": status,
    }
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Model Package State Change",
        "Detail": json.dumps(detail),
    }


def _delivered(aws, rule_queue, event: dict) -> list[dict]:
    sqs, queue_url = rule_queue
    aws.client("events").put_events(Entries=[event])
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_an_approved_package_of_the_group_starts_the_deploy_pipeline(aws, settings, rule_queue):
    delivered = _delivered(aws, rule_queue, _state_change(settings.model_package_group, "Approved"))
    assert len(delivered) == 1
    assert delivered[0]["detail"]["ModelApprovalStatus"] == "Approved"


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_other_approval_states_are_ignored(aws, settings, rule_queue, status):
    assert _delivered(aws, rule_queue, _state_change(settings.model_package_group, status)) == []


def test_another_groups_approval_is_ignored(aws, settings, rule_queue):
    assert _delivered(aws, rule_queue, _state_change("another-group-p-0000000000", "Approved")) == []


def test_other_sagemaker_events_are_ignored(aws, settings, rule_queue):
    event = _state_change(settings.model_package_group, "Approved")
    event["DetailType"] = "SageMaker Endpoint Deployment State Change"
    assert _delivered(aws, rule_queue, event) == []
