"""Compose product templates from `servicecatalog/parts/` (one source per resource, no copies).

A product is its parts merged in catalog order, plus what the catalog decides: the Studio
parameters that choose the seed variants (taken from the templates' own cookiecutter choices),
the release version, and bindings (a part's parameter replaced by a value the product supplies,
e.g. the deploy part's `ModelPackageGroupName` bound to the group build-train-deploy creates).
Composition is deterministic, so the same sources and version give byte-identical templates.

`python -m scripts.products OUT_DIR [--version V]` writes every product template (for linters).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from scripts import catalog

PARTS_DIR = catalog.CATALOG_DIR / "parts"
PORTFOLIO_FILE = catalog.CATALOG_DIR / "portfolio.yaml"
DATA_LAKE_ACCESS_FILE = catalog.CATALOG_DIR / "data-lake-access.yaml"
# Stand-alone templates a platform team deploys itself (with IAM rights the products lack).
MLFLOW_ACCESS_FILE = catalog.CATALOG_DIR / "mlflow-access.yaml"
# OIDC roles for projects whose CI runs in GitHub Actions or GitLab (templates' ci option).
CI_OIDC_FILE = catalog.CATALOG_DIR / "ci-oidc.yaml"
# One SageMaker managed MLflow tracking server per project (issue 16), deployed by the platform team.
MLFLOW_SERVER_FILE = catalog.CATALOG_DIR / "mlflow-tracking-server.yaml"
# Sends approved models to those projects' deploy workflows (repository dispatch / pipeline trigger).
CI_DISPATCH_FILE = catalog.CATALOG_DIR / "ci-dispatch.yaml"
ACCOUNT_TEMPLATES = (
    PORTFOLIO_FILE,
    DATA_LAKE_ACCESS_FILE,
    MLFLOW_ACCESS_FILE,
    CI_OIDC_FILE,
    MLFLOW_SERVER_FILE,
    CI_DISPATCH_FILE,
)
SECTIONS = ("Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs")
INTERFACE = "AWS::CloudFormation::Interface"
PARAMETER_RULES = "SagemakerTemplateParameterRules"
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}
TEMPLATE_OPTIONS_LABEL = "Template options"
DEVELOPMENT_VERSION = "0.0.0-dev"


class CompositionError(ValueError):
    """Parts that cannot be merged into a valid template; the message names the clash."""


class _Loader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _construct_tag)


class _Dumper(yaml.SafeDumper):
    """YAML dumper that writes multi-line strings (inline build specs) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def load_cloudformation(text: str) -> dict:
    """Parse CloudFormation YAML, short-form tags included, into plain long-form data."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def dump_cloudformation(template: dict) -> str:
    """Render a template as YAML with a stable key order (as composed, never sorted)."""
    return yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=False)


def load_part(name: str) -> dict:
    """One part of `servicecatalog/parts/`."""
    path = PARTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise CompositionError(f"part {name!r} does not exist ({path})")
    return load_cloudformation(path.read_text(encoding="utf-8"))


def _merge_section(target: dict, addition: dict, section: str, part: str) -> None:
    for key, value in addition.items():
        if key in target and target[key] != value:
            raise CompositionError(f"part {part!r} redefines {section}.{key} differently")
        target[key] = copy.deepcopy(value)


def _merge_interface(target: dict, addition: dict) -> None:
    groups = target.setdefault("ParameterGroups", [])
    for group in addition.get("ParameterGroups", []):
        same = next((kept for kept in groups if kept["Label"] == group["Label"]), None)
        if same is None:
            groups.append(copy.deepcopy(group))
        else:
            same["Parameters"] += [name for name in group["Parameters"] if name not in same["Parameters"]]
    target.setdefault("ParameterLabels", {}).update(copy.deepcopy(addition.get("ParameterLabels", {})))


def _merge_part(template: dict, part: dict, name: str) -> None:
    for section in SECTIONS:
        _merge_section(template.setdefault(section, {}), part.get(section, {}), section, name)
    metadata = part.get("Metadata", {})
    _merge_interface(template["Metadata"][INTERFACE], metadata.get(INTERFACE, {}))
    template["Metadata"][PARAMETER_RULES].update(copy.deepcopy(metadata.get(PARAMETER_RULES, {})))


def _studio_options(product: catalog.Product) -> tuple[dict, dict]:
    """The seed-choosing parameters of a product, and their Studio labels."""
    parameters: dict[str, dict] = {}
    labels: dict[str, dict] = {}
    for template in product.seeds:
        prompts = catalog.cookiecutter_json(template).get("__prompts__", {})
        for option, parameter in catalog.studio_parameters(template).items():
            values = catalog.choices(template)[option]
            definition = {
                "Type": "String",
                "Description": f"Template option {option} (one of: {', '.join(values)}).",
                "AllowedValues": values,
                "Default": values[0],
            }
            if parameter in parameters and parameters[parameter]["AllowedValues"] != values:
                raise CompositionError(f"{parameter} has different choices in the templates of {product.key}")
            parameters[parameter] = definition
            labels.setdefault(parameter, {"default": prompts.get(option, option)})
    return parameters, labels


def _bind(node: object, bindings: dict) -> object:
    """Replace `{"Ref": name}` of every bound name with the product's value for it."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in bindings:
            return copy.deepcopy(bindings[node["Ref"]])
        return {key: _bind(value, bindings) for key, value in node.items()}
    if isinstance(node, list):
        return [_bind(value, bindings) for value in node]
    return node


def _references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            yield node["Ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _check_references(template: dict, product: catalog.Product) -> None:
    known = set(template["Parameters"]) | set(template["Resources"]) | PSEUDO_PARAMETERS
    dangling = sorted(set(_references(template)) - known)
    if dangling:
        raise CompositionError(f"product {product.key!r} refers to undefined {', '.join(dangling)}")
    grouped = {name for group in template["Metadata"][INTERFACE]["ParameterGroups"] for name in group["Parameters"]}
    unknown = sorted(grouped - set(template["Parameters"]))
    if unknown:
        raise CompositionError(f"product {product.key!r} groups undefined parameters {', '.join(unknown)}")


def compose(product: catalog.Product, version: str = DEVELOPMENT_VERSION) -> dict:
    """The CloudFormation template of one product for one release version."""
    options, option_labels = _studio_options(product)
    template: dict = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{product.name} ({version}). {product.description}",
        "Metadata": {
            INTERFACE: {
                "ParameterGroups": [{"Label": {"default": TEMPLATE_OPTIONS_LABEL}, "Parameters": list(options)}],
                "ParameterLabels": option_labels,
            },
            PARAMETER_RULES: {},
        },
        "Parameters": {},
        "Mappings": {"Release": {"Artifacts": {"Version": version, "KitWheel": catalog.kit_wheel_name()}}},
    }
    for name in product.parts:
        _merge_part(template, load_part(name), name)
    template["Parameters"] = {**options, **template["Parameters"]}
    for section in SECTIONS:
        template[section] = _bind(template[section], product.bindings)
        if not template[section]:
            del template[section]
    template.setdefault("Parameters", {})
    _check_references(template, product)
    return template


def render(product: catalog.Product, version: str = DEVELOPMENT_VERSION) -> str:
    """The product template as YAML text, exactly as packaged and published."""
    return dump_cloudformation(compose(product, version))


def write_all(out_dir: Path, version: str = DEVELOPMENT_VERSION) -> list[Path]:
    """Write every product template into out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for product in catalog.products():
        path = out_dir / f"{product.key}.yaml"
        path.write_text(render(product, version), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the product templates of a version into a folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--version", default=DEVELOPMENT_VERSION)
    args = parser.parse_args(argv)
    try:
        for path in write_all(args.out_dir, catalog.check_version(args.version)):
            print(path)
    except (catalog.CatalogError, CompositionError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
