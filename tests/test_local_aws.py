"""The local AWS services of the by-hand loop (mlops-kit local-aws) and each refusal on the way:
one line on stderr starting with `error:`, a non-zero exit, nothing written (issue 13)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from mlops_template_kit.local_aws import service
from tests import bakery

KIT_SRC = bakery.REPO_ROOT / "packages" / "mlops-template-kit" / "src"
GROUP = "loop-p-test0001"
PROJECT = {"project_name": "loop", "project_id": "p-test0001", "region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`mlops-kit ...` from this worktree's kit, with fake credentials (nothing reaches AWS)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(KIT_SRC), str(bakery.REPO_ROOT), os.environ.get("PYTHONPATH")])
        ),
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop(service.PORT_VARIABLE, None)
    command = [sys.executable, "-m", "mlops_template_kit.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exactly one line on stderr, naming what is wrong; a non-zero exit."""
    lines = result.stderr.splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "error: " in lines[0] and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture()
def project(tmp_path) -> Path:
    """A folder with the answers a generated repository records (what approve reads)."""
    (tmp_path / ".cruft.json").write_text(json.dumps({"context": {"cookiecutter": PROJECT}}), encoding="utf-8")
    return tmp_path


@pytest.fixture()
def moto_server():
    """An emulator this test owns, on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield port
    server.stop()


def local_clients(port: int):
    return service.client_factory(service.endpoint_url(port), "us-east-1")


def register(port: int, approval: str = "PendingManualApproval") -> str:
    sagemaker = local_clients(port)("sagemaker")
    with contextlib.suppress(sagemaker.exceptions.ClientError):
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=approval,
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://loop-bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def test_stop_and_start_keep_a_registered_model_and_an_s3_object(project):
    port = free_port()
    started = kit("local-aws", "start", "--port", str(port), cwd=project)
    try:
        assert started.returncode == 0 and f"127.0.0.1:{port}" in started.stdout, started.stderr
        again = kit("local-aws", "start", "--port", str(port), cwd=project)
        assert again.returncode == 0 and "already running" in again.stdout
        s3 = local_clients(port)("s3")
        s3.create_bucket(Bucket="loop-bucket")
        s3.put_object(Bucket="loop-bucket", Key="input/own data/rows.csv", Body=b"a,b\n1,2\n")
        first, second = register(port), register(port)
        approved = kit("local-aws", "approve", "--port", str(port), cwd=project)
        assert approved.returncode == 0 and approved.stdout.strip() == f"approved {second}", approved.stderr

        stopped = kit("local-aws", "stop", cwd=project)
        assert stopped.returncode == 0 and "saved 1 objects, 2 model packages" in stopped.stdout, stopped.stderr
        assert not service.answers(service.endpoint_url(port))
        assert kit("local-aws", "start", "--port", str(port), cwd=project).returncode == 0

        s3 = local_clients(port)("s3")
        assert s3.get_object(Bucket="loop-bucket", Key="input/own data/rows.csv")["Body"].read() == b"a,b\n1,2\n"
        packages = local_clients(port)("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)
        statuses = {
            item["ModelPackageArn"]: item["ModelApprovalStatus"] for item in packages["ModelPackageSummaryList"]
        }
        assert statuses == {first: "PendingManualApproval", second: "Approved"}
    finally:
        kit("local-aws", "stop", cwd=project)
    assert not (project / service.FOLDER_NAME / "server.pid").exists()


def test_stop_and_status_when_nothing_runs_say_so_and_succeed(tmp_path):
    for action, expected in (("stop", "nothing to stop"), ("status", "not running")):
        result = kit("local-aws", action, cwd=tmp_path)
        assert result.returncode == 0 and expected in result.stdout and not result.stderr
    assert files_under(tmp_path) == set()


def test_a_stale_pid_file_is_removed_not_trusted(tmp_path):
    folder = service.Folder(tmp_path / service.FOLDER_NAME)
    folder.root.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder.pid_file.write_text(f"{dead.pid}\n")
    folder.endpoint_file.write_text(f"{service.endpoint_url(free_port())}\n")
    result = kit("local-aws", "status", cwd=tmp_path)
    assert result.returncode == 0 and "not running" in result.stdout
    assert not folder.pid_file.exists() and not folder.endpoint_file.exists()


def test_a_live_pid_that_is_not_our_server_is_never_stopped(tmp_path):
    """A reused pid (here this test's own process) with nothing answering is stale, not a target."""
    folder = service.Folder(tmp_path / service.FOLDER_NAME)
    folder.root.mkdir()
    folder.pid_file.write_text(f"{os.getpid()}\n")
    folder.endpoint_file.write_text(f"{service.endpoint_url(free_port())}\n")
    assert service.find(folder) is None and not folder.pid_file.exists()


def test_start_on_a_port_where_other_services_answer_is_refused(tmp_path, moto_server):
    result = kit("local-aws", "start", "--port", str(moto_server), cwd=tmp_path)
    assert_refused(result, f"127.0.0.1:{moto_server}", "LOCAL_AWS_PORT")
    assert files_under(tmp_path) == set()


def test_start_without_a_port_is_refused(tmp_path):
    assert_refused(kit("local-aws", "start", cwd=tmp_path), "--port", "LOCAL_AWS_PORT")


def test_approve_without_running_services_is_refused(project):
    before = files_under(project)
    result = kit("local-aws", "approve", "--port", str(free_port()), cwd=project)
    assert_refused(result, "not running", "make local-aws-start")
    assert files_under(project) == before


def test_approve_with_nothing_registered_is_refused(project, moto_server):
    before = files_under(project)
    result = kit("local-aws", "approve", "--port", str(moto_server), cwd=project)
    assert_refused(result, f"no model is registered in {GROUP}", "make local-run")
    assert files_under(project) == before


def test_approve_takes_the_highest_version_not_the_first_listed(moto_server):
    from mlops_template_kit.local_aws.approve import approve_newest

    arns = [register(moto_server) for _ in range(3)]
    sagemaker = local_clients(moto_server)("sagemaker")
    assert approve_newest(sagemaker, GROUP) == arns[-1]
    described = sagemaker.describe_model_package(ModelPackageName=arns[-1])
    assert described["ModelApprovalStatus"] == "Approved"


def test_a_failed_save_keeps_the_previous_state(tmp_path):
    from mlops_template_kit.local_aws import state

    saved = tmp_path / "state"
    saved.mkdir()
    (saved / state.MANIFEST).write_text("{}")

    def broken(name, region=None):
        raise RuntimeError("the server went away")

    with pytest.raises(RuntimeError):
        state.save(broken, saved)
    assert (saved / state.MANIFEST).read_text() == "{}"


@pytest.fixture(scope="module")
def build_train(tmp_path_factory) -> Path:
    return bakery.bake("build-train", tmp_path_factory.mktemp("refusals"))


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Path:
    return bakery.bake("deploy", tmp_path_factory.mktemp("refusals-deploy"))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("../no-such-folder", ["InputDataUrl ../no-such-folder does not exist", "DATA=<path>"]),
        ("s3://someone-elses-bucket/input/", ["bucket someone-elses-bucket does not exist", "DATA=<path>"]),
    ],
    ids=["missing path", "other bucket"],
)
def test_local_run_refuses_an_input_it_cannot_read_before_writing_anything(build_train, value, words):
    before = files_under(build_train)
    result = kit("local-run", "--param", f"InputDataUrl={value}", cwd=build_train)
    assert_refused(result, *words)
    assert files_under(build_train) == before


def test_local_run_refuses_a_bucket_the_running_services_lack(build_train, moto_server):
    before = files_under(build_train)
    result = kit(
        "local-run",
        "--local-aws-port",
        str(moto_server),
        "--param",
        "InputDataUrl=s3://someone-elses-bucket/x/",
        cwd=build_train,
    )
    assert_refused(result, "bucket someone-elses-bucket does not exist in the local AWS services")
    assert files_under(build_train) == before


def test_test_local_refuses_a_model_path_without_test_data(deploy, tmp_path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not read")
    before = files_under(deploy)
    result = kit("local-endpoint", "--repo-root", str(deploy), "test", "--model", str(model), cwd=deploy)
    assert_refused(result, "TEST_DATA=", "MODEL=registry")
    assert files_under(deploy) == before


def test_test_local_refuses_test_data_that_does_not_exist(deploy, tmp_path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not read")
    result = kit(
        "local-endpoint", "--repo-root", str(deploy), "test", "--model", str(model), "--test-data", "nope", cwd=deploy
    )
    assert_refused(result, "TEST_DATA=nope: no such file or folder")


def test_local_input_lands_in_a_folder_of_its_own_under_the_input_prefix(tmp_path, moto_server):
    from mlops_template_kit.local_run import input_data
    from mlops_template_kit.local_run.storage import Storage

    own = tmp_path / "My Data"
    (own / "part").mkdir(parents=True)
    (own / "a.csv").write_text("x\n1\n")
    (own / "part" / "b.csv").write_text("x\n2\n")
    s3 = local_clients(moto_server)("s3")
    s3.create_bucket(Bucket="loop-bucket")
    s3.put_object(Bucket="loop-bucket", Key="loop/input/My-Data/removed.csv", Body=b"x\n0\n")
    uri, count = input_data.upload(Storage(s3), own, "s3://loop-bucket/loop/input")
    assert (uri, count) == ("s3://loop-bucket/loop/input/My-Data/", 2)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="loop-bucket")["Contents"]}
    assert keys == {"loop/input/My-Data/a.csv", "loop/input/My-Data/part/b.csv"}
