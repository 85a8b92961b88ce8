"""`make package`: every published variant baked and zipped reproducibly, products pointing at
the release's keys, a manifest that tells the truth, and seed zips that are exactly fresh bakes."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import catalog, package, products
from scripts.bake import bake
from tests import bakery
from tests.test_servicecatalog_support import conditions_of, live_resources, resolve

VERSION = "1.0.0"
# One worker: the release fixture is per module and per worker, and a release takes ~9 s to build.
pytestmark = pytest.mark.xdist_group("package")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return package.build_release(VERSION, tmp_path_factory.mktemp("dist"), report=lambda line: None)


@pytest.fixture(scope="module")
def manifest(release) -> dict:
    return package.load_manifest(release)


def artifacts_of(manifest: dict, kind: str) -> list[dict]:
    return [record for record in manifest["artifacts"] if record["kind"] == kind]


def unzip(path: Path) -> dict[str, tuple[bytes, int]]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: (archive.read(info), info.external_attr >> 16) for info in archive.infolist()}


def test_release_holds_every_variant_function_and_product(release, manifest):
    keys = {record["key"] for record in manifest["artifacts"]}
    expected = {variant.seed_key(VERSION) for variant in catalog.all_variants()}
    expected |= {product.template_key(VERSION) for product in catalog.products()}
    expected.add(f"{VERSION}/functions/project-lifecycle.zip")
    expected.add(catalog.kit_wheel_key(VERSION))
    assert keys == expected
    assert manifest["version"] == VERSION
    for record in manifest["artifacts"]:
        path = release.parent / record["key"]
        assert package.sha256_of(path) == record["sha256"]
        assert path.stat().st_size == record["size"]
    on_disk = {path.relative_to(release.parent).as_posix() for path in release.rglob("*") if path.is_file()}
    assert on_disk == keys | {f"{VERSION}/manifest.json"}


def test_packaging_twice_gives_byte_identical_releases(release, tmp_path):
    again = package.build_release(VERSION, tmp_path, report=lambda line: None)
    assert (again / "manifest.json").read_bytes() == (release / "manifest.json").read_bytes()


def test_zips_are_sorted_with_fixed_times_and_permissions(manifest, release):
    for record in [*artifacts_of(manifest, "seed"), *artifacts_of(manifest, "function")]:
        with zipfile.ZipFile(release.parent / record["key"]) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert {info.date_time for info in infos} == {package.ZIP_EPOCH}
        assert {info.external_attr >> 16 for info in infos} <= {0o100644, 0o100755}
        assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
        assert not [name for name in names if "__pycache__" in name or name.endswith("/")]


@pytest.mark.parametrize("variant", catalog.all_variants(), ids=lambda variant: variant.name)
def test_each_seed_zip_is_exactly_a_fresh_bake_of_its_answers(manifest, release, variant, tmp_path, monkeypatch):
    monkeypatch.setenv(package.TEMPLATE_URL_VARIABLE, package.release_template_url())  # as packaging bakes
    (record,) = [record for record in artifacts_of(manifest, "seed") if record["key"] == variant.seed_key(VERSION)]
    assert record["answers"] == variant.answers and record["template"] == variant.template
    fresh = bake(variant.template, tmp_path, variant.answers)
    files = {
        path.relative_to(fresh).as_posix(): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode) & 0o111)
        for path in package.repo_files(fresh)
    }
    zipped = {name: (data, mode & 0o111) for name, (data, mode) in unzip(release.parent / record["key"]).items()}
    assert sorted(zipped) == sorted(files)
    assert [name for name in files if zipped[name][0] != files[name][0]] == []
    assert [name for name in files if bool(zipped[name][1]) != bool(files[name][1])] == []
    json.loads(zipped[".cruft.json"][0])  # the record of where the repo came from


def test_the_function_zip_holds_the_function_and_the_naming_helper(manifest, release):
    (record,) = artifacts_of(manifest, "function")
    contents = unzip(release.parent / record["key"])
    assert sorted(contents) == ["naming.py", "project_lifecycle.py"]
    for name, source in package.FUNCTION_SOURCES.items():
        assert contents[name][0] == source.read_bytes()


def test_the_kit_wheel_holds_the_kit_sources_and_its_command(manifest, release):
    (record,) = artifacts_of(manifest, "package")
    assert record["key"] == catalog.kit_wheel_key(VERSION)
    assert (record["distribution"], record["version"]) == ("mlops-template-kit", catalog.kit_version())
    contents = unzip(release.parent / record["key"])
    sources = catalog.KIT_DIR / "src" / "mlops_template_kit"
    # Subpackages too (deploy, local_endpoint): generated repos run them from the wheel.
    for source in sources.rglob("*.py"):
        name = source.relative_to(sources).as_posix()
        assert contents[f"mlops_template_kit/{name}"][0] == source.read_bytes(), name
    entry_points = next(data for name, (data, _) in contents.items() if name.endswith(".dist-info/entry_points.txt"))
    assert b"mlops-kit = mlops_template_kit.cli:main" in entry_points


def test_a_kit_that_does_not_build_stops_packaging_in_one_line(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "kit"
    broken.mkdir()
    # The kit's real build backend, but no source to ship: hatchling refuses to build.
    backend = '[build-system]\nrequires = ["hatchling==1.33.0"]\nbuild-backend = "hatchling.build"\n'
    (broken / "pyproject.toml").write_text(backend + '[project]\nname = "mlops-template-kit"\nversion = "0.1.0"\n')
    monkeypatch.setattr(catalog, "KIT_DIR", broken)
    monkeypatch.setattr(catalog, "all_variants", lambda: [])
    assert package.main(["--version", VERSION, "--dist", str(tmp_path / "dist")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: building the kit wheel failed: ")
    assert not (tmp_path / "dist" / VERSION).exists()


def test_every_kit_wheel_a_product_build_asks_for_is_in_the_manifest(manifest):
    packaged = {record["key"] for record in artifacts_of(manifest, "package")}
    bucket = "s3://mlops-project-templates-123456789012-us-east-1/"
    asked = set()
    for product in catalog.products():
        template = products.compose(product, VERSION)
        given = product_values(template)
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::CodeBuild::Project":
                continue
            for variable in resource["Properties"]["Environment"].get("EnvironmentVariables", []):
                if isinstance(variable, dict) and variable.get("Name") == "KIT_WHEEL_S3_URI":
                    asked.add(resolve(variable["Value"], template, given).removeprefix(bucket))
    assert asked == packaged


def test_product_templates_are_the_composed_templates_of_the_version(manifest, release):
    for product in catalog.products():
        path = release.parent / product.template_key(VERSION)
        assert path.read_text(encoding="utf-8") == products.render(product, VERSION)


def seed_keys(template: dict) -> set[str]:
    """Every seed key a product template can ask for, over all its Studio option values."""
    options = {
        name: spec["AllowedValues"]
        for name, spec in template["Parameters"].items()
        if name in {p for t in catalog.seed_templates() for p in catalog.studio_parameters(t).values()}
    }
    nodes = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CodeCommit::Repository":
            nodes.append(resource["Properties"]["Code"]["S3"]["Key"])
        if resource["Type"] == "Custom::SeedRepository":
            nodes.append(resource["Properties"]["SeedKey"])
    keys = set()
    for combination in itertools.product(*options.values()):
        values = dict(zip(options, combination, strict=True))
        keys |= {resolve(node, template, values) for node in nodes}
    return keys


def test_every_seed_key_a_product_can_ask_for_is_in_the_manifest(manifest, release):
    packaged = {record["key"] for record in artifacts_of(manifest, "seed")}
    asked = set()
    for product in catalog.products():
        template = products.load_cloudformation((release.parent / product.template_key(VERSION)).read_text())
        keys = seed_keys(template)
        assert keys and keys <= packaged, sorted(keys - packaged)
        asked |= keys
    assert asked == packaged, "every packaged seed is reachable from some product"


def test_manifest_describes_each_product_for_publishing(manifest):
    records = {record["product"]: record for record in artifacts_of(manifest, "product")}
    for product in catalog.products():
        assert records[product.key]["name"] == product.name
        assert records[product.key]["description"] == product.description


@pytest.mark.parametrize("version", ["v1.0", "1.0.0\n", "1.0.0\n\n", "1.0.0 "])
def test_a_bad_version_is_refused_in_one_line_and_writes_nothing(version, tmp_path, capsys):
    assert package.main(["--version", version, "--dist", str(tmp_path / "dist")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: version {version!r} is not allowed: use MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1"
    ]
    assert not (tmp_path / "dist").exists()


def test_a_failure_midway_leaves_no_release_and_no_scratch(tmp_path, monkeypatch):
    baked = []

    def failing_bake(template, output_dir, answers):
        baked.append(template)
        if len(baked) == 3:
            raise RuntimeError("disk full")
        return bake(template, output_dir, answers)

    monkeypatch.setattr(package, "bake", failing_bake)
    with pytest.raises(RuntimeError, match="disk full"):
        package.build_release(VERSION, tmp_path, report=lambda line: None)
    assert list(tmp_path.iterdir()) == []


def test_the_first_seed_of_each_template_is_a_combination_whose_own_tests_the_bake_tests_run():
    """The unzipped seeds' own tests are not run again here: each zip equals a fresh bake byte for
    byte (above, only `.cruft.json`'s template URL differs from an ordinary bake), and
    test_bake.py runs the repo's own tests on the covering array, whose first row is this seed's
    answers. This guard keeps that true if either list changes."""
    for template in catalog.seed_templates():
        first = catalog.variants(template)[0].answers
        assert first in bakery.covering_subset(template), (template, first)


# CodeBuild projects -> the seed template whose repository they build
BUILT_FROM = {"ModelBuild": "build-train", "ModelDeploy": "deploy"}
NAME_IN_INPUT = re.compile(r'"name":\s*"([A-Z_][A-Z0-9_]*)"')


def variables_given_to(template: dict, seed_template: str, given: dict[str, str]) -> dict[str, set[str]]:
    """Build spec file -> every variable CI sets for the repo of `seed_template`, with the product's
    conditions evaluated for these parameter values: on the CodeBuild projects, in CodePipeline
    build actions and in EventBridge StartBuild inputs."""
    flags = conditions_of(template, given)
    given_to: dict[str, set[str]] = {}
    for logical_id, resource in live_resources(template, given).items():
        (built,) = [name for prefix, name in BUILT_FROM.items() if logical_id.startswith(prefix)] or [None]
        if built != seed_template:
            continue
        properties = resolve(resource["Properties"], template, given, flags)
        if resource["Type"] == "AWS::CodeBuild::Project":
            names = given_to.setdefault(properties["Source"]["BuildSpec"], set())
            names |= {item["Name"] for item in properties["Environment"]["EnvironmentVariables"] if item}
        elif resource["Type"] == "AWS::CodePipeline::Pipeline":
            for stage in properties["Stages"]:
                for action in stage["Actions"]:
                    extra = action["Configuration"].get("EnvironmentVariables")
                    if extra:
                        given_to.setdefault("build_spec.yml", set()).update(item["name"] for item in json.loads(extra))
        elif resource["Type"] == "AWS::Events::Rule":
            for target in properties["Targets"]:
                text = target.get("InputTransformer", {}).get("InputTemplate", "")
                given_to.setdefault("build_spec.yml", set()).update(NAME_IN_INPUT.findall(text))
    return given_to


def product_values(template: dict, **overrides: str) -> dict[str, str]:
    """Parameter values for evaluating a product: its defaults, a project identity, pseudo parameters."""
    given = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    given |= {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    given |= {"SageMakerProjectName": "churn", "SageMakerProjectId": "p-1", "ModelPackageGroupName": "shared-models"}
    return given | overrides


@pytest.mark.parametrize("source_control", ["CodeCommit", "CodeConnections"])
def test_every_build_spec_and_variable_a_product_gives_ci_is_used_by_the_seeds(manifest, release, source_control):
    checked = 0
    for product in catalog.products():
        template = products.compose(product, VERSION)
        for record in artifacts_of(manifest, "seed"):
            if record["template"] not in product.seeds:
                continue
            studio = catalog.studio_parameters(record["template"])
            given = product_values(template, SourceControl=source_control)
            given |= {studio[option]: value for option, value in record["answers"].items() if option in studio}
            files = unzip(release.parent / record["key"])
            text = b"\n".join(data for data, _ in files.values())
            for spec, names in variables_given_to(template, record["template"], given).items():
                assert spec in files, f"{product.key} runs {spec}, missing from {record['key']}"
                unread = sorted(name for name in names if name.encode() not in text)
                assert not unread, f"{record['key']} never reads {unread}, which {product.key} sets"
                checked += 1
    assert checked


def test_feature_branch_variables_reach_only_multi_branch_seeds():
    template = products.compose(catalog.product("build-train"), VERSION)
    given = product_values(template)
    single = variables_given_to(template, "build-train", given)["build_spec.yml"]
    multi = variables_given_to(template, "build-train", {**given, "MultiBranch": "yes"})["build_spec.yml"]
    assert not single & {"MAIN_BRANCH", "BRANCH_NAME", "BRANCH_ACTION", "APPROVE_ON_MERGE"}
    assert {"MAIN_BRANCH", "BRANCH_NAME", "BRANCH_ACTION", "APPROVE_ON_MERGE"} <= multi


# --- the same commit, cloned at different paths, packages to the same bytes --------------------

PACKAGE_ONE_SEED = """
import sys
from pathlib import Path
from scripts import catalog, package
catalog.all_variants = lambda: [catalog.variants("deploy")[0]]  # one seed keeps this test fast
package.build_release("1.0.0", Path(sys.argv[1]), report=lambda line: None)
"""


def commit_of_the_working_tree(target: Path) -> None:
    """The checkout's files (tracked and new, not ignored) committed as a one-commit repository,
    so the test packages the code under test rather than the last commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=catalog.REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = catalog.REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)


def package_in(checkout: Path, dist: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key != package.TEMPLATE_URL_VARIABLE}
    command = [sys.executable, "-c", PACKAGE_ONE_SEED, str(dist)]
    result = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return package.load_manifest(dist / VERSION)


def test_two_clones_of_one_commit_at_different_paths_package_identical_bytes(tmp_path):
    first = tmp_path / "a"
    first.mkdir()
    commit_of_the_working_tree(first)
    second = tmp_path / "ci" / "workspace-2" / "clone"
    subprocess.run(["git", "clone", "-q", str(first), str(second)], check=True, capture_output=True)
    manifests = [package_in(first, tmp_path / "dist-a"), package_in(second, tmp_path / "dist-b")]
    assert [record["key"] for record in manifests[0]["artifacts"]] == [r["key"] for r in manifests[1]["artifacts"]]
    assert {record["key"]: record["sha256"] for record in manifests[0]["artifacts"]} == {
        record["key"]: record["sha256"] for record in manifests[1]["artifacts"]
    }
    (seed,) = artifacts_of(manifests[1], "seed")
    record = json.loads(unzip(tmp_path / "dist-b" / seed["key"])[".cruft.json"][0])
    assert record["template"] == "" and str(tmp_path) not in json.dumps(record)
