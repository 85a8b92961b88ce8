"""Switch an existing SageMaker project to another published template version (UpdateProject).

Service Catalog route only: the project's product gets the provisioning artifact named by the
version, with the project's current parameters kept, except those given with `--parameter KEY=VALUE`
(e.g. the MlflowTrackingServerArn of a tracking server created after the project). Every parameter
is sent, so none falls back to its default. What this does and does not do:

- CloudFormation updates the project stack in place. A resource whose change needs replacement
  (a renamed repository, bucket or model package group) is deleted and created again, with its
  data; AWS warns that an update may lose resources of an active project. Read the diff of the
  two product templates first and update a copy of a project before a busy one.
- Seed code already in the repositories is never changed by CloudFormation: bring repositories
  to the new version with `make update` inside each repository.
- Stacks that CI created (endpoints per stage) are not touched; the next deployment does that.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import boto3

from scripts import catalog
from scripts.publish import NO_CREDENTIALS, PublishError, call


@dataclass(frozen=True)
class Plan:
    """What UpdateProject will change."""

    project: str
    product_id: str
    current_artifact: str
    target_artifact: str
    version: str
    parameters: list[dict]
    current_parameters: list[dict] | None = None

    @property
    def is_noop(self) -> bool:
        unchanged = self.current_parameters is None or self.current_parameters == self.parameters
        return self.current_artifact == self.target_artifact and unchanged


def with_overrides(parameters: list[dict], overrides: dict[str, str]) -> list[dict]:
    """The project's parameters with the given keys set (replaced in place, or appended when new)."""
    updated = [{"Key": item["Key"], "Value": overrides.get(item["Key"], item["Value"])} for item in parameters]
    known = {item["Key"] for item in parameters}
    return updated + [{"Key": key, "Value": value} for key, value in overrides.items() if key not in known]


def parse_override(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of --parameter; PublishError naming the expected form otherwise."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise PublishError(f"--parameter {text!r}: expected KEY=VALUE, e.g. MlflowTrackingServerArn=arn:aws:...")
    return key, value


def make_plan(
    sagemaker: object, servicecatalog: object, project: str, version: str, overrides: dict[str, str] | None = None
) -> Plan:
    """Find the project's product and the artifact named `version`; refuse inactive versions.
    `overrides` set parameters; the others keep their current values."""
    catalog.check_version(version)
    described = call(f"describing project {project}", sagemaker.describe_project, ProjectName=project)
    details = described.get("ServiceCatalogProvisioningDetails")
    if not details:
        raise PublishError(f"project {project} was not created from a Service Catalog product")
    artifacts = call(
        f"listing versions of product {details['ProductId']}",
        servicecatalog.list_provisioning_artifacts,
        ProductId=details["ProductId"],
    )["ProvisioningArtifactDetails"]
    target = next((artifact for artifact in artifacts if artifact["Name"] == version), None)
    if target is None:
        names = ", ".join(artifact["Name"] for artifact in artifacts)
        raise PublishError(f"version {version} is not published for this project's product; published: {names}")
    if not target.get("Active", True):
        raise PublishError(f"version {version} is deactivated (deprecated); choose an active version")
    return Plan(
        project=project,
        product_id=details["ProductId"],
        current_artifact=details["ProvisioningArtifactId"],
        target_artifact=target["Id"],
        version=version,
        parameters=with_overrides(details.get("ProvisioningParameters", []), overrides or {}),
        current_parameters=details.get("ProvisioningParameters", []),
    )


def apply_plan(sagemaker: object, plan: Plan) -> None:
    """Call UpdateProject with the target artifact and the project's current parameters."""
    call(
        f"updating project {plan.project}",
        sagemaker.update_project,
        ProjectName=plan.project,
        ServiceCatalogProvisioningUpdateDetails={
            "ProvisioningArtifactId": plan.target_artifact,
            "ProvisioningParameters": plan.parameters,
        },
    )


def main(argv: list[str] | None = None, session_factory=boto3.Session) -> int:
    """Command line: `python -m scripts.update_project --project NAME --version X [--dry-run]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the SageMaker project name")
    parser.add_argument("--version", required=True, help="a published template version")
    parser.add_argument("--dry-run", action="store_true", help="show the change; do not update")
    parser.add_argument("--region", help="AWS region (default: the session's)")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="set a product parameter (repeatable)"
    )
    args = parser.parse_args(argv)
    session = session_factory(region_name=args.region) if args.region else session_factory()
    if session.get_credentials() is None:
        print(f"error: {NO_CREDENTIALS.replace('publishing', 'updating a project')}", file=sys.stderr)
        return 2
    try:
        overrides = dict(parse_override(text) for text in args.parameter)
        plan = make_plan(
            session.client("sagemaker"), session.client("servicecatalog"), args.project, args.version, overrides
        )
        if plan.is_noop:
            print(f"project {plan.project} already uses version {plan.version}")
            return 0
        print(f"project {plan.project}: {plan.current_artifact} -> {plan.target_artifact} ({plan.version})")
        for key, value in overrides.items():
            print(f"  parameter {key} = {value!r}")
        if not args.dry_run:
            apply_plan(session.client("sagemaker"), plan)
            print("UpdateProject accepted: follow the project stack in CloudFormation; then `make update` in each repo")
    except (PublishError, catalog.CatalogError) as problem:
        print(f"error: update of {args.project} stopped: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
