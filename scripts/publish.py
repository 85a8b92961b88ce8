"""`make publish VERSION=x.y.z`: release a packaged version to Service Catalog and the S3 route.

  publish   --version V [--principal ROLE_ARN ...] [--studio-domain-id d-xxx] [--dry-run]
  deprecate --version V [--dry-run]      hide a version in Studio (Active=false, DEPRECATED)
  list                                    every published version of every product

What publish does, in this order (every step is a no-op when already done):
 1. the portfolio stack (servicecatalog/portfolio.yaml): portfolio, principal associations and
    the versioned `sagemaker-templates-<account>-<region>` bucket; created on first publish,
    updated when the principals or the template change;
 2. check every artifact of dist/<version>/ against the bucket: an existing key with other
    content stops everything (versions are immutable) before anything is written;
 3. upload what is missing (sha256 checked by S3 and recorded as metadata), verify each upload,
    then the manifest;
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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hooks import naming
from scripts import catalog, package

PORTFOLIO_TEMPLATE = catalog.CATALOG_DIR / "portfolio.yaml"
VISIBILITY_TAG = "sagemaker:studio-visibility"
PROVISIONING_TAG = "servicecatalog:provisioning"
DOMAIN_TEMPLATES_TAG = "sagemaker:projectS3TemplatesLocation"
STACK_POLL_SECONDS = 10
STACK_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
STACK_FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE", "DELETE_COMPLETE"}
CONTENT_TYPES = {".zip": "application/zip", ".yaml": "application/x-yaml", ".json": "application/json"}
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60)
NO_CREDENTIALS = (
    "publishing needs AWS credentials and none were found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or add --dry-run to see the plan without AWS"
)
sleep = time.sleep


class PublishError(RuntimeError):
    """A stop worth one line to the user: what failed, and why."""


@dataclass
class Clients:
    """The AWS clients publishing uses (tests stub or emulate them)."""

    sts: object
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


def _wait_for_stack(clients: Clients, report: Callable[[str], None]) -> dict:
    name = naming.portfolio_stack()
    while True:
        stack = _stack(clients)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status in STACK_DONE:
            return stack
        if status in STACK_FAILED:
            reason = (stack or {}).get("StackStatusReason", "see the stack's events")
            raise PublishError(f"stack {name} ended {status}: {reason}")
        report(f"  waiting for stack {name} ({status})")
        sleep(STACK_POLL_SECONDS)


def _stack_parameters(principals: list[str]) -> list[dict]:
    return [{"ParameterKey": "PrincipalArns", "ParameterValue": ",".join(principals)}]


def _principals(stack: dict) -> list[str]:
    value = next((p["ParameterValue"] for p in stack.get("Parameters", []) if p["ParameterKey"] == "PrincipalArns"), "")
    return sorted(filter(None, value.split(",")))


def ensure_portfolio(clients: Clients, principals: list[str], report: Callable[[str], None]) -> Portfolio:
    """Create the portfolio stack, or update it when principals or template changed."""
    name = naming.portfolio_stack()
    body = PORTFOLIO_TEMPLATE.read_text(encoding="utf-8")
    stack = _stack(clients)
    options = {"StackName": name, "TemplateBody": body, "Capabilities": ["CAPABILITY_AUTO_EXPAND"]}
    if stack is None:
        if not principals:
            raise PublishError("the first publish creates the portfolio and needs --principal ROLE_ARN (Studio roles)")
        report(f"create stack {name} (portfolio, principals, templates bucket)")
        call(
            f"creating stack {name}",
            clients.cloudformation.create_stack,
            **options,
            Parameters=_stack_parameters(sorted(principals)),
            OnFailure="DELETE",
        )
        stack = _wait_for_stack(clients, report)
    elif stack["StackStatus"] not in STACK_DONE:
        raise PublishError(f"stack {name} is {stack['StackStatus']}; wait for it or fix it, then run again")
    else:
        wanted = sorted(principals) or _principals(stack)
        current = call(f"reading stack {name}", clients.cloudformation.get_template, StackName=name)
        if wanted != _principals(stack) or current.get("TemplateBody") != body:
            report(f"update stack {name}")
            call(
                f"updating stack {name}",
                clients.cloudformation.update_stack,
                **options,
                Parameters=_stack_parameters(wanted),
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
    bucket = naming.templates_bucket("<account-id>", region) if region else "sagemaker-templates-<account-id>-<region>"
    artifacts = release.manifest["artifacts"]
    lines = [f"ensure stack {naming.portfolio_stack()} (principals: {', '.join(principals) or 'unchanged'})"]
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
) -> dict[str, str]:
    """Publish a packaged release (see the module docstring); returns each product's outcome."""
    identity = call("reading the caller identity", clients.sts.get_caller_identity)
    portfolio = ensure_portfolio(clients, principals, report)
    artifacts = sorted(release.manifest["artifacts"], key=lambda record: (record["kind"] == "product", record["key"]))
    missing = missing_artifacts(
        clients, portfolio.bucket, [*artifacts, manifest_artifact(release.path)], release.version
    )
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
    publish_command.add_argument("--studio-domain-id", help="point this domain's S3 templates at the release")
    publish_command.add_argument("--dry-run", action="store_true", help="print the plan; no AWS call")
    deprecate_command = commands.add_parser("deprecate", help="deactivate a version in Studio")
    deprecate_command.add_argument("--version", required=True)
    deprecate_command.add_argument("--dry-run", action="store_true", help="print the plan; no AWS call")
    commands.add_parser("list", help="list published versions")
    for command in commands.choices.values():
        command.add_argument("--region", help="AWS region (default: the session's)")
    return parser


def run(args: argparse.Namespace, session_factory: Callable[..., boto3.Session] = boto3.Session) -> int:
    """Carry out a parsed command; errors become one line on stderr and exit code 1 or 2."""

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        if args.command == "publish" and args.dry_run:
            release = load_release(args.dist, args.version)
            region = args.region or session_factory().region_name or ""
            print("\n".join(plan(release, region, args.principal)))
            return 0
        if args.command == "deprecate" and args.dry_run:
            catalog.check_version(args.version)
            print(f"deprecate version {args.version} of: {', '.join(p.name for p in catalog.products())}")
            return 0
        session = session_factory(region_name=args.region) if args.region else session_factory()
        if session.get_credentials() is None:
            print(f"ERROR: {NO_CREDENTIALS}", file=sys.stderr)
            return 2
        if not session.region_name:
            raise PublishError("no AWS region: set AWS_REGION or pass --region")
        clients = make_clients(session)
        if args.command == "publish":
            release = load_release(args.dist, args.version)
            outcomes = publish(clients, release, args.principal, report, args.studio_domain_id)
            print(f"published {release.version}: " + ", ".join(f"{key} {value}" for key, value in outcomes.items()))
        elif args.command == "deprecate":
            changed = deprecate(clients, args.version, report)
            print(f"deprecated {args.version} in: {', '.join(changed) or 'nothing (already deprecated)'}")
        else:
            for row in published_versions(clients):
                state = "active" if row.get("Active", True) else "inactive"
                print(f"{row['product']:<36} {row['Name']:<16} {state:<8} {row.get('Guidance', 'DEFAULT')}")
    except (PublishError, catalog.CatalogError) as problem:
        action = f" {args.command} of {args.version}" if getattr(args, "version", None) else f" {args.command}"
        hint = (
            "; nothing incomplete is visible in Studio: run the same command again to finish"
            if args.command == "publish"
            else ""
        )
        print(f"ERROR:{action} stopped: {problem}{hint}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run(_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
