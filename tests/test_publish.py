"""`make publish`: exact call sequences (botocore Stubber for Service Catalog and CloudFormation,
moto for S3 and STS), immutability, deprecation, dry run, no credentials, and a failure injected
at every step: a clear message, nothing half-published visible, and a re-run that converges."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from authz import evaluate, roles
from mlops_template_kit import naming
from scripts import catalog, package, products, publish
from tests.test_servicecatalog_support import resolve

REGION = "us-east-1"
ACCOUNT = "123456789012"
VERSION, NEXT = "1.0.0", "1.1.0"
BUCKET = naming.templates_bucket(ACCOUNT, REGION)
STACK = naming.portfolio_stack()
PORTFOLIO_ID = "port-abcdefghijklm"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-20260101T000000"
LAUNCH_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsLaunchRole"
# moto's caller: an ARN that is not a role session passes into PublisherArns as it is.
PUBLISHER = f"arn:aws:sts::{ACCOUNT}:user/moto"
PROVIDER = "ML platform team"
PORTFOLIO_BODY = publish.PORTFOLIO_TEMPLATE.read_text(encoding="utf-8")
VISIBLE = {"Key": "sagemaker:studio-visibility", "Value": "true"}


def make_release(dist: Path, version: str, flavour: str = "a", seeds: int | None = None) -> publish.Release:
    """A release laid out like `make package` writes one, with small stand-in files."""
    root = dist / version
    records = []
    keys = [(variant.seed_key(version), "seed", {}) for variant in catalog.all_variants()[:seeds]]
    keys.append((f"{version}/functions/project-lifecycle.zip", "function", {}))
    kit = {"distribution": "mlops-template-kit", "version": catalog.kit_version()}
    keys.append((catalog.kit_wheel_key(version), "package", kit))
    for product in catalog.products():
        details = {"product": product.key, "name": product.name, "description": product.description}
        keys.append((product.template_key(version), "product", details))
    for key, kind, details in keys:
        path = dist / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{key} {flavour}\n")
        records.append(
            {"key": key, "kind": kind, "sha256": package.sha256_of(path), "size": path.stat().st_size, **details}
        )
    manifest = {"format": 1, "version": version, "artifacts": sorted(records, key=lambda record: record["key"])}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return publish.load_release(dist, version)


def stack_description(status: str = "CREATE_COMPLETE") -> dict:
    return {
        "StackName": STACK,
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1",
        "CreationTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        "StackStatus": status,
        "Parameters": [
            {"ParameterKey": "PrincipalArns", "ParameterValue": PRINCIPAL},
            {"ParameterKey": "PublisherArns", "ParameterValue": PUBLISHER},
            {"ParameterKey": "ProviderName", "ParameterValue": PROVIDER},
        ],
        "Outputs": [
            {"OutputKey": "PortfolioId", "OutputValue": PORTFOLIO_ID},
            {"OutputKey": "TemplatesBucketName", "OutputValue": BUCKET},
            {"OutputKey": "ProviderName", "OutputValue": PROVIDER},
            {"OutputKey": "LaunchRoleArn", "OutputValue": LAUNCH_ROLE},
        ],
    }


@pytest.fixture
def clients(monkeypatch):
    monkeypatch.setattr(publish, "sleep", lambda seconds: None)
    with mock_aws():
        yield publish.make_clients(boto3.Session(region_name=REGION))


def aws_clients(clients: publish.Clients) -> list:
    """Every AWS client publishing holds (all fields of Clients but the region)."""
    return [getattr(clients, field.name) for field in dataclasses.fields(clients) if field.name != "region"]


def recorder(clients: publish.Clients) -> list[str]:
    """Every API call publishing makes, as service.Operation, in order."""
    calls: list[str] = []
    for client in aws_clients(clients):
        client.meta.events.register_first(
            "before-call", lambda model, **kwargs: calls.append(f"{model.service_model.service_name}.{model.name}")
        )
    return calls


@functools.cache
def raw_s3():
    """An S3 client outside the instrumented ones, to set up and inspect the bucket (moto
    intercepts it in whichever mock is active)."""
    return boto3.client("s3", region_name=REGION)


def put_published(release: publish.Release, visible: bool = True) -> None:
    """The bucket as a completed publish of the release leaves it."""
    s3 = raw_s3()
    for record in [*release.manifest["artifacts"], publish.manifest_artifact(release.path)]:
        tags = "servicecatalog:provisioning=true"
        if visible and record.get("kind") == "product":
            tags += "&sagemaker:studio-visibility=true"
        body = (release.path.parent / record["key"]).read_bytes()
        s3.put_object(Bucket=BUCKET, Key=record["key"], Body=body, Metadata={"sha256": record["sha256"]}, Tagging=tags)


def object_tags(key: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in raw_s3().get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def product_id(product: catalog.Product) -> str:
    return f"prod-{product.key.replace('-', '')[:13]}"


def artifact_description(release: publish.Release, product: catalog.Product) -> str:
    (record,) = [record for record in release.of_kind("product") if record["product"] == product.key]
    return f"Release {release.version}; template sha256:{record['sha256']}"


def expected_artifact(release: publish.Release, product: catalog.Product) -> dict:
    return {
        "Name": release.version,
        "Description": artifact_description(release, product),
        "Info": {"LoadTemplateFromURL": publish.template_url(BUCKET, REGION, product.template_key(release.version))},
        "Type": "CLOUD_FORMATION_TEMPLATE",
    }


def found_product(product: catalog.Product, tags: list[dict]) -> dict:
    return {
        "ProductViewDetail": {"ProductViewSummary": {"ProductId": product_id(product), "Name": product.name}},
        "Tags": tags,
    }


def stub_existing_product_reads(stubber: Stubber, product: catalog.Product, artifacts: list[dict]) -> None:
    pid = product_id(product)
    stubber.add_response("describe_product_as_admin", found_product(product, [VISIBLE]), {"Name": product.name})
    stubber.add_response("list_provisioning_artifacts", {"ProvisioningArtifactDetails": artifacts}, {"ProductId": pid})
    stubber.add_response(
        "list_portfolios_for_product", {"PortfolioDetails": [{"Id": PORTFOLIO_ID}]}, {"ProductId": pid}
    )
    stubber.add_response(
        "list_constraints_for_portfolio",
        {"ConstraintDetails": [{"ConstraintId": "cons-1", "Type": "LAUNCH"}]},
        {"PortfolioId": PORTFOLIO_ID, "ProductId": pid},
    )


def stub_existing_stack(stubber: Stubber) -> None:
    stubber.add_response("describe_stacks", {"Stacks": [stack_description()]}, {"StackName": STACK})
    stubber.add_response("get_template", {"TemplateBody": PORTFOLIO_BODY}, {"StackName": STACK})


def s3_calls(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("s3.")]


# --- exact call sequences ----------------------------------------------------------------------


def test_first_publish_creates_the_portfolio_uploads_then_commits_each_product(clients, tmp_path):
    release = make_release(tmp_path, VERSION)
    raw_s3().create_bucket(Bucket=BUCKET)  # what the portfolio stack creates
    calls = recorder(clients)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
    cfn.add_response(
        "create_stack",
        {"StackId": stack_description()["StackId"]},
        {
            "StackName": STACK,
            "TemplateBody": PORTFOLIO_BODY,
            "Capabilities": ["CAPABILITY_AUTO_EXPAND"],
            "Parameters": [
                {"ParameterKey": "PrincipalArns", "ParameterValue": PRINCIPAL},
                {"ParameterKey": "PublisherArns", "ParameterValue": PUBLISHER},
            ],
            "OnFailure": "DELETE",
        },
    )
    cfn.add_response("describe_stacks", {"Stacks": [stack_description("CREATE_IN_PROGRESS")]}, {"StackName": STACK})
    cfn.add_response("describe_stacks", {"Stacks": [stack_description()]}, {"StackName": STACK})
    for product in catalog.products():
        pid = product_id(product)
        sc.add_client_error(
            "describe_product_as_admin", "ResourceNotFoundException", "no such product", 400, {"Name": product.name}
        )
        sc.add_response(
            "create_product",
            {"ProductViewDetail": {"ProductViewSummary": {"ProductId": pid, "Name": product.name}}},
            {
                "Name": product.name,
                "Owner": PROVIDER,
                "Distributor": PROVIDER,
                "Description": product.description,
                "ProductType": "CLOUD_FORMATION_TEMPLATE",
                "ProvisioningArtifactParameters": expected_artifact(release, product),
                "IdempotencyToken": ANY,
            },
        )
        sc.add_response("list_portfolios_for_product", {"PortfolioDetails": []}, {"ProductId": pid})
        sc.add_response("associate_product_with_portfolio", {}, {"ProductId": pid, "PortfolioId": PORTFOLIO_ID})
        sc.add_response(
            "list_constraints_for_portfolio", {"ConstraintDetails": []}, {"PortfolioId": PORTFOLIO_ID, "ProductId": pid}
        )
        sc.add_response(
            "create_constraint",
            {},
            {
                "PortfolioId": PORTFOLIO_ID,
                "ProductId": pid,
                "Type": "LAUNCH",
                "Parameters": json.dumps({"RoleArn": LAUNCH_ROLE}),
                "Description": ANY,
                "IdempotencyToken": ANY,
            },
        )
        # Tagging for Studio comes last: until then the new product is invisible.
        sc.add_response("update_product", {}, {"Id": pid, "AddTags": [VISIBLE]})
    reported: list[str] = []
    with cfn, sc:
        outcomes = publish.publish(clients, release, [PRINCIPAL], reported.append)
    cfn.assert_no_pending_responses()
    sc.assert_no_pending_responses()
    assert outcomes == {product.key: "created" for product in catalog.products()}

    uploads = [*release.manifest["artifacts"], publish.manifest_artifact(release.path)]
    products_keys = [record["key"] for record in release.of_kind("product")]
    assert catalog.kit_wheel_key(VERSION) in [record["key"] for record in uploads]  # the builds' kit wheel
    assert s3_calls(calls) == (
        ["s3.HeadObject"] * len(uploads)
        + ["s3.PutObject", "s3.HeadObject", "s3.GetObjectTagging"] * len(uploads)
        + ["s3.GetObjectTagging", "s3.PutObjectTagging"] * len(products_keys)
    )
    assert calls[0] == "sts.GetCallerIdentity"
    for record in uploads:
        head = raw_s3().head_object(Bucket=BUCKET, Key=record["key"])
        assert head["Metadata"]["sha256"] == record["sha256"]
        assert object_tags(record["key"])["servicecatalog:provisioning"] == "true"
    assert {key: object_tags(key)["sagemaker:studio-visibility"] for key in products_keys} == dict.fromkeys(
        products_keys, "true"
    )
    assert any(line.startswith(f"[1/{len(uploads)}] upload ") for line in reported), "progress is shown"


def test_publishing_the_same_version_again_changes_nothing(clients, tmp_path):
    release = make_release(tmp_path, VERSION)
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(release)
    calls = recorder(clients)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    stub_existing_stack(cfn)
    for product in catalog.products():
        artifact = {
            "Id": "pa-1",
            "Name": VERSION,
            "Description": artifact_description(release, product),
            "Active": True,
        }
        stub_existing_product_reads(sc, product, [artifact])
    with cfn, sc:
        outcomes = publish.publish(clients, release, [], lambda line: None)
    cfn.assert_no_pending_responses()
    sc.assert_no_pending_responses()
    assert outcomes == {product.key: "unchanged" for product in catalog.products()}
    assert set(s3_calls(calls)) == {"s3.HeadObject", "s3.GetObjectTagging"}


def test_a_new_version_uploads_its_keys_and_adds_one_provisioning_artifact_per_product(clients, tmp_path):
    old, new = make_release(tmp_path, VERSION), make_release(tmp_path, NEXT, flavour="b")
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(old)
    calls = recorder(clients)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    stub_existing_stack(cfn)
    for product in catalog.products():
        artifact = {"Id": "pa-1", "Name": VERSION, "Description": artifact_description(old, product), "Active": True}
        stub_existing_product_reads(sc, product, [artifact])
        sc.add_response(
            "create_provisioning_artifact",
            {"ProvisioningArtifactDetail": {"Id": "pa-2", "Name": NEXT}},
            {"ProductId": product_id(product), "Parameters": expected_artifact(new, product), "IdempotencyToken": ANY},
        )
    with cfn, sc:
        outcomes = publish.publish(clients, new, [], lambda line: None)
    sc.assert_no_pending_responses()
    assert outcomes == {product.key: "new version" for product in catalog.products()}
    assert s3_calls(calls).count("s3.PutObject") == len(new.manifest["artifacts"]) + 1
    listed = raw_s3().list_objects_v2(Bucket=BUCKET, Prefix=f"{NEXT}/")["KeyCount"]
    assert listed == len(new.manifest["artifacts"]) + 1


def test_the_same_version_with_other_content_is_refused_before_anything_is_written(clients, tmp_path):
    published = make_release(tmp_path / "first", VERSION)
    changed = make_release(tmp_path / "second", VERSION, flavour="b")
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(published)
    calls = recorder(clients)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    stub_existing_stack(cfn)
    with (
        cfn,
        sc,
        pytest.raises(publish.PublishError, match=r"version 1\.0\.0 is already published with different content"),
    ):
        publish.publish(clients, changed, [], lambda line: None)
    assert "s3.PutObject" not in calls and not [call for call in calls if call.startswith("servicecatalog.")]


def test_deprecation_deactivates_the_version_everywhere(clients, tmp_path):
    release = make_release(tmp_path, VERSION)
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(release)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    for product in catalog.products():
        sc.add_response("describe_product_as_admin", found_product(product, [VISIBLE]), {"Name": product.name})
        artifacts = [
            {"Id": "pa-old", "Name": VERSION, "Active": True, "Guidance": "DEFAULT"},
            {"Id": "pa-new", "Name": NEXT, "Active": True, "Guidance": "DEFAULT"},
        ]
        sc.add_response(
            "list_provisioning_artifacts",
            {"ProvisioningArtifactDetails": artifacts},
            {"ProductId": product_id(product)},
        )
    for product in catalog.products():
        sc.add_response(
            "update_provisioning_artifact",
            {},
            {
                "ProductId": product_id(product),
                "ProvisioningArtifactId": "pa-old",
                "Active": False,
                "Guidance": "DEPRECATED",
            },
        )
    cfn.add_response("describe_stacks", {"Stacks": [stack_description()]}, {"StackName": STACK})
    with cfn, sc:
        changed = publish.deprecate(clients, VERSION, lambda line: None)
    sc.assert_no_pending_responses()
    assert changed == [product.name for product in catalog.products()]
    for product in catalog.products():
        assert object_tags(product.template_key(VERSION))["sagemaker:studio-visibility"] == "false"


def test_deprecating_the_only_active_version_is_refused(clients):
    sc = Stubber(clients.servicecatalog)
    for product in catalog.products():
        sc.add_response("describe_product_as_admin", found_product(product, [VISIBLE]), {"Name": product.name})
        only = [{"Id": "pa-1", "Name": VERSION, "Active": True}]
        sc.add_response(
            "list_provisioning_artifacts", {"ProvisioningArtifactDetails": only}, {"ProductId": product_id(product)}
        )
    with sc, pytest.raises(publish.PublishError, match="only active version"):
        publish.deprecate(clients, VERSION, lambda line: None)


# --- the command line --------------------------------------------------------------------------


def arguments(*argv: str) -> argparse.Namespace:
    return publish._parser().parse_args(list(argv))


def test_dry_run_prints_the_plan_without_any_aws_call(tmp_path, capsys, monkeypatch):
    release = make_release(tmp_path, VERSION)
    monkeypatch.setattr(boto3.Session, "client", lambda *args, **kwargs: pytest.fail("dry run created a client"))
    args = arguments("publish", "--version", VERSION, "--dist", str(tmp_path), "--dry-run", "--region", REGION)
    assert publish.run(args) == 0
    out = capsys.readouterr().out
    assert f"upload s3://{naming.templates_bucket('<account-id>', REGION)}/{VERSION}/manifest.json" in out
    assert len(out.splitlines()) == 2 + len(release.manifest["artifacts"]) + 2 * len(release.of_kind("product"))
    assert publish.run(arguments("deprecate", "--version", VERSION, "--dry-run")) == 0


def test_without_credentials_one_clear_line_and_a_non_zero_exit(tmp_path, capsys, monkeypatch):
    make_release(tmp_path, VERSION)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for command in (
        ["publish", "--version", VERSION, "--dist", str(tmp_path)],
        ["list"],
        ["deprecate", "--version", VERSION],
    ):
        assert publish.main([*command, "--region", REGION]) == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [f"error: {publish.NO_CREDENTIALS}"]
        assert "DRY_RUN=1" in captured.err  # what make users type, beside --dry-run
        assert captured.out == ""


def test_a_missing_package_or_bad_version_is_one_line(tmp_path, capsys):
    assert publish.main(["publish", "--version", VERSION, "--dist", str(tmp_path), "--region", REGION]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: publish of {VERSION} stopped: {tmp_path / VERSION} has no packaged release: run make package "
        f"VERSION={VERSION} first; nothing incomplete is visible in Studio: run the same command again to finish"
    ]
    assert publish.main(["deprecate", "--version", "latest", "--region", REGION]) == 2
    assert "version 'latest' is not allowed" in capsys.readouterr().err


# --- failures at every step --------------------------------------------------------------------


class World:
    """Service Catalog and CloudFormation state (moto has neither portfolio stacks nor products)."""

    def __init__(self):
        self.stack: dict | None = None
        self.template_body = ""
        self.products: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}

    def snapshot(self) -> dict:
        return {
            product["name"]: {
                "tags": sorted((tag["Key"], tag["Value"]) for tag in product["tags"]),
                "versions": sorted((a["Name"], a["Description"], a["Active"]) for a in product["artifacts"]),
                "portfolios": sorted(product["portfolios"]),
                "constraints": sorted(product["constraints"]),
            }
            for product in self.products.values()
        }


class FakeAws:
    """Serves Service Catalog and CloudFormation calls from a World, passes S3 and STS to moto,
    and injects one failure at a chosen call: before it (throttling, access denied, no
    connection) or after it took effect (the response lost)."""

    FAILURES = {
        "throttling": lambda op: ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, op
        ),
        "access-denied": lambda op: ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, op
        ),
        "no-connection": lambda op: EndpointConnectionError(endpoint_url=f"https://{op}.amazonaws.com"),
        "response-lost": lambda op: ConnectionClosedError(endpoint_url=f"https://{op}.amazonaws.com"),
    }

    def __init__(self, clients: publish.Clients):
        self.world, self.inject, self.calls = World(), None, []
        for client in aws_clients(clients):
            client.meta.events.register_first("before-parameter-build", self._capture)
            client.meta.events.register_first("before-call", self._before)
            client.meta.events.register_first("after-call", self._after)

    def _capture(self, params, context, **kwargs):
        context["fake_params"] = dict(params)

    def _failing(self, when: str, context: dict) -> bool:
        return (
            self.inject is not None
            and self.inject[0] == context["fake_index"]
            and ((self.inject[1] == "response-lost") == (when == "after"))
        )

    def _before(self, model, context, **kwargs):
        context["fake_index"] = len(self.calls)
        self.calls.append(f"{model.service_model.service_name}.{model.name}")
        if self._failing("before", context):
            raise self.FAILURES[self.inject[1]](model.name)
        handler = getattr(self, f"_{model.service_model.service_name}_{model.name}", None)
        if model.service_model.service_name not in ("cloudformation", "servicecatalog"):
            return None
        try:
            return AWSResponse("https://fake", 200, {}, None), handler(context["fake_params"])
        except LookupError as missing:
            return AWSResponse("https://fake", 400, {}, None), {"Error": dict(missing.args[0])}

    def _after(self, model, context, **kwargs):
        if self._failing("after", context):
            raise self.FAILURES["response-lost"](model.name)

    # CloudFormation

    def _cloudformation_DescribeStacks(self, params):  # noqa: N802 - named after the API operation
        if self.world.stack is None:
            raise LookupError({"Code": "ValidationError", "Message": f"Stack with id {STACK} does not exist"})
        return {"Stacks": [self.world.stack]}

    def _cloudformation_CreateStack(self, params):  # noqa: N802
        raw_s3().create_bucket(Bucket=BUCKET)
        self.world.stack, self.world.template_body = stack_description(), params["TemplateBody"]
        return {"StackId": self.world.stack["StackId"]}

    def _cloudformation_GetTemplate(self, params):  # noqa: N802
        return {"TemplateBody": self.world.template_body}

    # Service Catalog

    def _product(self, product_id: str) -> dict:
        if product_id not in self.world.products:
            raise LookupError({"Code": "ResourceNotFoundException", "Message": product_id})
        return self.world.products[product_id]

    def _servicecatalog_DescribeProductAsAdmin(self, params):  # noqa: N802
        found = [p for p in self.world.products.values() if p["name"] == params["Name"]]
        if not found:
            raise LookupError({"Code": "ResourceNotFoundException", "Message": params["Name"]})
        summary = {"ProductId": found[0]["id"], "Name": found[0]["name"]}
        return {"ProductViewDetail": {"ProductViewSummary": summary}, "Tags": list(found[0]["tags"])}

    def _servicecatalog_CreateProduct(self, params):  # noqa: N802
        if params["IdempotencyToken"] not in self.world.tokens:
            product_id = f"prod-{len(self.world.products):04d}"
            self.world.tokens[params["IdempotencyToken"]] = product_id
            artifact = {**params["ProvisioningArtifactParameters"], "Id": "pa-0", "Active": True}
            self.world.products[product_id] = {
                "id": product_id, "name": params["Name"], "tags": list(params.get("Tags", [])),
                "artifacts": [artifact], "portfolios": set(), "constraints": [],
            }  # fmt: skip
        product_id = self.world.tokens[params["IdempotencyToken"]]
        return {"ProductViewDetail": {"ProductViewSummary": {"ProductId": product_id, "Name": params["Name"]}}}

    def _servicecatalog_ListProvisioningArtifacts(self, params):  # noqa: N802
        product = self._product(params["ProductId"])
        fields = ("Id", "Name", "Description", "Active")
        return {"ProvisioningArtifactDetails": [{key: a[key] for key in fields} for a in product["artifacts"]]}

    def _servicecatalog_CreateProvisioningArtifact(self, params):  # noqa: N802
        product = self._product(params["ProductId"])
        if params["IdempotencyToken"] not in self.world.tokens:
            artifact = {**params["Parameters"], "Id": f"pa-{len(product['artifacts'])}", "Active": True}
            product["artifacts"].append(artifact)
            self.world.tokens[params["IdempotencyToken"]] = artifact["Id"]
        return {"ProvisioningArtifactDetail": {"Id": self.world.tokens[params["IdempotencyToken"]]}}

    def _servicecatalog_ListPortfoliosForProduct(self, params):  # noqa: N802
        return {"PortfolioDetails": [{"Id": pid} for pid in sorted(self._product(params["ProductId"])["portfolios"])]}

    def _servicecatalog_AssociateProductWithPortfolio(self, params):  # noqa: N802
        self._product(params["ProductId"])["portfolios"].add(params["PortfolioId"])
        return {}

    def _servicecatalog_ListConstraintsForPortfolio(self, params):  # noqa: N802
        product = self._product(params["ProductId"])
        return {"ConstraintDetails": [{"Type": kind} for kind in product["constraints"]]}

    def _servicecatalog_CreateConstraint(self, params):  # noqa: N802
        if params["IdempotencyToken"] not in self.world.tokens:
            self._product(params["ProductId"])["constraints"].append(params["Type"])
            self.world.tokens[params["IdempotencyToken"]] = "constraint"
        return {}

    def _servicecatalog_UpdateProduct(self, params):  # noqa: N802
        product = self._product(params["Id"])
        product["tags"] += [tag for tag in params.get("AddTags", []) if tag not in product["tags"]]
        return {}


def bucket_snapshot() -> dict:
    s3 = raw_s3()
    try:
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    except ClientError:
        return {}
    return {
        item["Key"]: (
            s3.head_object(Bucket=BUCKET, Key=item["Key"])["Metadata"].get("sha256"),
            object_tags(item["Key"]),
        )
        for item in listed
    }


def visible_but_incomplete(world: World, release: publish.Release) -> list[str]:
    """Anything Studio could show from this release that is not completely published."""
    bucket = bucket_snapshot()
    complete = all(bucket.get(r["key"], (None,))[0] == r["sha256"] for r in release.manifest["artifacts"])
    problems = []
    for product in world.products.values():
        if VISIBLE in product["tags"]:
            if PORTFOLIO_ID not in product["portfolios"] or "LAUNCH" not in product["constraints"]:
                problems.append(f"{product['name']} visible without association or launch constraint")
            if not complete:
                problems.append(f"{product['name']} visible before every artifact is uploaded")
    for key, (_, tags) in bucket.items():
        if tags.get("sagemaker:studio-visibility") == "true" and not complete:
            problems.append(f"s3 template {key} visible before every artifact is uploaded")
    return problems


def run_publish(
    fake: FakeAws, clients: publish.Clients, release: publish.Release, inject=None
) -> tuple[list, str | None]:
    """One publish against the fake's world, optionally with a failure injected; (calls, error)."""
    fake.inject, fake.calls = inject, []
    try:
        publish.publish(clients, release, [PRINCIPAL], lambda line: None)
    except publish.PublishError as problem:
        return fake.calls, str(problem)
    return fake.calls, None


def reset(fake: FakeAws) -> None:
    """A fresh account: no stack, no products, no bucket."""
    fake.world = World()
    s3 = raw_s3()
    if BUCKET in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        s3.delete_bucket(Bucket=BUCKET)


def injection_points(calls: list[str]) -> list[int]:
    """Every CloudFormation, Service Catalog and STS call, and the first call of each S3 operation."""
    first_s3 = {call: index for index, call in reversed(list(enumerate(calls))) if call.startswith("s3.")}
    return sorted({index for index, call in enumerate(calls) if not call.startswith("s3.")} | set(first_s3.values()))


@pytest.mark.parametrize("failure", list(FakeAws.FAILURES))
def test_a_failure_at_any_step_is_clear_shows_nothing_incomplete_and_a_rerun_converges(failure, tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "sleep", lambda seconds: None)
    release = make_release(tmp_path, VERSION, seeds=2)
    with mock_aws():
        clients = publish.make_clients(boto3.Session(region_name=REGION))
        fake = FakeAws(clients)
        clean_calls, problem = run_publish(fake, clients, release)
        assert problem is None
        expected = (fake.world.snapshot(), bucket_snapshot())
        mistakes = []
        for index in injection_points(clean_calls):
            reset(fake)
            _, problem = run_publish(fake, clients, release, (index, failure))
            where = f"{failure} at call {index} ({clean_calls[index]})"
            if problem is None or "\n" in problem:
                mistakes.append(f"{where}: no one-line error ({problem!r})")
            mistakes += [f"{where}: {issue}" for issue in visible_but_incomplete(fake.world, release)]
            _, rerun_problem = run_publish(fake, clients, release)
            if rerun_problem is not None or (fake.world.snapshot(), bucket_snapshot()) != expected:
                mistakes.append(f"{where}: re-run did not converge ({rerun_problem})")
    assert mistakes == []


def test_the_error_line_names_the_step_and_the_cause(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(publish, "sleep", lambda seconds: None)
    make_release(tmp_path, VERSION, seeds=1)
    make_clients = publish.make_clients

    def throttled_product_creation(session):
        clients = make_clients(boto3.Session(region_name=REGION))
        fake = FakeAws(clients)
        fake.inject = ("CreateProduct", "throttling")
        fake._failing = lambda when, context: when == "before" and fake.calls[-1] == "servicecatalog.CreateProduct"
        return clients

    monkeypatch.setattr(publish, "make_clients", throttled_product_creation)
    args = arguments(
        "publish", "--version", VERSION, "--dist", str(tmp_path), "--principal", PRINCIPAL, "--region", REGION
    )
    with mock_aws():
        assert publish.run(args) == 1
    first = catalog.products()[0].name
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: publish of {VERSION} stopped: creating product {first!r}: ThrottlingException: Rate exceeded; "
        "nothing incomplete is visible in Studio: run the same command again to finish"
    )


def test_list_shows_every_version_of_every_product(clients, capsys, monkeypatch):
    sc = Stubber(clients.servicecatalog)
    for product in catalog.products():
        sc.add_response("describe_product_as_admin", found_product(product, [VISIBLE]), {"Name": product.name})
        artifacts = [
            {"Id": "pa-old", "Name": VERSION, "Active": False, "Guidance": "DEPRECATED"},
            {"Id": "pa-new", "Name": NEXT, "Active": True, "Guidance": "DEFAULT"},
        ]
        sc.add_response(
            "list_provisioning_artifacts",
            {"ProvisioningArtifactDetails": artifacts},
            {"ProductId": product_id(product)},
        )
    monkeypatch.setattr(publish, "make_clients", lambda session: clients)
    with sc:
        assert publish.run(arguments("list", "--region", REGION)) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 * len(catalog.products())
    assert [row[-3:] for row in rows[:2]] == [[VERSION, "inactive", "DEPRECATED"], [NEXT, "active", "DEFAULT"]]


# --- the release bucket: only publishers write, the launch role reads through the tag -----------

OBJECT_ARN = f"arn:aws:s3:::{BUCKET}/{VERSION}/seeds/build-train.zip"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
PUBLISHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform/ReleasePublisher"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
WRITES = [
    ("s3:PutObject", OBJECT_ARN),
    ("s3:DeleteObject", OBJECT_ARN),
    ("s3:DeleteObjectVersion", OBJECT_ARN),
    ("s3:PutObjectTagging", OBJECT_ARN),
    ("s3:DeleteObjectTagging", OBJECT_ARN),
    ("s3:PutObjectAcl", OBJECT_ARN),
    ("s3:PutBucketPolicy", BUCKET_ARN),
    ("s3:DeleteBucketPolicy", BUCKET_ARN),
    ("s3:PutBucketVersioning", BUCKET_ARN),
    ("s3:PutLifecycleConfiguration", BUCKET_ARN),
    ("s3:PutBucketCORS", BUCKET_ARN),
]


def release_bucket_policy(publishers: list[str]) -> dict:
    """The portfolio stack's bucket policy as CloudFormation would deploy it."""
    template = products.load_cloudformation(PORTFOLIO_BODY)
    values = {"PublisherArns": publishers, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}
    policy = template["Resources"]["TemplatesBucketPolicy"]["Properties"]["PolicyDocument"]
    return json.loads(json.dumps(resolve(policy, template, values)).replace("TemplatesBucket.Arn", BUCKET_ARN))


def s3_request(action: str, resource: str, principal: str, **context: str) -> evaluate.Request:
    keys = {"aws:PrincipalArn": principal, "aws:PrincipalAccount": ACCOUNT, "aws:ResourceAccount": ACCOUNT}
    return evaluate.Request(action, resource, {**keys, "aws:SecureTransport": "true", **context})


STUDIO_AND_LAUNCH = {
    "Studio execution role (AmazonSageMakerFullAccess)": (PRINCIPAL, roles.ROLES["execution"].policies),
    "launch role": (roles.ROLES["launch"].arn(ACCOUNT), roles.ROLES["launch"].policies),
}


@pytest.mark.parametrize("who", STUDIO_AND_LAUNCH)
def test_the_bucket_policy_denies_every_write_to_sagemaker_roles_whatever_their_policies(who):
    arn, policies = STUDIO_AND_LAUNCH[who]
    bucket_policy = release_bucket_policy([PUBLISHER_ROLE])
    for own in (policies, [ADMIN]):  # their managed policies, and the worst case: administrator
        decisions = {
            action: evaluate.decide([*own, bucket_policy], s3_request(action, resource, arn))
            for action, resource in WRITES
        }
        assert {action: d.reason for action, d in decisions.items() if d.allowed} == {}
        assert all(d.reason.startswith("explicit deny in policy") for d in decisions.values())


def test_the_bucket_policy_lets_every_publisher_write():
    second = f"arn:aws:iam::{ACCOUNT}:user/release-bot"
    bucket_policy = release_bucket_policy([PUBLISHER_ROLE, second])
    for arn in (PUBLISHER_ROLE, second):
        denied = [a for a, r in WRITES if not evaluate.decide([ADMIN, bucket_policy], s3_request(a, r, arn)).allowed]
        assert denied == []
    # aws:PrincipalArn holds the role ARN, path included: a session ARN in PublisherArns locks the role out.
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ReleasePublisher/ci"
    assert not evaluate.decide(
        [ADMIN, release_bucket_policy([session])], s3_request("s3:PutObject", OBJECT_ARN, PUBLISHER_ROLE)
    ).allowed


def test_the_launch_role_reads_released_objects_through_the_provisioning_tag_only():
    launch = roles.ROLES["launch"]
    policies = [*launch.policies, release_bucket_policy([PUBLISHER_ROLE])]
    tagged = s3_request(
        "s3:GetObject", OBJECT_ARN, launch.arn(ACCOUNT), **{"s3:ExistingObjectTag/" + publish.PROVISIONING_TAG: "true"}
    )
    untagged = s3_request("s3:GetObject", OBJECT_ARN, launch.arn(ACCOUNT))
    assert evaluate.decide(policies, tagged).allowed
    assert not evaluate.decide(policies, untagged).allowed


def test_the_release_bucket_name_is_out_of_reach_of_studio_users():
    """AmazonSageMakerFullAccess writes any `*sagemaker*` bucket: the release bucket's name avoids it."""
    studio = roles.ROLES["execution"].policies
    assert "sagemaker" not in BUCKET
    assert not evaluate.decide(studio, s3_request("s3:PutObject", OBJECT_ARN, PRINCIPAL)).allowed
    old_name = f"arn:aws:s3:::sagemaker-templates-{ACCOUNT}-{REGION}/{VERSION}/seeds/build-train.zip"
    assert evaluate.decide(studio, s3_request("s3:PutObject", old_name, PRINCIPAL)).allowed


def test_the_publisher_is_the_callers_role_with_its_path(clients):
    iam = Stubber(clients.iam)
    role = {
        "Path": "/platform/",
        "RoleName": "ReleasePublisher",
        "RoleId": "AROAEXAMPLEEXAMPLE123",
        "Arn": PUBLISHER_ROLE,
        "CreateDate": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        "AssumeRolePolicyDocument": "{}",
    }
    iam.add_response("get_role", {"Role": role}, {"RoleName": "ReleasePublisher"})
    session = {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ReleasePublisher/ci-run-42", "Account": ACCOUNT}
    with iam:
        assert publish.publisher_arn(clients, session) == PUBLISHER_ROLE
    iam.assert_no_pending_responses()
    user = f"arn:aws:iam::{ACCOUNT}:user/release-bot"
    with Stubber(clients.iam):  # no IAM call for anything but a role session
        assert publish.publisher_arn(clients, {"Arn": user, "Account": ACCOUNT}) == user


def test_a_caller_the_bucket_policy_locks_out_is_stopped_before_any_change(clients):
    other = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    cfn = Stubber(clients.cloudformation)
    cfn.add_response("describe_stacks", {"Stacks": [stack_description()]}, {"StackName": STACK})
    with cfn, pytest.raises(publish.PublishError, match=rf"{other} is not a publisher .* --publisher {other}$"):
        publish.ensure_portfolio(clients, [], lambda line: None, other)
    cfn = Stubber(clients.cloudformation)
    stub_existing_stack(cfn)
    both = ",".join(sorted([PUBLISHER, other]))
    expected = [
        {"ParameterKey": "PrincipalArns", "ParameterValue": PRINCIPAL},
        {"ParameterKey": "PublisherArns", "ParameterValue": both},
    ]
    update = {"StackName": STACK, "TemplateBody": PORTFOLIO_BODY, "Capabilities": ["CAPABILITY_AUTO_EXPAND"]}
    cfn.add_response("update_stack", {"StackId": "x"}, {**update, "Parameters": expected})
    cfn.add_response("describe_stacks", {"Stacks": [stack_description("UPDATE_COMPLETE")]}, {"StackName": STACK})
    with cfn:  # a publisher adds another
        publish.ensure_portfolio(clients, [], lambda line: None, PUBLISHER, [other])
    cfn.assert_no_pending_responses()


def test_an_upload_that_lost_its_provisioning_tag_is_not_accepted(clients, tmp_path):
    release = make_release(tmp_path, VERSION, seeds=1)
    (artifact,) = release.of_kind("seed")
    s3 = Stubber(clients.s3)
    s3.add_response("put_object", {})
    s3.add_response("head_object", {"Metadata": {"sha256": artifact["sha256"]}, "ContentLength": artifact["size"]})
    s3.add_response("get_object_tagging", {"TagSet": []})
    with s3, pytest.raises(publish.PublishError, match="lacks the tag servicecatalog:provisioning=true"):
        publish.upload(clients, BUCKET, release.path, artifact)


def test_a_published_object_that_lost_its_provisioning_tag_is_tagged_again(clients, tmp_path):
    release = make_release(tmp_path, VERSION, seeds=1)
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(release)
    (seed,) = release.of_kind("seed")
    raw_s3().put_object_tagging(Bucket=BUCKET, Key=seed["key"], Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
    publish.ensure_provisioning_tag(clients, BUCKET, seed["key"])
    assert object_tags(seed["key"]) == {"team": "ml", publish.PROVISIONING_TAG: "true"}


# --- a portfolio stack left by a failed operation ----------------------------------------------

UPDATE = {"StackName": STACK, "TemplateBody": PORTFOLIO_BODY, "Capabilities": ["CAPABILITY_AUTO_EXPAND"]}
PARAMETERS = [
    {"ParameterKey": "PrincipalArns", "ParameterValue": PRINCIPAL},
    {"ParameterKey": "PublisherArns", "ParameterValue": PUBLISHER},
]


def described(status: str, reason: str = "") -> dict:
    return {"Stacks": [{**stack_description(status), **({"StackStatusReason": reason} if reason else {})}]}


def stub_update_from_an_old_template(cfn: Stubber) -> None:
    cfn.add_response("get_template", {"TemplateBody": "old template"}, {"StackName": STACK})
    cfn.add_response("update_stack", {"StackId": "x"}, {**UPDATE, "Parameters": PARAMETERS})
    cfn.add_response("describe_stacks", described("UPDATE_IN_PROGRESS"), {"StackName": STACK})
    cfn.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": STACK})


def test_a_stack_whose_update_rolled_back_is_updated_again(clients):
    cfn = Stubber(clients.cloudformation)
    cfn.add_response(
        "describe_stacks", described("UPDATE_ROLLBACK_COMPLETE", "Resource update cancelled"), {"StackName": STACK}
    )
    stub_update_from_an_old_template(cfn)
    with cfn:
        portfolio = publish.ensure_portfolio(clients, [], lambda line: None, PUBLISHER)
    cfn.assert_no_pending_responses()
    assert portfolio.bucket == BUCKET


def test_a_stack_whose_rollback_failed_is_rolled_back_then_updated(clients):
    cfn = Stubber(clients.cloudformation)
    cfn.add_response("describe_stacks", described("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK})
    cfn.add_response("continue_update_rollback", {}, {"StackName": STACK})
    cfn.add_response("describe_stacks", described("UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": STACK})
    cfn.add_response("describe_stacks", described("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK})
    stub_update_from_an_old_template(cfn)
    reported: list[str] = []
    with cfn:
        publish.ensure_portfolio(clients, [], reported.append, PUBLISHER)
    cfn.assert_no_pending_responses()
    assert reported[0].startswith(f"continue the rollback of stack {STACK}")


def test_a_rollback_that_fails_again_is_one_line(clients):
    cfn = Stubber(clients.cloudformation)
    cfn.add_response("describe_stacks", described("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK})
    cfn.add_response("continue_update_rollback", {}, {"StackName": STACK})
    cfn.add_response(
        "describe_stacks", described("UPDATE_ROLLBACK_FAILED", "Bucket policy: Access Denied"), {"StackName": STACK}
    )
    with cfn, pytest.raises(publish.PublishError, match=r"ended UPDATE_ROLLBACK_FAILED: Bucket policy: Access Denied$"):
        publish.ensure_portfolio(clients, [], lambda line: None, PUBLISHER)


def test_a_stack_whose_creation_rolled_back_is_deleted_and_created_again(clients):
    cfn = Stubber(clients.cloudformation)
    cfn.add_response("describe_stacks", described("ROLLBACK_COMPLETE"), {"StackName": STACK})
    cfn.add_response("delete_stack", {}, {"StackName": STACK})
    cfn.add_response("describe_stacks", described("DELETE_IN_PROGRESS"), {"StackName": STACK})
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
    cfn.add_response("create_stack", {"StackId": "y"}, {**UPDATE, "Parameters": PARAMETERS, "OnFailure": "DELETE"})
    cfn.add_response("describe_stacks", described("CREATE_COMPLETE"), {"StackName": STACK})
    with cfn:
        publish.ensure_portfolio(clients, [PRINCIPAL], lambda line: None, PUBLISHER)
    cfn.assert_no_pending_responses()


@pytest.mark.parametrize(
    "status,advice",
    [
        ("ROLLBACK_FAILED", "delete it"),
        ("DELETE_FAILED", "delete it"),
        ("UPDATE_FAILED", "rollback-stack"),
        ("CREATE_FAILED", "roll it back or delete it"),
        ("REVIEW_IN_PROGRESS", "delete it"),
        ("UPDATE_IN_PROGRESS", "another operation is running"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "another operation is running"),
    ],
)
def test_a_stack_publish_cannot_recover_is_one_line_and_left_alone(clients, status, advice):
    cfn = Stubber(clients.cloudformation)  # any call beyond the one read fails the test
    cfn.add_response("describe_stacks", described(status, "why"), {"StackName": STACK})
    with cfn, pytest.raises(publish.PublishError) as stopped:
        publish.ensure_portfolio(clients, [PRINCIPAL], lambda line: None, PUBLISHER)
    assert f"stack {STACK} is {status}" in str(stopped.value) and advice in str(stopped.value)
    assert "\n" not in str(stopped.value)


# --- Service Catalog: a version is immutable there too -----------------------------------------


def test_a_catalog_version_with_another_template_is_refused_even_when_the_bucket_agrees(clients, tmp_path):
    """The bucket holds exactly this release (so the S3 check passes), but Service Catalog already
    has a version of that name made from another template: publishing must stop, not call it
    unchanged."""
    release = make_release(tmp_path, VERSION, seeds=1)
    raw_s3().create_bucket(Bucket=BUCKET)
    put_published(release)
    cfn, sc = Stubber(clients.cloudformation), Stubber(clients.servicecatalog)
    stub_existing_stack(cfn)
    first = catalog.products()[0]
    other = {
        "Id": "pa-1",
        "Name": VERSION,
        "Description": f"Release {VERSION}; template sha256:{'0' * 64}",
        "Active": True,
    }
    stub_existing_product_reads(sc, first, [other])
    with (
        cfn,
        sc,
        pytest.raises(
            publish.PublishError, match=rf"{first.name!r} already has a version {VERSION} with another template"
        ),
    ):
        publish.publish(clients, release, [], lambda line: None)


# --- versions: the whole string, no trailing newline -------------------------------------------


@pytest.mark.parametrize("command", ["publish", "deprecate"])
@pytest.mark.parametrize("version", ["1.0.0\n", "1.0.0\n\n", " 1.0.0", "1.0"])
def test_a_malformed_version_is_one_line_exit_2_and_no_aws_call(command, version, tmp_path, capsys, monkeypatch):
    make_release(tmp_path, VERSION)
    monkeypatch.setattr(boto3.Session, "client", lambda *args, **kwargs: pytest.fail("an AWS client was created"))
    extra = ["--dist", str(tmp_path)] if command == "publish" else []
    assert publish.main([command, "--version", version, *extra, "--region", REGION]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"error: {command} stopped: version {version!r} is not allowed: use MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1"
    ]
    assert captured.out == ""


# --- stage accounts of multi-account projects (portfolio StageAccountIds: the key policy) ------

STAGE_ACCOUNTS = ["222222222222", "111111111111"]


def _update_with(parameters: list[dict]) -> dict:
    return {**UPDATE, "Parameters": parameters}


def test_stage_accounts_reach_the_portfolio_stack(clients):
    cfn = Stubber(clients.cloudformation)
    stub_existing_stack(cfn)
    accounts = {"ParameterKey": "StageAccountIds", "ParameterValue": "111111111111,222222222222"}
    cfn.add_response("update_stack", {"StackId": "x"}, _update_with([*PARAMETERS, accounts]))
    cfn.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": STACK})
    with cfn:
        publish.ensure_portfolio(clients, [], lambda line: None, PUBLISHER, stage_accounts=STAGE_ACCOUNTS)
    cfn.assert_no_pending_responses()


def test_a_later_publish_keeps_the_stage_accounts(clients):
    """Leaving StageAccountIds out of an update would reset it to the template's empty default."""
    accounts = {"ParameterKey": "StageAccountIds", "ParameterValue": "111111111111,222222222222"}
    existing = stack_description()
    existing["Parameters"] = [*existing["Parameters"], accounts]
    cfn = Stubber(clients.cloudformation)
    cfn.add_response("describe_stacks", {"Stacks": [existing]}, {"StackName": STACK})
    cfn.add_response("get_template", {"TemplateBody": "old template"}, {"StackName": STACK})
    cfn.add_response("update_stack", {"StackId": "x"}, _update_with([*PARAMETERS, accounts]))
    cfn.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": STACK})
    with cfn:
        publish.ensure_portfolio(clients, [], lambda line: None, PUBLISHER)
    cfn.assert_no_pending_responses()


def test_a_malformed_stage_account_is_one_line_before_any_aws_call(capsys):
    command = ["publish", "--version", VERSION, "--stage-account", "12345", "--region", REGION]
    assert publish.main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'12345' is not an AWS account id" in err
