"""What a step handler is given: its resolved fields, its sandbox, S3, the AWS clients of the run."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..definition import Step
from .report import Console
from .storage import Storage

# SageMaker job names: 63 characters of letters, digits and hyphens.
_NOT_IN_JOB_NAME = re.compile(r"[^a-zA-Z0-9-]+")
JOB_NAME_LIMIT = 63


@dataclass(frozen=True)
class Options:
    """Choices of the local run that SageMaker would not need."""

    use_cache: bool = True
    tuning_trials: int = 3


class Clients:
    """boto3 clients of the run, created on first use (they honour `AWS_ENDPOINT_URL`)."""

    def __init__(self, region: str | None = None) -> None:
        import boto3

        self.session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    @property
    def region(self) -> str:
        """The region of the session (us-east-1 when nothing is configured)."""
        return self.session.region_name or "us-east-1"

    @cached_property
    def account(self) -> str:
        """The account the credentials belong to (the emulator answers with its own)."""
        return self("sts").get_caller_identity()["Account"]


@dataclass
class Run:
    """One execution of a pipeline."""

    pipeline_name: str
    execution_id: str
    workdir: Path
    clients: Clients
    storage: Storage
    console: Console
    options: Options = field(default_factory=Options)
    # The local MLflow store this run prepared (tracking.py), where RegisterModel tags the run.
    tracking_database: Path | None = None

    @property
    def sandbox_root(self) -> Path:
        """Where the steps of this execution keep their files (kept after the run for inspection)."""
        return self.workdir / "runs" / self.execution_id

    def arn(self, kind: str, name: str) -> str:
        """An ARN of this account and region, e.g. for a processing job."""
        return f"arn:aws:sagemaker:{self.clients.region}:{self.clients.account}:{kind}/{name.lower()}"

    def job_name(self, step: str, suffix: str = "") -> str:
        """A SageMaker-style job name: `pipelines-<execution id>-<step>-<hash>`, 63 characters at most."""
        digest = hashlib.sha256(f"{self.execution_id}/{step}/{suffix}".encode()).hexdigest()[:10]
        head = _NOT_IN_JOB_NAME.sub("-", f"pipelines-{self.execution_id}-{step}").strip("-")
        return f"{head[: JOB_NAME_LIMIT - len(digest) - 1].rstrip('-')}-{digest}"


@dataclass
class Job:
    """A step about to run: its resolved fields and where it runs."""

    step: Step
    fields: dict[str, Any]
    run: Run
    job_name: str

    @property
    def arguments(self) -> dict[str, Any]:
        """The step's resolved `Arguments`."""
        return self.fields.get("Arguments") or {}

    @property
    def sandbox(self) -> Path:
        """The folder standing in for the job's container file system."""
        return self.run.sandbox_root / self.step.name
