"""What CodeBuild and CodePipeline do on the roles' behalf, beyond the calls our code makes: the
build specs' `reports:` (CodeBuild creates report groups and reports as the project's role), the
feature-branch project's CODECOMMIT source (CodeBuild pulls as the project's role), and connection
sources of either ARN prefix. Each is evaluated against the role as deployed (authz.roles) and,
where the managed policy alone lacks it, shown to be denied without the platform stack."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from authz.evaluate import Request, decide
from authz.roles import ACCOUNT, ROLES, deployed_roles
from authz.stack import WORST_ID, WORST_NAME
from scripts.bake import bake

REGION = "us-east-1"
# CodeBuild projects of the products (servicecatalog/parts) -> (seed template, build spec they run).
PROJECTS = {
    "modelbuild": ("build-train", "build_spec.yml"),
    "modelbuild-branches": ("build-train", "build_spec.yml"),
    "modeldeploy-build": ("deploy", "build_spec.yml"),
    "modeldeploy-stage": ("deploy", "deploy_spec.yml"),
    "modeldeploy-test": ("deploy", "test_spec.yml"),
}
# CodeBuild User Guide, "Test report permissions"
# (https://docs.aws.amazon.com/codebuild/latest/userguide/test-permissions.html): a build that
# declares report groups by name creates `<project>-<report group name>` and its reports.
REPORT_ACTIONS = (
    "codebuild:CreateReportGroup",
    "codebuild:CreateReport",
    "codebuild:UpdateReport",
    "codebuild:BatchPutTestCases",
)


def project_name(suffix: str) -> str:
    return f"sagemaker-{WORST_NAME}-{WORST_ID}-{suffix}"


@pytest.fixture(scope="module")
def report_groups(tmp_path_factory) -> list[str]:
    """Every report group the products' builds create, from the build specs of baked seeds (the
    multi-branch build-train seed: its build spec has every phase)."""
    output = tmp_path_factory.mktemp("seeds")
    repos = {"build-train": bake("build-train", output, {"multi_branch": "yes"}), "deploy": bake("deploy", output)}
    groups = []
    for suffix, (template, spec) in PROJECTS.items():
        reports = yaml.safe_load((repos[template] / spec).read_text()).get("reports", {})
        groups += [
            f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/{project_name(suffix)}-{name}" for name in reports
        ]
    return groups


def allowed(role, action: str, resource: str, context: dict | None = None) -> bool:
    return decide(role.policies, Request(action, resource, context or {}), role.boundary).allowed


def test_the_build_specs_declare_reports(report_groups):
    """Guards the next test against passing over nothing."""
    assert len(report_groups) >= 2


@pytest.mark.parametrize("action", REPORT_ACTIONS)
def test_the_codebuild_role_writes_the_report_groups_the_build_specs_declare(action, report_groups):
    deployed, managed_only = deployed_roles()["codebuild"], ROLES["codebuild"]
    for group in report_groups:
        assert allowed(deployed, action, group), (action, group)
        assert not allowed(managed_only, action, group), f"{action} needs no platform policy any more"


def test_report_groups_of_other_projects_stay_out_of_reach():
    deployed = deployed_roles()["codebuild"]
    assert not allowed(deployed, "codebuild:CreateReport", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/other-x")


def test_the_feature_branch_project_pulls_its_codecommit_source():
    repository = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:sagemaker-{WORST_NAME}-{WORST_ID}-modelbuild"
    assert allowed(deployed_roles()["codebuild"], "codecommit:GitPull", repository)
    assert not allowed(ROLES["codebuild"], "codecommit:GitPull", repository)
    assert not allowed(deployed_roles()["codebuild"], "codecommit:GitPull", f"arn:aws:codecommit:{REGION}:{ACCOUNT}:x")


@pytest.mark.parametrize("prefix", ["codestar-connections", "codeconnections"])
@pytest.mark.parametrize("role_key", ["codepipeline", "codebuild"])
def test_connections_of_either_arn_prefix_are_usable_when_tagged_for_sagemaker(prefix, role_key):
    """Connections made since mid-2024 have `codeconnections` ARNs; older ones `codestar-connections`.
    The source actions (CodePipeline) and the seed check-in (CodeBuild) use either."""
    connection = f"arn:aws:{prefix}:{REGION}:{ACCOUNT}:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    role = deployed_roles()[role_key]
    tagged = {"aws:ResourceTag/sagemaker": "true"}
    for action in ("codestar-connections:UseConnection", "codeconnections:UseConnection"):
        assert allowed(role, action, connection, tagged), (action, connection)
        assert not allowed(role, action, connection), f"{action} without the sagemaker=true tag"


@pytest.mark.parametrize("prefix", ["codestar-connections", "codeconnections"])
def test_the_launch_role_passes_connections_of_either_prefix_to_codepipeline(prefix):
    connection = f"arn:aws:{prefix}:{REGION}:{ACCOUNT}:connection/0a1b2c3d"
    launch = deployed_roles()["launch"]
    for action, key in (
        ("codestar-connections:PassConnection", "codestar-connections:PassedToService"),
        ("codeconnections:PassConnection", "codeconnections:PassedToService"),
    ):
        assert allowed(launch, action, connection, {key: "codepipeline.amazonaws.com"})
        assert not allowed(launch, action, connection, {key: "codebuild.amazonaws.com"})


# --- the platform kit: every build's `make setup` downloads its release's wheel ----------------

TEMPLATES_BUCKET = f"arn:aws:s3:::mlops-project-templates-{ACCOUNT}-{REGION}"


def kit_wheel_object() -> str:
    from scripts import catalog

    return f"{TEMPLATES_BUCKET}/{catalog.kit_wheel_key('1.4.0')}"


def without_statement(role, sid: str):
    """The role with one platform statement taken out (what the role would be without that grant)."""
    policies = [
        {**policy, "Statement": [s for s in policy["Statement"] if s.get("Sid") != sid]} for policy in role.policies
    ]
    return dataclasses.replace(role, policies=policies)


def test_the_codebuild_role_reads_the_kit_wheel_of_a_release():
    deployed = deployed_roles()["codebuild"]
    assert allowed(deployed, "s3:GetObject", kit_wheel_object())
    assert not allowed(ROLES["codebuild"], "s3:GetObject", kit_wheel_object()), "the managed policy alone reads it"


def test_without_the_kit_grant_the_download_is_denied():
    assert not allowed(
        without_statement(deployed_roles()["codebuild"], "ReadReleasedKit"), "s3:GetObject", kit_wheel_object()
    )


@pytest.mark.parametrize("key", ["1.4.0/products/build-train-deploy.yaml", "1.4.0/manifest.json", "1.4.0/packages"])
def test_the_release_reads_stop_at_the_seeds_and_the_kit(key):
    assert not allowed(deployed_roles()["codebuild"], "s3:GetObject", f"{TEMPLATES_BUCKET}/{key}")
