"""A drift alarm's retraining run is one the build-train pipeline accepts, for both data sources.

Both sides, as generated: the build-train repository (data_source s3 and athena) builds its
pipeline definition, whose RegisterModel step records the model's `data_source`; the deploy
repository's build turns an approved model carrying that metadata into the monitoring stack's
parameters (stacks.monitoring_parameters), and the stack, created in moto's CloudFormation, holds
the EventBridge target that starts the pipeline. A StartPipelineExecution parameter "must match a
named parameter in the pipeline definition" (SageMaker API Reference, Parameter,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Parameter.html); moto does not check
that, so this test does: the target's parameters must be a subset of the definition's, the
request they make must fit botocore's StartPipelineExecution shape, and only the S3 pipeline gets
(and declares) InputDataUrl.
"""

from __future__ import annotations

import json
import sys
import warnings

import boto3
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from mlops_template_kit import contract
from mlops_template_kit.deploy import deploy, inference_config, stacks
from mlops_template_kit.deploy.model_registry import ApprovedModel
from mlops_template_kit.deploy.settings import Settings, config_dir
from tests import bakery

REGION, ACCOUNT, STAGE = "us-east-1", "123456789012", "staging"
MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
FEATURES = ["age", "sex", "bmi", "bp"]

# One subprocess imports the SageMaker SDK once and builds both definitions (~4 s of CPU).
DEFINE = r"""
import json, sys
from pathlib import Path
from mlops_template_kit import definition as reader
from mlops_template_kit.pipeline import repo as pipeline_repo

found = {}
for source, repo in json.loads(sys.argv[1]).items():
    document = json.loads(pipeline_repo.build(Path(repo))[2])
    register = next(step for step in reader.iter_steps(document) if step["Name"] == "RegisterModel")
    metadata = register["Arguments"]["CustomerMetadataProperties"]
    found[source] = {
        "parameters": [parameter["Name"] for parameter in document["Parameters"]],
        # Values computed at run time (the MLflow run id) are left out: SageMaker fills them in.
        "metadata": {key: value for key, value in metadata.items() if isinstance(value, str)},
    }
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def trained(baked, tmp_path_factory) -> dict[str, dict]:
    """Per data source: the parameters the build-train pipeline declares and the metadata its model carries."""
    repos = {source: str(baked("build-train", {"data_source": source}).resolve()) for source in contract.DATA_SOURCES}
    work = tmp_path_factory.mktemp("definitions")
    result = bakery.run([sys.executable, "-c", DEFINE, json.dumps(repos)], cwd=work, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def deploy_repo(baked):
    return baked("deploy", {"inference_mode": "realtime", "on_drift": "retrain"})


def _approved(settings: Settings, metadata: dict[str, str]) -> ApprovedModel:
    baseline = f"s3://{settings.artifact_bucket}/p/ml-pipeline-outputs/b1/DataQualityBaseline"
    return ApprovedModel(
        arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{settings.model_package_group}/1",
        group=settings.model_package_group,
        version=1,
        model_data_url=f"s3://{settings.artifact_bucket}/model.tar.gz",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
        baseline_statistics_uri=f"{baseline}/statistics.json",
        baseline_constraints_uri=f"{baseline}/constraints.json",
        metadata=metadata,
    )


def without_alarm_loops(template_body: str) -> str:
    """The template without its Fn::ForEach alarm loops and the transform that expands them: moto 5
    runs no transforms, and the alarms are not what this test is about (the deploy repository's
    app_infra/monitoring tests expand them)."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.loads(template_body)
    resources = {name: body for name, body in template["Resources"].items() if not name.startswith("Fn::ForEach::")}
    kept = {key: value for key, value in template.items() if key != "Transform"}
    return json.dumps({**kept, "Resources": resources})


def retrain_target(deploy_repo, metadata: dict[str, str], monkeypatch) -> dict:
    """The drift rule's target as CloudFormation (moto's) creates it for a model with `metadata`."""
    monkeypatch.setattr(stacks, "monitor_image_uri", lambda region: MONITOR_IMAGE)  # no SDK import here
    monkeypatch.delenv("PROBLEM_TYPE", raising=False)
    settings = Settings.from_env(deploy_repo, {})
    config = inference_config.load(STAGE, config_dir(deploy_repo))
    assert stacks.drift_action(config) == "retrain"
    ctx = stacks.StageContext(settings, STAGE, config, _approved(settings, metadata), FEATURES, account_id=ACCOUNT)
    parameters = {key: str(value) for key, value in stacks.monitoring_parameters(ctx).items()}
    template = without_alarm_loops((deploy_repo / "app_infra" / "monitoring" / "monitoring.yaml").read_text())
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        deploy.deploy_stack(cloudformation, "sagemaker-monitoring", template, parameters, {})
        (target,) = boto3.client("events", region_name=REGION).list_targets_by_rule(Rule=parameters["RuleName"])[
            "Targets"
        ]
    return target


def start_request(target: dict) -> dict:
    """The StartPipelineExecution request EventBridge makes of the target, checked against botocore's shape."""
    request = {
        "PipelineName": target["Arn"].rsplit(":pipeline/", 1)[1],
        "PipelineParameters": target["SageMakerPipelineParameters"]["PipelineParameterList"],
        "ClientRequestToken": "drift-alarm-0123456789abcdef0123456789",
    }
    shape = boto3.client("sagemaker", region_name=REGION).meta.service_model.operation_model("StartPipelineExecution")
    report = ParamValidator().validate(request, shape.input_shape)
    assert not report.has_errors(), report.generate_report()
    return request


@pytest.mark.parametrize("source", contract.DATA_SOURCES)
def test_the_retraining_run_sets_only_parameters_the_build_train_pipeline_declares(
    source, trained, deploy_repo, monkeypatch
):
    definition = trained[source]
    assert contract.data_source_of(definition["metadata"]) == source
    request = start_request(retrain_target(deploy_repo, definition["metadata"], monkeypatch))
    sent = {parameter["Name"]: parameter["Value"] for parameter in request["PipelineParameters"]}
    assert set(sent) <= set(definition["parameters"])
    assert sent[contract.APPROVAL_PARAMETER] == contract.PENDING_APPROVAL
    if source == contract.S3_SOURCE:
        assert sent[contract.INPUT_DATA_PARAMETER].endswith("/input/")
    else:
        assert contract.INPUT_DATA_PARAMETER not in sent


def test_the_check_catches_what_an_athena_pipeline_would_refuse(trained, deploy_repo, monkeypatch):
    """Without the model's data_source rule, the S3 target would go to an Athena pipeline: refused."""
    s3_request = start_request(retrain_target(deploy_repo, trained["s3"]["metadata"], monkeypatch))
    sent = {parameter["Name"] for parameter in s3_request["PipelineParameters"]}
    assert sent - set(trained["athena"]["parameters"]) == {contract.INPUT_DATA_PARAMETER}
