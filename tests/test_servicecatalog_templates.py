"""The portfolio and the composed product templates: lint, Studio form, names at their worst
case, event patterns (matched by moto's EventBridge), security invariants, and CreateProject
requests for both routes checked against botocore's SageMaker model."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.session
import pytest
from moto import mock_aws

from hooks import validation
from mlops_template_kit import naming
from scripts import catalog, products, publish
from tests.test_servicecatalog_support import (
    ACCOUNT,
    WORST_ID,
    WORST_NAME,
    bucket_problems,
    conditions_of,
    live_resources,
    parameter_errors,
    request_errors,
    resolve,
    wildcard_grants,
)

VERSION = "1.2.3"
PRODUCTS = [product.key for product in catalog.products()]
LONGEST_REGION = max(validation.REGIONS, key=len)
STUDIO_FILLED = {"SageMakerProjectName", "SageMakerProjectId"}


@pytest.fixture(scope="module")
def composed() -> dict[str, dict]:
    return {product.key: products.compose(product, VERSION) for product in catalog.products()}


@pytest.fixture(scope="module")
def portfolio() -> dict:
    return products.load_cloudformation(products.PORTFOLIO_FILE.read_text(encoding="utf-8"))


def values(template: dict, name: str = WORST_NAME, project_id: str = WORST_ID, **overrides: str) -> dict:
    """Parameter values for evaluating a template: defaults, the given identity, pseudo parameters."""
    given = {key: spec.get("Default", "") for key, spec in template["Parameters"].items()}
    given.update(SageMakerProjectName=name, SageMakerProjectId=project_id, ModelPackageGroupName="shared-models")
    given.update({"AWS::AccountId": ACCOUNT, "AWS::Region": LONGEST_REGION, "AWS::Partition": "aws"})
    return {**given, **overrides}


def conditions(template: dict, source_control: str = "CodeCommit", seed: str = "yes", **given: str) -> dict[str, bool]:
    """The template's conditions for a source control choice and any other parameter values."""
    return conditions_of(template, values(template, SourceControl=source_control, SeedRepositories=seed, **given))


# --- lint --------------------------------------------------------------------------------------


def test_cfn_lint_reports_no_error_on_the_portfolio_and_every_product(tmp_path):
    files = [str(path) for path in [*products.write_all(tmp_path, VERSION), *products.ACCOUNT_TEMPLATES]]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_composition_is_deterministic():
    for product in catalog.products():
        assert products.render(product, VERSION) == products.render(product, VERSION)


# --- parameters and the Studio form ------------------------------------------------------------


@pytest.mark.parametrize("product", PRODUCTS)
def test_project_identity_parameters_follow_sagemaker_constraints(composed, product):
    parameters = composed[product]["Parameters"]
    name, project_id = parameters["SageMakerProjectName"], parameters["SageMakerProjectId"]
    assert (name["Type"], name["MinLength"], name["MaxLength"]) == ("String", 1, naming.MAX_PROJECT_NAME)
    assert (project_id["Type"], project_id["MinLength"], project_id["MaxLength"]) == (
        "String",
        1,
        naming.MAX_PROJECT_ID,
    )
    samples = [WORST_NAME, "A", "churn-2", "-lead", "trail-", "under_score", "two--hyphens", "9lives", "n" * 33]
    for sample in samples:
        accepted = re.fullmatch(name["AllowedPattern"], sample) and len(sample) <= name["MaxLength"]
        assert bool(accepted) == bool(validation.PROJECT_NAME.match(sample)), sample
    for sample in [WORST_ID, "p-idy6c3e1fiqj", "P-UPPER", "p_x", "-p", "x" * 21]:
        accepted = re.fullmatch(project_id["AllowedPattern"], sample) and len(sample) <= project_id["MaxLength"]
        assert bool(accepted) == bool(validation.PROJECT_ID.match(sample)), sample


@pytest.mark.parametrize("product", PRODUCTS)
def test_template_options_are_the_templates_own_choices(composed, product):
    parameters = composed[product]["Parameters"]
    for template in catalog.product(product).seeds:
        declared = json.loads((catalog.TEMPLATES_DIR / template / "cookiecutter.json").read_text())
        for option, parameter in catalog.studio_parameters(template).items():
            assert parameters[parameter]["AllowedValues"] == declared[option]
            assert parameters[parameter]["Default"] == declared[option][0]


@pytest.mark.parametrize("product", PRODUCTS)
def test_studio_form_groups_labels_and_marks_optional_parameters(composed, product):
    template = composed[product]
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    shown = [name for name in template["Parameters"] if name not in STUDIO_FILLED]
    assert sorted(grouped) == sorted(shown), "every parameter Studio shows sits in exactly one group"
    assert set(interface["ParameterLabels"]) == set(shown)
    rules = template["Metadata"]["SagemakerTemplateParameterRules"]
    empty_default = {name for name, spec in template["Parameters"].items() if spec.get("Default") == ""}
    assert {name for name, rule in rules.items() if rule == {"Optional": True}} == empty_default


def test_deploy_only_asks_for_the_model_group_and_build_train_deploy_uses_its_own(composed):
    deploy = composed["deploy"]["Parameters"]["ModelPackageGroupName"]
    assert "Default" not in deploy and deploy["MinLength"] == 1
    assert "ModelPackageGroupName" not in composed["build-train-deploy"]["Parameters"]
    rule = composed["build-train-deploy"]["Resources"]["ModelApprovedRule"]["Properties"]["EventPattern"]
    group = resolve(
        rule["detail"]["ModelPackageGroupName"][0],
        composed["build-train-deploy"],
        values(composed["build-train-deploy"]),
    )
    assert group == naming.model_package_group(WORST_NAME, WORST_ID)


# --- names at the worst case -------------------------------------------------------------------

# resource type -> (name property, naming kind, builder taking (name, id, purpose), fixed prefix)
NAMED = {
    "AWS::S3::Bucket": ("BucketName", "bucket"),
    "AWS::Lambda::Function": ("FunctionName", "lambda_function"),
    "AWS::CodeCommit::Repository": ("RepositoryName", "codecommit_repository"),
    "AWS::SageMaker::CodeRepository": ("CodeRepositoryName", "code_repository"),
    "AWS::CodeBuild::Project": ("Name", "codebuild_project"),
    "AWS::CodePipeline::Pipeline": ("Name", "codepipeline"),
    "AWS::Events::Rule": ("Name", "event_rule"),
}


def rebuilt(kind: str, resolved: str, name: str, project_id: str) -> str:
    """The same name built by mlops_template_kit.naming, or an AssertionError when the convention differs."""
    prefixes = {
        "lambda_function": (f"sagemaker-{project_id}-", lambda purpose: naming.lambda_function(project_id, purpose)),
        "event_rule": (f"sagemaker-{project_id}-", lambda purpose: naming.event_rule(project_id, purpose)),
        "code_repository": (f"sagemaker-{project_id}-", lambda purpose: naming.code_repository(project_id, purpose)),
        "codecommit_repository": (
            f"sagemaker-{name}-{project_id}-",
            lambda purpose: naming.repository(name, project_id, purpose),
        ),
        "codebuild_project": (
            f"sagemaker-{name}-{project_id}-",
            lambda purpose: naming.codebuild_project(name, project_id, purpose),
        ),
        "codepipeline": (
            f"sagemaker-{name}-{project_id}-",
            lambda purpose: naming.codepipeline(name, project_id, purpose),
        ),
    }
    if kind == "bucket":
        return naming.artifact_bucket(project_id)
    prefix, build = prefixes[kind]
    assert resolved.startswith(prefix), f"{resolved} does not follow the naming helper's {kind} convention"
    return build(resolved[len(prefix) :])


@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize("identity", [(WORST_NAME, WORST_ID), ("A", "1"), ("Churn-Model", "p-idy6c3e1fiqj")])
def test_every_resource_name_comes_from_the_naming_helper_and_fits(composed, product, identity):
    template = composed[product]
    name, project_id = identity
    checked = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in NAMED:
            continue
        prop, kind = NAMED[resource["Type"]]
        assert prop in resource["Properties"], f"{logical_id} has no explicit {prop}"
        resolved = resolve(resource["Properties"][prop], template, values(template, name, project_id))
        assert resolved == rebuilt(kind, resolved, name, project_id), logical_id
        assert len(resolved) <= naming.LIMITS[kind], f"{logical_id}: {resolved}"
        checked += 1
    assert checked >= 5


def test_the_templates_bucket_name_fits_in_every_region(portfolio):
    bucket = portfolio["Resources"]["TemplatesBucket"]["Properties"]["BucketName"]
    for region in validation.REGIONS:
        resolved = resolve(bucket, portfolio, {"AWS::AccountId": ACCOUNT, "AWS::Region": region})
        assert resolved == naming.templates_bucket(ACCOUNT, region)
        assert naming.BUCKET_NAME.match(resolved)


def test_products_read_releases_from_the_bucket_the_portfolio_creates(composed, portfolio):
    bucket = resolve(
        portfolio["Resources"]["TemplatesBucket"]["Properties"]["BucketName"], portfolio, values(composed["deploy"])
    )
    function = composed["deploy"]["Resources"]["LifecycleFunction"]["Properties"]["Code"]
    resolved = resolve(function, composed["deploy"], values(composed["deploy"]))
    assert resolved == {"S3Bucket": bucket, "S3Key": f"{VERSION}/functions/project-lifecycle.zip"}


# --- event patterns, through moto's EventBridge ------------------------------------------------


def delivered(pattern: dict, event: dict) -> bool:
    """Whether moto's EventBridge routes the event to a target of a rule with this pattern."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="matches")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="under-test", Targets=[{"Id": "queue", "Arn": arn}])
    events.put_events(Entries=[event])
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    sqs.delete_queue(QueueUrl=queue)
    return bool(received)


def model_event(group: str, status: str) -> dict:
    detail = {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageVersion": 3}
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Model Package State Change",
        "Detail": json.dumps(detail),
    }


@pytest.mark.parametrize("product", ["build-train-deploy", "deploy"])
def test_model_approval_rule_matches_approved_versions_of_the_group_only(composed, product):
    template = composed[product]
    pattern = resolve(
        template["Resources"]["ModelApprovedRule"]["Properties"]["EventPattern"], template, values(template)
    )
    group = pattern["detail"]["ModelPackageGroupName"][0]
    with mock_aws():
        assert delivered(pattern, model_event(group, "Approved"))
        assert not delivered(pattern, model_event(group, "PendingManualApproval"))
        assert not delivered(pattern, model_event(group, "Rejected"))
        assert not delivered(pattern, model_event("another-group", "Approved"))


def push_event(repository_arn: str, branch: str, event: str = "referenceUpdated") -> dict:
    detail = {"event": event, "referenceType": "branch", "referenceName": branch, "repositoryName": "r"}
    return {
        "Source": "aws.codecommit",
        "DetailType": "CodeCommit Repository State Change",
        "Resources": [repository_arn],
        "Detail": json.dumps(detail),
    }


@pytest.mark.parametrize(("product", "rule"), [
    ("build-train-deploy", "ModelBuildPushRule"),
    ("build-train-deploy", "ModelDeployPushRule"),
    ("build-train", "ModelBuildPushRule"),
    ("deploy", "ModelDeployPushRule"),
])  # fmt: skip
def test_push_rules_start_ci_for_the_main_branch_of_their_repository(composed, product, rule):
    template = composed[product]
    resource = template["Resources"][rule]
    assert resource["Condition"] == "UsesCodeCommit"
    pattern = resolve(resource["Properties"]["EventPattern"], template, values(template, BranchName="main"))
    repository = pattern["resources"][0]
    with mock_aws():
        assert delivered(pattern, push_event(repository, "main"))
        assert delivered(pattern, push_event(repository, "main", "referenceCreated"))
        assert not delivered(pattern, push_event(repository, "feature/x"))
        assert not delivered(pattern, push_event(repository, "main", "referenceDeleted"))
        assert not delivered(pattern, push_event("arn:aws:codecommit:us-east-1:123456789012:other", "main"))


@pytest.mark.parametrize("product", PRODUCTS)
def test_pipelines_started_by_rules_do_not_also_poll(composed, product):
    checked = 0
    for resource in composed[product]["Resources"].values():
        if resource["Type"] != "AWS::CodePipeline::Pipeline":
            continue
        source = resource["Properties"]["Stages"][0]["Actions"][0]
        if "Fn::If" not in source:
            # Feature-branch pipelines exist for CodeConnections only and start by their triggers.
            assert resource["Condition"] == "FeatureBranchesFromConnection"
            assert resource["Properties"]["Triggers"]
            continue
        codecommit = source["Fn::If"][1]
        assert codecommit["ActionTypeId"]["Provider"] == "CodeCommit"
        assert codecommit["Configuration"]["PollForSourceChanges"] is False
        checked += 1
    assert checked


# --- security invariants -----------------------------------------------------------------------


MANAGED_ROLES = {
    "codebuild": "AmazonSageMakerServiceCatalogProductsCodeBuildRole",
    "codepipeline": "AmazonSageMakerServiceCatalogProductsCodePipelineRole",
    "events": "AmazonSageMakerServiceCatalogProductsEventsRole",
    "lambda": "AmazonSageMakerServiceCatalogProductsLambdaRole",
    "execution": "AmazonSageMakerServiceCatalogProductsExecutionRole",
    "launch": "AmazonSageMakerServiceCatalogProductsLaunchRole",
}
ARTIFACT_KEY_ALIAS = "alias/sagemaker-projects-artifacts"
RUNS_AS = {"AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline", "AWS::Events::Rule", "AWS::Lambda::Function"}


def role_arn(key: str, region: str = LONGEST_REGION) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/service-role/{MANAGED_ROLES[key]}"


@pytest.mark.parametrize("product", [*PRODUCTS, "portfolio"])
def test_no_wildcard_grants_no_iam_roles_and_safe_buckets(composed, portfolio, product):
    template = portfolio if product == "portfolio" else composed[product]
    assert wildcard_grants(template) == []
    types = [res["Type"] for res in template["Resources"].values() if isinstance(res, dict)]
    if product == "portfolio":
        # The platform stack only attaches managed policies to the managed product roles (D3).
        assert {kind for kind in types if kind.startswith("AWS::IAM::")} == {"AWS::IAM::ManagedPolicy"}
    else:
        # The default launch role cannot create IAM roles or policies, so products must not need any.
        assert not [kind for kind in types if kind.startswith("AWS::IAM::")]
    assert bucket_problems(template) == []


def test_platform_policies_attach_only_to_managed_product_roles_without_iam_actions(portfolio):
    policies = [
        res
        for res in portfolio["Resources"].values()
        if isinstance(res, dict) and res["Type"] == "AWS::IAM::ManagedPolicy"  # Fn::ForEach is a list
    ]
    assert {role for policy in policies for role in policy["Properties"]["Roles"]} == {
        MANAGED_ROLES["codebuild"],
        MANAGED_ROLES["lambda"],
        MANAGED_ROLES["launch"],
    }
    actions = [
        action
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]
    assert actions and not [action for action in actions if action.startswith("iam:") or "*" in action]


def roles_used(kind: str, properties: dict) -> list[tuple[str, str]]:
    """(role the resource names, role it must name) for each role a resource of this kind runs as."""
    if kind == "AWS::CodeBuild::Project":
        variables = properties["Environment"].get("EnvironmentVariables", [])
        pipeline = [item["Value"] for item in variables if item["Name"] == "SAGEMAKER_PIPELINE_ROLE_ARN"]
        return [(properties["ServiceRole"], role_arn("codebuild"))] + [(arn, role_arn("execution")) for arn in pipeline]
    if kind == "AWS::CodePipeline::Pipeline":
        return [(properties["RoleArn"], role_arn("codepipeline"))]
    if kind == "AWS::Lambda::Function":
        return [(properties["Role"], role_arn("lambda"))]
    # Rules: the events role for pipelines; the lifecycle function is invoked by its resource policy.
    return [
        (target.get("RoleArn"), role_arn("events") if ":codepipeline:" in target["Arn"] else None)
        for target in properties["Targets"]
    ]


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_resource_runs_as_its_managed_product_role(composed, product):
    """D2: CodeBuild, CodePipeline, EventBridge -> CodePipeline, the lifecycle function and the training
    pipeline each run as the AWS managed role whose policy AWS publishes; nothing uses the UseRole."""
    template = composed[product]
    given = values(template, MultiBranch="yes") if "MultiBranch" in template["Parameters"] else values(template)
    flags = conditions_of(template, given)
    used = [
        pair
        for resource in live_resources(template, given).values()
        if resource["Type"] in RUNS_AS
        for pair in roles_used(resource["Type"], resolve(resource["Properties"], template, given, flags))
    ]
    assert len(used) >= 5
    assert [found for found, expected in used if found != expected] == []
    assert "UseRole" not in json.dumps(template)


@pytest.mark.parametrize("product", PRODUCTS)
def test_artifacts_are_encrypted_with_the_platform_key_and_the_bucket_needs_no_launch_role_gap(
    composed, portfolio, product
):
    """D4: the managed launch role has no PutBucketVersioning, PutLifecycleConfiguration or
    PutBucketOwnershipControls; the bucket, every build and every pipeline use the platform key."""
    template = composed[product]
    bucket = template["Resources"]["ArtifactBucket"]["Properties"]
    assert not {"VersioningConfiguration", "LifecycleConfiguration", "OwnershipControls"} & set(bucket)
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ARTIFACT_KEY_ALIAS}
    assert portfolio["Resources"]["ArtifactKeyAlias"]["Properties"]["AliasName"] == ARTIFACT_KEY_ALIAS
    alias_arn = f"arn:aws:kms:{LONGEST_REGION}:{ACCOUNT}:{ARTIFACT_KEY_ALIAS}"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CodeBuild::Project":
            assert resource["Properties"]["EncryptionKey"] == ARTIFACT_KEY_ALIAS
        if resource["Type"] == "AWS::CodePipeline::Pipeline":
            store = resolve(resource["Properties"]["ArtifactStore"], template, values(template))
            assert store["EncryptionKey"] == {"Type": "KMS", "Id": alias_arn}
    assert "FeatureBranchRetentionDays" not in template["Parameters"]


def key_policy(portfolio: dict, stage_accounts: str) -> list[dict]:
    given = {"StageAccountIds": stage_accounts.split(",") if stage_accounts else [""]}
    given |= {"AWS::AccountId": ACCOUNT, "AWS::Region": "eu-west-1", "AWS::Partition": "aws"}
    document = portfolio["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"]
    return resolve(document, {**portfolio, "Conditions": portfolio["Conditions"]}, given)["Statement"]


def test_the_artifact_key_is_used_only_through_s3_and_only_decrypted_by_stage_accounts(portfolio):
    key = portfolio["Resources"]["ArtifactKey"]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    alone = {statement["Sid"]: statement for statement in key_policy(portfolio, "")}
    assert set(alone) == {"AccountAdministers", "AccountUsesThroughS3"}
    assert alone["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    use = alone["AccountUsesThroughS3"]
    assert use["Principal"] == {"AWS": "*"}
    assert use["Condition"] == {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }
    staged = {statement["Sid"]: statement for statement in key_policy(portfolio, "111111111111,222222222222")}
    stage = staged["StageAccountsDecryptThroughS3"]
    assert stage["Principal"] == {"AWS": ["111111111111", "222222222222"]}
    assert stage["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert stage["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


@pytest.mark.parametrize("product", PRODUCTS)
def test_products_create_no_model_group_and_tag_no_code_repository(composed, product):
    """D5/D6: the launch role has no CreateModelPackageGroup and may not tag code repositories."""
    resources = composed[product]["Resources"].values()
    assert "AWS::SageMaker::ModelPackageGroup" not in {resource["Type"] for resource in resources}
    repositories = [resource for resource in resources if resource["Type"] == "AWS::SageMaker::CodeRepository"]
    assert repositories and not [resource for resource in repositories if "Tags" in resource["Properties"]]
    assert not [resource for resource in resources if "DependsOn" in resource]


@pytest.mark.parametrize("product", PRODUCTS)
def test_teardown_is_wired_to_the_project_and_its_bucket(composed, product):
    template = composed[product]
    teardown = template["Resources"]["ProjectTeardown"]
    assert teardown["Type"] == "Custom::ProjectTeardown"
    assert teardown["Properties"]["ArtifactBucket"] == {"Ref": "ArtifactBucket"}
    assert teardown["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["LifecycleFunction", "Arn"]}
    assert template["Resources"]["ArtifactBucket"]["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_repository_is_surfaced_in_studio_for_both_source_controls(composed, product):
    template = composed[product]
    repositories = [res for res in template["Resources"].values() if res["Type"] == "AWS::SageMaker::CodeRepository"]
    assert len(repositories) == len(catalog.product(product).seeds)
    connection = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f"
    given = values(
        template,
        CodeConnectionArn=connection,
        BuildRepositoryFullName="org/build",
        DeployRepositoryFullName="org/deploy",
    )
    for repository in repositories:
        via_connection = resolve(
            repository["Properties"]["GitConfig"]["RepositoryUrl"],
            template,
            given,
            conditions(template, "CodeConnections"),
        )
        assert re.fullmatch(
            r"https://codeconnections\.us-east-1\.amazonaws\.com/git-http/123456789012/us-east-1/0a1b2c3d-4e5f/org/(build|deploy)\.git",
            via_connection,
        )
        via_codecommit = resolve(
            repository["Properties"]["GitConfig"]["RepositoryUrl"], template, given, conditions(template)
        )
        assert via_codecommit.endswith(".CloneUrlHttp")


# --- CreateProject for both routes -------------------------------------------------------------


def provisioning_parameters(template: dict) -> dict[str, str]:
    """What Studio sends: every shown parameter at its default, required ones filled in."""
    given = {name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec}
    given = {name: value for name, value in given.items() if name not in STUDIO_FILLED}
    if "ModelPackageGroupName" in template["Parameters"]:
        given["ModelPackageGroupName"] = naming.model_package_group("churn", "p-idy6c3e1fiqj")
    return given


@pytest.mark.parametrize("product", PRODUCTS)
def test_create_project_requests_validate_for_both_routes(composed, product):
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateProject").input_shape
    template = composed[product]
    given = provisioning_parameters(template)
    assert (
        parameter_errors(template, {**given, "SageMakerProjectName": WORST_NAME, "SageMakerProjectId": WORST_ID}) == []
    )
    pairs = [{"Key": key, "Value": value} for key, value in given.items()]
    common = {"ProjectName": WORST_NAME, "ProjectDescription": "Churn model", "Tags": [{"Key": "team", "Value": "ds"}]}
    service_catalog = {
        **common,
        "ServiceCatalogProvisioningDetails": {
            "ProductId": "prod-abcdefghijklm",
            "ProvisioningArtifactId": "pa-abcdefghijklm",
            "ProvisioningParameters": pairs,
        },
    }
    key = catalog.product(product).template_key(VERSION)
    s3_route = {
        **common,
        "TemplateProviders": [
            {
                "CfnTemplateProvider": {
                    "TemplateName": product,
                    "TemplateURL": publish.template_url(
                        naming.templates_bucket(ACCOUNT, LONGEST_REGION), LONGEST_REGION, key
                    ),
                    "Parameters": pairs,
                }
            }
        ],
    }
    assert request_errors(service_catalog, shape) == []
    assert request_errors(s3_route, shape) == []


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_studio_option_combination_is_accepted_by_the_template(composed, product):
    template = composed[product]
    options = [
        name for name, spec in template["Parameters"].items() if "AllowedValues" in spec and name != "SourceControl"
    ]
    for combination in itertools.product(*(template["Parameters"][name]["AllowedValues"] for name in options)):
        given = {**provisioning_parameters(template), **dict(zip(options, combination, strict=True))}
        given.update(SageMakerProjectName="churn", SageMakerProjectId="p-idy6c3e1fiqj")
        assert parameter_errors(template, given) == []
    assert parameter_errors(template, {**given, "ProblemType": "clustering"})


# --- composition guards ------------------------------------------------------------------------


def test_a_part_redefining_a_resource_differently_is_refused(monkeypatch):
    original = products.load_part

    def clashing(name: str) -> dict:
        part = original(name)
        if name == "build-train":
            part["Resources"]["ArtifactBucket"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
        return part

    monkeypatch.setattr(products, "load_part", clashing)
    with pytest.raises(products.CompositionError, match="redefines Resources.ArtifactBucket"):
        products.compose(catalog.product("build-train"), VERSION)


def test_a_reference_to_nothing_is_refused(monkeypatch):
    original = products.load_part

    def dangling(name: str) -> dict:
        part = original(name)
        if name == "build-train":
            part["Resources"]["BuildCodeRepository"]["Properties"]["CodeRepositoryName"] = {"Ref": "Nowhere"}
        return part

    monkeypatch.setattr(products, "load_part", dangling)
    with pytest.raises(products.CompositionError, match="refers to undefined Nowhere"):
        products.compose(catalog.product("build-train"), VERSION)


def test_products_command_writes_templates_and_refuses_a_bad_version(tmp_path, capsys):
    assert products.main([str(tmp_path), "--version", VERSION]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{key}.yaml" for key in PRODUCTS)
    assert products.main([str(tmp_path / "bad"), "--version", "v1"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: version 'v1' is not allowed: use MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1"
    ]
    assert not (tmp_path / "bad").exists()
