"""servicecatalog/mlflow-access.yaml: what the pipeline role needs to track runs in one SageMaker
managed MLflow server (the calls of the build-train seed's shared_libraries/tracking.py), granted on
that server and its artifact store and nothing else, as the support module's IAM evaluator decides.
cfn-lint, checkov and the authorization harness cover the stack as one of products.ACCOUNT_TEMPLATES."""

from __future__ import annotations

import copy
import re

import pytest

from authz import cfn
from authz.evaluate import Request, decide
from authz.roles import ROLES, with_platform
from scripts import catalog, products
from tests.bakery import payload_dir
from tests.test_servicecatalog_support import (
    allowed,
    conditions_of,
    parameter_errors,
    resolve,
    statements,
    wildcard_grants,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
SERVER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/team-tracking"
GIVEN = {
    "UseRoleName": "AmazonSageMakerServiceCatalogProductsExecutionRole",
    "MlflowResourceArn": SERVER,
    "ArtifactBucket": "acme-mlflow",
    "ArtifactPrefix": "",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
ARTIFACT = "arn:aws:s3:::acme-mlflow/3/8c6ec7/artifacts/evaluation.json"
# The MLflow REST calls each MlflowClient method of tracking.py makes, as IAM actions.
CLIENT_CALLS = {
    "get_experiment_by_name": "GetExperimentByName",
    "create_experiment": "CreateExperiment",
    "create_run": "CreateRun",
    "log_batch": "LogBatch",
    "set_terminated": "UpdateRun",
    "get_run": "GetRun",
    "search_runs": "SearchRuns",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return products.load_cloudformation(products.MLFLOW_ACCESS_FILE.read_text(encoding="utf-8"))


def policy_for(template: dict, given: dict) -> list[dict]:
    resource = template["Resources"]["MlflowTrackingPolicy"]
    return list(statements(resolve(resource["Properties"]["PolicyDocument"], template, given)))


@pytest.fixture(scope="module")
def policy(template) -> list[dict]:
    return policy_for(template, GIVEN)


def test_every_mlflow_call_of_the_steps_has_its_action_on_the_server(policy):
    source = (payload_dir("build-train") / "algorithms" / "shared_libraries" / "tracking.py").read_text()
    called = set(re.findall(r"self\.client\.(\w+)\(", source)) | set(re.findall(r"client\.(\w+)\(", source))
    called -= {"log_artifact", "log_artifacts"}  # S3 writes, checked below
    assert called <= set(CLIENT_CALLS), f"add the IAM action of {called - set(CLIENT_CALLS)}"
    for method in called:
        assert allowed(policy, f"sagemaker-mlflow:{CLIENT_CALLS[method]}", SERVER), method
    assert allowed(policy, "s3:PutObject", ARTIFACT)


def test_an_artifact_prefix_narrows_the_writes_to_it(template):
    narrowed = policy_for(template, {**GIVEN, "ArtifactPrefix": "mlflow/team"})
    assert allowed(narrowed, "s3:PutObject", "arn:aws:s3:::acme-mlflow/mlflow/team/3/r/artifacts/model/x.json")
    assert not allowed(narrowed, "s3:PutObject", ARTIFACT)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sagemaker-mlflow:CreateRun", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/other"),
        ("sagemaker-mlflow:DeleteExperiment", SERVER),
        ("sagemaker-mlflow:DeleteRun", SERVER),
        ("sagemaker-mlflow:AccessUI", SERVER),
        ("sagemaker:DeleteMlflowTrackingServer", SERVER),
        ("s3:GetObject", ARTIFACT),
        ("s3:DeleteObject", ARTIFACT),
        ("s3:PutObject", "arn:aws:s3:::another-bucket/x"),
    ],
)
def test_nothing_beyond_tracking_runs_in_the_named_server(policy, action, resource):
    assert not allowed(policy, action, resource)


def test_no_wildcard_actions_and_no_star_resource(template, policy):
    assert wildcard_grants(template) == []
    assert not [action for statement in policy for action in statement["Action"] if "*" in action]
    assert all(statement["Resource"] != "*" for statement in policy)


def test_the_policy_is_attached_to_the_role_pipelines_run_as(template):
    resource = template["Resources"]["MlflowTrackingPolicy"]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    assert resolve(resource["Properties"]["Roles"], template, GIVEN) == [GIVEN["UseRoleName"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MlflowResourceArn", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-app/app-abc123"),
        ("MlflowResourceArn", SERVER),
        ("ArtifactPrefix", "mlflow/team"),
    ],
)
def test_valid_parameters_are_accepted(template, name, value):
    assert parameter_errors(template, {**stack_parameters(), name: value}) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MlflowResourceArn", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/nb"),
        ("MlflowResourceArn", "*"),
        ("ArtifactPrefix", "/leading-slash"),
        ("ArtifactBucket", "Not_A_Bucket"),
    ],
)
def test_a_parameter_that_could_widen_the_grant_is_refused(template, name, value):
    assert parameter_errors(template, {**stack_parameters(), name: value})


def stack_parameters() -> dict:
    return {key: value for key, value in GIVEN.items() if not key.startswith("AWS::")}


def test_the_seed_readme_points_at_this_stack():
    readme = (payload_dir("build-train") / "ml_pipelines" / "README.md").read_text(encoding="utf-8")
    assert "servicecatalog/mlflow-access.yaml" in readme


def test_the_harness_finds_the_execution_role_needs_this_stack_and_gets_every_call_with_it():
    """The authorization harness's view: the pipelines' role (AmazonSageMakerFullAccess snapshot)
    has no MLflow data-plane action; with the stack attached, every call of the steps is allowed."""
    needed = [Request(f"sagemaker-mlflow:{action}", SERVER, {}) for action in CLIENT_CALLS.values()]
    needed.append(Request("s3:PutObject", ARTIFACT, {}))
    alone = ROLES["execution"].policies
    assert not any(decide(alone, request).allowed for request in needed[:-1])
    role = with_platform("execution", products.MLFLOW_ACCESS_FILE, stack_parameters())
    denied = [request.action for request in needed if not decide(role.policies, request).allowed]
    assert denied == []


def test_the_launch_role_cannot_create_a_tracking_server_so_no_product_creates_one():
    """Why the products use an existing server (this stack) and create none per project: the
    managed launch role's policy snapshot has no sagemaker:CreateMlflowTrackingServer."""
    server = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/sagemaker-p-1"
    launch = ROLES["launch"].policies
    assert not decide(launch, Request("sagemaker:CreateMlflowTrackingServer", server, {})).allowed


# servicecatalog/mlflow-tracking-server.yaml: one managed tracking server per project, created by the
# platform administrator (the launch role cannot, above), its role limited to the artifact store.
PROJECT = {"ProjectName": "churn", "ProjectId": "p-abc123"}
STORE = "arn:aws:s3:::sagemaker-project-p-abc123"
PROJECT_SERVER = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:mlflow-tracking-server/sagemaker-p-abc123-mlflow"


@pytest.fixture(scope="module")
def server_template() -> dict:
    return products.load_cloudformation(products.MLFLOW_SERVER_FILE.read_text(encoding="utf-8"))


def server_stack(template: dict, parameters: dict | None = None) -> dict[str, tuple[str, dict]]:
    """The stack's resources with physical names and ARNs, as the authorization harness sees them."""
    from authz.stack import pseudo_parameters, resolved_resources

    values = {**pseudo_parameters("sagemaker-p-abc123-mlflow"), **defaults(template), **PROJECT, **(parameters or {})}
    return resolved_resources(template, values)


def defaults(template: dict) -> dict:
    return {name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec}


def server_role_policy(resources: dict) -> list[dict]:
    (policy,) = resources["TrackingServerRole"][1]["Policies"]
    return list(statements(policy["PolicyDocument"]))


def test_the_server_stack_creates_one_tracking_server_in_the_project_bucket(server_template):
    resources = server_stack(server_template)
    kind, server = resources["TrackingServer"]
    assert kind == "AWS::SageMaker::MlflowTrackingServer"
    assert server["TrackingServerName"] == "sagemaker-p-abc123-mlflow"
    assert server["ArtifactStoreUri"] == "s3://sagemaker-project-p-abc123/mlflow"
    assert server["AutomaticModelRegistration"] is False
    assert "MlflowVersion" not in server  # empty parameter: SageMaker's default version
    assert {tag["Key"]: tag["Value"] for tag in server["Tags"]} == {
        "sagemaker:project-name": "churn",
        "sagemaker:project-id": "p-abc123",
    }
    role_kind, role = resources["TrackingServerRole"]
    assert role_kind == "AWS::IAM::Role"
    assert server["RoleArn"].startswith("arn:aws:iam::123456789012:role/")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    # The output the products' MlflowTrackingUri takes is an attribute the resource really has.
    output = server_template["Outputs"]["TrackingServerArn"]["Value"]
    assert output == {"Fn::GetAtt": ["TrackingServer", "TrackingServerArn"]}
    schema = cfn.schema("AWS::SageMaker::MlflowTrackingServer")
    assert "/properties/TrackingServerArn" in schema["readOnlyProperties"]
    assert re.fullmatch(template_pattern("MlflowResourceArn"), PROJECT_SERVER)


def template_pattern(name: str) -> str:
    access = products.load_cloudformation(products.MLFLOW_ACCESS_FILE.read_text(encoding="utf-8"))
    return access["Parameters"][name]["AllowedPattern"]


# What a tracking server does with its store: MLflow's S3 artifact repository reads, writes and lists
# run artifacts under the artifact URI (<store>/<experiment id>/<run id>/artifacts/...).
SERVER_CALLS = [
    Request("s3:PutObject", f"{STORE}/mlflow/1/8c6ec7/artifacts/evaluation.json", {}),
    Request("s3:GetObject", f"{STORE}/mlflow/1/8c6ec7/artifacts/model/model.pkl", {}),
    Request("s3:ListBucket", STORE, {"s3:prefix": "mlflow/1/8c6ec7/artifacts/"}),
    Request("s3:GetBucketLocation", STORE, {}),
]


def denied_server_calls(resources: dict) -> list[str]:
    document = {"Version": "2012-10-17", "Statement": server_role_policy(resources)}
    return [call.action for call in SERVER_CALLS if not decide([document], call).allowed]


def test_the_server_role_reaches_its_artifact_store_with_no_wildcard_action(server_template):
    resources = server_stack(server_template)
    assert denied_server_calls(resources) == []
    assert wildcard_grants(server_template) == []
    assert not [
        action for statement in server_role_policy(resources) for action in statement["Action"] if "*" in action
    ]


def test_a_server_role_without_a_needed_permission_is_caught(server_template):
    template = copy.deepcopy(server_template)
    (policy,) = template["Resources"]["TrackingServerRole"]["Properties"]["Policies"]
    policy["PolicyDocument"]["Statement"][0]["Action"] = ["s3:GetObject"]
    assert denied_server_calls(server_stack(template)) == ["s3:PutObject"]


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("s3:PutObject", f"{STORE}/churn/code/build/sourcedir.tar.gz", {}),  # the project's CI artifacts
        ("s3:GetObject", "arn:aws:s3:::sagemaker-project-p-other/mlflow/1/r/artifacts/x", {}),
        ("s3:DeleteObject", f"{STORE}/mlflow/1/r/artifacts/x", {}),
        ("s3:ListBucket", STORE, {}),
        ("s3:ListBucket", STORE, {"s3:prefix": "churn/"}),
        ("sagemaker:CreateModelPackage", "arn:aws:sagemaker:us-east-1:123456789012:model-package/x/1", {}),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/any", {}),
    ],
)
def test_the_server_role_can_do_nothing_beyond_its_store(server_template, action, resource, context):
    assert not allowed(server_role_policy(server_stack(server_template)), action, resource, context)


def harness(template: dict, role: str):
    """The authorization harness on one platform template, as authz.provision checks it."""
    from authz import provision
    from authz.check import Ledger

    ledger = Ledger()
    ledger.roles.setdefault(provision.PLATFORM_ADMIN, provision.ADMIN_ROLE)
    ledger.roles.setdefault(provision.LAUNCH, ROLES[provision.LAUNCH])
    template = copy.deepcopy(template)
    for name, spec in template["Parameters"].items():
        spec.setdefault("Default", PROJECT.get(name))
    provision.check_template(ledger, role, template, "mlflow-tracking-server.yaml", "sagemaker-p-abc123-mlflow")
    return ledger


def test_the_platform_administrator_creates_the_server_with_no_denial_and_no_escalation(server_template):
    ledger = harness(server_template, "platform-admin")
    asked = {(action, resource) for _, action, resource, _ in ledger.decisions}
    assert ("sagemaker:CreateMlflowTrackingServer", PROJECT_SERVER) in asked
    assert any(action == "iam:PassRole" for action, _ in asked)
    assert ledger.denials() == [] and ledger.escalations() == []


def test_the_products_launch_role_is_refused_the_server_stack(server_template):
    denied = {denial.action for denial in harness(server_template, "launch").denials()}
    assert {"sagemaker:CreateMlflowTrackingServer", "iam:CreateRole"} <= denied


def test_a_wildcard_grant_on_the_server_role_trips_the_escalation_check(server_template):
    template = copy.deepcopy(server_template)
    (policy,) = template["Resources"]["TrackingServerRole"]["Properties"]["Policies"]
    policy["PolicyDocument"]["Statement"].append({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    findings = harness(template, "platform-admin").escalations()
    assert any("iam:CreateRole" in finding for finding in findings), findings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ProjectId", "P_ABC"),
        ("ProjectId", "*"),
        ("ProjectName", "churn/../x"),
        ("TrackingServerSize", "Huge"),
        ("MlflowVersion", "latest"),
    ],
)
def test_the_server_stack_refuses_a_bad_parameter(server_template, name, value):
    assert parameter_errors(server_template, {**PROJECT, name: value})
    assert parameter_errors(server_template, {**PROJECT, "MlflowVersion": "3.0"}) == []


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_the_project_key_lets_the_server_role_through_s3_so_it_needs_no_kms_grant(server_template, action):
    """The project bucket is SSE-KMS with the platform key (portfolio.yaml): its key policy alone lets
    the server role use it through S3, and only through S3. The key policy's account-root statement
    only lets IAM policies grant the key (AWS KMS Developer Guide, "Default key policy"), and the
    server role's policy grants no KMS action."""
    from authz.crossaccount import request_context, resource_policy_decision

    portfolio = products.load_cloudformation(products.PORTFOLIO_FILE.read_text(encoding="utf-8"))
    given = {"StageAccountIds": [""], "AWS::AccountId": ACCOUNT, "AWS::Region": "us-east-1", "AWS::Partition": "aws"}
    key_policy = resolve(portfolio["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"], portfolio, given)
    key_policy["Statement"] = [s for s in key_policy["Statement"] if s["Sid"] != "AccountAdministers"]
    resources = server_stack(server_template)
    role_arn = resources["TrackingServer"][1]["RoleArn"]
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    through_s3 = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com"}
    via_s3 = resource_policy_decision(key_policy, role_arn, Request(action, key, request_context(role_arn, through_s3)))
    assert via_s3.allowed and "AccountUsesThroughS3" in via_s3.reason
    direct = Request(action, key, request_context(role_arn, {"kms:CallerAccount": ACCOUNT}))
    assert not resource_policy_decision(key_policy, role_arn, direct).allowed
    assert not allowed(server_role_policy(resources), action, key)


# --- the products' MlflowTrackingServerArn: an existing server or app, passed to the build --------
TRAINING_PRODUCTS = [product.key for product in catalog.products() if "build-train" in product.seeds]
TRACKING_VARIABLE = "PIPELINE_MLFLOW_TRACKING_URI"
GOOD_ARNS = [
    PROJECT_SERVER,
    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-app/app-0a1b2c3d4e5f",
    "arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-tracking-server/team",
    "arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:mlflow-app/app-abc",
]
BAD_ARNS = [
    "arn:aws:s3:::sagemaker-project-p-abc123",  # the artifact store, not the server
    f"arn:aws:sagemaker:EU-WEST-1:{ACCOUNT}:mlflow-tracking-server/team",  # region in upper case
    f"arn:aws:sagemaker:eu_west_1:{ACCOUNT}:mlflow-tracking-server/team",
    f"arn:aws:sagemaker::{ACCOUNT}:mlflow-tracking-server/team",  # no region
    "arn:aws:sagemaker:eu-west-1:12345678901:mlflow-tracking-server/team",  # 11-digit account
    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/team",
    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*",
    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/team/extra",
    f"https://t-abc.{REGION}.experiments.sagemaker.aws",  # the server's URL, not its ARN
    f" {PROJECT_SERVER}",
]


@pytest.fixture(scope="module")
def training_products() -> dict[str, dict]:
    return {key: products.compose(catalog.product(key), "1.2.3") for key in TRAINING_PRODUCTS}


def build_environment(template: dict, resource: str, **given: str) -> dict[str, str]:
    """The environment variables a product's CodeBuild project gets for these parameter values."""
    values = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    values |= {"SageMakerProjectName": "churn", "SageMakerProjectId": "p-abc123", **given}
    values |= {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT}
    properties = resolve(
        template["Resources"][resource]["Properties"], template, values, conditions_of(template, values)
    )
    return {item["Name"]: item["Value"] for item in properties["Environment"]["EnvironmentVariables"]}


@pytest.mark.parametrize("product", TRAINING_PRODUCTS)
def test_the_tracking_server_reaches_every_training_build_and_empty_sets_nothing(training_products, product):
    template = training_products[product]
    assert template["Parameters"]["MlflowTrackingServerArn"]["Default"] == ""
    tracked = build_environment(template, "ModelBuildProject", MlflowTrackingServerArn=PROJECT_SERVER)
    assert tracked[TRACKING_VARIABLE] == PROJECT_SERVER
    assert TRACKING_VARIABLE not in build_environment(template, "ModelBuildProject")
    # CodeCommit feature branches build in their own project, with the same environment.
    branches = build_environment(
        template, "ModelBuildBranchProject", MultiBranch="yes", MlflowTrackingServerArn=PROJECT_SERVER
    )
    assert branches[TRACKING_VARIABLE] == PROJECT_SERVER
    # MLflow's own variable would send the build's tests and local runs to the server.
    assert "MLFLOW_TRACKING_URI" not in tracked


def test_products_without_a_training_build_do_not_ask_for_a_server():
    for product in catalog.products():
        declared = "MlflowTrackingServerArn" in products.compose(product)["Parameters"]
        assert declared == ("build-train" in product.seeds), product.key


@pytest.mark.parametrize("arn", ["", *GOOD_ARNS])
def test_the_product_accepts_tracking_server_and_app_arns_in_any_partition(training_products, arn):
    template = training_products["build-train"]
    pattern = template["Parameters"]["MlflowTrackingServerArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, arn)
    # What the product accepts, the access stack and the kit accept too (empty: tracking off).
    assert not arn or re.fullmatch(template_pattern("MlflowResourceArn"), arn)
    from mlops_template_kit.pipeline import settings

    assert not arn or settings.MLFLOW_RESOURCE_ARN.fullmatch(arn)


@pytest.mark.parametrize("arn", BAD_ARNS)
def test_the_product_refuses_what_is_not_a_tracking_server_or_app_arn(training_products, arn):
    template = training_products["build-train"]
    assert not re.fullmatch(template["Parameters"]["MlflowTrackingServerArn"]["AllowedPattern"], arn)
    from mlops_template_kit.pipeline import settings

    if arn == arn.strip():  # the kit trims the blanks a CI variable's editor leaves around a value
        assert not settings.MLFLOW_RESOURCE_ARN.fullmatch(arn)


def test_the_authorization_harness_evaluates_the_products_with_a_tracking_server(training_products):
    """A free-text parameter adds no combination; the harness's sample is a real server ARN, so
    every combination it checks runs the build with tracking on."""
    from authz import provision

    sample = provision.SAMPLES["MlflowTrackingServerArn"]
    template = training_products["build-train"]
    assert re.fullmatch(template["Parameters"]["MlflowTrackingServerArn"]["AllowedPattern"], sample) and sample
    combinations = list(provision.combinations(template))
    assert combinations and all(values["MlflowTrackingServerArn"] == sample for values in combinations)
