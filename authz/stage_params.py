"""Run with a baked deploy repository's root as the one argument (the kit's deploy code is given
it, to find the stacks and the answers): print the stacks every stage deploys and their
parameters, using the deploy code the repository runs (the kit's mlops_template_kit.deploy), for
the stage configurations read as JSON
from stdin: {"<combination>": {"<stage>": <inference_config>}}.

Why the code the repository runs: the parameters a stage stack gets (role, bucket, key and endpoint
names) are computed by mlops_template_kit/deploy/stacks.py; reproducing them here would check a copy.
Output: {"<combination>": [{"stage", "part", "stack", "template", "account", "access", "tooling",
"Parameters", "Tags"}]} ("access": the stage_access.yaml parameters of a stage in its own account,
else null; "tooling": for such a stage, the model it reads from the tooling account and the model
package group policy the deploy step puts for it, mlops_template_kit/deploy/model_registry.py) plus "trigger" (the
model-approval rule stack, one per repository).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlops_template_kit import naming
from mlops_template_kit.deploy import stacks
from mlops_template_kit.deploy.model_registry import ApprovedModel, merged_policy, stage_read_statement
from mlops_template_kit.deploy.settings import Settings

# The account every evaluation uses (authz.stack.ACCOUNT); the build reads it from STS.
ACCOUNT = "123456789012"


def _model(settings: Settings) -> ApprovedModel:
    group = settings.model_package_group
    # The data-quality baseline the training pipeline registers (its outputs area): what the
    # monitoring stack's schedules compare against.
    baseline = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/baseline"
    return ApprovedModel(
        arn=f"arn:aws:sagemaker:{settings.region}:{ACCOUNT}:model-package/{group.lower()}/1",
        group=group,
        version=1,
        model_data_url=f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/model.tar.gz",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
        baseline_statistics_uri=f"{baseline}/statistics.json",
        baseline_constraints_uri=f"{baseline}/constraints.json",
    )


def _tooling(model: ApprovedModel, stage_account: str) -> dict:
    """What a stage in its own account reads from the tooling account, and the group policy the
    deploy step (mlops_template_kit/deploy/deploy.py share_with_stage) puts for it on a group without one."""
    return {
        "model": model.to_json(),
        "group_policy": merged_policy(None, stage_read_statement(model, stage_account)),
    }


def _stage_stacks(settings: Settings, stage: str, config: dict) -> list[dict]:
    ctx = stacks.StageContext(
        settings=settings,
        stage=stage,
        config=config,
        model=_model(settings),
        feature_columns=["feature_a", "feature_b"],
        lambda_code_key=f"{settings.deploy_prefix()}/lambda/invoke_endpoint.zip",
        account_id=ACCOUNT,
    )
    # A stage in its own account is deployed through that project stage's access (stage_access.yaml
    # in the stage account); the others through the account-wide access.
    access = stacks.stage_access_parameters(settings, stage, ACCOUNT) if config.get("account") else None
    tooling = _tooling(ctx.model, config["account"]["id"]) if access else None
    return [
        {
            "stage": stage,
            "part": spec.part,
            "stack": settings.stack_name(stage, spec.part),
            "template": spec.template,
            "account": config.get("account", {}).get("id", ACCOUNT),
            "access": access,
            "tooling": tooling,
            **stacks.template_configuration(ctx, spec),
        }
        for spec in stacks.stage_stacks(config, settings.repo_root)
    ]


def main(repo_root: str) -> int:
    settings = Settings.from_env(Path(repo_root))
    combinations = json.load(sys.stdin)
    result = {
        key: [entry for stage, config in configs.items() for entry in _stage_stacks(settings, stage, config)]
        for key, configs in combinations.items()
    }
    pipeline = stacks.deploy_pipeline_name(settings, {})
    result["trigger"] = [
        {
            "stage": "tooling",
            "part": "deploy-trigger",
            "stack": naming.stack(settings.project_name, settings.project_id, "deploy-trigger"),
            "account": ACCOUNT,
            "access": None,
            "tooling": None,
            "template": stacks.MODEL_APPROVAL_TEMPLATE,
            "Parameters": stacks.model_approval_parameters(settings, pipeline, ACCOUNT),
            "Tags": {k: v for k, v in settings.tags("staging").items() if k != "sagemaker:deployment-stage"},
        }
    ]
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
