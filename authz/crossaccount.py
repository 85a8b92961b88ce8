"""Would a stage account's role be allowed to read what lives in the tooling account?

Multi-account projects deploy staging and prod into their own accounts, while the model stays in
the tooling account: its data in the project's artifact bucket (SSE-KMS with the platform key) and
its package in the model registry. A request from one account to a resource of another is allowed
only if BOTH the principal's identity policies (here: the roles stage_access.yaml creates in the
stage account) AND the resource's policy (bucket policy, key policy, model package group policy)
allow it, and neither denies it (IAM User Guide, "Cross-account policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).

A resource policy statement applies to the request when its Principal names the caller: "*", the
caller's account (an account id, or its `root` ARN, which IAM treats alike: IAM User Guide,
"AWS JSON policy elements: Principal", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html),
or the caller's role ARN. Its conditions see the request context with aws:PrincipalArn (the role's
ARN, not the session's) and aws:PrincipalAccount. Service principals never match a role.
"""

from __future__ import annotations

from authz.evaluate import Decision, Request, decide
from authz.roles import Role

VERSION = "2012-10-17"


def principal_account(principal_arn: str) -> str:
    return principal_arn.split(":")[4]


def request_context(principal_arn: str, extra: dict | None = None) -> dict:
    """The global keys every request of this role carries (over TLS, as every SDK call is)."""
    return {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": principal_account(principal_arn),
        "aws:SecureTransport": "true",
        **(extra or {}),
    }


def _listed(value: object) -> list:
    return value if isinstance(value, list) else [value]


def names_principal(element: object, principal_arn: str) -> bool:
    """Does a Principal element name this role (directly, by its account, or by "*")?"""
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    account = principal_account(principal_arn)
    partition = principal_arn.split(":")[1]
    for entry in _listed(element.get("AWS", [])):
        if entry in ("*", account, f"arn:{partition}:iam::{account}:root", principal_arn):
            return True
    return False


def _applies(statement: dict, principal_arn: str) -> bool:
    if "NotPrincipal" in statement:
        return not names_principal(statement["NotPrincipal"], principal_arn)
    return names_principal(statement.get("Principal"), principal_arn)


def resource_policy_decision(policy: dict | None, principal_arn: str, request: Request) -> Decision:
    """The resource policy's answer for this principal: only statements naming it take part."""
    statements = _listed((policy or {}).get("Statement", []))
    applying = [
        {key: value for key, value in statement.items() if key not in ("Principal", "NotPrincipal")}
        for statement in statements
        if _applies(statement, principal_arn)
    ]
    if not applying:
        return Decision(False, f"implicit deny: the resource policy has no statement for {principal_arn}")
    return decide([{"Version": VERSION, "Statement": applying}], request)


def decide_across(role: Role, principal_arn: str, resource_policy: dict | None, request: Request) -> Decision:
    """IAM's answer for a request from `principal_arn` (with `role`'s identity policies) to a
    resource in another account guarded by `resource_policy`."""
    request = Request(request.action, request.resource, request_context(principal_arn, dict(request.context)))
    identity = decide(role.policies, request, role.boundary)
    resource = resource_policy_decision(resource_policy, principal_arn, request)
    for side, decision in (("identity", identity), ("resource policy", resource)):
        if decision.reason.startswith("explicit deny"):
            return Decision(False, f"{side}: {decision.reason}")
    if identity.allowed and resource.allowed:
        return Decision(True, f"identity: {identity.reason}; resource policy: {resource.reason}")
    missing = [
        side for side, decision in (("identity", identity), ("resource policy", resource)) if not decision.allowed
    ]
    reasons = "; ".join(f"{side}: {d.reason}" for side, d in (("identity", identity), ("resource policy", resource)))
    return Decision(False, f"cross-account needs both; {' and '.join(missing)} missing ({reasons})")


# --- the tooling account's resource policies, as our templates and the deploy step make them -----

# The product that owns the artifact bucket policy (every product has the project part; the
# deploy products are the ones a multi-account project is created from).
PRODUCT = "deploy"


def bucket_policy(stage_accounts: list[str]) -> dict:
    """The artifact bucket's policy (servicecatalog/parts/project.yaml ArtifactBucketPolicy) of a
    project created with StageAccountIds = stage_accounts, at the worst-case names."""
    from authz.provision import PRODUCT_STACK, SAMPLES
    from authz.stack import pseudo_parameters, resolved_resources
    from authz.template import defaults
    from scripts import catalog, products

    product = next(item for item in catalog.products() if item.key == PRODUCT)
    template = products.compose(product)
    values = {**pseudo_parameters(PRODUCT_STACK), **defaults(template), **SAMPLES, "StageAccountIds": stage_accounts}
    return resolved_resources(template, values)["ArtifactBucketPolicy"][1]["PolicyDocument"]


def key_policy(stage_accounts: list[str]) -> dict:
    """The platform key's policy (servicecatalog/portfolio.yaml ArtifactKey) for StageAccountIds."""
    from authz.roles import PLATFORM_PARAMETERS, PORTFOLIO, _declared, _resolved
    from authz.template import load

    values = {**_declared(PORTFOLIO, PLATFORM_PARAMETERS), "StageAccountIds": ",".join(stage_accounts)}
    return _resolved(load(PORTFOLIO), values)["ArtifactKey"][1]["KeyPolicy"]


def s3_object_arn(url: str, partition: str = "aws") -> str:
    """s3://bucket/key -> arn:<partition>:s3:::bucket/key"""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"not an S3 object URL: {url!r}")
    return f"arn:{partition}:s3:::{url[5:]}"


# Which stage role reads what (stage_access.yaml keys, authz.roles.STAGE_ROLE_KEYS): the model's
# execution roles load its data; CloudFormation creates the model from the package (and the
# function from its code); all of them decrypt through S3.
MODEL_READERS = ("stage-endpoint", "stage-batch-pipeline")
PACKAGE_READERS = ("stage-cloudformation", "stage-endpoint", "stage-batch-pipeline")


def tooling_reads(
    model: dict, key_arn: str, stage_account: str, function_code: str = "", monitoring_objects: tuple[str, ...] = ()
) -> list[tuple[str, str, str, dict, str]]:
    """(role key, action, resource, extra context, which resource policy) of every read a stage in
    its own account makes in the tooling account; `monitoring_objects`: the baseline and
    model-quality constraints its Model Monitor jobs read (app_infra/monitoring)."""
    through_s3 = {"kms:ViaService": f"s3.{key_arn.split(':')[3]}.amazonaws.com", "kms:CallerAccount": stage_account}
    data = s3_object_arn(model["model_data_url"])
    reads = [(role, "s3:GetObject", data, {}, "bucket") for role in MODEL_READERS]
    reads += [(role, "kms:Decrypt", key_arn, through_s3, "key") for role in (*MODEL_READERS, "stage-cloudformation")]
    reads += [(role, "sagemaker:DescribeModelPackage", model["arn"], {}, "group") for role in PACKAGE_READERS]
    if function_code:
        reads.append(("stage-cloudformation", "s3:GetObject", s3_object_arn(function_code), {}, "bucket"))
    for url in monitoring_objects:
        if url.endswith("/"):  # a prefix a processing input lists (the processing monitoring engine's code)
            bucket, _, prefix = url[5:].partition("/")
            reads.append(
                ("stage-monitoring", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}, "bucket")
            )
            continue
        reads.append(("stage-monitoring", "s3:GetObject", s3_object_arn(url), {}, "bucket"))
    if monitoring_objects:
        reads.append(("stage-monitoring", "kms:Decrypt", key_arn, through_s3, "key"))
    return reads
