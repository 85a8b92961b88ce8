"""Refresh the AWS managed policy snapshots from IAM: `python -m authz.refresh`.

Why a command: AWS publishes new versions of managed policies without notice; the snapshots must be
refreshable by anyone with read-only IAM access, and the change must be visible before it is
committed. For each policy in versions.json it reads the policy's default version
(IAM GetPolicy -> DefaultVersionId, then GetPolicyVersion:
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetPolicyVersion.html), and only when every
policy was read does it rewrite the snapshots and versions.json, printing one line per policy.
Without credentials it prints one line and exits 2; on any AWS error it prints one line, exits 1
and writes nothing.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

POLICIES = Path(__file__).parent / "policies"


def main(client=None, root: Path = POLICIES) -> int:
    if client is None:
        session = boto3.Session()
        if session.get_credentials() is None:
            print("authz.refresh: no AWS credentials found; nothing refreshed", file=sys.stderr)
            return 2
        client = session.client("iam", region_name=session.region_name or "us-east-1")
    index = json.loads((root / "versions.json").read_text(encoding="utf-8"))
    try:
        fetched = {name: _fetch(client, entry["arn"]) for name, entry in index.items()}
    except NoCredentialsError:
        print("authz.refresh: no AWS credentials found; nothing refreshed", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"authz.refresh: {error}; nothing refreshed", file=sys.stderr)
        return 1
    for name, (version, date, document) in fetched.items():
        print(_summary(name, index[name]["version"], version, _read(root, name), document))
        (root / "aws-managed" / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        index[name].update(version=version, version_date=date)
    (root / "versions.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return 0


def _fetch(client, arn: str) -> tuple[str, str, dict]:
    version_id = client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    version = client.get_policy_version(PolicyArn=arn, VersionId=version_id)["PolicyVersion"]
    document = version["Document"]
    if isinstance(document, str):  # the raw API returns URL-encoded JSON; boto3 normally decodes it
        document = json.loads(urllib.parse.unquote(document))
    return version_id, version["CreateDate"].isoformat(), document


def _read(root: Path, name: str) -> dict | None:
    path = root / "aws-managed" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _summary(name: str, old_version: str, new_version: str, old: dict | None, new: dict) -> str:
    if old == new:
        return f"{name}: unchanged ({new_version})"
    before, after = _statements(old), _statements(new)
    added, removed = len(after - before), len(before - after)
    return f"{name}: {old_version} -> {new_version}: +{added}/-{removed} statements"


def _statements(document: dict | None) -> set[str]:
    if document is None:
        return set()
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return {json.dumps(statement, sort_keys=True) for statement in statements}


if __name__ == "__main__":
    sys.exit(main())
