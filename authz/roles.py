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

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from authz.policies import managed
from authz.template import load, managed_policies


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


def with_platform(role_key: str, template_path: Path | str, parameters: dict[str, str]) -> Role:
    """The role plus the AWS::IAM::ManagedPolicy documents a platform template attaches to it
    (resources whose `Roles` name the role, by name or by an ARN ending in it), resolved for these
    parameter values (see authz.template.managed_policies); resources switched off by a condition
    are left out. The shared ROLES entry is not changed."""
    role = ROLES[role_key]
    added = [
        policy.document
        for policy in managed_policies(load(Path(template_path)), parameters)
        if any(_names_role(entry, role.name) for entry in policy.roles)
    ]
    return replace(role, policies=[*role.policies, *added])


def _names_role(entry: str, role_name: str) -> bool:
    return re.fullmatch(rf"(.*[:/])?{re.escape(role_name)}", entry) is not None
