"""Project settings: CI sets them as environment variables; the template answers are the defaults.

One place reads the environment, so every command (build, deploy, tests, local endpoint) agrees
on names, bucket, region and stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlops_template_kit import naming

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "inference_config"
BUILD_DIR = REPO_ROOT / "build"

# Cookiecutter answers of this repository, used when CI does not say otherwise.
DEFAULT_PROJECT_NAME = "{{ cookiecutter.project_name }}"
DEFAULT_PROJECT_ID = "{{ cookiecutter.project_id }}"
DEFAULT_REGION = "{{ cookiecutter.region }}"
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"


@dataclass(frozen=True)
class Settings:
    """Names and locations shared by every command of this repository."""

    project_name: str
    project_id: str
    region: str
    artifact_bucket: str
    model_package_group: str
    build_id: str
    artifact_kms_key_arn: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the CI environment variables, falling back to this repository's answers."""
        env = os.environ if environ is None else environ
        name = env.get("SAGEMAKER_PROJECT_NAME") or DEFAULT_PROJECT_NAME
        project_id = env.get("SAGEMAKER_PROJECT_ID") or DEFAULT_PROJECT_ID
        return cls(
            project_name=name,
            project_id=project_id,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
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
