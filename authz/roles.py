"""The roles our products run as in AWS, with the policies AWS attaches to them.

Why these roles: the SageMaker console creates the `AmazonSageMakerServiceCatalogProducts*Role`
service roles (path `service-role/`) with AWS managed policies whose documents are public, so what
they allow can be checked offline. Role -> policy evidence is in authz/policies/README.md
(https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-sc.html: each
`AmazonSageMakerServiceCatalogProducts<Service>ServiceRolePolicy` "is intended to be attached to an
IAM role that the AmazonSageMakerServiceCatalogProductsLaunchRole passes to" that service).

`studio_reachable`: can a Studio user make this role perform actions or deploy content of the
user's choosing? Studio users have AmazonSageMakerFullAccess (snapshot in authz/policies), which
grants:
- `codebuild:StartBuild` on `project/sagemaker*` (Sid AllowCodeBuildActions). StartBuild takes a
  `buildspecOverride` (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html),
  so any command runs as the project's role: **codebuild** is reachable.
- `iam:PassRole` on `role/*` to `sagemaker.amazonaws.com` (Sid AllowPassRoleToSageMaker) and
  `sagemaker:*` on jobs: a training/processing job runs the user's container as any role it is
  given, so **execution** is reachable.
- The CodeBuild role writes the `sagemaker-*` artifact buckets that deploy pipelines read their
  stack templates from, so through codebuild a user chooses the templates that CloudFormation deploys
  with the CloudFormation role: **cloudformation** is reachable (content, not just calls).
Not reachable with a choice of actions: **launch** (ServiceCatalog ProvisionProduct runs only the
product's template; FullAccess grants no servicecatalog:CreateProduct/CreateProvisioningArtifact),
**codepipeline** and **events** (they perform the fixed actions of a pipeline or rule; FullAccess has
no codepipeline:UpdatePipeline / events:PutTargets), **lambda** (FullAccess's
lambda:InvokeFunction on `*sagemaker*` functions chooses the input, not the code: the function's
code must treat its event as untrusted, but the role only does what the code does), **apigateway**.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from authz.policies import managed
from authz.template import PSEUDO, defaults, load


@dataclass(frozen=True)
class Role:
    name: str
    arn_path: str
    trusted_service: str
    policies: list[dict] = field(default_factory=list)
    boundary: dict | None = None
    studio_reachable: bool = False

    def arn(self, account: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account}:role/{self.arn_path}{self.name}"


def without_statement(roles: Mapping[str, Role], sid: str) -> dict[str, Role]:
    """The roles with every statement `sid` taken out of their policies: what a test removes to
    see the call that statement allows denied."""
    changed = {}
    for key, role in roles.items():
        policies = [
            {**policy, "Statement": [s for s in policy["Statement"] if s.get("Sid") != sid]} for policy in role.policies
        ]
        changed[key] = replace(role, policies=policies)
    return changed


_PREFIX = "AmazonSageMakerServiceCatalogProducts"

# key -> (role name suffix, managed policy, trusted service principal, studio reachable)
# Trusted services: the service each role is passed to, per the managed policies' iam:PassRole
# statements (iam:PassedToService) and the docs page cited above; the role -> trusted principal
# pairs match the AWS-authored CDK construct cited in authz/policies/README.md.
_TABLE = {
    "launch": ("Launch", "AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy", "servicecatalog", False),
    "codebuild": ("CodeBuild", f"{_PREFIX}CodeBuildServiceRolePolicy", "codebuild", True),
    "codepipeline": ("CodePipeline", f"{_PREFIX}CodePipelineServiceRolePolicy", "codepipeline", False),
    "events": ("Events", f"{_PREFIX}EventsServiceRolePolicy", "events", False),
    "cloudformation": ("Cloudformation", f"{_PREFIX}CloudformationServiceRolePolicy", "cloudformation", True),
    "lambda": ("Lambda", f"{_PREFIX}LambdaServiceRolePolicy", "lambda", False),
    "apigateway": ("ApiGateway", f"{_PREFIX}ApiGatewayServiceRolePolicy", "apigateway", False),
    "execution": ("Execution", "AmazonSageMakerFullAccess", "sagemaker", True),
}

ROLES: dict[str, Role] = {
    key: Role(
        name=f"{_PREFIX}{suffix}Role",
        arn_path="service-role/",
        trusted_service=f"{service}.amazonaws.com",
        policies=[managed(policy)],
        studio_reachable=reachable,
    )
    for key, (suffix, policy, service, reachable) in _TABLE.items()
}


def with_platform(role_key: str, template_path: Path | str, parameters: Mapping[str, object]) -> Role:
    """The role plus the AWS::IAM::ManagedPolicy / AWS::IAM::Policy documents a platform template
    attaches to it (resources whose `Roles` name the role, by name or by an ARN ending in it),
    resolved for these parameter values with the physical names and ARNs of the template's own
    resources (authz.stack: `!GetAtt Bucket.Arn` becomes the bucket's ARN); resources switched
    off by a condition are left out. The shared ROLES entry is not changed."""
    role = ROLES[role_key]
    return _attach(role, _resolved(load(Path(template_path)), parameters))


def _resolved(template: dict, parameters: Mapping[str, object]) -> dict[str, tuple[str, dict]]:
    from authz.stack import resolved_resources  # authz.stack needs the cfn table: imported on use

    return resolved_resources(template, {**PSEUDO, **defaults(template), **parameters})


def _attach(role: Role, resources: Mapping[str, tuple[str, dict]]) -> Role:
    added = [
        props["PolicyDocument"]
        for kind, props in resources.values()
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
        and any(_names_role(str(entry), role.name) for entry in props.get("Roles", []))
    ]
    return replace(role, policies=[*role.policies, *added])


# stage_access.yaml's roles (logical id) -> authz key.
STAGE_ROLE_KEYS = {
    "CloudFormationRole": "stage-cloudformation",
    "EndpointRole": "stage-endpoint",
    "InvokeRole": "stage-invoke",
    "BatchPipelineRole": "stage-batch-pipeline",
    "BatchScheduleRole": "stage-batch-schedule",
    "MonitoringRole": "stage-monitoring",
    "DriftRetrainRole": "stage-drift-retrain",
    "MonitoringScheduleRole": "stage-monitoring-schedule",
    "DeployRole": "stage-deploy",
}


def _created(resources: Mapping[str, tuple[str, dict]]) -> dict[str, Role]:
    """Each AWS::IAM::Role of a template, keyed by STAGE_ROLE_KEYS, with its inline policies and
    every policy the template attaches to it. Counted Studio-reachable: a Studio user chooses
    (through the CodeBuild role) the stage templates and code that run as them."""
    created = {}
    for logical, (kind, props) in resources.items():
        if kind != "AWS::IAM::Role":
            continue
        principal = props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        role = Role(
            name=props["RoleName"],
            arn_path=props.get("Path", "/").lstrip("/"),
            trusted_service=principal.get("Service", ""),
            policies=[policy["PolicyDocument"] for policy in props.get("Policies", [])],
            studio_reachable=True,
        )
        created[STAGE_ROLE_KEYS.get(logical, f"stage-{logical.lower()}")] = _attach(role, resources)
    return created


def stage_access(parameters: Mapping[str, object]) -> dict[str, tuple[str, dict]]:
    """stage_access.yaml's resources for these parameters, resolved (account: authz.template.PSEUDO)."""
    return _resolved(load(STAGE_ACCESS), parameters)


def stage_access_roles(parameters: Mapping[str, object]) -> dict[str, Role]:
    """The roles stage_access.yaml creates for these parameters (see _created for the keys)."""
    return _created(stage_access(parameters))


REPO_ROOT = Path(__file__).resolve().parents[1]
PORTFOLIO = REPO_ROOT / "servicecatalog" / "portfolio.yaml"
STAGE_ACCESS = REPO_ROOT / "templates/deploy/{{cookiecutter.__repo_dir}}/app_infra/stage_access/stage_access.yaml"
ACCOUNT = PSEUDO["AWS::AccountId"]
# Example values of the platform stack's required parameters (servicecatalog/portfolio.yaml).
PLATFORM_PARAMETERS = {
    "PrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/studio-execution",
    "PublisherArns": f"arn:aws:iam::{ACCOUNT}:role/platform-publisher",
    "StageAccountIds": "111111111111,222222222222",
}
EVERY = "*"
# The account-wide stage access, as the kit's mlops_template_kit/deploy/stacks.py
# shared_stage_access_parameters gives it (`mlops-kit deploy --stage-access --every-project`):
# every project's runtime roles, the deploy policy attached to the deploy CodeBuild role.
EVERY_PROJECT_STAGE_ACCESS = {
    "ProjectName": EVERY,
    "ProjectId": EVERY,
    "StageName": EVERY,
    "ToolingAccountId": ACCOUNT,
    "ArtifactBucketName": f"sagemaker-project-{EVERY}",
    "DeployRoleName": "",
    "AttachToRoleName": ROLES["codebuild"].name,
}


def deployed_roles() -> dict[str, Role]:
    """Every role as deployed: the managed product roles plus what the platform stack
    (portfolio.yaml) and the account-wide stage access (stage_access.yaml, deploy policy on the
    CodeBuild role) attach to them, and the roles stage_access.yaml creates ("stage-cloudformation",
    "stage-endpoint", "stage-invoke", "stage-batch-pipeline", "stage-batch-schedule").
    The one place that decides which policies each role has: `python -m authz` and the run-time
    call test both evaluate against it."""
    return dict(_deployed_roles())


@functools.cache
def _deployed_roles() -> dict[str, Role]:
    platform = _resolved(load(PORTFOLIO), _declared(PORTFOLIO, PLATFORM_PARAMETERS))
    every_project = stage_access(EVERY_PROJECT_STAGE_ACCESS)
    roles = {key: _attach(_attach(role, platform), every_project) for key, role in ROLES.items()}
    return {**roles, **_created(every_project)}


def _declared(path: Path, values: Mapping[str, str]) -> dict[str, str]:
    declared = load(path).get("Parameters", {})
    return {name: value for name, value in values.items() if name in declared}


def _names_role(entry: str, role_name: str) -> bool:
    return re.fullmatch(rf"(.*[:/])?{re.escape(role_name)}", entry) is not None
