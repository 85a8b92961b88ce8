"""Generated repos pin the kit and `make setup` finds it on every path: the monorepo venv (tests,
demo), the release wheel in S3 (Studio builds), a folder of wheels, or the template commit their
`.cruft.json` records (a laptop bake from a git URL or a local checkout)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from hooks import options, post_gen
from scripts import catalog, package, products
from tests import bakery

INSTALLER = "tools/install_kit.py"
VERSION = tomllib.loads((bakery.REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
PIN = f"mlops-template-kit=={VERSION}"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def load_installer():
    spec = importlib.util.spec_from_file_location(
        "install_kit_under_test", bakery.payload_dir("build-train") / INSTALLER
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def installer(tmp_path, monkeypatch):
    """The installer, run from a generated repo's root (it reads requirements.txt and .cruft.json there)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text(f"boto3==1.44.5\n# the kit\n{PIN}\n")
    return load_installer()


# --- one installer, one pin -----------------------------------------------------------------------


# Written once in build-train's payload and linked from deploy's: the kit installer and the
# environment setup both Makefiles include.
SHARED_TOOLS = (INSTALLER, "tools/environment.mk")


@pytest.mark.parametrize("shared", SHARED_TOOLS)
def test_shared_tools_have_one_source_and_every_bake_and_seed_carries_a_regular_file(baked, tmp_path, shared):
    """build-train's payload holds the file, deploy's links to it; cookiecutter renders the link's
    target, so bakes (and the seed zips `make package` makes of them) hold a plain file."""
    source = bakery.payload_dir("build-train") / shared
    link = bakery.payload_dir("deploy") / shared
    assert not source.is_symlink() and link.is_symlink() and link.resolve() == source.resolve()
    for name in ("build-train", "deploy"):
        project = baked(name, {})
        assert not (project / shared).is_symlink()
        assert (project / shared).read_bytes() == source.read_bytes()
        package.zip_repo(project, tmp_path / f"{name}.zip")
        with zipfile.ZipFile(tmp_path / f"{name}.zip") as seed:
            assert stat.S_ISREG(seed.getinfo(shared).external_attr >> 16)
            assert seed.read(shared) == source.read_bytes()


@pytest.mark.parametrize("name", ["build-train", "deploy"])
def test_a_bake_pins_the_kit_at_the_template_version_and_carries_no_copy_of_it(cookies, name):
    result = cookies.bake(template=str(bakery.template_dir(name)))
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    assert (project / options.REQUIREMENTS_FILE).read_text().splitlines()[-1] == PIN
    assert not list(project.rglob("naming.py")) and not (project / "tools" / "template_update.py").exists()
    makefile = (project / "Makefile").read_text()
    assert "include tools/environment.mk" in makefile
    assert "$(BIN)/python tools/install_kit.py" in (project / "tools" / "environment.mk").read_text()
    assert "update: setup" in makefile and "$(BIN)/mlops-kit update" in makefile
    # `mlops-kit update` renders templates: every repo's environment must have cookiecutter.
    assert any(line.startswith("cookiecutter==") for line in (project / options.REQUIREMENTS_FILE).read_text().split())
    # The local runner, the definition reader and the data layout come from the kit too.
    for moved in ("local_run", "pipeline_definition.py", "data_layout.py", "dag.py"):
        assert not list(project.rglob(moved)), moved
    if name == "build-train":
        assert "$(BIN)/mlops-kit local-run" in makefile
        # The pipeline's settings, branches, SDK plumbing, upload and commands come from the kit:
        # the team's module keeps the step graph, and nothing in the repo calls it as a script.
        for moved in ("settings.py", "branches.py", "ml_pipelines/training/__init__.py"):
            assert not list(project.rglob(moved)), moved
        module = (project / "ml_pipelines" / "training" / "ml-pipeline-training.py").read_text()
        for machinery in ("def upload_code", "def upsert", "def from_env", "def main(", "PipelineSession(", "{{", "{%"):
            assert machinery not in module, machinery
        assert "$(BIN)/mlops-kit pipeline definition" in makefile
        build_spec = (project / "build_spec.yml").read_text()
        assert "ml-pipeline-training.py" not in build_spec and ".venv/bin/mlops-kit pipeline upsert" in build_spec


def test_every_ci_spec_installs_the_kit_before_the_requirements_that_pin_it(baked):
    """The pinned kit is on no public index: each CodeBuild spec runs the installer (which reads
    KIT_WHEEL_S3_URI) before installing requirements.txt, directly or through `make setup`."""
    for name, specs in (
        ("build-train", ["build_spec.yml"]),
        ("deploy", ["build_spec.yml", "deploy_spec.yml", "test_spec.yml"]),
    ):
        project = baked(name, {})
        for spec in specs:
            text = (project / spec).read_text()
            if "make setup" in text:
                continue
            assert "python tools/install_kit.py" in text, spec
            assert text.index("python tools/install_kit.py") < text.index("-r requirements.txt"), spec


def test_the_pin_follows_the_root_version(tmp_path):
    (tmp_path / "requirements.txt").write_text("boto3==1.44.5\n")
    post_gen.pin_kit(tmp_path, "7.1.0")
    assert (tmp_path / "requirements.txt").read_text().splitlines()[-1] == "mlops-template-kit==7.1.0"
    assert post_gen.template_version(bakery.REPO_ROOT) == VERSION


# --- which installer fills the environment ---------------------------------------------------------


def makefile_variable(makefile: Path, name: str) -> str:
    (value,) = [
        line.split(":=", 1)[1].strip() for line in makefile.read_text().splitlines() if line.startswith(f"{name} :=")
    ]
    return value


@pytest.mark.parametrize("name", ["build-train", "deploy"])
def test_every_generated_repo_pins_the_monorepo_uv_in_one_place(baked, name):
    project = baked(name, {})
    pin = makefile_variable(bakery.REPO_ROOT / "Makefile", "UV_VERSION")
    environment = project / "tools" / "environment.mk"
    assert makefile_variable(environment, "UV_VERSION") == pin
    stating_it = [path for path in project.rglob("*") if path.is_file() and pin in path.read_text(errors="replace")]
    assert stating_it == [environment]


def make_dry_run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "setup", *args], cwd=project, capture_output=True, text=True)


@pytest.mark.parametrize("name", ["build-train", "deploy"])
def test_setup_installs_with_uv_unless_pip_is_asked_for(baked, tmp_path, name):
    project = baked(name, {})
    venv = f"VENV={tmp_path / 'fresh'}"  # not there yet: setup creates it
    with_uv = make_dry_run(project, venv).stdout
    assert "uv==" in with_uv and "KIT_INSTALLER=uv " in with_uv
    assert "/bin/uv pip install --python" in with_uv
    with_pip = make_dry_run(project, venv, "INSTALLER=pip").stdout
    assert (
        "uv==" not in with_pip
        and "/bin/uv" not in with_pip
        and "KIT_INSTALLER=pip " in with_pip
        and "-m pip install" in with_pip
    )
    wrong = make_dry_run(project, venv, "INSTALLER=conda")
    assert wrong.returncode != 0 and "INSTALLER must be uv or pip, not 'conda'" in wrong.stderr


def test_an_existing_environment_named_by_venv_is_never_reinstalled(baked):
    """The template's tests and `make demo` pass the monorepo venv: a fresh bake's requirements.txt
    is newer than its stamp, and setup must still leave it alone."""
    project = baked("build-train", {})
    (project / "requirements.txt").touch()
    dry = make_dry_run(project, f"VENV={Path(sys.executable).parent.parent}")
    assert dry.returncode == 0 and "install" not in dry.stdout and "venv" not in dry.stdout


def test_the_installer_follows_kit_installer(installer, tmp_path, monkeypatch):
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    monkeypatch.setattr(installer.sys, "executable", str(python))
    assert installer.install_command({})[1:3] == ["-m", "pip"]
    assert installer.install_command({"KIT_INSTALLER": "pip"})[1:3] == ["-m", "pip"]
    with pytest.raises(installer.KitSourceError, match="bin/uv does not exist"):
        installer.install_command({"KIT_INSTALLER": "uv"})
    (python.parent / "uv").touch()
    uv = installer.install_command({"KIT_INSTALLER": "uv"})
    assert uv == [str(python.parent / "uv"), "pip", "install", "--python", str(python)]


def test_an_unknown_installer_is_refused_in_one_line_before_anything_is_fetched(installer, capsys, monkeypatch):
    monkeypatch.setenv("KIT_INSTALLER", "conda")
    monkeypatch.setattr(installer, "pip_install", lambda *args: pytest.fail(f"installed: {args}"))
    assert installer.main() == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "error: KIT_INSTALLER 'conda' is neither uv nor pip"


# --- where the kit comes from ----------------------------------------------------------------------


def test_the_pinned_version_is_read_from_requirements(installer, tmp_path):
    assert installer.pinned(tmp_path / "requirements.txt", "mlops-template-kit") == VERSION
    (tmp_path / "requirements.txt").write_text("boto3==1.44.5\n")
    with pytest.raises(installer.KitSourceError, match="pins no mlops-template-kit==<version>"):
        installer.pinned(tmp_path / "requirements.txt", "mlops-template-kit")


def test_a_folder_of_wheels_is_used_without_any_index(installer, tmp_path):
    args = installer.pip_arguments(VERSION, {"KIT_FIND_LINKS": "/wheels"}, tmp_path)
    assert args == ["--no-index", "--find-links", "/wheels", PIN]


def test_a_package_index_serves_only_the_kit(installer, tmp_path):
    args = installer.pip_arguments(VERSION, {"KIT_INDEX_URL": "https://pypi.example.com/simple"}, tmp_path)
    assert args == ["--no-deps", "--index-url", "https://pypi.example.com/simple", PIN]


def test_without_settings_the_recorded_git_url_and_commit_are_used(installer, tmp_path):
    record = {"template": "https://github.com/example/templates.git", "commit": "a" * 40}
    (tmp_path / ".cruft.json").write_text(json.dumps(record))
    assert installer.pip_arguments(VERSION, {}, tmp_path) == [
        f"mlops-template-kit @ git+https://github.com/example/templates.git@{'a' * 40}"
        "#subdirectory=packages/mlops-template-kit"
    ]


def test_a_local_checkout_is_installed_at_the_recorded_commit(installer, tmp_path):
    checkout = tmp_path / "templates-checkout"
    checkout.mkdir()
    (tmp_path / ".cruft.json").write_text(json.dumps({"template": str(checkout), "commit": "b" * 40}))
    (requirement,) = installer.pip_arguments(VERSION, {}, tmp_path)
    assert requirement.startswith(f"mlops-template-kit @ git+file://localhost{checkout}@{'b' * 40}#")


@pytest.mark.parametrize("record", [None, {"template": "", "commit": "c" * 40}, {"template": "x", "commit": None}])
def test_no_source_at_all_is_refused_in_one_line(installer, tmp_path, capsys, record):
    if record is not None:
        (tmp_path / ".cruft.json").write_text(json.dumps(record))
    installer.installed = lambda name: None
    assert installer.main() == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "KIT_FIND_LINKS" in line


def test_an_installed_pinned_kit_is_kept(installer, monkeypatch):
    """The template's tests and `make demo` share the monorepo venv, which has the kit editable."""
    monkeypatch.setattr(installer, "pip_install", lambda *args: pytest.fail(f"pip ran: {args}"))
    installer.installed = lambda name: VERSION
    assert installer.main() == 0


@pytest.mark.parametrize("uri", ["https://bucket/kit.whl", "s3://bucket/kit.zip"])
def test_a_wheel_uri_that_is_not_s3_is_refused(installer, tmp_path, uri):
    with pytest.raises(installer.KitSourceError, match="is not an s3://bucket/key.whl URI"):
        installer.pip_arguments(VERSION, {"KIT_WHEEL_S3_URI": uri}, tmp_path)


@mock_aws
def test_the_release_wheel_is_downloaded_from_s3(installer, tmp_path, monkeypatch):
    bucket, key = f"mlops-project-templates-123456789012-{os.environ['AWS_REGION']}", catalog.kit_wheel_key("1.4.0")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=b"wheel bytes")
    installed_boto3 = []
    monkeypatch.setattr(installer, "pip_install", installed_boto3.append)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = installer.pip_arguments(VERSION, {"KIT_WHEEL_S3_URI": f"s3://{bucket}/{key}"}, scratch)
    assert args == ["--no-index", "--find-links", str(scratch), PIN]
    assert (scratch / catalog.kit_wheel_name()).read_bytes() == b"wheel bytes"
    assert installed_boto3 == ["boto3==1.44.5"]
    with pytest.raises(installer.KitSourceError, match="downloading s3://"):
        installer.pip_arguments(VERSION, {"KIT_WHEEL_S3_URI": f"s3://{bucket}/1.4.0/packages/missing.whl"}, scratch)


def codebuild_environments(template: dict) -> dict[str, list]:
    return {
        name: resource["Properties"]["Environment"].get("EnvironmentVariables", [])
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CodeBuild::Project"
    }


@pytest.mark.parametrize("product", catalog.products(), ids=lambda product: product.key)
def test_every_product_build_is_told_where_its_release_wheel_is(product):
    """Seed check-in projects aside, every CodeBuild project runs `make setup` and gets the URI."""
    template = products.compose(product, "1.4.0")
    assert template["Mappings"]["Release"]["Artifacts"] == {"Version": "1.4.0", "KitWheel": catalog.kit_wheel_name()}
    for name, variables in codebuild_environments(template).items():
        names = [variable.get("Name") for variable in variables if isinstance(variable, dict)]
        if "SAGEMAKER_PROJECT_ID" in names:
            (kit,) = [variable for variable in variables if variable.get("Name") == "KIT_WHEEL_S3_URI"]
            pattern, values = kit["Value"]["Fn::Sub"]
            assert pattern == (
                "s3://mlops-project-templates-${AWS::AccountId}-${AWS::Region}/${Version}/packages/${Wheel}"
            ), name
            assert values["Wheel"] == {"Fn::FindInMap": ["Release", "Artifacts", "KitWheel"]}


# --- real installs into fresh environments (slow: a venv and pip each) ---------------------------


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return path / "bin" / "python"


def run_installer(python: Path, project: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KIT_")}
    return subprocess.run(
        [str(python), INSTALLER], cwd=project, env={**environment, **(env or {})}, capture_output=True, text=True
    )


def installed_kit(python: Path) -> str:
    probe = "from importlib.metadata import version; print(version('mlops-template-kit'))"
    return subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="session")
def kit_wheels(tmp_path_factory) -> Path:
    """The kit's wheel, built once per session, as `make package` builds it."""
    from scripts.package import package_kit

    release = tmp_path_factory.mktemp("release") / "9.9.9"
    release.mkdir()
    record = package_kit(release, tmp_path_factory.mktemp("scratch"))
    return (release.parent / record["key"]).parent


@pytest.mark.slow
@pytest.mark.parametrize("installer_name", ["pip", "uv"])
def test_a_new_environment_installs_the_kit_from_a_folder_of_wheels_offline(
    kit_wheels, tmp_path, cookies, installer_name
):
    project = Path(cookies.bake(template=str(bakery.template_dir("deploy"))).project_path)
    python = fresh_venv(tmp_path / "venv")
    if installer_name == "uv":  # where `make setup` puts its pinned uv; the tests' venv has the same pin
        (python.parent / "uv").symlink_to(Path(sys.executable).parent / "uv")
    result = run_installer(python, project, {"KIT_FIND_LINKS": str(kit_wheels), "KIT_INSTALLER": installer_name})
    assert result.returncode == 0, result.stderr
    assert installed_kit(python) == VERSION


@pytest.mark.slow
def test_a_laptop_bake_from_a_git_checkout_installs_the_kit_of_its_commit(tmp_path, monkeypatch):
    """The recorded template is a local git checkout: pip installs the kit at the recorded commit."""
    from cookiecutter.main import cookiecutter

    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TEMPLATE_REPO_URL", raising=False)
    clone = tmp_path / "template"
    git("clone", "--quiet", str(bakery.REPO_ROOT), str(clone), cwd=tmp_path)
    for folder in ("hooks", "packages/mlops-template-kit", "templates/build-train"):
        subprocess.run(["rm", "-rf", str(clone / folder)], check=True)
        subprocess.run(["cp", "-r", str(bakery.REPO_ROOT / folder), str(clone / folder)], check=True)
    git("add", "-A", cwd=clone)
    git("commit", "--quiet", "--allow-empty", "-m", "under test", cwd=clone)
    project = Path(cookiecutter(str(clone), directory="templates/build-train", no_input=True, output_dir=str(tmp_path)))
    record = json.loads((project / ".cruft.json").read_text())
    assert record["commit"] == git("rev-parse", "HEAD", cwd=clone).strip()
    python = fresh_venv(tmp_path / "venv")
    result = run_installer(python, project)
    assert result.returncode == 0, result.stderr
    assert installed_kit(python) == VERSION
    help_text = subprocess.run([str(python.parent / "mlops-kit"), "update", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--to REF" in help_text.stdout
