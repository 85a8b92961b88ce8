"""authz.refresh against a stubbed IAM (botocore Stubber): no network, no credentials needed."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from authz import refresh

ROOT = Path(__file__).resolve().parents[1]
DATE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    shutil.copytree(refresh.POLICIES, tmp_path / "policies", ignore=shutil.ignore_patterns("*.py", "*.md"))
    return tmp_path / "policies"


def files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.json"))}


def stubbed(root: Path, changed: dict[str, dict], fail_at: str | None = None):
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    index = json.loads((root / "versions.json").read_text())
    for name, entry in index.items():
        arn = entry["arn"]
        if name == fail_at:
            stubber.add_client_error("get_policy", "NoSuchEntity", "policy not found", 404)
            break
        document = changed.get(name) or json.loads((root / "aws-managed" / f"{name}.json").read_text())
        version = "v99" if name in changed else entry["version"]
        stubber.add_response("get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": version}}, {"PolicyArn": arn})
        stubber.add_response(
            "get_policy_version",
            {
                "PolicyVersion": {
                    "Document": urllib.parse.quote(json.dumps(document)),
                    "VersionId": version,
                    "IsDefaultVersion": True,
                    "CreateDate": DATE,
                }
            },
            {"PolicyArn": arn, "VersionId": version},
        )
    stubber.activate()
    return client, stubber


def test_refresh_rewrites_changed_snapshots_and_reports_each_policy(snapshots, capsys):
    name = "AmazonSageMakerServiceCatalogProductsEventsServiceRolePolicy"
    new = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}
    client, stubber = stubbed(snapshots, {name: new})
    assert refresh.main(client=client, root=snapshots) == 0
    stubber.assert_no_pending_responses()
    out = capsys.readouterr().out.splitlines()
    assert f"{name}: v1 -> v99: +1/-1 statements" in out
    assert sum(line.endswith("unchanged (v12)") for line in out) == 1
    assert len(out) == len(json.loads((snapshots / "versions.json").read_text()))
    assert json.loads((snapshots / "aws-managed" / f"{name}.json").read_text()) == new
    entry = json.loads((snapshots / "versions.json").read_text())[name]
    assert entry["version"] == "v99" and entry["version_date"].startswith("2026-03-01")


def test_unchanged_policies_are_rewritten_byte_for_byte(snapshots):
    before = files(snapshots)
    client, _ = stubbed(snapshots, {})
    assert refresh.main(client=client, root=snapshots) == 0
    after = files(snapshots)
    assert {key: value for key, value in after.items() if key != "versions.json"} == {
        key: value for key, value in before.items() if key != "versions.json"
    }


def test_an_aws_error_writes_nothing(snapshots, capsys):
    before = files(snapshots)
    index = json.loads((snapshots / "versions.json").read_text())
    client, _ = stubbed(snapshots, {}, fail_at=list(index)[3])
    assert refresh.main(client=client, root=snapshots) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NoSuchEntity" in err[0]
    assert files(snapshots) == before


def test_without_credentials_it_prints_one_line_and_exits_2(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    before = files(refresh.POLICIES)
    result = subprocess.run(
        [sys.executable, "-m", "authz.refresh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert files(refresh.POLICIES) == before
