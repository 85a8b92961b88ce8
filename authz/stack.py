"""The handler calls of one stack: for every resource CloudFormation would create under given
parameter values, the (action, ARN, context) its create and delete handlers need (authz.cfn).

Why physical values: IAM sees real ARNs, so `!Ref Bucket` must become the bucket's name and
`!GetAtt Function.Arn` the function's ARN. The shared intrinsics evaluator leaves `Name.Ref` /
`Name.Attribute` placeholders for resources; this module replaces them with each resource's
name and ARN computed from the authz.cfn table (two rounds: a bucket policy's ARN needs the
bucket's name first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from authz import cfn
from authz.dependencies import parameters_of
from authz.template import conditions_of, live_resources, resolve

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
# Worst-case project identity: the longest name (32) and id (20) SageMaker accepts (FACTS.md).
WORST_NAME = "a" + "-b" * 15 + "c"
WORST_ID = "p-" + "x" * 18


@dataclass(frozen=True)
class Need:
    """One call CloudFormation makes for a resource, and where it comes from."""

    phase: str
    action: str
    resource: str
    context: tuple[tuple[str, object], ...]
    where: str

    @property
    def key(self) -> tuple:
        """What identifies the question asked of IAM (the same call from two places is one question)."""
        return (self.action, self.resource, self.context)


def pseudo_parameters(stack_name: str) -> dict[str, str]:
    """Pseudo parameters at the account and region every evaluation uses."""
    return {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::Partition": PARTITION,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{'0' * 36}",
        "AWS::URLSuffix": "amazonaws.com",
    }


def _environment(logical: str, stack: str, arn: str = "") -> dict:
    # CloudFormation generates names from the stack and logical id; ids are AWS-generated.
    generated = f"{stack}-{logical}-{cfn.GENERATED}".lower()
    return {"partition": PARTITION, "region": REGION, "account": ACCOUNT, "generated": generated, "arn": arn}


_PLACEHOLDER = re.compile(r"(?<![\w.-])([A-Za-z0-9]+)\.([A-Za-z]+)\b")


def _substitute(node: object, physical: Mapping[str, Mapping[str, str]]) -> object:
    """Replace `Logical.Ref` / `Logical.Attribute` placeholders with known physical values."""
    if not physical:
        return node

    def text(match: re.Match) -> str:
        return physical.get(match.group(1), {}).get(match.group(2), match.group(0))

    def walk(value: object) -> object:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(text, value) if "." in value else value
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(node)


def _physical(logical: str, resource_type: str, props: dict, stack: str) -> dict[str, str]:
    """A resource's Ref value and attributes: its name, ARN and generated id."""
    env = _environment(logical, stack)
    entry = cfn.handler(resource_type)
    name = cfn.name_of(resource_type, props, env)
    arn = cfn.fill(entry.arn, props, env) if entry.arn else env["generated"]
    identifier = cfn.fill(entry.id, props, env) if entry.id else env["generated"]
    ref = {"name": name, "arn": arn, "id": identifier}[entry.ref]
    attributes = {"Ref": ref, "Arn": arn, "Name": name}
    # Attributes such as CodeRepositoryName, EndpointName, ModelName are the physical name.
    attributes.update({key: name for key in _NAME_ATTRIBUTES})
    return attributes


_NAME_ATTRIBUTES = ("CodeRepositoryName", "EndpointName", "EndpointConfigName", "ModelName", "PipelineName")


def _naming_properties(resource_type: str, props: dict) -> dict:
    entry = cfn.handler(resource_type)
    fields = {name.split(".")[0] for name, _ in cfn.FIELD.findall(entry.arn + (entry.id or ""))}
    return {key: value for key, value in props.items() if key in fields}


class Evaluation:
    """One template evaluated under many parameter combinations. A resource is resolved again only
    when a parameter it may depend on changes (authz.dependencies), which keeps hundreds of
    product combinations fast; the result is the same as resolving everything every time."""

    def __init__(self, template: dict):
        self.template = template
        self.depends = parameters_of(template)
        self.cache: dict[tuple, tuple[str, dict]] = {}

    def _key(self, name: str, values: Mapping[str, object]) -> tuple:
        names = self.depends.get(name)
        chosen = sorted(values) if names is None else sorted(names)
        return (name, str(values.get("AWS::StackName")), tuple((key, repr(values.get(key))) for key in chosen))

    def resources(self, values: Mapping[str, object]) -> dict[str, tuple[str, dict]]:
        """Every live resource as (type, properties), intrinsics and physical values resolved."""
        live = live_resources(self.template, values)
        keys = {name: self._key(name, values) for name in live}
        missing = [name for name in live if keys[name] not in self.cache]
        if missing:
            flags = conditions_of(self.template, values)
            physical = self._physical(live, values, flags)
            for name in missing:
                props = resolve(live[name].get("Properties", {}), self.template, values, flags)
                self.cache[keys[name]] = (live[name]["Type"], _substitute(props, physical))
        return {name: self.cache[keys[name]] for name in live}

    def _physical(self, live: dict, values: Mapping[str, object], flags: dict) -> dict[str, dict[str, str]]:
        """Names and ARNs of every live resource, from the few properties its ARN pattern names
        (two rounds: a bucket policy's ARN needs the bucket's name first)."""
        stack = str(values.get("AWS::StackName", "stack"))
        naming = {
            name: resolve(_naming_properties(body["Type"], body.get("Properties", {})), self.template, values, flags)
            for name, body in live.items()
        }
        physical: dict[str, dict[str, str]] = {}
        for _round in range(2):
            physical = {
                name: _physical(name, live[name]["Type"], _substitute(props, physical), stack)
                for name, props in naming.items()
            }
        return physical


def resolved_resources(template: dict, values: Mapping[str, object]) -> dict[str, tuple[str, dict]]:
    """Every live resource as (type, properties) with intrinsics and physical values resolved."""
    return Evaluation(template).resources(values)


def stack_needs(
    template: dict,
    values: Mapping[str, object],
    scope: str,
    object_context: Mapping[str, str] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> Iterator[Need]:
    """The calls CloudFormation makes to create and delete this stack's resources (`stack_tags`:
    the tags the stack is created with, which CloudFormation passes on to taggable resources)."""
    stack = str(values.get("AWS::StackName", "stack"))
    resources = resolved_resources(template, values)
    yield from needs_of(resources, stack, scope, object_context, stack_tags)


def needs_of(
    resources: Mapping[str, tuple[str, dict]],
    stack: str,
    scope: str,
    object_context: Mapping[str, str] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> Iterator[Need]:
    """The calls of already resolved resources (see resolved_resources)."""
    for name, (resource_type, props) in resources.items():
        arn = _physical(name, resource_type, props, stack)["Arn"]
        env = {**_environment(name, stack, arn), "object_context": dict(object_context or {}), "stack_tags": stack_tags}
        for phase, action, resource, context in cfn.needs(resource_type, props, env):
            resource = "*" if cfn.unscoped(action) else resource
            frozen = tuple(sorted((key, tuple(v) if isinstance(v, list) else v) for key, v in context.items()))
            yield Need(phase, action, resource, frozen, f"{scope} {name} ({resource_type})")


POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role")


def policy_documents(resources: Mapping[str, tuple[str, dict]]) -> Iterator[tuple[str, dict, list[str]]]:
    """Every IAM policy a stack creates: (logical id, document, names or ARNs of the roles it is on)."""
    for name, (resource_type, props) in resources.items():
        if resource_type == "AWS::IAM::Role":
            role = [props.get("RoleName", name)]
            yield from ((name, policy["PolicyDocument"], role) for policy in props.get("Policies", []))
        elif resource_type in POLICY_TYPES:
            yield (name, props["PolicyDocument"], [str(role) for role in props.get("Roles", [])])
