"""Would "Update project" to the next release work? `make update-project` (scripts/update_project.py)
moves a project's provisioned product to another release; Service Catalog updates the product stack
with the same launch role that created it.

What changes between two releases of the same templates is what depends on the release version
(the Release mapping: seed and function object keys). For every product and parameter
combination, both versions are resolved and each resource whose properties differ is asked of the
launch role the way CloudFormation's handlers would update it:
- a change to a create-only property (registry schema `createOnlyProperties`) replaces the
  resource: the new one is created, the old one deleted;
- any other change calls the type's update actions (authz.cfn `update`), plus, for the changed
  properties only, the objects they read and the roles they pass.

Template changes made by hand between two releases are not known here; this checks what every
version bump changes, which is the part an upgrade cannot avoid.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from authz import cfn
from authz.check import Ledger
from authz.provision import LAUNCH, PRODUCT_STACK, RELEASE_OBJECT_CONTEXT, combinations
from authz.stack import Evaluation, Need, _environment, _physical, pseudo_parameters
from scripts import catalog, products

# Two releases of the same templates: every version-dependent property differs between them.
FROM_VERSION, TO_VERSION = "1.0.0", "1.1.0"
# AWS::CodeCommit::Repository: "Information about code is only used in resource creation.
# Updates to a stack will not reflect changes made to code properties after initial resource
# creation." (CloudFormation template reference, AWS::CodeCommit::Repository, property Code);
# the registry schema marks Code write-only. A changed seed key therefore calls nothing.
USED_ONLY_AT_CREATION = {"AWS::CodeCommit::Repository": {"Code"}}


def changed(old: Mapping[str, object], new: Mapping[str, object]) -> set[str]:
    """Top-level properties added, removed or given another value."""
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def create_only(resource_type: str) -> set[str]:
    """Top-level properties whose change makes CloudFormation replace the resource."""
    if resource_type.startswith("Custom::"):
        resource_type = "AWS::CloudFormation::CustomResource"
    paths = cfn.schema(resource_type).get("createOnlyProperties", [])
    return {path.split("/")[2] for path in paths}


def update_needs(name: str, resource_type: str, old: dict, new: dict, stack: str) -> Iterator[Need]:
    """The calls updating one resource from `old` to `new` properties takes (none when equal)."""
    differing = changed(old, new) - USED_ONLY_AT_CREATION.get(resource_type, set())
    if not differing:
        return
    where = f"update {name} ({resource_type}): {', '.join(sorted(differing))}"
    if differing & create_only(resource_type):
        yield from _replacement(name, resource_type, old, new, stack, where)
        return
    arn = _physical(name, resource_type, new, stack)["Arn"]
    env = {**_environment(name, stack, arn), "object_context": RELEASE_OBJECT_CONTEXT}
    entry = cfn.handler(resource_type)
    tagged = cfn.resource_tag_context(cfn.tags_of(resource_type, old))
    for action in entry.update:
        yield Need("update", action, arn, _frozen(tagged), where)
    # Types whose calls the table computes (a custom resource invokes its function on update).
    for phase, action, resource, context in entry.extra(new, env) if entry.extra else ():
        if phase == "update":
            yield Need("update", action, resource, _frozen(context), where)
    # Update calls send the whole configuration (a Lambda function's Role, a pipeline's roleArn
    # and connections), so roles and connections are passed again; objects are read only when
    # the property naming them changed.
    for _phase, action, resource, context in cfn.side_needs(entry, _read_only_changed(new, differing), env):
        yield Need("update", action, "*" if cfn.unscoped(action) else resource, _frozen(context), where)


def _read_only_changed(props: dict, differing: set[str]) -> dict:
    """`props` without the object references (Code, ...) that did not change."""
    unchanged_reads = {path.split(".")[0] for reads in READS for path in reads} - differing
    return {key: value for key, value in props.items() if key not in unchanged_reads}


READS = tuple(read for entry in cfn.HANDLERS.values() for read in entry.reads)


def _replacement(name: str, resource_type: str, old: dict, new: dict, stack: str, where: str) -> Iterator[Need]:
    for phase, props in (("create", new), ("delete", old)):
        arn = _physical(name, resource_type, props, stack)["Arn"]
        env = {**_environment(name, stack, arn), "object_context": RELEASE_OBJECT_CONTEXT}
        for need_phase, action, resource, context in cfn.needs(resource_type, props, env):
            if need_phase == phase:
                yield Need(phase, action, "*" if cfn.unscoped(action) else resource, _frozen(context), where)


def _frozen(context: Mapping[str, object]) -> tuple:
    return tuple(sorted((key, tuple(v) if isinstance(v, list) else v) for key, v in context.items()))


def check_update(ledger: Ledger, product: catalog.Product) -> int:
    """Ask the launch role for every call updating one product between the two releases."""
    before = Evaluation(products.compose(product, FROM_VERSION))
    after_template = products.compose(product, TO_VERSION)
    after, count = Evaluation(after_template), 0
    for values in combinations(after_template):
        count += 1
        scope = {**pseudo_parameters(PRODUCT_STACK), **values}
        old, new = before.resources(scope), after.resources(scope)
        for name in old.keys() & new.keys():
            for need in update_needs(name, new[name][0], old[name][1], new[name][1], PRODUCT_STACK):
                ledger.resources.add(f"{product.key} {name}")
                ledger.ask(LAUNCH, need.action, need.resource, need.context, f"{product.key} {need.where}")
    return count


def check_updates(ledger: Ledger) -> dict[str, int]:
    """Every product's version bump against the launch role: product key -> combinations checked."""
    return {product.key: check_update(ledger, product) for product in catalog.products()}
