"""Custom resources of a SageMaker project stack (AWS Lambda, Python 3.12, boto3 only).

Custom::SeedRepository -- on Create, runs the project's seed CodeBuild project once to push the
    template code as the first commit of an empty third-party repository (through the
    CodeConnections connection). Update and Delete never touch repository content.
Custom::ProjectTeardown -- on Delete, removes what CI created outside the project stack, so that
    deleting the project leaves nothing behind: the CI stacks `sagemaker-<name>-<id>-*`, the
    SageMaker pipelines `<name>-<id>-*`, the project's model package groups (main and feature
    branches, which CI creates) with every model version, and every object in the artifact bucket
    (unversioned: CloudFormation then deletes it).
FeatureBranchBuild events -- from the project's CodeCommit EventBridge rules: starts the
    feature-branch CodeBuild project with the StartBuild request the rule built. The managed events
    role may only start CodePipeline pipelines, so the rules invoke this function, whose managed
    Lambda role may codebuild:StartBuild `sagemaker-*` projects tagged `sagemaker:project-name`.

Runs as service-role/AmazonSageMakerServiceCatalogProductsLambdaRole plus the platform stack's
teardown policy (servicecatalog/portfolio.yaml). Every custom resource outcome, failures included,
is reported to CloudFormation: a custom resource that never answers holds the stack for an hour.
Work stops while there is still time to report; deleting the project again resumes where it stopped.
`naming.py` (the kit's mlops_template_kit/naming.py) is packaged beside this file.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request

import boto3
import naming
from botocore.exceptions import ClientError

POLL_SECONDS = 10
# Time kept back to report to CloudFormation after the last poll.
REPORT_RESERVE_MS = 30_000
DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per call
sleep = time.sleep


class LifecycleError(RuntimeError):
    """A failure worth reporting to CloudFormation as the reason of a FAILED response."""


def handler(event: dict, context: object) -> dict | None:
    """Lambda entry point: a feature-branch build request, or a custom resource event (always answered)."""
    if BRANCH_BUILD in event:
        return start_branch_build(event[BRANCH_BUILD])
    physical_id = event.get("PhysicalResourceId") or _physical_id(event)
    try:
        action = HANDLERS.get(event["ResourceType"])
        if action is None:
            raise LifecycleError(f"unknown custom resource type {event['ResourceType']}")
        data = action(event, context) or {}
        respond(event, "SUCCESS", physical_id, data=data)
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation
        respond(event, "FAILED", physical_id, reason=f"{type(error).__name__}: {error}")


def _physical_id(event: dict) -> str:
    digest = hashlib.sha256(event["StackId"].encode("utf-8")).hexdigest()[:12]
    return f"{event['LogicalResourceId']}-{digest}"


def respond(event: dict, status: str, physical_id: str, data: dict | None = None, reason: str = "") -> None:
    """PUT the custom resource response to the pre-signed URL CloudFormation gave."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or status)[:3000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data or {},
        }
    ).encode("utf-8")
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - CloudFormation's https URL
        response.read()


def _time_left(context: object) -> float:
    """Milliseconds of work left before the report reserve."""
    return context.get_remaining_time_in_millis() - REPORT_RESERVE_MS


# --- Custom::SeedRepository -------------------------------------------------------------------


def seed_repository(event: dict, context: object) -> dict:
    """Create: run the seed build and wait for it. Update/Delete: nothing (code is the team's)."""
    if event["RequestType"] != "Create":
        return {}
    props = event["ResourceProperties"]
    codebuild = boto3.client("codebuild")
    build = codebuild.start_build(
        projectName=props["SeedProject"],
        environmentVariablesOverride=[
            {"name": "REPOSITORY_URL", "value": props["RepositoryUrl"], "type": "PLAINTEXT"},
            {"name": "BRANCH", "value": props["Branch"], "type": "PLAINTEXT"},
            {"name": "SEED_BUCKET", "value": props["SeedBucket"], "type": "PLAINTEXT"},
            {"name": "SEED_KEY", "value": props["SeedKey"], "type": "PLAINTEXT"},
        ],
    )["build"]
    status = build["buildStatus"]
    while status == "IN_PROGRESS" and _time_left(context) > POLL_SECONDS * 1000:
        sleep(POLL_SECONDS)
        status = codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]["buildStatus"]
    if status != "SUCCEEDED":
        raise LifecycleError(
            f"seed check-in build {build['id']} ended {status}; its CodeBuild log says why "
            "(a repository that already has commits needs SeedRepositories=no)"
        )
    return {"RepositoryUrl": props["RepositoryUrl"]}


# --- FeatureBranchBuild (EventBridge) -----------------------------------------------------------

BRANCH_BUILD = "FeatureBranchBuild"
BRANCH_PROJECT_SUFFIX = "-modelbuild-branches"
# What a rule may set, and to what: the build spec reads these (templates/build-train, build_spec.yml).
BRANCH_VARIABLES = {"BRANCH_NAME": None, "BRANCH_ACTION": {"cleanup"}, "APPROVE_ON_MERGE": {"false"}}
BRANCH_REQUEST_KEYS = {"projectName", "sourceVersion", "environmentVariablesOverride"}


def branch_build_request(payload: dict) -> dict:
    """The StartBuild request a rule asked for, refused unless it only starts a feature-branch
    project with the branch variables: the function's role may start any project of any project."""
    if not isinstance(payload, dict) or set(payload) - BRANCH_REQUEST_KEYS:
        raise LifecycleError(f"feature-branch build request may only set {sorted(BRANCH_REQUEST_KEYS)}")
    project = payload.get("projectName", "")
    if not (project.startswith("sagemaker-") and project.endswith(BRANCH_PROJECT_SUFFIX)):
        raise LifecycleError(f"{project!r} is not a feature-branch build project (sagemaker-*{BRANCH_PROJECT_SUFFIX})")
    for variable in payload.get("environmentVariablesOverride", []):
        allowed = BRANCH_VARIABLES.get(variable.get("name"), set())
        if variable.get("type") != "PLAINTEXT" or (allowed is not None and variable.get("value") not in allowed):
            raise LifecycleError(f"feature-branch build variable {variable.get('name')!r} is not allowed")
    return dict(payload)


def start_branch_build(payload: dict) -> dict:
    """Start the feature-branch build; return its id (EventBridge discards it, logs keep it)."""
    request = branch_build_request(payload)
    build = boto3.client("codebuild").start_build(**request)["build"]
    print(f"started {build['id']}")
    return {"id": build["id"]}


# --- Custom::ProjectTeardown ------------------------------------------------------------------


def teardown(event: dict, context: object) -> dict:
    """Delete: remove what CI created for the project, then empty the artifact bucket."""
    if event["RequestType"] != "Delete":
        return {}
    props = event["ResourceProperties"]
    name, project_id = props["ProjectName"], props["ProjectId"]
    delete_ci_stacks(name, project_id, context)
    delete_pipelines(name, project_id)
    delete_model_versions(name, project_id)
    empty_bucket(props["ArtifactBucket"])
    return {}


def _project_tag(stack: dict) -> str | None:
    return next((tag["Value"] for tag in stack.get("Tags", []) if tag["Key"] == "sagemaker:project-id"), None)


def ci_stacks(cloudformation: object, name: str, project_id: str) -> list[str]:
    """Live stacks named like this project's CI stacks and not tagged as another project's.

    ListStacks (IAM authorizes it on "*" only) finds them by name; DescribeStacks of each one
    (allowed on stack/sagemaker-*) reads its tags. DescribeStacks without a name would need "*"."""
    prefix = naming.ci_stack_prefix(name, project_id)
    named = {
        summary["StackName"]
        for page in cloudformation.get_paginator("list_stacks").paginate()
        for summary in page["StackSummaries"]
        if summary["StackName"].startswith(prefix) and summary["StackStatus"] != "DELETE_COMPLETE"
    }
    return [stack_name for stack_name in sorted(named) if _ours(cloudformation, stack_name, project_id)]


def _ours(cloudformation: object, stack_name: str, project_id: str) -> bool:
    """Whether the stack still exists and carries no other project's id."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return False
        raise
    return _project_tag(stack) in (None, project_id) and stack["StackStatus"] != "DELETE_COMPLETE"


def _stack_status(cloudformation: object, stack_name: str) -> str:
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return "DELETE_COMPLETE"
        raise


def delete_ci_stacks(name: str, project_id: str, context: object) -> None:
    """Delete the project's CI stacks (endpoints, APIs, ...) and wait until they are gone."""
    cloudformation = boto3.client("cloudformation")
    remaining = ci_stacks(cloudformation, name, project_id)
    for stack_name in remaining:
        cloudformation.delete_stack(StackName=stack_name)
    while remaining:
        statuses = {stack_name: _stack_status(cloudformation, stack_name) for stack_name in remaining}
        failed = sorted(stack_name for stack_name, status in statuses.items() if status == "DELETE_FAILED")
        if failed:
            raise LifecycleError(f"could not delete stack(s) {', '.join(failed)}; see their events")
        remaining = [stack_name for stack_name, status in statuses.items() if status != "DELETE_COMPLETE"]
        if remaining and _time_left(context) <= POLL_SECONDS * 1000:
            raise LifecycleError(f"stack(s) {', '.join(remaining)} still deleting; delete the project again to finish")
        if remaining:
            sleep(POLL_SECONDS)


def delete_pipelines(name: str, project_id: str) -> None:
    """Delete the SageMaker pipelines CI upserted for the project (main and feature branches)."""
    sagemaker = boto3.client("sagemaker")
    prefix = naming.ci_resource_prefix(name, project_id)
    names = [
        summary["PipelineName"]
        for page in sagemaker.get_paginator("list_pipelines").paginate(PipelineNamePrefix=prefix)
        for summary in page["PipelineSummaries"]
        if summary["PipelineName"].startswith(prefix)
    ]
    for pipeline_name in sorted(names):
        # The token (32-128 characters) makes a repeated teardown of the same pipeline a no-op.
        token = hashlib.sha256(f"teardown:{pipeline_name}".encode()).hexdigest()
        sagemaker.delete_pipeline(PipelineName=pipeline_name, ClientRequestToken=token)


def project_model_groups(sagemaker: object, name: str, project_id: str) -> list[str]:
    """The project's model package groups that exist: the main one and the feature-branch ones."""
    main = naming.model_package_group(name, project_id)
    prefix = naming.ci_resource_prefix(name, project_id)
    groups = [
        summary["ModelPackageGroupName"]
        for page in sagemaker.get_paginator("list_model_package_groups").paginate(NameContains=main)
        for summary in page["ModelPackageGroupSummaryList"]
    ]
    return sorted(group for group in groups if group == main or group.startswith(prefix))


def delete_model_versions(name: str, project_id: str) -> None:
    """Delete every model version of the project's groups, then the groups: CI creates them all
    (the launch role cannot create a group, so the project stack has none)."""
    sagemaker = boto3.client("sagemaker")
    groups = project_model_groups(sagemaker, name, project_id)
    for group in groups:
        pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
        for page in pages:
            for package in page["ModelPackageSummaryList"]:
                sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
    for group in groups:
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)


def empty_bucket(bucket: str) -> None:
    """Delete every object, so CloudFormation can delete the bucket. The bucket is unversioned
    (the launch role cannot enable versioning), so ListBucket + DeleteObject is all it takes:
    both are in the managed Lambda role's policy for sagemaker-* buckets."""
    s3 = boto3.client("s3")
    batch: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            batch.append({"Key": entry["Key"]})
            if len(batch) == DELETE_BATCH:
                _delete_batch(s3, bucket, batch)
                batch = []
    if batch:
        _delete_batch(s3, bucket, batch)


def _delete_batch(s3: object, bucket: str, objects: list[dict]) -> None:
    errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True}).get("Errors", [])
    if errors:
        first = errors[0]
        raise LifecycleError(f"could not delete s3://{bucket}/{first['Key']}: {first['Code']} {first['Message']}")


HANDLERS = {
    "Custom::SeedRepository": seed_repository,
    "Custom::ProjectTeardown": teardown,
}
