"""Feature-branch CI of the products (the multi_branch seeds): which resources exist for which
answers, the EventBridge patterns (matched by moto), the StartBuild requests the rules have the
lifecycle function send (accepted by the function, checked against botocore's CodeBuild model),
and the whole chain from a CodeCommit event to the command the seed's own build_spec.yml runs."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import botocore.session
import pytest
import yaml
from moto import mock_aws

from mlops_template_kit import naming
from scripts import catalog, products
from scripts.bake import bake
from tests.test_servicecatalog_lifecycle import load_function
from tests.test_servicecatalog_support import conditions_of, live_resources, request_errors, resolve
from tests.test_servicecatalog_templates import delivered, push_event, values

VERSION = "1.2.3"
TRAINING_PRODUCTS = [product.key for product in catalog.products() if "build-train" in product.seeds]
PIPELINE_ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole"
BRANCH_PROJECT = naming.codebuild_project("churn", "p-idy6c3e1fiqj", "modelbuild-branches")
FEATURE = 'feature/Login-"Form"'
COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
RULES = ("ModelBuildBranchPushRule", "ModelBuildBranchDeletedRule", "ModelBuildBranchMergedRule")
PERMISSIONS = {rule_name: rule_name.removesuffix("Rule") + "Permission" for rule_name in RULES}
CODECOMMIT_ONLY = {"ModelBuildBranchProject", *RULES, *PERMISSIONS.values()}
CONNECTION_ONLY = {"ModelBuildBranchesPipeline", "ModelBuildCleanupPipeline"}


@pytest.fixture(scope="module")
def template() -> dict:
    return products.compose(catalog.product("build-train"), VERSION)


def given(template: dict, **overrides: str) -> dict:
    return values(template, name="churn", project_id="p-idy6c3e1fiqj", **overrides)


def created(template: dict, **overrides: str) -> set[str]:
    return set(live_resources(template, given(template, **overrides)))


def rule(template: dict, name: str) -> dict:
    # The branch project's Ref is its name.
    multi = given(template, MultiBranch="yes", ModelBuildBranchProject=BRANCH_PROJECT)
    return resolve(template["Resources"][name]["Properties"], template, multi, conditions_of(template, multi))


def start_build_request(target: dict, event: dict) -> dict:
    """What the lifecycle function asks CodeBuild to start: EventBridge fills the target's
    InputTemplate, each `<name>` replaced by the value at its path in the event (a JSON string,
    since the placeholders are not quoted), and the function takes the FeatureBranchBuild request
    after its own checks."""
    transformer = target["InputTransformer"]
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value = event
        for key in path.removeprefix("$.").split("."):
            value = value[key]
        text = text.replace(f"<{name}>", json.dumps(value))
    return load_function().branch_build_request(json.loads(text)["FeatureBranchBuild"])


def codecommit_event(detail_type: str, **detail: str) -> dict:
    """A CodeCommit event as EventBridge hands it to an input transformer."""
    return {"source": "aws.codecommit", "detail-type": detail_type, "detail": detail}


def environment_of(request: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in request.get("environmentVariablesOverride", [])}


# --- which resources exist ---------------------------------------------------------------------


@pytest.mark.parametrize("product", TRAINING_PRODUCTS)
@pytest.mark.parametrize("source_control", ["CodeCommit", "CodeConnections"])
def test_feature_branch_ci_exists_only_for_multi_branch_seeds_and_only_for_its_source(product, source_control):
    template = products.compose(catalog.product(product), VERSION)
    single = created(template, SourceControl=source_control)
    multi = created(template, SourceControl=source_control, MultiBranch="yes")
    assert not single & (CODECOMMIT_ONLY | CONNECTION_ONLY)
    expected = CODECOMMIT_ONLY if source_control == "CodeCommit" else CONNECTION_ONLY
    assert multi - single == expected


def test_main_builds_learn_the_main_branch_and_approval_only_with_multi_branch(template):
    project = template["Resources"]["ModelBuildProject"]

    def build(**overrides: str) -> dict:
        flags = conditions_of(template, given(template, **overrides))
        return resolve(project["Properties"], template, given(template, **overrides), flags)

    def variables(properties: dict) -> dict[str, str]:
        return {item["Name"]: item["Value"] for item in properties["Environment"]["EnvironmentVariables"]}

    assert not {"MAIN_BRANCH", "APPROVE_ON_MERGE"} & set(variables(build()))
    multi = build(MultiBranch="yes", BranchName="trunk")
    assert variables(multi)["MAIN_BRANCH"] == "trunk" and variables(multi)["APPROVE_ON_MERGE"] == "false"
    approving = build(MultiBranch="yes", ApproveOnMerge="yes")
    assert variables(approving)["APPROVE_ON_MERGE"] == "true"
    # The build waits for the training pipeline, so it gets longer than the default hour.
    assert approving["TimeoutInMinutes"] > multi["TimeoutInMinutes"] == 60


def test_approve_on_merge_without_multi_branch_is_refused_by_a_rule(template):
    (assertion,) = template["Rules"]["ApproveOnMergeNeedsBranches"]["Assertions"]
    condition = template["Rules"]["ApproveOnMergeNeedsBranches"]["RuleCondition"]
    assert resolve(condition, template, given(template, ApproveOnMerge="yes"))
    assert not resolve(assertion["Assert"], template, given(template, ApproveOnMerge="yes"))
    assert resolve(assertion["Assert"], template, given(template, ApproveOnMerge="yes", MultiBranch="yes"))
    assert "MultiBranch" in assertion["AssertDescription"]


# --- CodeCommit: event patterns ----------------------------------------------------------------


def pull_request_merged(repository_arn: str, source: str, destination: str = "main", merged: str = "True") -> dict:
    detail = {
        "event": "pullRequestMergeStatusUpdated",
        "isMerged": merged,
        "sourceReference": f"refs/heads/{source}",
        "destinationReference": f"refs/heads/{destination}",
        "repositoryNames": ["r"],
    }
    return {
        "Source": "aws.codecommit",
        "DetailType": "CodeCommit Pull Request State Change",
        "Resources": [repository_arn],
        "Detail": json.dumps(detail),
    }


def tag_event(repository_arn: str) -> dict:
    event = push_event(repository_arn, "v1.0")
    event["Detail"] = event["Detail"].replace('"branch"', '"tag"')
    return event


def test_push_rule_builds_every_branch_but_main(template):
    pattern = rule(template, "ModelBuildBranchPushRule")["EventPattern"]
    repository = pattern["resources"][0]
    with mock_aws():
        assert delivered(pattern, push_event(repository, "feature/x", "referenceCreated"))
        assert delivered(pattern, push_event(repository, "feature/x"))
        assert not delivered(pattern, push_event(repository, "main"))
        assert not delivered(pattern, push_event(repository, "feature/x", "referenceDeleted"))
        assert not delivered(pattern, tag_event(repository))
        assert not delivered(pattern, push_event("arn:aws:codecommit:us-east-1:123456789012:other", "feature/x"))


def test_deleted_rule_cleans_up_feature_branches_only(template):
    pattern = rule(template, "ModelBuildBranchDeletedRule")["EventPattern"]
    repository = pattern["resources"][0]
    with mock_aws():
        assert delivered(pattern, push_event(repository, "feature/x", "referenceDeleted"))
        assert not delivered(pattern, push_event(repository, "main", "referenceDeleted"))
        assert not delivered(pattern, push_event(repository, "feature/x"))


def test_merged_rule_cleans_up_branches_merged_into_main_only(template):
    pattern = rule(template, "ModelBuildBranchMergedRule")["EventPattern"]
    repository = pattern["resources"][0]
    with mock_aws():
        assert delivered(pattern, pull_request_merged(repository, "feature/x"))
        assert not delivered(pattern, pull_request_merged(repository, "feature/x", merged="False"))
        assert not delivered(pattern, pull_request_merged(repository, "feature/x", destination="release"))
        assert not delivered(pattern, pull_request_merged("arn:aws:codecommit:us-east-1:123456789012:o", "f"))


# --- CodeCommit: the StartBuild requests -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "event", "expected"),
    [
        (
            "ModelBuildBranchPushRule",
            codecommit_event(
                "CodeCommit Repository State Change",
                event="referenceUpdated",
                referenceName=FEATURE,
                commitId=COMMIT,
            ),
            {"BRANCH_NAME": FEATURE, "APPROVE_ON_MERGE": "false"},
        ),
        (
            "ModelBuildBranchDeletedRule",
            codecommit_event("CodeCommit Repository State Change", event="referenceDeleted", referenceName=FEATURE),
            {"BRANCH_ACTION": "cleanup", "BRANCH_NAME": FEATURE},
        ),
        (
            "ModelBuildBranchMergedRule",
            codecommit_event("CodeCommit Pull Request State Change", sourceReference=f"refs/heads/{FEATURE}"),
            {"BRANCH_ACTION": "cleanup", "BRANCH_NAME": f"refs/heads/{FEATURE}"},
        ),
    ],
    ids=["push", "deleted", "merged"],
)
def test_each_rule_sends_a_valid_start_build_request_for_its_branch(template, name, event, expected):
    (target,) = rule(template, name)["Targets"]
    request = start_build_request(target, event)
    shape = botocore.session.get_session().get_service_model("codebuild").operation_model("StartBuild").input_shape
    assert request_errors(request, shape) == []
    assert request["projectName"] == BRANCH_PROJECT
    assert environment_of(request) == expected
    # Only a push names a commit; cleanup runs the project's default version, the main branch.
    assert request.get("sourceVersion") == (COMMIT if name.endswith("PushRule") else None)


def test_rules_invoke_the_lifecycle_function_which_may_start_the_branch_project(template):
    """The managed events role may only start CodePipeline pipelines: the rules invoke the lifecycle
    function instead (a resource-based permission per rule, no role), and the managed Lambda role
    may start sagemaker-* projects tagged sagemaker:project-name."""
    multi = given(template, MultiBranch="yes")
    branch_project = resolve(template["Resources"]["ModelBuildBranchProject"]["Properties"], template, multi)
    assert branch_project["Name"] == BRANCH_PROJECT and BRANCH_PROJECT.startswith("sagemaker-")
    assert "sagemaker:project-name" in {tag["Key"] for tag in branch_project["Tags"]}
    assert branch_project["SourceVersion"] == "refs/heads/main"
    for name in RULES:
        (target,) = rule(template, name)["Targets"]
        assert target["Arn"] == "LifecycleFunction.Arn"
        assert "RoleArn" not in target
        permission = template["Resources"][PERMISSIONS[name]]
        assert permission["Condition"] == template["Resources"][name]["Condition"]
        assert permission["Properties"] == {
            "FunctionName": {"Fn::GetAtt": ["LifecycleFunction", "Arn"]},
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [name, "Arn"]},
        }


def test_a_quoted_placeholder_would_break_on_a_quote_in_a_branch_name():
    """Why the input templates leave placeholders unquoted: git allows `"` in branch names."""
    target = {
        "Arn": "project",
        "InputTransformer": {
            "InputPathsMap": {"branch": "$.detail.referenceName"},
            "InputTemplate": (
                '{"FeatureBranchBuild": {"projectName": "p", '
                '"environmentVariablesOverride": [{"name": "BRANCH_NAME", "value": "<branch>"}]}}'
            ),
        },
    }
    with pytest.raises(json.JSONDecodeError):
        start_build_request(target, codecommit_event("x", referenceName=FEATURE))


# --- CodeCommit: from the event to what the seed's build spec runs -----------------------------


@pytest.fixture(scope="module")
def build_phase(tmp_path_factory) -> str:
    """The build phase script of a multi-branch seed's build_spec.yml, its pipeline command echoed."""
    answers = catalog.variants("build-train")[0].answers | {"multi_branch": "yes"}
    repo = bake("build-train", tmp_path_factory.mktemp("seed") / "repo", answers)
    spec = yaml.safe_load((repo / "build_spec.yml").read_text(encoding="utf-8"))
    (script,) = [command for command in spec["phases"]["build"]["commands"] if "BRANCH_ACTION" in command]
    return re.sub(r'PIPELINE="[^"]+"', 'PIPELINE="echo pipeline"', script)


@pytest.mark.parametrize(
    ("name", "event", "command"),
    [
        (
            "ModelBuildBranchPushRule",
            codecommit_event("x", referenceName="feature/login", commitId=COMMIT),
            ["upload-code", "upsert", "start"],
        ),
        (
            "ModelBuildBranchDeletedRule",
            codecommit_event("x", referenceName="feature/login"),
            ["cleanup-branch --branch feature/login --delete-group"],
        ),
        (
            "ModelBuildBranchMergedRule",
            codecommit_event("x", sourceReference="refs/heads/feature/login"),
            ["cleanup-branch --branch feature/login --delete-group"],
        ),
    ],
    ids=["push", "deleted", "merged"],
)
def test_an_event_makes_the_seed_build_or_clean_up_that_branch(template, build_phase, name, event, command):
    (target,) = rule(template, name)["Targets"]
    project = resolve(
        template["Resources"]["ModelBuildBranchProject"]["Properties"],
        template,
        given(template, MultiBranch="yes"),
        conditions_of(template, given(template, MultiBranch="yes")),
    )
    environment = {item["Name"]: item["Value"] for item in project["Environment"]["EnvironmentVariables"]}
    environment |= environment_of(start_build_request(target, event))
    result = subprocess.run(
        ["sh", "-c", build_phase],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    ran = [line.removeprefix("pipeline ") for line in result.stdout.splitlines() if line.startswith("pipeline ")]
    assert [line for line in ran if line != "build-id"] == command


# --- CodeConnections: pipeline triggers --------------------------------------------------------


def pipeline(template: dict, name: str) -> dict:
    overrides = {"SourceControl": "CodeConnections", "MultiBranch": "yes", "BuildRepositoryFullName": "org/build"}
    overrides["CodeConnectionArn"] = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b"
    flags = conditions_of(template, given(template, **overrides))
    return resolve(template["Resources"][name]["Properties"], template, given(template, **overrides), flags)


def build_action(properties: dict) -> tuple[dict, dict]:
    source = properties["Stages"][0]["Actions"][0]
    build = properties["Stages"][1]["Actions"][0]
    return source, build


def action_environment(action: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in json.loads(action["Configuration"]["EnvironmentVariables"])}


def test_connection_pushes_to_other_branches_run_the_build_as_that_branch(template):
    properties = pipeline(template, "ModelBuildBranchesPipeline")
    (trigger,) = properties["Triggers"]
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"] == {"Includes": ["**"], "Excludes": ["main"]}
    assert properties["ExecutionMode"] == "PARALLEL" and properties["PipelineType"] == "V2"
    source, build = build_action(properties)
    assert trigger["GitConfiguration"]["SourceActionName"] == source["Name"]
    assert build["Configuration"]["ProjectName"] == "ModelBuildProject.Ref"
    environment = action_environment(build)
    assert environment["BRANCH_NAME"] == f"#{{{source['Namespace']}.BranchName}}"
    assert environment["APPROVE_ON_MERGE"] == "false" and "BRANCH_ACTION" not in environment


def test_connection_pull_requests_closed_into_main_clean_up_their_branch(template):
    properties = pipeline(template, "ModelBuildCleanupPipeline")
    (trigger,) = properties["Triggers"]
    (pull_request,) = trigger["GitConfiguration"]["PullRequest"]
    assert pull_request == {"Events": ["CLOSED"], "Branches": {"Includes": ["main"]}}
    source, build = build_action(properties)
    environment = action_environment(build)
    assert environment == {"BRANCH_ACTION": "cleanup", "BRANCH_NAME": f"#{{{source['Namespace']}.BranchName}}"}


def test_connection_pipelines_use_the_connection_and_the_codepipeline_role(template):
    for name in sorted(CONNECTION_ONLY):
        properties = pipeline(template, name)
        source, _ = build_action(properties)
        assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
        assert source["Configuration"]["FullRepositoryId"] == "org/build"
        assert properties["RoleArn"] == PIPELINE_ROLE
        assert properties["Name"].startswith("sagemaker-")


def test_the_build_spec_of_every_seed_is_where_the_projects_look(template):
    spec = template["Resources"]["ModelBuildBranchProject"]["Properties"]["Source"]["BuildSpec"]
    payload = next((catalog.TEMPLATES_DIR / "build-train").glob("{{cookiecutter.*}}"))
    assert (Path(payload) / spec).is_file()
