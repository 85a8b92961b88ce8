"""The kit is versioned with the templates: one release number for both."""

import tomllib
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = KIT_ROOT.parents[1]


def project_version(pyproject: Path) -> str:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]


def version_mismatch(template_version: str, kit_version: str) -> str | None:
    """Why the two versions cannot ship together, or None when they are the same release."""
    if template_version == kit_version:
        return None
    return f"the kit is {kit_version} but the templates are {template_version}: bump both pyproject.toml files"


def test_the_kit_version_is_the_template_release_version():
    problem = version_mismatch(
        project_version(REPO_ROOT / "pyproject.toml"), project_version(KIT_ROOT / "pyproject.toml")
    )
    assert problem is None, problem


def test_a_kit_version_behind_the_templates_is_reported():
    assert version_mismatch("1.4.0", "1.3.0") == (
        "the kit is 1.3.0 but the templates are 1.4.0: bump both pyproject.toml files"
    )


def test_the_build_backend_is_pinned():
    build = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert build["requires"] == ["hatchling==1.33.0"] and build["build-backend"] == "hatchling.build"
