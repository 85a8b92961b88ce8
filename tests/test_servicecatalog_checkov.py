"""checkov, in its own environment built from scripts/checkov-requirements.txt and run offline:
zero failed checks on servicecatalog/, the composed products and every generated CloudFormation
template; every skip is declared next to its resource, explained, and still needed."""

from __future__ import annotations

import pytest

from scripts import catalog, checkov_env, products
from scripts.bake import bake
from tests import bakery

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("checkov")]

ACCOUNTS = {"staging_account_id": "111111111111", "prod_account_id": "222222222222"}
UNSAFE_BUCKET = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Open:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: false
"""


@pytest.fixture(scope="module")
def servicecatalog_templates(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("servicecatalog")
    files = checkov_env.cloudformation_files(catalog.CATALOG_DIR / "parts") + list(products.ACCOUNT_TEMPLATES)
    files += products.write_all(scratch / "products", "1.0.0")
    return checkov_env.collect(files, scratch / "scan")


def test_servicecatalog_and_every_product_pass_checkov(servicecatalog_templates):
    result = checkov_env.scan(servicecatalog_templates)
    assert result["failures"] == []
    assert result["passed"] > 0


def test_every_generated_cloudformation_template_passes_checkov(tmp_path):
    files = []
    for template in catalog.seed_templates():
        for number, combination in enumerate(bakery.covering_subset(template)):
            answers = {**combination, **ACCOUNTS} if combination.get("multi_account") == "yes" else combination
            files += checkov_env.cloudformation_files(bake(template, tmp_path / "bakes" / f"{number}", answers))
    assert files, "the deploy template generates CloudFormation"
    result = checkov_env.scan(checkov_env.collect(files, tmp_path / "scan"))
    assert result["failures"] == []


def test_checkov_finds_an_unsafe_bucket(tmp_path):
    (tmp_path / "unsafe.yaml").write_text(UNSAFE_BUCKET)
    assert checkov_env.scan(tmp_path)["failed"] > 0


def skips(template: dict) -> list[tuple[str, str, str]]:
    return [
        (logical_id, skip["id"], skip.get("comment", ""))
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict)
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_every_skip_is_explained_and_still_needed(servicecatalog_templates, tmp_path):
    declared = set()
    for path in servicecatalog_templates.iterdir():
        text = path.read_text(encoding="utf-8")
        for logical_id, check, comment in skips(products.load_cloudformation(text)):
            assert len(comment) > 40, f"{path.name} {logical_id} {check}: say why the check does not apply"
            declared.add((logical_id, check))
        (tmp_path / path.name).write_text(text.replace("checkov:", "not-checkov:"))
    failing = {
        (line.split("(")[1].rstrip(")").split(".")[-1], line.split(": ")[1].split(" ")[0])
        for line in checkov_env.scan(tmp_path)["failures"]
    }
    assert declared and declared <= failing, f"skips no check needs: {sorted(declared - failing)}"
