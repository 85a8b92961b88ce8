"""`make publish VERSION=x.y.z`: release a packaged version to Service Catalog and the S3 route.

  publish   --version V [--principal ROLE_ARN ...] [--publisher ARN ...] [--stage-account ID ...]
            [--studio-domain-id d-xxx] [--dry-run]
  deprecate --version V [--dry-run]      hide a version in Studio (Active=false, DEPRECATED)
  list                                    every published version of every product

What publish does, in this order (every step is a no-op when already done):
 1. the portfolio stack (servicecatalog/portfolio.yaml): portfolio, principal associations and
    the versioned `mlops-project-templates-<account>-<region>` bucket, whose policy lets only the
    publishers (the caller, plus --publisher) write it; created on first publish, updated when
    principals, publishers or the template change, recovered from a failed update first;
 2. check every artifact of dist/<version>/ against the bucket: an existing key with other
    content stops everything (versions are immutable) before anything is written;
 3. upload what is missing (sha256 checked by S3 and recorded as metadata, tagged
    servicecatalog:provisioning=true, the launch role's only way to read it), verify each upload
    and its tag, then the manifest;
 4. per product: create it (or find it by name), associate it with the portfolio, set the launch
    constraint, then commit: add the provisioning artifact named by the version (existing
    product) or the Studio visibility tag (new product, untagged until here);
 5. S3 route: tag the product templates `sagemaker:studio-visibility=true`, and with
    --studio-domain-id point the domain's `sagemaker:projectS3TemplatesLocation` at them.
A failure stops with one line naming the step; nothing half-done is visible in Studio, and
running the same command again finishes the release.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mlops_template_kit import naming
from scripts import catalog, package

PORTFOLIO_TEMPLATE = catalog.CATALOG_DIR / "portfolio.yaml"
VISIBILITY_TAG = "sagemaker:studio-visibility"
PROVISIONING_TAG = "servicecatalog:provisioning"
PROVISIONING = {"Key": PROVISIONING_TAG, "Value": "true"}
DOMAIN_TEMPLATES_TAG = "sagemaker:projectS3TemplatesLocation"
STACK_POLL_SECONDS = 10
# What a create or update of ours must end in.
STACK_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# States a stack can be updated from: the "last known stable state" list of the CloudFormation API
# reference (RollbackStack). UPDATE_ROLLBACK_COMPLETE is where a failed update returns the stack to
# a working state, "and then try to update the stack again" (API reference, ContinueUpdateRollback).
STACK_UPDATABLE = {*STACK_DONE, "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
# State -> what publish tells the user when it cannot carry on by itself.
STACK_STOPS = {
    "ROLLBACK_FAILED": "delete it (retain the resources it cannot delete), then run again",
    "DELETE_FAILED": "fix what its events name and delete it, then run again",
    "CREATE_FAILED": "roll it back or delete it, then run again",
    "UPDATE_FAILED": "roll it back (aws cloudformation rollback-stack), then run again",
    "REVIEW_IN_PROGRESS": "a change set created it and never ran: delete it, then run again",
}
CONTENT_TYPES = {".zip": "application/zip", ".yaml": "application/x-yaml", ".json": "application/json"}
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60)
NO_CREDENTIALS = (
    "publishing needs AWS credentials and none were found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or add --dry-run (with make: DRY_RUN=1) to see the plan without AWS"
)
sleep = time.sleep


class PublishError(RuntimeError):
    """A stop worth one line to the user: what failed, and why."""


@dataclass
class Clients:
    """The AWS clients publishing uses (tests stub or emulate them)."""

    sts: object
    iam: object
    cloudformation: object
    s3: object
    servicecatalog: object
    sagemaker: object
    region: str


@dataclass(frozen=True)
class Portfolio:
    """What the portfolio stack provides to every release."""

    portfolio_id: str
    bucket: str
    launch_role_arn: str
    provider: str


def make_clients(session: boto3.Session) -> Clients:
    """Clients for the session's region, with standard retries (throttling backs off)."""

    def client(service: str) -> object:
        return session.client(service, config=RETRIES)

    return Clients(
        client("sts"),
        client("iam"),
        client("cloudformation"),
        client("s3"),
        client("servicecatalog"),
        client("sagemaker"),
        session.region_name,
    )


def call(description: str, operation: Callable, **kwargs: object) -> dict:
    """One AWS call; any failure becomes a PublishError naming the step."""
    try:
        return operation(**kwargs)
    except ClientError as error:
        problem = error.response.get("Error", {})
        raise PublishError(f"{description}: {problem.get('Code', 'Error')}: {problem.get('Message', '')}") from None
    except BotoCoreError as error:
        raise PublishError(f"{description}: {error}") from None


def _missing(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def token(*parts: str) -> str:
    """A deterministic idempotency token: a retried create returns what the first one made."""
    return hashlib.sha256(":".join(parts).encode("utf-8")).hexdigest()[:64]


# --- who publishes ----------------------------------------------------------------------------

ASSUMED_ROLE = re.compile(r"arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+")


def publisher_arn(clients: Clients, identity: dict) -> str:
    """The caller as the bucket policy's aws:PrincipalArn sees it.

    For a role session that is the role's ARN, path included, never the session ARN (IAM User
    Guide, AWS global condition context keys, aws:PrincipalArn). The session ARN
    (`arn:aws:sts::<account>:assumed-role/<name>/<session>`) drops the path, so the role is read
    with iam:GetRole. Users, the root user and federated sessions are used as they are.
    """
    found = ASSUMED_ROLE.fullmatch(identity["Arn"])
    if found is None:
        return identity["Arn"]
    role = call(
        f"reading role {found['role']} (the publisher's ARN, with its path, goes into the bucket policy)",
        clients.iam.get_role,
        RoleName=found["role"],
    )
    return role["Role"]["Arn"]


# --- the portfolio stack ----------------------------------------------------------------------


def _stack(clients: Clients) -> dict | None:
    name = naming.portfolio_stack()
    try:
        return clients.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise PublishError(f"reading stack {name}: {error.response['Error'].get('Message', '')}") from None
    except BotoCoreError as error:
        raise PublishError(f"reading stack {name}: {error}") from None


def _wait_for_stack(clients: Clients, report: Callable[[str], None], done: set[str] = STACK_DONE) -> dict | None:
    """Poll the stack until it rests; return it when it rests in `done` (None: it is gone)."""
    name = naming.portfolio_stack()
    while True:
        stack = _stack(clients)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status in done:
            return stack
        if not status.endswith("_IN_PROGRESS"):
            reason = (stack or {}).get("StackStatusReason", "see the stack's events")
            raise PublishError(f"stack {name} ended {status}: {reason}")
        report(f"  waiting for stack {name} ({status})")
        sleep(STACK_POLL_SECONDS)


def recover_stack(clients: Clients, stack: dict | None, report: Callable[[str], None]) -> dict | None:
    """The stack in a state it can be updated from, or None when it must be created.

    UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback returns it to UPDATE_ROLLBACK_COMPLETE (API
    reference, ContinueUpdateRollback). ROLLBACK_COMPLETE: its creation failed and was rolled back,
    so it holds nothing and CloudFormation only allows deleting it; it is deleted and created anew.
    Any other resting state stops with one line saying what to do.
    """
    name = naming.portfolio_stack()
    status = stack["StackStatus"] if stack else None
    if stack is None or status in STACK_UPDATABLE:
        return stack
    if status == "UPDATE_ROLLBACK_FAILED":
        report(f"continue the rollback of stack {name} (a failed update left it {status})")
        cfn = clients.cloudformation
        call(f"continuing the rollback of stack {name}", cfn.continue_update_rollback, StackName=name)
        return _wait_for_stack(clients, report, {"UPDATE_ROLLBACK_COMPLETE"})
    if status == "ROLLBACK_COMPLETE":
        report(f"delete stack {name} (its creation failed and was rolled back; it holds nothing)")
        call(f"deleting stack {name}", clients.cloudformation.delete_stack, StackName=name)
        return _wait_for_stack(clients, report, {"DELETE_COMPLETE"})
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise PublishError(f"stack {name} is {status}: another operation is running; wait for it, then run again")
    reason = stack.get("StackStatusReason", "see the stack's events")
    todo = STACK_STOPS.get(status, "fix it in the CloudFormation console, then run again")
    raise PublishError(f"stack {name} is {status} ({reason}): {todo}")


# A stage account of multi-account projects: the platform key's policy lets it decrypt through S3.
ACCOUNT_ID = re.compile(r"[0-9]{12}")


def _stack_parameters(principals: list[str], publishers: list[str], stage_accounts: list[str] = ()) -> list[dict]:
    parameters = [
        {"ParameterKey": "PrincipalArns", "ParameterValue": ",".join(principals)},
        {"ParameterKey": "PublisherArns", "ParameterValue": ",".join(publishers)},
    ]
    # Always named once set: an update that leaves a parameter out gives it the template's
    # default (empty), which would take the stage accounts' key grant away.
    if stage_accounts:
        parameters.append({"ParameterKey": "StageAccountIds", "ParameterValue": ",".join(stage_accounts)})
    return parameters


def _checked_accounts(stage_accounts: list[str]) -> list[str]:
    bad = [account for account in stage_accounts if not ACCOUNT_ID.fullmatch(account)]
    if bad:
        raise PublishError(f"--stage-account {bad[0]!r} is not an AWS account id: use 12 digits")
    return sorted(set(stage_accounts))


def _list_parameter(stack: dict, key: str) -> list[str]:
    value = next((p["ParameterValue"] for p in stack.get("Parameters", []) if p["ParameterKey"] == key), "")
    return sorted(filter(None, value.split(",")))


def _publishers(stack: dict, caller: str, extra: list[str]) -> list[str]:
    """Who may write releases after this publish; refuse a caller the bucket policy locks out
    (its update of the policy would be denied, leaving the stack to roll back)."""
    current = _list_parameter(stack, "PublisherArns")
    if current and caller not in current:
        raise PublishError(
            f"{caller} is not a publisher of this account's releases ({', '.join(current)}): publish as one of "
            f"them, or have one of them run publish with --publisher {caller}"
        )
    return sorted({*current, caller, *extra})


def ensure_portfolio(
    clients: Clients,
    principals: list[str],
    report: Callable[[str], None],
    publisher: str,
    extra_publishers: list[str] = (),
    stage_accounts: list[str] = (),
) -> Portfolio:
    """Create the portfolio stack, or update it when principals, publishers, stage accounts or
    template changed. Stage accounts once given stay until others are given."""
    accounts = _checked_accounts(list(stage_accounts))
    name = naming.portfolio_stack()
    body = PORTFOLIO_TEMPLATE.read_text(encoding="utf-8")
    stack = recover_stack(clients, _stack(clients), report)
    options = {"StackName": name, "TemplateBody": body, "Capabilities": ["CAPABILITY_AUTO_EXPAND"]}
    if stack is None:
        if not principals:
            raise PublishError("the first publish creates the portfolio and needs --principal ROLE_ARN (Studio roles)")
        report(f"create stack {name} (portfolio, principals, templates bucket)")
        call(
            f"creating stack {name}",
            clients.cloudformation.create_stack,
            **options,
            Parameters=_stack_parameters(sorted(principals), sorted({publisher, *extra_publishers}), accounts),
            OnFailure="DELETE",
        )
        stack = _wait_for_stack(clients, report)
    else:
        wanted = sorted(principals) or _list_parameter(stack, "PrincipalArns")
        publishers = _publishers(stack, publisher, list(extra_publishers))
        current = call(f"reading stack {name}", clients.cloudformation.get_template, StackName=name)
        accounts = accounts or _list_parameter(stack, "StageAccountIds")
        given = tuple(_list_parameter(stack, key) for key in ("PrincipalArns", "PublisherArns", "StageAccountIds"))
        changed = (wanted, publishers, accounts) != given
        if changed or current.get("TemplateBody") != body:
            report(f"update stack {name}")
            call(
                f"updating stack {name}",
                clients.cloudformation.update_stack,
                **options,
                Parameters=_stack_parameters(wanted, publishers, accounts),
            )
            stack = _wait_for_stack(clients, report)
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return Portfolio(
        outputs["PortfolioId"], outputs["TemplatesBucketName"], outputs["LaunchRoleArn"], outputs["ProviderName"]
    )


# --- uploads -----------------------------------------------------------------------------------


def _head(clients: Clients, bucket: str, key: str) -> dict | None:
    try:
        return clients.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error, "404", "NoSuchKey", "NotFound"):
            return None
        raise PublishError(f"checking s3://{bucket}/{key}: {error.response['Error'].get('Code')}") from None
    except BotoCoreError as error:
        raise PublishError(f"checking s3://{bucket}/{key}: {error}") from None


def missing_artifacts(clients: Clients, bucket: str, artifacts: list[dict], version: str) -> list[dict]:
    """The artifacts not in the bucket yet; refuse when any key holds different content."""
    missing, conflicts = [], []
    for artifact in artifacts:
        head = _head(clients, bucket, artifact["key"])
        if head is None:
            missing.append(artifact)
        elif head.get("Metadata", {}).get("sha256") != artifact["sha256"]:
            conflicts.append(artifact["key"])
    if conflicts:
        raise PublishError(
            f"version {version} is already published with different content ({len(conflicts)} artifact(s), "
            f"e.g. {conflicts[0]}); versions are immutable: package and publish a new version"
        )
    return missing


def upload(clients: Clients, bucket: str, release: Path, artifact: dict) -> None:
    """Upload one artifact with its checksum and tags, then verify what S3 holds."""
    key = artifact["key"]
    data = (release.parent / key).read_bytes()
    if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
        raise PublishError(f"{release.parent / key} changed since it was packaged; run make package again")
    checksum = base64.b64encode(bytes.fromhex(artifact["sha256"])).decode("ascii")
    call(
        f"uploading s3://{bucket}/{key}",
        clients.s3.put_object,
        Bucket=bucket,
        Key=key,
        Body=data,
        ChecksumSHA256=checksum,
        Metadata={"sha256": artifact["sha256"]},
        ContentType=CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream"),
        Tagging=f"{PROVISIONING_TAG}=true",
    )
    head = _head(clients, bucket, key)
    if (
        head is None
        or head.get("Metadata", {}).get("sha256") != artifact["sha256"]
        or head["ContentLength"] != len(data)
    ):
        raise PublishError(f"verifying s3://{bucket}/{key}: the stored object is not what was uploaded")
    if PROVISIONING not in _object_tags(clients, bucket, key):
        raise PublishError(f"verifying s3://{bucket}/{key}: it lacks the tag {PROVISIONING_TAG}=true")


def _object_tags(clients: Clients, bucket: str, key: str) -> list[dict]:
    return call(f"reading tags of s3://{bucket}/{key}", clients.s3.get_object_tagging, Bucket=bucket, Key=key)["TagSet"]


def ensure_provisioning_tag(clients: Clients, bucket: str, key: str) -> None:
    """Tag an already published object servicecatalog:provisioning=true if it lost the tag
    (keeping its other tags): outside `sagemaker-*` buckets the launch role may read only objects
    with that tag (AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy, statement
    AmazonSageMakerServiceCatalogS3ReadPermission)."""
    tags = _object_tags(clients, bucket, key)
    if PROVISIONING in tags:
        return
    tag_set = [tag for tag in tags if tag["Key"] != PROVISIONING_TAG] + [PROVISIONING]
    where = f"s3://{bucket}/{key}"
    call(f"tagging {where}", clients.s3.put_object_tagging, Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})


def manifest_artifact(release: Path) -> dict:
    """The manifest as an artifact of its own, uploaded after everything it lists."""
    path = release / "manifest.json"
    return {"key": f"{release.name}/manifest.json", "sha256": package.sha256_of(path), "size": path.stat().st_size}


# --- Service Catalog ---------------------------------------------------------------------------


def find_product(clients: Clients, name: str) -> dict | None:
    """A product by name, as DescribeProductAsAdmin returns it, or None."""
    try:
        return clients.servicecatalog.describe_product_as_admin(Name=name)
    except ClientError as error:
        if _missing(error, "ResourceNotFoundException"):
            return None
        problem = error.response.get("Error", {})
        raise PublishError(
            f"looking up product {name!r}: {problem.get('Code')}: {problem.get('Message', '')}"
        ) from None
    except BotoCoreError as error:
        raise PublishError(f"looking up product {name!r}: {error}") from None


def template_url(bucket: str, region: str, key: str) -> str:
    """The HTTPS URL Service Catalog and SageMaker read a product template from."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def _artifact_parameters(record: dict, version: str, url: str) -> dict:
    return {
        "Name": version,
        "Description": f"Release {version}; template sha256:{record['sha256']}",
        "Info": {"LoadTemplateFromURL": url},
        "Type": "CLOUD_FORMATION_TEMPLATE",
    }


def ensure_association(clients: Clients, product_id: str, portfolio: Portfolio) -> None:
    """Associate the product with the portfolio unless it already is."""
    sc = clients.servicecatalog
    pages = sc.get_paginator("list_portfolios_for_product").paginate(ProductId=product_id)
    found = call(f"listing portfolios of {product_id}", lambda: [d["Id"] for p in pages for d in p["PortfolioDetails"]])
    if portfolio.portfolio_id not in found:
        call(
            f"associating {product_id} with {portfolio.portfolio_id}",
            sc.associate_product_with_portfolio,
            ProductId=product_id,
            PortfolioId=portfolio.portfolio_id,
        )


def ensure_launch_constraint(clients: Clients, product_id: str, portfolio: Portfolio) -> None:
    """Give the product a launch constraint in the portfolio unless it has one."""
    sc = clients.servicecatalog
    found = call(
        f"listing constraints of {product_id}",
        sc.list_constraints_for_portfolio,
        PortfolioId=portfolio.portfolio_id,
        ProductId=product_id,
    )
    if not any(item["Type"] == "LAUNCH" for item in found["ConstraintDetails"]):
        call(
            f"setting the launch constraint of {product_id}",
            sc.create_constraint,
            PortfolioId=portfolio.portfolio_id,
            ProductId=product_id,
            Type="LAUNCH",
            Parameters=json.dumps({"RoleArn": portfolio.launch_role_arn}),
            Description="Resources are created by the SageMaker launch role, not by the Studio user",
            IdempotencyToken=token("launch", portfolio.portfolio_id, product_id),
        )


def ensure_visibility_tag(clients: Clients, product_id: str, tags: list[dict]) -> None:
    """Tag the product so Studio lists it (the commit of a new product)."""
    if not any(tag["Key"] == VISIBILITY_TAG and tag["Value"] == "true" for tag in tags):
        call(
            f"tagging {product_id} for Studio",
            clients.servicecatalog.update_product,
            Id=product_id,
            AddTags=[{"Key": VISIBILITY_TAG, "Value": "true"}],
        )


def publish_product(clients: Clients, portfolio: Portfolio, record: dict, version: str) -> str:
    """Create or extend one product; the last call makes the version visible. Returns what happened."""
    sc = clients.servicecatalog
    url = template_url(portfolio.bucket, clients.region, record["key"])
    parameters = _artifact_parameters(record, version, url)
    idempotency = token("artifact", record["product"], version, record["sha256"])
    product = find_product(clients, record["name"])
    if product is None:
        created = call(
            f"creating product {record['name']!r}",
            sc.create_product,
            Name=record["name"],
            Owner=portfolio.provider,
            Distributor=portfolio.provider,
            Description=record["description"],
            ProductType="CLOUD_FORMATION_TEMPLATE",
            ProvisioningArtifactParameters=parameters,
            IdempotencyToken=idempotency,
        )
        product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        ensure_association(clients, product_id, portfolio)
        ensure_launch_constraint(clients, product_id, portfolio)
        ensure_visibility_tag(clients, product_id, [])
        return "created"
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    listed = call(f"listing versions of {record['name']!r}", sc.list_provisioning_artifacts, ProductId=product_id)
    same = [item for item in listed["ProvisioningArtifactDetails"] if item["Name"] == version]
    if same and same[0].get("Description") != parameters["Description"]:
        raise PublishError(
            f"{record['name']!r} already has a version {version} with another template; versions are immutable"
        )
    ensure_association(clients, product_id, portfolio)
    ensure_launch_constraint(clients, product_id, portfolio)
    outcome = "unchanged"
    if not same:
        call(
            f"adding version {version} to {record['name']!r}",
            sc.create_provisioning_artifact,
            ProductId=product_id,
            Parameters=parameters,
            IdempotencyToken=idempotency,
        )
        outcome = "new version"
    ensure_visibility_tag(clients, product_id, product.get("Tags", []))
    return outcome


# --- the S3 route ------------------------------------------------------------------------------


def show_in_studio(clients: Clients, bucket: str, key: str, visible: bool) -> None:
    """Set the Studio visibility tag of an S3-route product template (keeps the other tags)."""
    where = f"s3://{bucket}/{key}"
    tags = call(f"reading tags of {where}", clients.s3.get_object_tagging, Bucket=bucket, Key=key)["TagSet"]
    wanted = "true" if visible else "false"
    if {"Key": VISIBILITY_TAG, "Value": wanted} in tags:
        return
    tag_set = [tag for tag in tags if tag["Key"] != VISIBILITY_TAG] + [{"Key": VISIBILITY_TAG, "Value": wanted}]
    call(f"tagging {where}", clients.s3.put_object_tagging, Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})


def point_domain(clients: Clients, domain_id: str, account: str, partition: str, location: str) -> None:
    """Tag a Studio domain so its S3-route template list shows this release."""
    arn = f"arn:{partition}:sagemaker:{clients.region}:{account}:domain/{domain_id}"
    call(
        f"tagging domain {domain_id}",
        clients.sagemaker.add_tags,
        ResourceArn=arn,
        Tags=[{"Key": DOMAIN_TEMPLATES_TAG, "Value": location}],
    )


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A packaged release in dist/."""

    path: Path
    manifest: dict

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def of_kind(self, kind: str) -> list[dict]:
        return [record for record in self.manifest["artifacts"] if record["kind"] == kind]


def load_release(dist: Path, version: str) -> Release:
    """The packaged release of a version; refuse a missing or mismatched one."""
    catalog.check_version(version)
    path = dist / version
    if not (path / "manifest.json").is_file():
        raise PublishError(f"{path} has no packaged release: run make package VERSION={version} first")
    release = Release(path, package.load_manifest(path))
    if release.version != version:
        raise PublishError(f"{path}/manifest.json is for version {release.version}, not {version}")
    return release


def plan(release: Release, region: str, principals: list[str]) -> list[str]:
    """What publish would do, as lines (no AWS call)."""
    bucket = naming.templates_bucket("<account-id>", region or "<region>")
    artifacts = release.manifest["artifacts"]
    lines = [
        f"ensure stack {naming.portfolio_stack()} (principals: {', '.join(principals) or 'unchanged'}; "
        "publishers: the caller's role and any unchanged)"
    ]
    lines += [
        f"upload s3://{bucket}/{record['key']} ({record['size']} bytes, sha256 {record['sha256'][:12]})"
        for record in artifacts
    ]
    lines.append(f"upload s3://{bucket}/{release.version}/manifest.json")
    for record in release.of_kind("product"):
        lines.append(f"product {record['name']!r}: version {release.version}, launch constraint, Studio tag")
        lines.append(f"S3 route: tag s3://{bucket}/{record['key']} {VISIBILITY_TAG}=true")
    return lines


def publish(
    clients: Clients,
    release: Release,
    principals: list[str],
    report: Callable[[str], None],
    domain_id: str | None = None,
    publishers: list[str] = (),
    stage_accounts: list[str] = (),
) -> dict[str, str]:
    """Publish a packaged release (see the module docstring); returns each product's outcome."""
    identity = call("reading the caller identity", clients.sts.get_caller_identity)
    publisher = publisher_arn(clients, identity)
    portfolio = ensure_portfolio(clients, principals, report, publisher, publishers, stage_accounts)
    artifacts = sorted(release.manifest["artifacts"], key=lambda record: (record["kind"] == "product", record["key"]))
    everything = [*artifacts, manifest_artifact(release.path)]
    missing = missing_artifacts(clients, portfolio.bucket, everything, release.version)
    for artifact in everything:
        if artifact not in missing:
            ensure_provisioning_tag(clients, portfolio.bucket, artifact["key"])
    for number, artifact in enumerate(missing, start=1):
        report(f"[{number}/{len(missing)}] upload {artifact['key']} ({artifact['size']} bytes)")
        upload(clients, portfolio.bucket, release.path, artifact)
    outcomes = {}
    for record in release.of_kind("product"):
        report(f"product {record['name']!r}")
        outcomes[record["product"]] = publish_product(clients, portfolio, record, release.version)
        report(f"  {outcomes[record['product']]}")
    for record in release.of_kind("product"):
        show_in_studio(clients, portfolio.bucket, record["key"], visible=True)
    location = f"s3://{portfolio.bucket}/{release.version}/products/"
    if domain_id:
        partition = identity["Arn"].split(":")[1]
        point_domain(clients, domain_id, identity["Account"], partition, location)
    report(f"S3 route: tag a Studio domain {DOMAIN_TEMPLATES_TAG}={location} to offer these templates")
    return outcomes


def published_versions(clients: Clients) -> list[dict]:
    """Every provisioning artifact of every catalog product."""
    rows = []
    for product in catalog.products():
        found = find_product(clients, product.name)
        if found is None:
            continue
        product_id = found["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        listed = call(
            f"listing versions of {product.name!r}",
            clients.servicecatalog.list_provisioning_artifacts,
            ProductId=product_id,
        )
        for item in listed["ProvisioningArtifactDetails"]:
            rows.append({"product": product.name, "product_id": product_id, **item})
    return rows


def deprecate(clients: Clients, version: str, report: Callable[[str], None]) -> list[str]:
    """Deactivate a version of every product (Active=false, Guidance=DEPRECATED); refuse to
    leave a product with no active version. Returns the products changed."""
    catalog.check_version(version)
    rows = published_versions(clients)
    targets = [row for row in rows if row["Name"] == version]
    if not targets:
        raise PublishError(f"version {version} is not published; `list` shows what is")
    for target in targets:
        others = [row for row in rows if row["product_id"] == target["product_id"] and row["Name"] != version]
        if not any(row.get("Active", True) for row in others):
            raise PublishError(
                f"{version} is the only active version of {target['product']!r}; publish a newer one first"
            )
    changed = []
    for target in targets:
        if target.get("Active", True) or target.get("Guidance") != "DEPRECATED":
            report(f"deprecate {target['product']!r} {version}")
            call(
                f"deprecating {version} of {target['product']!r}",
                clients.servicecatalog.update_provisioning_artifact,
                ProductId=target["product_id"],
                ProvisioningArtifactId=target["Id"],
                Active=False,
                Guidance="DEPRECATED",
            )
            changed.append(target["product"])
    portfolio = _stack(clients)
    if portfolio is not None:
        bucket = {o["OutputKey"]: o["OutputValue"] for o in portfolio.get("Outputs", [])}["TemplatesBucketName"]
        for product in catalog.products():
            if _head(clients, bucket, product.template_key(version)) is not None:
                show_in_studio(clients, bucket, product.template_key(version), visible=False)
    return changed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Publish, deprecate and list releases of the project templates.")
    commands = parser.add_subparsers(dest="command", required=True)
    publish_command = commands.add_parser("publish", help="publish dist/<version>/ (make package first)")
    publish_command.add_argument("--version", required=True)
    publish_command.add_argument("--dist", type=Path, default=package.DIST_DIR)
    publish_command.add_argument("--principal", action="append", default=[], help="Studio execution role ARN")
    publish_command.add_argument(
        "--publisher", action="append", default=[], help="another role ARN allowed to write releases (with its path)"
    )
    publish_command.add_argument(
        "--stage-account",
        action="append",
        default=[],
        help="an account of multi-account projects' stages: may decrypt project artifacts through S3 (kept once given)",
    )
    publish_command.add_argument("--studio-domain-id", help="point this domain's S3 templates at the release")
    publish_command.add_argument("--dry-run", action="store_true", help="print the plan; no AWS call")
    deprecate_command = commands.add_parser("deprecate", help="deactivate a version in Studio")
    deprecate_command.add_argument("--version", required=True)
    deprecate_command.add_argument("--dry-run", action="store_true", help="print the plan; no AWS call")
    commands.add_parser("list", help="list published versions")
    for command in commands.choices.values():
        command.add_argument("--region", help="AWS region (default: the session's)")
    return parser


def _carry_out(clients: Clients, args: argparse.Namespace, report: Callable[[str], None]) -> None:
    """Run one command against AWS and print its result."""
    if args.command == "publish":
        release = load_release(args.dist, args.version)
        outcomes = publish(
            clients, release, args.principal, report, args.studio_domain_id, args.publisher, args.stage_account
        )
        print(f"published {release.version}: " + ", ".join(f"{key} {value}" for key, value in outcomes.items()))
    elif args.command == "deprecate":
        changed = deprecate(clients, args.version, report)
        print(f"deprecated {args.version} in: {', '.join(changed) or 'nothing (already deprecated)'}")
    else:
        for row in published_versions(clients):
            state = "active" if row.get("Active", True) else "inactive"
            print(f"{row['product']:<36} {row['Name']:<16} {state:<8} {row.get('Guidance', 'DEFAULT')}")


def _version_ok(args: argparse.Namespace) -> bool:
    """Refuse a malformed --version before anything else, in one line (a usage error: exit 2)."""
    if getattr(args, "version", None) is None:
        return True
    try:
        catalog.check_version(args.version)
    except catalog.CatalogError as problem:
        print(f"error: {args.command} stopped: {problem}", file=sys.stderr)
        return False
    return True


def _stage_accounts_ok(args: argparse.Namespace) -> bool:
    """Refuse a malformed --stage-account before any AWS call, in one line (exit 2)."""
    try:
        _checked_accounts(getattr(args, "stage_account", []))
    except PublishError as problem:
        print(f"error: {args.command} stopped: {problem}", file=sys.stderr)
        return False
    return True


def run(args: argparse.Namespace, session_factory: Callable[..., boto3.Session] = boto3.Session) -> int:
    """Carry out a parsed command; errors become one line on stderr and exit code 1 or 2."""

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not _version_ok(args) or not _stage_accounts_ok(args):
        return 2
    try:
        if args.command == "publish" and args.dry_run:
            release = load_release(args.dist, args.version)
            region = args.region or session_factory().region_name or ""
            print("\n".join(plan(release, region, args.principal)))
            return 0
        if args.command == "deprecate" and args.dry_run:
            print(f"deprecate version {args.version} of: {', '.join(p.name for p in catalog.products())}")
            return 0
        session = session_factory(region_name=args.region) if args.region else session_factory()
        if session.get_credentials() is None:
            print(f"error: {NO_CREDENTIALS}", file=sys.stderr)
            return 2
        if not session.region_name:
            raise PublishError("no AWS region: set AWS_REGION or pass --region")
        _carry_out(make_clients(session), args, report)
    except (PublishError, catalog.CatalogError) as problem:
        action = f" {args.command} of {args.version}" if getattr(args, "version", None) else f" {args.command}"
        hint = (
            "; nothing incomplete is visible in Studio: run the same command again to finish"
            if args.command == "publish"
            else ""
        )
        print(f"error:{action} stopped: {problem}{hint}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run(_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
