"""The published catalog: which template variants are baked, which products exist, where they go.

`servicecatalog/catalog.json` is the one source. A *seed* is a template baked with fixed answers
(a *variant*); a *product* is a CloudFormation template composed from `servicecatalog/parts/`
that picks its seed zips by Studio parameters. Options a product shows in Studio are the
template's own cookiecutter choices, so the allowed values can never drift from the template.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hooks import options

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = REPO_ROOT / "servicecatalog"
CATALOG_FILE = CATALOG_DIR / "catalog.json"
TEMPLATES_DIR = REPO_ROOT / "templates"
# The platform kit generated repos pin; a release ships its wheel under <version>/packages/.
KIT_DIR = REPO_ROOT / "packages" / "mlops-template-kit"

# Semantic versions only: the version names the provisioning artifact and every S3 key. Applied
# with fullmatch: `$` alone also matches before a trailing newline, so "1.0.0\n" would pass.
VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z]+(\.[0-9A-Za-z]+)*)?$")


class CatalogError(ValueError):
    """The catalog or a version string is unusable; the message says what is wrong."""


@dataclass(frozen=True)
class Variant:
    """One baked seed: a template with a fixed set of choice answers."""

    template: str
    answers: dict[str, str] = field(hash=False)
    name: str

    def seed_key(self, version: str) -> str:
        """The S3 key (and dist/ path) of this variant's zip in a release."""
        return f"{version}/seeds/{self.name}.zip"


@dataclass(frozen=True)
class Product:
    """A Service Catalog product / S3 project template."""

    key: str
    name: str
    description: str
    seeds: tuple[str, ...]
    parts: tuple[str, ...]
    bindings: dict = field(hash=False)

    def template_key(self, version: str) -> str:
        """The S3 key (and dist/ path) of this product's CloudFormation template in a release."""
        return f"{version}/products/{self.key}.yaml"


def kit_version() -> str:
    """The kit's version (equal to the template version: the kit's own tests check it)."""
    return tomllib.loads((KIT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def kit_wheel_name() -> str:
    """The file name of the kit's wheel (PyPA wheel file name: distribution, version, py3-none-any)."""
    return f"mlops_template_kit-{kit_version()}-py3-none-any.whl"


def kit_wheel_key(version: str) -> str:
    """The S3 key (and dist/ path) of the kit wheel in a release."""
    return f"{version}/packages/{kit_wheel_name()}"


def check_version(version: str) -> str:
    """Refuse anything but MAJOR.MINOR.PATCH[-prerelease]; return the version."""
    if not VERSION.fullmatch(version):
        raise CatalogError(f"version {version!r} is not allowed: use MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1")
    return version


@cache
def _catalog() -> dict:
    return json.loads(CATALOG_FILE.read_text(encoding="utf-8"))


@cache
def cookiecutter_json(template: str) -> dict:
    """A template's cookiecutter.json."""
    return json.loads((TEMPLATES_DIR / template / "cookiecutter.json").read_text(encoding="utf-8"))


def choices(template: str) -> dict[str, list[str]]:
    """A template's choice options, default first, in declaration order."""
    declared = cookiecutter_json(template)
    return {key: value for key, value in declared.items() if isinstance(value, list) and not key.startswith("_")}


def studio_parameters(template: str) -> dict[str, str]:
    """Option -> CloudFormation parameter name, for the options a seed varies over."""
    return dict(_catalog()["seeds"][template]["studio_parameters"])


def seed_templates() -> list[str]:
    """Templates that are baked into seeds, in catalog order."""
    return list(_catalog()["seeds"])


def _supported_answers(template: str, varied: dict[str, str]) -> dict[str, str]:
    """Every choice answer for a variant: the varied values, every other option at its default,
    and options that do not apply to them at their effective value (hooks/options.py), so a seed's
    recorded answers are the ones `make update` and a local bake with the same choices use."""
    answers = {key: values[0] for key, values in choices(template).items()} | varied
    effective = options.effective(template, answers)
    return {key: str(effective[key]) for key in answers}


def variants(template: str) -> list[Variant]:
    """Every variant of a template that releases publish, in a stable order."""
    varied_options = list(studio_parameters(template))
    template_choices = choices(template)
    result = []
    for values in itertools.product(*(template_choices[key] for key in varied_options)):
        varied = dict(zip(varied_options, values, strict=True))
        name = "-".join([template, *values])
        result.append(Variant(template, _supported_answers(template, varied), name))
    return result


def all_variants() -> list[Variant]:
    """Every published variant of every seed template."""
    return [variant for template in seed_templates() for variant in variants(template)]


def products() -> list[Product]:
    """Every product, in catalog order."""
    return [
        Product(
            key=key,
            name=spec["name"],
            description=spec["description"],
            seeds=tuple(spec["seeds"]),
            parts=tuple(spec["parts"]),
            bindings=dict(spec.get("bindings", {})),
        )
        for key, spec in _catalog()["products"].items()
    ]


def product(key: str) -> Product:
    """One product by its key (e.g. `build-train-deploy`)."""
    found = {item.key: item for item in products()}
    if key not in found:
        raise CatalogError(f"product {key!r} is not in the catalog; known: {', '.join(found)}")
    return found[key]
