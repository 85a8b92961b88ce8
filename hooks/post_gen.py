"""Work done by every template's `post_gen_project` hook inside the freshly generated repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

from hooks import context as hook_context
from hooks import options


def remove_pruned(template: str, answers: Mapping[str, object], project_dir: Path) -> None:
    """Delete what the chosen options leave out (the table lives in hooks/options.py)."""
    for relative in options.pruned_paths(template, answers):
        target = project_dir / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


# Tool caches a developer's checkout may hold inside a template; copied raw (see
# `_copy_without_render`), they are removed here so no bake ever carries them.
CACHE_DIRS = ("__pycache__", ".ruff_cache", ".pytest_cache")


def remove_caches(project_dir: Path) -> None:
    """Delete tool caches copied from the template checkout."""
    for name in CACHE_DIRS:
        for cache in list(project_dir.rglob(name)):
            shutil.rmtree(cache, ignore_errors=True)


def template_version(repo_root: Path) -> str:
    """The template release version, which is also the kit's: the root pyproject.toml's."""
    return tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def pin_kit(project_dir: Path, version: str) -> None:
    """Pin the kit in the generated repo's requirements at the release it was generated from,
    so the one version number lives in the root pyproject.toml and `make update` moves the pin."""
    requirements = project_dir / options.REQUIREMENTS_FILE
    text = requirements.read_text(encoding="utf-8")
    pin = (
        "# The platform kit at the template release this repo was generated from (`make update` moves it;\n"
        "# `make setup` says where it comes from).\n"
        f"{options.KIT_DISTRIBUTION}=={version}\n"
    )
    requirements.write_text(text.rstrip("\n") + "\n" + pin, encoding="utf-8")


def template_commit(repo_root: Path) -> str | None:
    """The git commit the template was rendered from, when it comes from a git checkout."""
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def template_url(repo_root: Path, source: str) -> str:
    """Where `make update` fetches later versions: TEMPLATE_REPO_URL whenever it is set, even
    empty (`make package` always sets it: a published seed must not name the packaging checkout,
    whose path differs between clones of one commit and would change every seed's sha256), else
    the remote baked from, else the local checkout (which holds the recorded commit)."""
    if "TEMPLATE_REPO_URL" in os.environ:
        return os.environ["TEMPLATE_REPO_URL"]
    return source if source and not Path(source).exists() else str(repo_root)


def generation_record(template: str, context: Mapping[str, object]) -> dict:
    """What `.cruft.json` records: template source, commit, version and the effective answers.

    Machine-specific context (output and clone folders) is left out so two bakes of the same
    template version with the same answers are byte-identical. Options that did not apply are
    recorded with their effective value (hooks/options.py), so `make update` renders exactly
    this repo again and two bakes whose answers differ only there are identical.
    """
    repo_root = hook_context.template_dir(context).parents[1]
    url = template_url(repo_root, str(context.get("_template", "")))
    commit = template_commit(repo_root)
    version = template_version(repo_root)
    given = {key: value for key, value in context.items() if not key.startswith("_")}
    answers = options.effective(template, given)
    return {
        "template": url,
        "commit": commit,
        "checkout": None,
        "directory": f"templates/{template}",
        "skip": [],
        "template_name": template,
        "template_version": version,
        "context": {"cookiecutter": {**answers, "_template": url, "_commit": commit}},
    }


def write_record(template: str, context: Mapping[str, object], project_dir: Path) -> None:
    """Record where this repo came from, so `make update` can apply later template versions."""
    record = generation_record(template, context)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    (project_dir / options.RECORD_FILE).write_text(text, encoding="utf-8")


def main(context: Mapping[str, object], template: str, project_dir: Path) -> int:
    """Entry point of the templates' post-generation hooks."""
    remove_pruned(template, context, project_dir)
    remove_caches(project_dir)
    pin_kit(project_dir, template_version(hook_context.template_dir(context).parents[1]))
    write_record(template, context, project_dir)
    return 0
