"""Project settings of a deploy repository: CI sets them as environment variables; the answers
the repository was generated with (its `.cruft.json`) are the defaults.

One place reads the environment, so every command (build, deploy, tests, local endpoint) agrees
on names, bucket, region and stage. The repository is an argument (`mlops-kit --repo-root`, by
default the working directory), carried by Settings: never read from the environment, never from
where this file is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import DeployError

# Written by the post-generation hook and kept by `make update`: the answers the repo was baked with.
RECORD_FILE = ".cruft.json"
PROBLEM_TYPES = ("binary_classification", "regression")


def config_dir(repo_root: Path) -> Path:
    """The team's inference configurations (inference_config/<stage>/inference_config.json)."""
    return repo_root / "inference_config"


def build_dir(repo_root: Path) -> Path:
    """Where the build step writes and the deploy step reads (build/)."""
    return repo_root / "build"


def answers(repo_root: Path) -> dict[str, str]:
    """The template answers recorded in the repository's `.cruft.json`."""
    record = repo_root / RECORD_FILE
    try:
        context = json.loads(record.read_text(encoding="utf-8"))["context"]["cookiecutter"]
    except FileNotFoundError:
        raise DeployError(f"{record} is missing: run mlops-kit from the deploy repository's root") from None
    except (ValueError, KeyError, TypeError):
        raise DeployError(f"{record} is not a generation record (no context.cookiecutter)") from None
    return {key: str(value) for key, value in context.items()}


def problem_type(repo_root: Path, environ: dict[str, str] | None = None) -> str:
    """The model's use case: PROBLEM_TYPE, else the answer of the repository at `repo_root`."""
    env = os.environ if environ is None else environ
    kind = env.get("PROBLEM_TYPE") or answers(repo_root).get("problem_type", "")
    if kind not in PROBLEM_TYPES:
        raise DeployError(f"problem type {kind!r} is not one of {', '.join(PROBLEM_TYPES)}")
    return kind


@dataclass(frozen=True)
class Settings:
    """Names and locations shared by every command of this repository."""

    repo_root: Path
    project_name: str
    project_id: str
    region: str
    artifact_bucket: str
    model_package_group: str
    build_id: str
    artifact_kms_key_arn: str

    @classmethod
    def from_env(cls, repo_root: Path, environ: dict[str, str] | None = None) -> Settings:
        """Read the CI environment variables, falling back to the answers of the repository at `repo_root`."""
        env = os.environ if environ is None else environ
        defaults = _recorded_defaults(repo_root, env)
        name = env.get("SAGEMAKER_PROJECT_NAME") or defaults["project_name"]
        project_id = env.get("SAGEMAKER_PROJECT_ID") or defaults["project_id"]
        return cls(
            repo_root=Path(repo_root).resolve(),
            project_name=name,
            project_id=project_id,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or defaults["region"],
            artifact_bucket=env.get("ARTIFACT_BUCKET") or naming.artifact_bucket(project_id),
            model_package_group=env.get("MODEL_PACKAGE_GROUP_NAME") or naming.model_package_group(name, project_id),
            build_id=env.get("BUILD_ID") or "local",
            artifact_kms_key_arn=env.get("ARTIFACT_KMS_KEY_ARN", ""),
        )

    def tags(self, stage: str) -> dict[str, str]:
        """The tags every stack of a stage carries (CloudFormation passes them on to resources)."""
        return {
            "sagemaker:project-name": self.project_name,
            "sagemaker:project-id": self.project_id,
            "sagemaker:deployment-stage": stage,
        }

    def endpoint_name(self, stage: str) -> str:
        """The real-time endpoint of a stage."""
        return naming.endpoint(self.project_name, self.project_id, stage)

    def stack_name(self, stage: str, part: str) -> str:
        """The CloudFormation stack holding one part (endpoint, lambda, ...) of a stage."""
        return naming.stack(self.project_name, self.project_id, f"{stage}-{part}")

    def deploy_prefix(self) -> str:
        """Key prefix of the files this repository's builds upload to the artifact bucket."""
        return f"{naming.s3_prefix(self.project_name)}/deploy/{self.build_id}"


def _recorded_defaults(repo_root: Path, env: dict[str, str]) -> dict[str, str]:
    """Project name, id and region from the repository's answers, read only when CI leaves one unset."""
    if all(env.get(name) for name in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID")) and (
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    ):
        return {}
    recorded = answers(repo_root)
    return {key: recorded.get(key, "") for key in ("project_name", "project_id", "region")}


def add_repo_root_argument(parser) -> None:
    """`--repo-root`: every deploy command works on one repository, the working directory by default."""
    parser.add_argument(
        "--repo-root", type=Path, default=None, help="the deploy repository (default: the working directory)"
    )


def chosen_repo_root(path: Path | None) -> Path:
    """The repository a command works on: `--repo-root` (refused unless it is a generated
    repository), else the working directory. The commands pass it on as an argument."""
    if path is None:
        return Path.cwd().resolve()
    if not (path / RECORD_FILE).is_file():
        raise DeployError(f"{path} is not a generated deploy repository (no {RECORD_FILE})")
    return path.resolve()
