"""The AWS calls our code makes at run time: recorded in the moto-backed tests, attributed to the
role that makes each call in AWS, and turned into IAM requests.

Recording: `recording_env(log_dir, role)` gives a subprocess `authz/record` on PYTHONPATH, whose
`sitecustomize` hooks botocore in that process and every Python process it starts (environment
variables are inherited), appending JSON lines to `<log_dir>/<role>-<pid>.jsonl`.

Attribution: AUTHZ_ROLE is the role of the process as AWS would run it; inside one test process
several principals act (a local run plays the CodeBuild build *and* SageMaker's jobs), so the
source of each call refines it (ROLE_RULES, innermost product frame first). Who acts as which role
is decision D2 of the team brief: every CodeBuild project runs as the CodeBuild role, the training
pipeline and its jobs (SAGEMAKER_PIPELINE_ROLE_ARN) as the execution role, the lifecycle function as
the Lambda role; and D8: the deploy repo's stage stacks run its endpoint models as the stage-access
endpoint role and its API function as the stage-access invoke role (keys of
authz.roles.deployed_roles), and its batch inference pipeline with the jobs it starts as the
stage-access batch-pipeline role. A local run of that pipeline's definition is recorded with
AUTHZ_ROLE set to that role (PIPELINE_ROLES): the whole process plays SageMaker Pipelines and the
jobs running as it, whatever kit or step code makes the call. The deploy repo's build, deploy and
promotion tests run in its CodeBuild projects: the CodeBuild role, which the account-wide stage
access gives the deploy policy.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from authz.actions import iam_request
from authz.evaluate import Request

RECORD_DIR = Path(__file__).resolve().parent / "record"
REPO_ROOT = RECORD_DIR.parents[1]
DEFAULT_LOG_DIR = REPO_ROOT / ".authz" / "calls"
# moto's default account: the account every recorded call was made in.
ACCOUNT = "123456789012"
# Recorded, not evaluated: the platform team publishes with its own administrator credentials, and
# an administrator deploys the stage access once (stage_access.yaml is checked as a template).
NOT_EVALUATED = {"publisher", "administrator"}
# The deploy repo's administrator entry points (`mlops-kit deploy --stage-access`, and
# `--trigger`, which a person runs once for a repository used without the project product; no build
# spec runs it) and the deploy repo's test fixture that plays that administrator: any frame.
ADMINISTRATOR = re.compile(
    r"/mlops_template_kit/deploy/deploy\.py:\d+:(deploy_stage_access|deploy_shared_stage_access|_stage_access|deploy_trigger)$"
    r"|/conftest\.py:\d+:grant_stage_access$"
)

# The deploy repo's tests/ folder (integration, stress and other tests with their conftest) is its
# promotion suite: its CodeBuild test stage runs it against the staging endpoint, so its calls are
# product calls. This monorepo's own tests/ (the kit's tests too) and the generated repos' unit tests
# (`test/` folders, conftest.py) only set up what AWS, a person or CI would have made.
MONOREPO_TESTS = (
    str(REPO_ROOT / "tests") + os.sep,
    str(REPO_ROOT / "packages" / "mlops-template-kit" / "tests") + os.sep,
)
DEPLOY_REPO_TESTS = re.compile(r"/tests/")
TEST_CODE = re.compile(r"/tests?/|/(test_[^/]*|conftest)\.py:")
# Calls only a local run makes, standing in for something outside our roles (with the reason).
LOCAL_ONLY = [
    (re.compile(r"/mlops_template_kit/local_run/emulator\.py:\d+:warm_up$"), "local run: warms up the emulator"),
    (
        re.compile(r"/mlops_template_kit/local_run/storage\.py:\d+:ensure_bucket$"),
        "local run: the product stack creates the artifact bucket (checked as a CloudFormation resource)",
    ),
    (
        re.compile(r"/mlops_template_kit/local_run/project\.py:\d+:write_sample_data$"),
        "local run: the team puts its own data under the input prefix",
    ),
    # A local path given as InputDataUrl is the team's own data: uploading it (after removing the
    # previous upload of the same folder) is the team putting data under the input prefix, and the
    # check that an s3:// input's bucket exists asks the local services, not AWS.
    (
        re.compile(r"/mlops_template_kit/local_run/input_data\.py:\d+:(upload|remove_prefix|bucket_exists)$"),
        "local run: the team puts its own data under the input prefix",
    ),
    # `mlops-kit local-aws`: the local services save and load their own S3 objects and model
    # packages (an emulator's state; nothing in AWS does this), and `approve` stands in for the
    # person who approves a model in Studio (the registry's approval is a person's, not a role's).
    (
        re.compile(r"/mlops_template_kit/local_aws/state\.py:\d+:\w+$"),
        "local AWS services: saving and loading the emulator's own state",
    ),
    (
        re.compile(r"/mlops_template_kit/local_aws/approve\.py:\d+:\w+$"),
        "local approval: in AWS a person approves the model in Studio",
    ),
    # The local Transform step looks up the model a CreateTransformJob request names (DescribeModel,
    # then DescribeModelPackage for a package-backed model). SageMaker does that inside the job: the
    # caller needs no Describe* permission (Service Authorization Reference, SageMaker,
    # CreateTransformJob: dependent action sagemaker:AddTags only, the model a condition key
    # sagemaker:ModelArn; https://docs.aws.amazon.com/service-authorization/latest/reference/list_sagemaker.md).
    # Reading the model's data is the model's execution role's (CreateModel ExecutionRoleArn: the role
    # SageMaker assumes to access model artifacts for batch transform jobs), evaluated as usual.
    (
        re.compile(r"/mlops_template_kit/local_run/transform\.py:\d+:model_data_of$"),
        "local run: SageMaker resolves the transform job's model itself",
    ),
]
# Roles a whole process may play: a local run of the deploy repo's batch pipeline definition stands
# in for SageMaker Pipelines running it, whose steps' jobs and model (batch_inference.yaml) run as the
# pipeline role (stage_access.yaml BatchPipelineRole), so the local runner's frames, which ROLE_RULES
# give the training pipeline's execution role, are that role's in such a process.
PIPELINE_ROLES = {"stage-batch-pipeline"}
# Source folder -> role that runs that code in AWS (first match, innermost frame first).
ROLE_RULES = [
    # The lifecycle custom resource's function: the products' Lambda runs as the Lambda role.
    (re.compile(r"/servicecatalog/functions/"), "lambda"),
    # Platform scripts (package, publish): the platform team's credentials.
    (re.compile(r"/scripts/"), "publisher"),
    # The local run stands in for SageMaker Pipelines and the jobs of its steps, which run as the
    # pipeline's execution role; the step code itself runs inside those jobs.
    (re.compile(r"/mlops_template_kit/local_run/"), "execution"),
    (re.compile(r"/algorithms/"), "execution"),
    # The build/train repo's build spec runs the kit's `mlops-kit pipeline` (mlops_template_kit/pipeline:
    # upload-code, upsert, start, branch cleanup, approve-merged) and its own ml_pipelines/ in CodeBuild.
    (re.compile(r"/mlops_template_kit/pipeline/"), "codebuild"),
    (re.compile(r"/ml_pipelines/"), "codebuild"),
    # The local endpoint stands in for a stage's SageMaker endpoint: SageMaker loads the model's data
    # as the model's execution role, which stage stacks set to the stage-access endpoint role
    # (endpoint.yaml ExecutionRoleArn <- the kit's deploy/stacks.py endpoint_parameters, D8). The
    # local endpoint is the kit's (mlops_template_kit/local_endpoint; run.py is its command).
    (re.compile(r"/mlops_template_kit/local_endpoint/(server|run)\.py:"), "stage-endpoint"),
    # The deploy repo's API function (app_infra/lambda) runs as the stage-access invoke role
    # (lambda.yaml Role <- the kit's deploy/stacks.py lambda_parameters, D8).
    (re.compile(r"/app_infra/lambda/"), "stage-invoke"),
    # The deploy repo's build spec runs the kit's deploy machinery (`mlops-kit deploy-build`,
    # `mlops-kit deploy`), its batch pipeline definition (app_infra/batch_inference) and its tests
    # in CodeBuild; the rest of the kit's local endpoint (benchmark, sample model) runs there too.
    (re.compile(r"/mlops_template_kit/(deploy|local_endpoint)/"), "codebuild"),
    # `mlops-kit monitor` (issue 14) makes two kinds of AWS call: the registry lookup of the newest
    # Approved model (deploy/model_registry.py, matched above) and the read of its registered
    # baseline files from the artifact bucket (monitor/registry.py). Both are what the deploy build
    # does in the deploy CodeBuild project, where CI runs `make monitor`; in AWS the schedules' jobs
    # read the baseline as their own role (the monitoring stacks, checked as CloudFormation).
    (re.compile(r"/mlops_template_kit/monitor/"), "codebuild"),
    (re.compile(r"/app_infra/"), "codebuild"),
]


# Resources a product stack creates with the project's tags (Tags in the template), so a request
# on them carries aws:ResourceTag/<key> (tests/test_authz_calls.py checks each against its template).
PROJECT_TAGGED = [
    # SeedProject in servicecatalog/parts/project.yaml: sagemaker-<name>-<id>-seed
    (
        "servicecatalog/parts/project.yaml",
        "SeedProject",
        re.compile(r"arn:[^:]+:codebuild:[^:]+:[^:]+:project/sagemaker-(?P<name>.+)-(?P<id>p-[a-z0-9]+)-seed"),
    ),
    # ModelBuildBranchProject in servicecatalog/parts/build-train.yaml: sagemaker-<name>-<id>-modelbuild-branches
    # (the lifecycle function starts it; the Lambda role's StartBuild is conditioned on its tags).
    (
        "servicecatalog/parts/build-train.yaml",
        "ModelBuildBranchProject",
        re.compile(
            r"arn:[^:]+:codebuild:[^:]+:[^:]+:project/sagemaker-(?P<name>.+)-(?P<id>p-[a-z0-9]+)-modelbuild-branches"
        ),
    ),
]


@dataclass(frozen=True)
class Attributed:
    call: dict
    role: str | None
    reason: str


def recording_env(log_dir: Path | str, role: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a subprocess whose AWS calls (and its children's) are recorded as `role`."""
    env = dict(os.environ if base is None else base)
    env["AUTHZ_CALL_LOG"] = str(log_dir)
    env["AUTHZ_ROLE"] = role
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(RECORD_DIR), env.get("PYTHONPATH")]))
    return env


def read(log_dir: Path | str) -> Iterator[dict]:
    """Every recorded call under log_dir."""
    for path in sorted(Path(log_dir).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def attribute(call: dict) -> Attributed:
    """The role that makes this call in AWS (None: test set-up or local-only, not evaluated)."""
    stack = call.get("stack") or []
    if stack and DEPLOY_REPO_TESTS.search(stack[0]) and not stack[0].startswith(MONOREPO_TESTS):
        return Attributed(call, "codebuild", stack[0])
    if stack and TEST_CODE.search(stack[0]):
        return Attributed(call, None, "test set-up")
    outside = _outside_our_roles(call, stack)
    if outside:
        return outside
    if call["role"] in PIPELINE_ROLES:
        return Attributed(call, call["role"], "process plays the pipeline")
    for frame in stack:
        for pattern, role in ROLE_RULES:
            if pattern.search(frame):
                return Attributed(call, role, frame)
    return Attributed(call, call["role"], "process role")


def _outside_our_roles(call: dict, stack: list[str]) -> Attributed | None:
    """An administrator's call, or a local-only stand-in, from any frame of the stack."""
    for frame in stack:
        if ADMINISTRATOR.search(frame):
            return Attributed(call, "administrator", frame)
    for frame in stack:
        for pattern, reason in LOCAL_ONLY:
            if pattern.search(frame):
                return Attributed(call, None, reason)
    return None


def requests(call: dict, created: Mapping[str, Mapping[str, str]] | None = None) -> list[Request]:
    """The IAM requests of one recorded call, with the tags of product-stack resources and (for a
    call that tags nothing itself) the tags our code created the resource with (`created`, from
    created_tags), as aws:ResourceTag/<key>."""
    made = iam_request(call["service"], call["operation"], call["params"], ACCOUNT, call.get("region") or "us-east-1")
    later = created if created and not call["params"].get("Tags") else {}
    return [
        Request(
            r.action,
            r.resource,
            {**_resource_tags(later.get(r.resource, {})), **r.context, **resource_tags(r.resource)},
        )
        for r in made
    ]


def created_tags(recorded: Iterable[dict]) -> dict[str, dict[str, str]]:
    """Resource ARN -> the tags a product call created or tagged it with (Tags as a Key/Value list,
    as the recorder keeps them): later calls on it see them as aws:ResourceTag/<key>."""
    found: dict[str, dict[str, str]] = {}
    for call in recorded:
        tags = call.get("params", {}).get("Tags")
        if not isinstance(tags, list) or not tags or attribute(call).role in (None, *NOT_EVALUATED):
            continue
        try:
            made = iam_request(
                call["service"], call["operation"], call["params"], ACCOUNT, call.get("region") or "us-east-1"
            )
        except ValueError:
            continue
        pairs = {str(tag["Key"]): str(tag["Value"]) for tag in tags if isinstance(tag, dict) and "Key" in tag}
        for request in made:
            if request.resource != "*":
                found.setdefault(request.resource, {}).update(pairs)
    return found


def _resource_tags(pairs: Mapping[str, str]) -> dict[str, str]:
    return {f"aws:ResourceTag/{key}": value for key, value in pairs.items()}


def resource_tags(arn: str) -> dict[str, str]:
    """aws:ResourceTag keys of a resource the product stack tags with the project's name and id."""
    for _template, _resource, pattern in PROJECT_TAGGED:
        match = pattern.fullmatch(arn)
        if match:
            return {
                "aws:ResourceTag/sagemaker:project-name": match["name"],
                "aws:ResourceTag/sagemaker:project-id": match["id"],
            }
    return {}


def where(call: dict) -> str:
    """The product code that made the call, relative to its repository where it can tell."""
    source = call.get("source") or "(unknown)"
    for marker in (
        "/servicecatalog/",
        "/scripts/",
        "/mlops_template_kit/",
        "/ml_pipelines/",
        "/algorithms/",
        "/app_infra/",
    ):
        if marker in source:
            return marker.strip("/") + "/" + source.split(marker, 1)[1]
    return source
