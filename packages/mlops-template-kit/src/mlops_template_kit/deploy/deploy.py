"""CI deploy step: deploy the stacks of one stage from the build output, in order.

    mlops-kit deploy --stage staging|prod [--build-dir build]
    mlops-kit deploy --trigger     # the model-approval rule, in the registry's account
    mlops-kit deploy --stage staging --teardown   # remove what the deploy step created

  Administrators, once (app_infra/stage_access/stage_access.yaml):
    mlops-kit deploy --stage-access --every-project [--attach-to-role NAME]
        # single-account projects: runtime roles for every project of this account, the deploy
        # policy attached to the deploy CodeBuild role
    mlops-kit deploy --stage-access --stage prod --tooling-account-id 111122223333
        # multi-account projects, with the stage account's credentials: this stage's roles and
        # the deploy role the tooling account's deploy CodeBuild role may assume

Every stage stack is created, updated and deleted with the stage-access stack's CloudFormation
service role (RoleARN); the deploy principal itself can only ask CloudFormation to do so. With
`account` in the stage's inference_config.json (multi-account projects) the step first assumes
the stage's deploy role; otherwise it deploys with the credentials it runs with. A stack that
fails rolls back and the step stops with the first failure CloudFormation reported.
After the batch stack, the batch inference pipeline is created or updated with the stack's
outputs (role, bucket, model).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from mlops_template_kit import naming
from mlops_template_kit.deploy import inference_config, stacks
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import ApprovedModel, share_with_stage_account
from mlops_template_kit.deploy.settings import Settings, build_dir, config_dir

# Only the administrator's stage-access stack creates IAM roles; stage stacks create none.
STAGE_ACCESS_CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
ACCOUNT_ID = re.compile(r"[0-9]{12}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
NO_UPDATES = "No updates are to be performed"
WAITER_CONFIG = {"Delay": 15, "MaxAttempts": 240}


def stage_session(settings: Settings, stage: str, config: dict[str, Any], base: Any) -> Any:
    """The session to deploy `stage` with: the stage account's deploy role when it has its own account."""
    account = config.get("account")
    if not account:
        return base
    try:
        credentials = base.client("sts").assume_role(
            RoleArn=account["deploy_role_arn"],
            RoleSessionName=f"sagemaker-{settings.project_id}-deploy-{stage}",
        )["Credentials"]
    except ClientError as problem:
        raise DeployError(f"cannot assume {account['deploy_role_arn']} to deploy {stage}: {problem}") from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=settings.region,
    )


def _first_failure(cfn: Any, stack_name: str) -> str:
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    for event in reversed(events):
        if event.get("ResourceStatus", "").endswith("_FAILED"):
            return f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', 'no reason given')}"
    return "no failed resource reported"


def _stack_status(cfn: Any, stack_name: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as problem:
        if "does not exist" in str(problem):
            return None
        raise


def _with_role(request: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """The request with RoleARN: CloudFormation then acts with that service role's permissions."""
    return {**request, "RoleARN": role_arn} if role_arn else request


def capabilities_of(template_body: str) -> tuple[str, ...]:
    """A template with a transform (monitoring.yaml's AWS::LanguageExtensions, for Fn::ForEach) is
    created only with CAPABILITY_AUTO_EXPAND (CloudFormation template reference, "Fn::ForEach",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html)."""
    declares = any(line.startswith("Transform:") for line in template_body.splitlines())
    return ("CAPABILITY_AUTO_EXPAND",) if declares else ()


def deploy_stack(
    cfn: Any,
    stack_name: str,
    template_body: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    role_arn: str = "",
    capabilities: tuple[str, ...] = (),
) -> dict[str, str]:
    """Create or update one stack with the service role `role_arn` and wait for it; returns its outputs."""
    request = _with_role(
        {
            "StackName": stack_name,
            "TemplateBody": template_body,
            "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
            "Capabilities": list(capabilities),
        },
        role_arn,
    )
    status = _stack_status(cfn, stack_name)
    if status == "ROLLBACK_COMPLETE":
        # A first create that failed leaves a stack that can only be deleted.
        cfn.delete_stack(**_with_role({"StackName": stack_name}, role_arn))
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAITER_CONFIG)
        status = None
    try:
        if status is None:
            cfn.create_stack(**request)
            cfn.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAITER_CONFIG)
        else:
            try:
                cfn.update_stack(**request)
            except ClientError as problem:
                if NO_UPDATES not in str(problem):
                    raise
            else:
                cfn.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAITER_CONFIG)
    except WaiterError:
        raise DeployError(f"stack {stack_name} failed: {_first_failure(cfn, stack_name)}") from None
    outputs = cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    return {output["OutputKey"]: output["OutputValue"] for output in outputs}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"{path} does not exist: run the build step (`make build`) first") from None


def upsert_batch_pipeline(
    session: Any, settings: Settings, stage: str, config: dict[str, Any], model: ApprovedModel, outputs: dict
) -> str:
    """Build the stage's batch pipeline from the batch stack's outputs and create or update it."""
    from mlops_template_kit.deploy.batch import pipeline_module

    batch_pipeline = pipeline_module(settings.repo_root)
    resources = batch_pipeline.StageResources(
        role_arn=outputs["PipelineRoleArn"],
        bucket=outputs["BatchBucketName"],
        model_name=outputs["ModelName"],
        kms_key_arn=outputs["BatchKeyArn"],
    )
    definition = batch_pipeline.build_definition(settings, stage, config["batch"], model, resources)
    return batch_pipeline.upsert(session.client("sagemaker"), settings, stage, definition, resources.role_arn)


def service_role_arn(session: Any, settings: Settings, stage: str, config: dict[str, Any]) -> str:
    """The CloudFormation service role the stage's stacks are created, updated and deleted with.

    sts:GetCallerIdentity needs no permission (STS API reference, GetCallerIdentity)."""
    account = "" if config.get("account") else session.client("sts").get_caller_identity()["Account"]
    return stacks.stage_role_arn(settings, stage, config, account, "cloudformation")


def share_with_stage(
    base_session: Any, settings: Settings, stage: str, config: dict[str, Any], model: ApprovedModel
) -> None:
    """Multi-account stages: let the stage account read the model, from the tooling account.

    The stage roles read the model data only under this project's prefix of its artifact bucket
    (the bucket policy's StageAccountIds, stage_access.yaml): a model stored elsewhere (a deploy
    project given another project's group) stops here with one line instead of failing inside
    CloudFormation. The model package group's policy is merged as the tooling account's CodeBuild
    role, before the stage's role is assumed."""
    account = config.get("account")
    if not account:
        return
    prefix = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/"
    if not model.model_data_url.startswith(prefix):
        raise DeployError(
            f"the model of {stage} is {model.model_data_url}, outside {prefix}: the {stage} account "
            "can read only this project's artifacts; register the model from this project or deploy single-account"
        )
    if share_with_stage_account(base_session.client("sagemaker"), model, account["id"]):
        print(f"{stage}: account {account['id']} may read model package group {model.group}")


def deploy_stage(settings: Settings, stage: str, build_dir: Path, base_session: Any) -> dict[str, dict[str, str]]:
    """Deploy every stack of `stage` listed in the build manifest; returns each stack's outputs."""
    manifest = _read_json(build_dir / "manifest.json")
    if stage not in manifest.get("stages", {}):
        raise DeployError(f"{build_dir / 'manifest.json'} has no stage {stage!r}")
    # Files the build uploaded live under its build id, whatever BUILD_ID says now.
    settings = dataclasses.replace(settings, build_id=manifest["build_id"])
    config = inference_config.load(stage, config_dir(settings.repo_root))
    model = ApprovedModel(**_read_json(build_dir / "model_package.json"))
    share_with_stage(base_session, settings, stage, config, model)
    session = stage_session(settings, stage, config, base_session)
    cfn = session.client("cloudformation")
    role_arn = service_role_arn(session, settings, stage, config)
    results = {}
    for entry in manifest["stages"][stage]:
        configuration = _read_json(build_dir / entry["configuration"])
        template = (settings.repo_root / entry["template"]).read_text(encoding="utf-8")
        parameters, tags = configuration["Parameters"], configuration["Tags"]
        outputs = deploy_stack(
            cfn, entry["stack_name"], template, parameters, tags, role_arn, capabilities_of(template)
        )
        results[entry["part"]] = outputs
        print(f"{stage}: {entry['stack_name']} deployed")
        if entry["part"] == "batch":
            arn = upsert_batch_pipeline(session, settings, stage, config, model, outputs)
            print(f"{stage}: batch inference pipeline {arn} upserted")
    return results


def _empty_bucket(s3: Any, bucket: str) -> None:
    """Delete every object version of a bucket (a stack cannot delete a bucket that holds data)."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            objects = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(objects), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[start : start + 1000], "Quiet": True})
    except ClientError as problem:
        if problem.response["Error"]["Code"] != "NoSuchBucket":
            raise


def teardown_stage(settings: Settings, stage: str, base_session: Any) -> list[str]:
    """Remove everything the deploy step created for `stage`; returns the stacks deleted.

    The batch pipeline (created through the SageMaker API) goes first, then the stage's buckets
    are emptied, then the stacks are deleted in the reverse of their deployment order.
    """
    config = inference_config.load(stage, config_dir(settings.repo_root))
    session = stage_session(settings, stage, config, base_session)
    sagemaker = session.client("sagemaker")
    try:
        sagemaker.delete_pipeline(
            PipelineName=stacks.batch_pipeline_name(settings, stage),
            ClientRequestToken=uuid.uuid4().hex,
        )
    except ClientError as problem:
        if problem.response["Error"]["Code"] not in ("ResourceNotFound", "ValidationException"):
            raise
    s3 = session.client("s3")
    for purpose in ("datacapture", "batch"):
        _empty_bucket(s3, naming.stage_bucket(settings.project_id, stage, purpose))
    cfn = session.client("cloudformation")
    role_arn = service_role_arn(session, settings, stage, config)
    deleted = []
    for spec in reversed(stacks.STACKS):
        name = settings.stack_name(stage, spec.part)
        if _stack_status(cfn, name) is None:
            continue
        # Without RoleARN CloudFormation would reuse the stack's role, but the request would carry no
        # cloudformation:RoleArn key and the deploy policy's condition refuses it (CloudFormation API
        # reference, DeleteStack RoleARN; Service Authorization Reference for CloudFormation).
        cfn.delete_stack(StackName=name, RoleARN=role_arn)
        try:
            cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAITER_CONFIG)
        except WaiterError:
            raise DeployError(f"stack {name} could not be deleted: {_first_failure(cfn, name)}") from None
        deleted.append(name)
    return deleted


def deploy_trigger(settings: Settings, session: Any, environ: dict[str, str]) -> dict[str, str]:
    """Deploy the rule that starts the deploy pipeline when a model package is approved."""
    template = (settings.repo_root / stacks.MODEL_APPROVAL_TEMPLATE).read_text(encoding="utf-8")
    account = session.client("sts").get_caller_identity()["Account"]
    parameters = stacks.model_approval_parameters(settings, stacks.deploy_pipeline_name(settings, environ), account)
    tags = {key: value for key, value in settings.tags("staging").items() if key != "sagemaker:deployment-stage"}
    name = naming.stack(settings.project_name, settings.project_id, "deploy-trigger")
    return deploy_stack(session.client("cloudformation"), name, template, parameters, tags)


def _stage_access_template(repo_root: Path) -> str:
    return (repo_root / stacks.STAGE_ACCESS_TEMPLATE).read_text(encoding="utf-8")


def deploy_stage_access(
    settings: Settings, stage: str, tooling_account_id: str, session: Any, tooling_deploy_role_arn: str = ""
) -> dict[str, str]:
    """Multi-account projects: this project's stage access in the account `session` belongs to."""
    if not ACCOUNT_ID.fullmatch(tooling_account_id):
        raise DeployError(f"--tooling-account-id {tooling_account_id!r} is not an AWS account id: use 12 digits")
    if tooling_deploy_role_arn and not ROLE_ARN.fullmatch(tooling_deploy_role_arn):
        raise DeployError(f"--tooling-deploy-role-arn {tooling_deploy_role_arn!r} is not an IAM role ARN")
    parameters = stacks.stage_access_parameters(settings, stage, tooling_account_id, tooling_deploy_role_arn)
    name = naming.stage_access_stack(settings.project_name, settings.project_id, stage)
    cfn = session.client("cloudformation")
    return deploy_stack(
        cfn,
        name,
        _stage_access_template(settings.repo_root),
        parameters,
        settings.tags(stage),
        capabilities=STAGE_ACCESS_CAPABILITIES,
    )


def deploy_shared_stage_access(
    session: Any, repo_root: Path, attach_to: str = stacks.CODEBUILD_ROLE_NAME
) -> dict[str, str]:
    """Single-account projects: every project's stage access in this account, deployed by `attach_to`
    from the stage-access template of the repository at `repo_root`."""
    if not ROLE_NAME.fullmatch(attach_to):
        raise DeployError(f"--attach-to-role {attach_to!r} is not a role name (1-64 of A-Z a-z 0-9 +=,.@_-)")
    account = session.client("sts").get_caller_identity()["Account"]
    parameters = stacks.shared_stage_access_parameters(account, attach_to)
    cfn = session.client("cloudformation")
    name = naming.stage_access_stack()
    return deploy_stack(
        cfn, name, _stage_access_template(repo_root), parameters, {}, capabilities=STAGE_ACCESS_CAPABILITIES
    )


def _stage_access(args: argparse.Namespace, settings: Settings, session: Any) -> None:
    if args.every_project:
        attach_to = args.attach_to_role or stacks.CODEBUILD_ROLE_NAME
        outputs = deploy_shared_stage_access(session, settings.repo_root, attach_to)
        role = outputs["CloudFormationRoleArn"]
        print(f"stage access for every project deployed: {attach_to} deploys through {role}")
        return
    outputs = deploy_stage_access(settings, args.stage, args.tooling_account_id, session, args.tooling_deploy_role_arn)
    print(f"{args.stage}: deploy role {outputs['DeployRoleArn']} deployed")


def check_choice(args: argparse.Namespace) -> None:
    """Exactly one of --stage, --trigger and --stage-access's two forms; DeployError otherwise."""
    if args.stage_access:
        if args.every_project == bool(args.stage):
            raise DeployError("--stage-access needs either --every-project or --stage")
    elif args.trigger == bool(args.stage):
        raise DeployError("give either --stage or --trigger")


def run(args: argparse.Namespace, repo_root: Path) -> int:
    """`mlops-kit deploy` on the repository at `repo_root`: the step deploy_command's options choose."""
    check_choice(args)
    settings = Settings.from_env(repo_root)
    session = boto3.Session(region_name=settings.region)
    try:
        if args.stage_access:
            _stage_access(args, settings, session)
        elif args.trigger:
            outputs = deploy_trigger(settings, session, dict(os.environ))
            print(f"model-approval rule {outputs.get('RuleArn', '')} deployed")
        elif args.teardown:
            for name in teardown_stage(settings, args.stage, session):
                print(f"{args.stage}: {name} deleted")
        else:
            deploy_stage(settings, args.stage, args.build_dir or build_dir(repo_root), session)
    except (BotoCoreError, ClientError) as problem:
        raise DeployError(f"AWS call failed: {problem}") from None
    return 0
