"""Would "Create project" and "Delete project" work? Every product, every combination of its
parameters' AllowedValues, checked against the role Service Catalog creates the stack with.

Why every combination: a product's conditions switch resources on and off (CodeCommit or a
connection, feature branches, seeding), and each switch can add a call the launch role lacks.
Free-text parameters take their worst case (longest project name and id) or a valid sample.
Products are composed exactly as scripts/products.py publishes them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping

from authz.check import Ledger
from authz.roles import Role
from authz.stack import (
    ACCOUNT,
    REGION,
    WORST_ID,
    WORST_NAME,
    Evaluation,
    Need,
    needs_of,
    policy_documents,
    pseudo_parameters,
)
from authz.template import resolve
from scripts import catalog, products
from scripts.publish import PROVISIONING_TAG

LAUNCH = "launch"
# Creating and deleting a project; updating one to the next release is authz.update.
PHASES = ("create", "delete")
# Service Catalog names the stacks it provisions SC-<account>-pp-<13 characters>.
PRODUCT_STACK = f"SC-{ACCOUNT}-pp-abcdefghijklm"
# scripts/publish.py tags every released object with this tag, the launch role's read path
# outside sagemaker-* buckets (policy AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy,
# Sid AmazonSageMakerServiceCatalogS3ReadPermission).
RELEASE_OBJECT_CONTEXT = {f"s3:ExistingObjectTag/{PROVISIONING_TAG}": "true"}
CONNECTION = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
SAMPLES = {
    "SageMakerProjectName": WORST_NAME,
    "SageMakerProjectId": WORST_ID,
    "CodeConnectionArn": CONNECTION,
    "BuildRepositoryFullName": "owner/build-train",
    "DeployRepositoryFullName": "owner/deploy",
    "ModelPackageGroupName": f"{WORST_NAME}-{WORST_ID}",
    "PrincipalArns": [f"arn:aws:iam::{ACCOUNT}:role/StudioExecutionRole"],
    # Multi-account projects: the bucket policy then grants the stage accounts (ArtifactBucketPolicy).
    "StageAccountIds": ["111111111111", "222222222222"],
    # Build/train products: an existing tracking server, so the stack is checked with tracking on.
    "MlflowTrackingServerArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/sagemaker-p-abc123-mlflow",
}
# The portfolio stack is deployed by `make publish` with the platform team's administrator
# credentials (team decision D3); it is checked for table coverage against an administrator.
PLATFORM_ADMIN = "platform-admin"
ADMIN_ROLE = Role(
    name="PlatformAdministrator",
    arn_path="",
    trusted_service="",
    policies=[{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
)


def rules_hold(template: dict, values: Mapping[str, object]) -> bool:
    """Whether CloudFormation's Rules accept these parameter values (else the stack is refused)."""
    for rule in template.get("Rules", {}).values():
        applies = resolve(rule.get("RuleCondition", True), template, values)
        if applies and not all(resolve(a["Assert"], template, values) for a in rule["Assertions"]):
            return False
    return True


def combinations(template: dict) -> Iterator[dict[str, object]]:
    """Every combination of AllowedValues the Rules accept, other parameters at their sample or default."""
    parameters = template.get("Parameters", {})
    fixed = {k: SAMPLES.get(k, spec.get("Default")) for k, spec in parameters.items() if "AllowedValues" not in spec}
    chosen = {k: spec["AllowedValues"] for k, spec in parameters.items() if "AllowedValues" in spec}
    for picked in itertools.product(*chosen.values()):
        values = {**fixed, **dict(zip(chosen, picked, strict=True))}
        if rules_hold(template, values):
            yield values


def check_template(ledger: Ledger, role: str, template: dict, scope: str, stack: str) -> int:
    """Check every combination of one template against a role; returns how many combinations."""
    count, evaluation, seen = 0, Evaluation(template), set()
    for values in combinations(template):
        count += 1
        resources = evaluation.resources({**pseudo_parameters(stack), **values})
        # A resource resolved exactly as in an earlier combination asks the same questions.
        fresh = {name: body for name, body in resources.items() if _fingerprint(name, body) not in seen}
        seen.update(_fingerprint(name, body) for name, body in fresh.items())
        record(ledger, role, needs_of(fresh, stack, scope, RELEASE_OBJECT_CONTEXT))
        for name, document, roles in policy_documents(fresh):
            ledger.add_policy(document, roles, f"{scope} {name}")
    return count


def _fingerprint(name: str, body: tuple[str, dict]) -> tuple[str, int]:
    return (name, id(body))


def record(ledger: Ledger, role: str, needs: Iterable[Need], phases: tuple[str, ...] = PHASES) -> None:
    """Ask the ledger about every call of the given handler phases, as made by `role`."""
    for need in needs:
        if need.phase not in phases:
            continue
        ledger.resources.add(need.where)
        ledger.ask(role, need.action, need.resource, need.context, f"{need.where} {need.phase}")


def check_products(ledger: Ledger) -> dict[str, int]:
    """Every product against the launch role: product key -> parameter combinations checked."""
    return {
        product.key: check_template(ledger, LAUNCH, products.compose(product), product.key, PRODUCT_STACK)
        for product in catalog.products()
    }


def check_portfolio(ledger: Ledger) -> int:
    """The platform stacks (portfolio, data-lake, MLflow access and server, CI OIDC) against the administrator."""
    ledger.roles.setdefault(PLATFORM_ADMIN, ADMIN_ROLE)
    samples = {
        "GlueDatabase": "sales",
        "DataLakeBucket": "example-data-lake",
        # ci-oidc.yaml: one project's repositories.
        "ProjectName": "churn",
        "ProjectId": "p-abc123",
        "BuildTrainRepository": "acme/churn-build-train",
        "DeployRepository": "acme/churn-deploy",
    }
    samples |= {  # ci-dispatch.yaml: one project's group and token secret version
        "ModelPackageGroupName": "churn-p-abc123",
        "TokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sagemaker-p-abc123-ci-token-AbCdEf",
        "TokenSecretVersionId": "a1b2c3d4-5678-90ab-cdef-0123456789ab",
    }
    samples |= {  # mlflow-access.yaml
        "MlflowResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team",
        "ArtifactBucket": "example-mlflow-artifacts",
    }
    count = 0
    for path in products.ACCOUNT_TEMPLATES:
        template = products.load_cloudformation(path.read_text(encoding="utf-8"))
        for name, spec in template.get("Parameters", {}).items():
            spec.setdefault("Default", samples.get(name))
        count += check_template(ledger, PLATFORM_ADMIN, template, path.name, "sagemaker-project-templates")
    return count
