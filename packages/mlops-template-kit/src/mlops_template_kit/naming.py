"""Every AWS resource name a project uses, built in one place and kept within AWS limits.

The limits come from the AWS API reference (see the table in the project README). Each
builder is tested at the worst case: a 32-character project name and a 20-character id.
This module has no third-party imports: the products' lifecycle function ships it beside its
handler, and generated repositories use it through the kit, so CI builds there use exactly the
same names as the templates and products.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_PROJECT_NAME = 32
MAX_PROJECT_ID = 20

# resource kind -> maximum length accepted by the service
LIMITS = {
    "bucket": 63,
    "event_rule": 64,
    "lambda_function": 64,
    "codecommit_repository": 100,
    "codepipeline": 100,
    "codebuild_project": 255,
    "cloudformation_stack": 128,
    "code_repository": 63,
    "model_package_group": 63,
    # The API documents 256, but CreatePipeline rejects longer than 82 in practice.
    "pipeline": 82,
    "endpoint": 63,
    "endpoint_config": 63,
    "model": 63,
    # Processing/training job names are 63; the SDK appends a 24-character timestamp.
    "job_prefix": 39,
    "alarm": 255,
    "api": 1024,
    "iam_role": 64,
    "log_group": 512,
    "kms_alias": 256,
}

# SageMaker's own pattern for names of pipelines, model package groups, endpoints, ...
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

STAGES = ("staging", "prod")

# Feature-branch data lives under `<project>/branches/<slug>/`; slugs in S3 keys are kept as
# short as a SageMaker name so paths stay readable.
BRANCHES_KEY = "branches"
MAX_BRANCH_KEY_SLUG = 63


class NameTooLongError(ValueError):
    """A built name exceeds the limit of the service that will receive it."""


def _checked(kind: str, name: str) -> str:
    limit = LIMITS[kind]
    if len(name) > limit:
        raise NameTooLongError(f"{kind} name {name!r} is {len(name)} characters; the limit is {limit}")
    return name


def short_hash(text: str, length: int = 6) -> str:
    """A stable, lower-case hexadecimal digest used to keep shortened names unique."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def shorten(name: str, limit: int) -> str:
    """Fit `name` into `limit` characters, keeping it unique with a hash of the full name."""
    if len(name) <= limit:
        return name
    digest = short_hash(name)
    head = name[: limit - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def branch_slug(branch: str, max_length: int) -> str:
    """A lower-case `[a-z0-9-]` form of a git branch name, at most `max_length` characters.

    Different branches must never share a slug (their pipelines, model groups and data would
    collide), so any lossy change (case, accents, punctuation, truncation) appends a hash of the
    original name.
    """
    ascii_form = unicodedata.normalize("NFKD", branch).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_form.lower()).strip("-") or "branch"
    if slug == branch and len(slug) <= max_length:
        return slug
    digest = short_hash(branch)
    head = slug[: max(max_length - len(digest) - 1, 0)].rstrip("-")
    return f"{head}-{digest}" if head else digest[:max_length]


def feature_suffix(base: str, branch: str, limit: int) -> str:
    """`base` followed by the branch slug that fits the remaining budget of `limit`."""
    return f"{base}-{branch_slug(branch, limit - len(base) - 1)}"


def artifact_bucket(project_id: str) -> str:
    """The project's artifact bucket: named from the id (names may hold upper case)."""
    return _checked("bucket", f"sagemaker-project-{project_id}".lower())


def model_package_group(project_name: str, project_id: str, branch: str | None = None) -> str:
    """The model package group a project's training pipeline registers into; a feature branch
    registers into its own group, suffixed with the branch slug."""
    base = f"{project_name}-{project_id}"
    if branch:
        return _checked("model_package_group", feature_suffix(base, branch, LIMITS["model_package_group"]))
    return _checked("model_package_group", base)


def pipeline(project_name: str, project_id: str, kind: str = "training", branch: str | None = None) -> str:
    """A SageMaker pipeline name, e.g. `<name>-<id>-training`, branch-suffixed for feature branches."""
    base = f"{project_name}-{project_id}-{kind}"
    if branch:
        return _checked("pipeline", feature_suffix(base, branch, LIMITS["pipeline"]))
    return _checked("pipeline", base)


def job_prefix(project_id: str, step: str) -> str:
    """A base job name that leaves room for the SDK's timestamp suffix."""
    return shorten(f"{project_id}-{step}", LIMITS["job_prefix"])


def repository(project_name: str, project_id: str, role: str) -> str:
    """A CodeCommit repository / CodePipeline name, e.g. `sagemaker-<name>-<id>-modelbuild`."""
    return _checked("codecommit_repository", f"sagemaker-{project_name}-{project_id}-{role}")


def code_repository(project_id: str, role: str) -> str:
    """The `AWS::SageMaker::CodeRepository` name that surfaces a repo in Studio."""
    return _checked("code_repository", f"sagemaker-{project_id}-{role}")


def codepipeline(project_name: str, project_id: str, role: str) -> str:
    """A CodePipeline pipeline name, e.g. `sagemaker-<name>-<id>-modeldeploy`."""
    return _checked("codepipeline", f"sagemaker-{project_name}-{project_id}-{role}")


def codebuild_project(project_name: str, project_id: str, purpose: str) -> str:
    """A CodeBuild project name, `sagemaker-` prefixed for the default launch role."""
    return _checked("codebuild_project", f"sagemaker-{project_name}-{project_id}-{purpose}")


def event_rule(project_id: str, purpose: str) -> str:
    """An EventBridge rule name: `sagemaker-` prefixed, built from the id to stay short."""
    return _checked("event_rule", f"sagemaker-{project_id}-{purpose}")


def lambda_function(project_id: str, purpose: str) -> str:
    """A Lambda function name: `sagemaker-` prefixed, built from the id to stay short."""
    return _checked("lambda_function", f"sagemaker-{project_id}-{purpose}")


def endpoint(project_name: str, project_id: str, stage: str) -> str:
    """The real-time endpoint of one deployment stage."""
    return _checked("endpoint", f"{project_name}-{project_id}-{_stage(stage)}")


def stack(project_name: str, project_id: str, purpose: str) -> str:
    """A CloudFormation stack created by CI, e.g. `sagemaker-<name>-<id>-deploy-staging`."""
    return _checked("cloudformation_stack", f"sagemaker-{project_name}-{project_id}-{purpose}")


def ci_stack_prefix(project_name: str, project_id: str) -> str:
    """The start of every stack name `stack()` builds for a project: what its teardown deletes."""
    return f"sagemaker-{project_name}-{project_id}-"


def ci_resource_prefix(project_name: str, project_id: str) -> str:
    """The start of the pipeline and feature-branch model group names of a project."""
    return f"{project_name}-{project_id}-"


def templates_bucket(account_id: str, region: str) -> str:
    """The bucket holding every published release of the templates in one account and region.

    Its name must not contain "sagemaker": AmazonSageMakerFullAccess (every Studio user's role)
    allows s3:PutObject and s3:DeleteObject on `arn:aws:s3:::*sagemaker*` buckets, so a release in
    such a bucket could be rewritten from any notebook (policy snapshot in authz/policies).
    """
    return _checked("bucket", f"mlops-project-templates-{account_id}-{region}")


def portfolio_stack() -> str:
    """The CloudFormation stack of the Service Catalog portfolio and the templates bucket."""
    return _checked("cloudformation_stack", "sagemaker-project-templates-portfolio")


def s3_prefix(project_name: str) -> str:
    """The key prefix under which a project keeps its data in the artifact bucket."""
    return project_name


def s3_branch_prefix(project_name: str, branch: str) -> str:
    """The key prefix of one feature branch's code and pipeline outputs: `<project>/branches/<slug>`.

    Every branch has its own prefix (slugs are unique), and all of them sit under one
    `<project>/branches/` prefix, so a single S3 lifecycle rule can expire them.
    """
    return f"{s3_prefix(project_name)}/{BRANCHES_KEY}/{branch_slug(branch, MAX_BRANCH_KEY_SLUG)}"


def _stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    return stage


def stage_bucket(project_id: str, stage: str, purpose: str) -> str:
    """A bucket owned by one deployment stage, e.g. `sagemaker-<id>-staging-datacapture`."""
    return _checked("bucket", f"sagemaker-{project_id}-{_stage(stage)}-{purpose}".lower())


def iam_role(project_id: str, purpose: str) -> str:
    """An IAM role created by a project stack: `sagemaker-` prefixed and built from the id."""
    return _checked("iam_role", f"sagemaker-{project_id}-{purpose}")


def alarm(project_name: str, project_id: str, stage: str, metric: str) -> str:
    """A CloudWatch alarm watching one endpoint metric of a stage."""
    return _checked("alarm", f"sagemaker-{project_name}-{project_id}-{_stage(stage)}-{metric}")


def rest_api(project_name: str, project_id: str, stage: str) -> str:
    """The API Gateway REST API in front of a stage's endpoint."""
    return _checked("api", f"sagemaker-{project_name}-{project_id}-{_stage(stage)}")


def log_group(service: str, resource_name: str) -> str:
    """A CloudWatch Logs group named after the resource that writes to it, e.g. `/aws/lambda/<fn>`."""
    return _checked("log_group", f"/aws/{service}/{resource_name}")


def kms_alias(project_id: str, stage: str, purpose: str) -> str:
    """The alias of a stage's customer managed KMS key."""
    return _checked("kms_alias", f"alias/sagemaker-{project_id}-{_stage(stage)}-{purpose}")


# Stage access (the deploy repository's app_infra/stage_access/stage_access.yaml, deployed once by
# an administrator): the fixed roles stage stacks run with and the CloudFormation service role
# that creates them. One project's stage in its own account gets its own set; the account-wide
# form (single-account Studio projects) one set for every project.
SHARED_STAGE_ACCESS = "all-projects"
STAGE_ACCESS_ROLES = (
    "endpoint",
    "invoke",
    "batch-pipeline",
    "batch-schedule",
    "cloudformation",
    "monitoring",
    "drift-retrain",
    "monitoring-schedule",
)


def stage_access_role(purpose: str, project_id: str | None = None, stage: str | None = None) -> str:
    """A role the stage-access stack creates: `sagemaker-<id>-<stage>-<purpose>` for one project's
    stage, `sagemaker-all-projects-<purpose>` (no project id) for every project of the account."""
    if purpose not in STAGE_ACCESS_ROLES:
        raise ValueError(f"stage-access role {purpose!r} is not one of {', '.join(STAGE_ACCESS_ROLES)}")
    if project_id is None:
        return _checked("iam_role", f"sagemaker-{SHARED_STAGE_ACCESS}-{purpose}")
    return _checked("iam_role", f"sagemaker-{project_id}-{_stage(stage or '')}-{purpose}")


def stage_access_stack(project_name: str | None = None, project_id: str | None = None, stage: str | None = None) -> str:
    """The stage-access stack: outside `sagemaker-<name>-<id>-<stage>-*`, the stacks its deploy
    policy lets the deploy principal change."""
    if project_name is None or project_id is None:
        return _checked("cloudformation_stack", "sagemaker-stage-access")
    return _checked("cloudformation_stack", f"sagemaker-{project_name}-{project_id}-stage-access-{_stage(stage or '')}")
