"""Name builders the deploy template added to the kit's naming module, at the worst case (32-character
project name, 20-character id) and against each service's rules."""

from __future__ import annotations

import re

import pytest

from mlops_template_kit import naming

NAME = "A" + "b" * 30 + "9"  # 32 characters; project names may hold upper case
ID = "p-" + "a1" * 9  # 20 characters
ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
ALIAS = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
STAGE_BUCKETS = ("datacapture", "batch")
STAGE_KEYS = ("endpoint", "invoke", "api-logs", "batch")


@pytest.mark.parametrize("stage", naming.STAGES)
def test_stage_names_fit_at_the_worst_case(stage):
    for purpose in naming.STAGE_ACCESS_ROLES:
        for role in (naming.stage_access_role(purpose, ID, stage), naming.stage_access_role(purpose)):
            assert ROLE.match(role) and role.startswith("sagemaker-")
    for purpose in STAGE_BUCKETS:
        bucket = naming.stage_bucket(ID, stage, purpose)
        assert naming.BUCKET_NAME.match(bucket) and bucket.startswith("sagemaker-")
    for purpose in STAGE_KEYS:
        assert ALIAS.match(naming.kms_alias(ID, stage, purpose))
    for metric in ("invocation-5xx", "model-latency-p99"):
        assert len(naming.alarm(NAME, ID, stage, metric)) <= naming.LIMITS["alarm"]
    assert len(naming.rest_api(NAME, ID, stage)) <= naming.LIMITS["api"]
    assert len(naming.lambda_function(ID, f"{stage}-invoke")) <= naming.LIMITS["lambda_function"]
    assert len(naming.event_rule(ID, f"{stage}-batch-schedule")) <= naming.LIMITS["event_rule"]
    assert len(naming.pipeline(NAME, ID, f"batch-inference-{stage}")) <= naming.LIMITS["pipeline"]
    for part in ("endpoint", "lambda", "api", "batch", "batch-schedule"):
        assert len(naming.stack(NAME, ID, f"{stage}-{part}")) <= naming.LIMITS["cloudformation_stack"]
    access = naming.stage_access_stack(NAME, ID, stage)
    assert len(access) <= naming.LIMITS["cloudformation_stack"]
    # The deploy policy covers sagemaker-<name>-<id>-<stage>-*: the access stack is outside it.
    assert not access.startswith(naming.stack(NAME, ID, f"{stage}-"))
    assert naming.SAGEMAKER_NAME.match(naming.endpoint(NAME, ID, stage))


def test_cross_account_names_fit():
    assert ROLE.match(naming.iam_role(ID, "cross-account-deploy"))
    assert ROLE.match(naming.iam_role(ID, "model-approved-trigger"))
    assert len(naming.event_rule(ID, "model-approved")) <= naming.LIMITS["event_rule"]


def test_shared_and_per_project_stage_access_roles_never_collide():
    shared = {naming.stage_access_role(purpose) for purpose in naming.STAGE_ACCESS_ROLES}
    own = {naming.stage_access_role(p, ID, s) for p in naming.STAGE_ACCESS_ROLES for s in naming.STAGES}
    assert len(shared) + len(own) == len(shared | own) == len(naming.STAGE_ACCESS_ROLES) * 3


@pytest.mark.parametrize(
    "build",
    [lambda: naming.stage_access_role("admin"), lambda: naming.stage_access_role("endpoint", ID, "dev")],
)
def test_unknown_stage_access_roles_and_stages_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_buckets_are_lower_case_even_for_upper_case_ids():
    assert naming.stage_bucket("P-ABC", "prod", "batch") == "sagemaker-p-abc-prod-batch"


def test_log_groups_follow_the_service_convention():
    function = naming.lambda_function(ID, "staging-invoke")
    assert naming.log_group("lambda", function) == f"/aws/lambda/{function}"


@pytest.mark.parametrize(
    "build",
    [
        lambda: naming.stage_bucket(ID, "dev", "batch"),
        lambda: naming.alarm(NAME, ID, "qa", "x"),
        lambda: naming.rest_api(NAME, ID, "test"),
        lambda: naming.kms_alias(ID, "production", "x"),
    ],
)
def test_unknown_stages_are_refused(build):
    with pytest.raises(ValueError, match="stage"):
        build()


def test_a_name_over_its_limit_is_refused():
    with pytest.raises(naming.NameTooLongError):
        naming.iam_role(ID, "x" * 40)
    with pytest.raises(naming.NameTooLongError):
        naming.stage_bucket(ID, "staging", "y" * 40)


@pytest.mark.parametrize("stage", naming.STAGES)
def test_monitoring_names_fit_at_the_worst_case(stage):
    """app_infra/monitoring: its stack, rule, topic key, alarms (a feature name of 64 characters) and
    the job definitions and schedules named <id>-<stage>-<check> (SageMaker names: 63 characters)."""
    assert len(naming.stack(NAME, ID, f"{stage}-monitoring")) <= naming.LIMITS["cloudformation_stack"]
    assert len(naming.event_rule(ID, f"{stage}-drift")) <= naming.LIMITS["event_rule"]
    assert ALIAS.match(naming.kms_alias(ID, stage, "drift-topic"))
    prefix = naming.alarm(NAME, ID, stage, "monitor") + "-"
    assert len(f"{prefix}drift-{'f' * 64}") <= naming.LIMITS["alarm"]
    for check in ("data-quality", "model-quality"):
        assert naming.SAGEMAKER_NAME.match(f"{ID}-{stage}-{check}") and len(f"{ID}-{stage}-{check}") <= 63
    # Engine=processing: its pipeline, schedule rule and schedule role (stacks.monitoring_parameters).
    assert naming.pipeline(NAME, ID, f"monitoring-{stage}")
    assert len(naming.event_rule(ID, f"{stage}-monitor-schedule")) <= naming.LIMITS["event_rule"]
    assert naming.stage_access_role("monitoring-schedule", ID, stage)
