"""Bake a template with given answers: the one way scripts produce generated repositories."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parents[1]

# The environment generated repos' commands get in demos and benchmarks: fake credentials and a
# fixed region so nothing can reach AWS, and no bytecode written into baked folders.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def bake(template: str, output_dir: Path, answers: Mapping[str, str] | None = None) -> Path:
    """Generate `templates/<template>` into output_dir (replacing an earlier bake) and return it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    project = cookiecutter(
        str(REPO_ROOT),
        directory=f"templates/{template}",
        no_input=True,
        extra_context=dict(answers or {}),
        output_dir=str(output_dir),
        overwrite_if_exists=True,
    )
    return Path(project)
