"""Project settings of a build-train repository's training pipeline and the S3 layout of its data.

CI sets the environment variables below; on a laptop the answers the repository was generated
with (its `.cruft.json`, read by the deploy settings' reader) are the defaults, so the same code
builds the same pipeline in both places. Multi-branch is one of those answers: `MULTI_BRANCH`
(yes/no, which the build spec sets) or the recorded answer, so one kit serves both kinds of repo.
Every S3 URI the pipeline reads or writes is built by `Settings.s3_uri`, so the layout
(`input/`, `code/<build-id>/`, `ml-pipeline-outputs/<build-id>/<step>/<output>`, and for a
feature branch the same areas under `branches/<slug>/`) lives in one place.
A tracking server CI names (`PIPELINE_MLFLOW_TRACKING_URI`, the product's MlflowTrackingServerArn)
becomes the default of the pipeline's MlflowTrackingUri parameter (`Settings.parameter_defaults`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops_template_kit import contract, naming
from mlops_template_kit.deploy import settings as recorded
from mlops_template_kit.deploy.errors import DeployError

RECORD_FILE = recorded.RECORD_FILE
MULTI_BRANCH_VARIABLE = "MULTI_BRANCH"

# Without a BUILD_ID every local command agrees on one id, so `upload-code` and `definition`
# run as separate commands still point at the same code.
LOCAL_BUILD_ID = "local"
# A role ARN that cannot exist (account 000000000000): enough to build a definition offline or
# to run against a local emulator; `upsert` refuses it when talking to AWS.
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"

# Builds of this branch train the models that get promoted; every other branch is a feature branch.
DEFAULT_MAIN_BRANCH = "main"
# Git refuses these in branch names (git check-ref-format); they also mark a value that is not a branch.
NOT_A_BRANCH = re.compile(r"[\x00-\x20~^:?*\[\\]|\.\.|@\{|^/|/$|\.lock$|^-")

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# The pipeline parameter naming the MLflow server the steps track into, and the CI variable that
# sets its default. Not MLflow's own MLFLOW_TRACKING_URI: in CI that would send the repository's
# tests and local runs to the server, and on a laptop a local MLflow URI would leak into definitions.
MLFLOW_TRACKING_PARAMETER = "MlflowTrackingUri"
MLFLOW_TRACKING_VARIABLE = "PIPELINE_MLFLOW_TRACKING_URI"
# SageMaker managed MLflow tracking server and MLflow App ARNs (the API's TrackingServerArn and
# MlflowAppArn shapes, narrowed as the products' MlflowTrackingServerArn parameter is).
MLFLOW_RESOURCE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-(app|tracking-server)/[a-zA-Z0-9-]+$"
)
# Build ids go into S3 keys and execution display names: SageMaker's name pattern, 64 at most.
MAX_BUILD_ID = 64
BUILD_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything project-specific the pipeline needs, resolved once.

    `branch` is the feature branch a build trains (None on the main branch): its pipeline, model
    package group and S3 prefix are its own. `branch_input` makes a feature branch read its own
    `input/` instead of the project's shared one. `multi_branch`: the repository builds feature
    branches at all (the branch commands refuse to run when it does not).
    """

    project_name: str
    project_id: str
    region: str
    bucket: str
    main_model_package_group: str
    role_arn: str
    build_id: str
    commit_id: str | None = None
    branch: str | None = None
    branch_input: bool = False
    multi_branch: bool = False
    mlflow_tracking_uri: str = ""

    def parameter_defaults(self) -> dict[str, str]:
        """Pipeline parameter defaults CI sets, over the repository's input.json (empty: none)."""
        return {MLFLOW_TRACKING_PARAMETER: self.mlflow_tracking_uri} if self.mlflow_tracking_uri else {}

    @property
    def pipeline_name(self) -> str:
        """The SageMaker pipeline this build upserts (branch-suffixed on a feature branch)."""
        return naming.pipeline(self.project_name, self.project_id, "training", branch=self.branch)

    @property
    def model_package_group(self) -> str:
        """The model package group this build registers into (a feature branch has its own)."""
        return self.feature_model_package_group(self.branch) if self.branch else self.main_model_package_group

    def feature_model_package_group(self, branch: str) -> str:
        """The model package group of a feature branch: main's group suffixed with the branch slug."""
        return naming.feature_suffix(self.main_model_package_group, branch, naming.LIMITS["model_package_group"])

    @property
    def key_prefix(self) -> str:
        """Where this build keeps its code and outputs: `<project>`, or `<project>/branches/<slug>`."""
        if self.branch:
            return naming.s3_branch_prefix(self.project_name, self.branch)
        return naming.s3_prefix(self.project_name)

    def s3_uri(self, area: str, *parts: str) -> str:
        """The one builder of the project's S3 URIs: `s3://<bucket>/<prefix>/<area>/<parts...>`.

        The prefix is `key_prefix`, except that input stays the project's shared `input/` unless
        `branch_input` is set.
        """
        shared = area == contract.INPUT_AREA and not self.branch_input
        prefix = naming.s3_prefix(self.project_name) if shared else self.key_prefix
        return contract.area_uri(self.bucket, prefix, area, *parts)

    def input_uri(self) -> str:
        """Raw data the pipeline reads by default (a prefix: every object under it)."""
        return self.s3_uri(contract.INPUT_AREA) + "/"

    def code_uri(self, *parts: str) -> str:
        """Where `upload-code` puts this build's code, e.g. `code_uri("algorithms")`."""
        return contract.code_uri(self.bucket, self.key_prefix, self.build_id, *parts)

    def algorithms_uri(self) -> str:
        """The uploaded `algorithms/` tree that processing steps mount (a prefix)."""
        return contract.algorithms_uri(self.bucket, self.key_prefix, self.build_id)

    def source_dir_uri(self) -> str:
        """The `algorithms/` tree as the `sourcedir.tar.gz` script-mode training downloads."""
        return self.code_uri(contract.SOURCE_DIR_ARCHIVE)

    def config_uri(self) -> str:
        """The copy of input.json the build used, kept next to its code."""
        return self.code_uri(contract.BUILD_CONFIG)

    def output_uri(self, step: str, output: str) -> str:
        """Where one output of one step of this build is written."""
        return contract.step_output_uri(self.bucket, self.key_prefix, self.build_id, step, output)

    def branch_prefix_uri(self, branch: str) -> str:
        """Everything a feature branch wrote (code, outputs, own input): `s3://<bucket>/<project>/branches/<slug>/`."""
        return f"s3://{self.bucket}/{naming.s3_branch_prefix(self.project_name, branch)}/"


def answers(repo_root: Path) -> dict[str, str]:
    """The template answers in the `.cruft.json` of the repository at `repo_root` (the deploy settings' reader)."""
    try:
        return recorded.answers(repo_root)
    except DeployError as error:
        raise SettingsError(f"{error} (run mlops-kit from the build-train repository or pass --repo-root)") from None


def sdk_region(repo_root: Path) -> str:
    """The region the SageMaker SDK gets on import (`import sagemaker.mlops` needs one, and only
    that): the environment's, else the repository's recorded answer, else us-east-1."""
    if os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"):
        return os.environ.get("AWS_DEFAULT_REGION") or os.environ["AWS_REGION"]
    try:
        return answers(repo_root).get("region") or "us-east-1"
    except SettingsError:
        return "us-east-1"


def multi_branch(repo_root: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether feature branches build in their own pipeline: MULTI_BRANCH, else the answer recorded
    by the repository at `repo_root`."""
    env = os.environ if environ is None else environ
    text = env.get(MULTI_BRANCH_VARIABLE) or answers(repo_root).get("multi_branch", "no")
    if text not in ("yes", "no"):
        raise SettingsError(f"{MULTI_BRANCH_VARIABLE}={text!r} is not valid: expected yes or no")
    return text == "yes"


def from_env(repo_root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings from the environment (CI) with the answers of the repository at
    `repo_root` as defaults.

    `.cruft.json` is read only for a value the environment leaves unset.
    """
    env = os.environ if environ is None else environ
    defaults: dict[str, str] = {}

    def value(name: str, answer: str) -> str:
        if env.get(name):
            return env[name]
        if not defaults:
            defaults.update(answers(repo_root))
        return defaults.get(answer, "")

    def setting(name: str, default: str) -> str:
        return env.get(name) or default

    project_name = value("SAGEMAKER_PROJECT_NAME", "project_name")
    project_id = value("SAGEMAKER_PROJECT_ID", "project_id")
    _require(
        naming.SAGEMAKER_NAME, project_name, "SAGEMAKER_PROJECT_NAME", "letters, digits and hyphens, not first or last"
    )
    _require(
        naming.SAGEMAKER_NAME, project_id, "SAGEMAKER_PROJECT_ID", "letters, digits and hyphens, not first or last"
    )
    for name, text, limit in (
        ("SAGEMAKER_PROJECT_NAME", project_name, naming.MAX_PROJECT_NAME),
        ("SAGEMAKER_PROJECT_ID", project_id, naming.MAX_PROJECT_ID),
    ):
        if len(text) > limit:
            raise SettingsError(f"{name}={text!r} is {len(text)} characters; SageMaker allows {limit}")
    try:
        default_bucket = naming.artifact_bucket(project_id)
        default_group = naming.model_package_group(project_name, project_id)
        naming.pipeline(project_name, project_id, "training")
    except naming.NameTooLongError as error:
        raise SettingsError(str(error)) from None
    branches = multi_branch(repo_root, env)
    settings = Settings(
        project_name=project_name,
        project_id=project_id,
        region=value("AWS_REGION", "region"),
        bucket=setting("ARTIFACT_BUCKET", default_bucket),
        main_model_package_group=setting("MODEL_PACKAGE_GROUP_NAME", default_group),
        role_arn=setting("SAGEMAKER_PIPELINE_ROLE_ARN", LOCAL_ROLE_ARN),
        build_id=setting("BUILD_ID", LOCAL_BUILD_ID),
        commit_id=current_commit(repo_root, environ=env),
        branch=feature_branch(env) if branches else None,
        branch_input=branches and _flag(env, "BRANCH_INPUT", ("shared", "own")) == "own",
        multi_branch=branches,
        mlflow_tracking_uri=env.get(MLFLOW_TRACKING_VARIABLE, "").strip(),
    )
    _require(REGION_NAME, settings.region, "AWS_REGION", "a region name such as us-east-1")
    _require(naming.BUCKET_NAME, settings.bucket, "ARTIFACT_BUCKET", "a lower-case S3 bucket name")
    if len(settings.main_model_package_group) > naming.LIMITS["model_package_group"]:
        raise SettingsError(
            f"MODEL_PACKAGE_GROUP_NAME is longer than {naming.LIMITS['model_package_group']} characters"
        )
    _require(
        naming.SAGEMAKER_NAME,
        settings.main_model_package_group,
        "MODEL_PACKAGE_GROUP_NAME",
        "a model package group name",
    )
    _require(ROLE_ARN, settings.role_arn, "SAGEMAKER_PIPELINE_ROLE_ARN", "an IAM role ARN")
    if settings.mlflow_tracking_uri:
        _require(
            MLFLOW_RESOURCE_ARN,
            settings.mlflow_tracking_uri,
            MLFLOW_TRACKING_VARIABLE,
            "empty or a SageMaker managed MLflow tracking server or app ARN",
        )
    check_build_id(settings.build_id)
    return settings


def feature_branch(environ: Mapping[str, str] | None = None) -> str | None:
    """The feature branch being built, or None when the build is of the main branch.

    `BRANCH_NAME` names the branch: CodePipeline passes its source action's `BranchName`
    variable, a start-build call sets it. Without it, a CodeBuild webhook build takes the branch
    from `CODEBUILD_WEBHOOK_HEAD_REF` (`refs/heads/<branch>`). `CODEBUILD_SOURCE_VERSION` is not
    read: it may hold a commit, a pull request or an artifact ARN. `MAIN_BRANCH` (default `main`)
    is the branch whose builds are not feature builds.
    """
    env = os.environ if environ is None else environ
    branch = (env.get("BRANCH_NAME") or env.get("CODEBUILD_WEBHOOK_HEAD_REF", "")).removeprefix("refs/heads/")
    if not branch or branch == main_branch(env):
        return None
    return check_branch(branch)


def main_branch(environ: Mapping[str, str] | None = None) -> str:
    """The branch whose builds train the models that get promoted: `MAIN_BRANCH`, default `main`."""
    env = os.environ if environ is None else environ
    return env.get("MAIN_BRANCH") or DEFAULT_MAIN_BRANCH


def check_branch(branch: str) -> str:
    """Return `branch` when git would accept it as a branch name, else raise SettingsError."""
    if not branch or NOT_A_BRANCH.search(branch):
        raise SettingsError(f"branch {branch!r} is not a git branch name: expected e.g. feature/new-features")
    return branch


def _flag(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """A setting with a fixed set of values; the first is the default."""
    text = env.get(name) or allowed[0]
    if text not in allowed:
        raise SettingsError(f"{name}={text!r} is not valid: expected one of {', '.join(allowed)}")
    return text


def check_build_id(build_id: str) -> str:
    """Return `build_id` when it is usable in S3 keys and SageMaker names, else raise SettingsError."""
    _require(naming.SAGEMAKER_NAME, build_id, "BUILD_ID", "letters, digits and hyphens, e.g. 20261122T133000Z-1a2b3c4")
    if len(build_id) > MAX_BUILD_ID:
        raise SettingsError(f"BUILD_ID {build_id!r} is {len(build_id)} characters; the limit is {MAX_BUILD_ID}")
    return build_id


def new_build_id(now: datetime | None = None, commit: str | None = None) -> str:
    """A build id for CI: UTC timestamp and short commit hash, e.g. `20261122T133000Z-1a2b3c4`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    short = (commit or "nogit")[:7].lower()
    return check_build_id(f"{moment.strftime(BUILD_ID_TIME_FORMAT)}-{short}")


def current_commit(repo_root: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The commit being built: `COMMIT_ID`, CodeBuild's resolved source version, else `git rev-parse HEAD`."""
    env = os.environ if environ is None else environ
    for name in ("COMMIT_ID", "CODEBUILD_RESOLVED_SOURCE_VERSION"):
        given = env.get(name, "").lower()
        if re.fullmatch(r"[0-9a-f]{7,40}", given):
            return given
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _require(pattern: re.Pattern[str], text: str, name: str, allowed: str) -> None:
    if not pattern.fullmatch(text):
        raise SettingsError(f"{name}={text!r} is not valid: expected {allowed}")
