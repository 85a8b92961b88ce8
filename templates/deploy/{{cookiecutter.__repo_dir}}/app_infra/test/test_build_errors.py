"""The build step's guards: nothing approved, an unreadable model artifact, a reproducible archive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlops_template_kit.deploy import build, stacks
from mlops_template_kit.deploy.errors import DeployError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_lambda_archive_is_reproducible():
    if not (REPO_ROOT / stacks.LAMBDA_CODE_DIR).is_dir():
        pytest.skip("this repository has no API")
    first = build.code_archive(REPO_ROOT / stacks.LAMBDA_CODE_DIR)
    assert first == build.code_archive(REPO_ROOT / stacks.LAMBDA_CODE_DIR)


def test_nothing_approved_stops_the_build_and_keeps_the_old_output(aws, settings, tmp_path):
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=settings.model_package_group)
    output = tmp_path / "build"
    output.mkdir()
    (output / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DeployError, match="no Approved model package"):
        build.build(settings, output, aws)
    assert (output / "manifest.json").read_text(encoding="utf-8") == "{}"
    assert not (tmp_path / "build.partial").exists()


def test_a_model_artifact_without_metadata_is_refused(aws, settings, register_package, tmp_path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=settings.artifact_bucket)
    s3.put_object(Bucket=settings.artifact_bucket, Key="model.tar.gz", Body=b"not a tarball")
    client = aws.client("sagemaker")
    client.create_model_package_group(ModelPackageGroupName=settings.model_package_group)
    register_package(client, settings.model_package_group, "Approved", f"s3://{settings.artifact_bucket}/model.tar.gz")
    with pytest.raises(DeployError, match="metadata.json"):
        build.build(settings, tmp_path / "build", aws)


@pytest.mark.slow
def test_command_line_reports_one_line_when_nothing_is_approved(tmp_path):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
        result = subprocess.run(
            [sys.executable, "-m", "mlops_template_kit.cli", "deploy-build", "--output-dir", str(tmp_path / "build")],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        server.stop()
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Approved model package")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "build").exists()
