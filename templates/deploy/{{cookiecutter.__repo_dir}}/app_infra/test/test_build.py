"""The build step against a moto registry: the newest Approved model, every stage's stacks rendered.

One build runs per module (see the `built` fixture); building takes seconds.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import stacks
from mlops_template_kit.deploy.inference_config import load

CONFIG_DIR = Path(__file__).resolve().parents[2] / "inference_config"

TAG_KEYS = {"sagemaker:deployment-stage", "sagemaker:project-name", "sagemaker:project-id"}


def _configuration(build_dir, stage, part) -> dict:
    return json.loads((build_dir / stage / f"{part}.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_manifest_lists_every_stage_stack_in_deploy_order(built):
    manifest, settings = built.manifest, built.settings
    # Newer Rejected and PendingManualApproval packages exist: the newest Approved one is deployed.
    assert manifest["model_package_arn"] == built.registry["approved"]
    for stage in naming.STAGES:
        expected = [spec.part for spec in stacks.stage_stacks(load(stage, CONFIG_DIR), CONFIG_DIR.parent)]
        assert [entry["part"] for entry in manifest["stages"][stage]] == expected
        for entry in manifest["stages"][stage]:
            assert entry["stack_name"] == settings.stack_name(stage, entry["part"])
            assert len(entry["stack_name"]) <= naming.LIMITS["cloudformation_stack"]
            assert (built.build_dir / entry["configuration"]).is_file()


@pytest.mark.slow
def test_every_configuration_carries_the_stage_and_project_tags(built):
    settings = built.settings
    for stage, entries in built.manifest["stages"].items():
        for entry in entries:
            tags = _configuration(built.build_dir, stage, entry["part"])["Tags"]
            assert set(tags) == TAG_KEYS
            assert tags["sagemaker:deployment-stage"] == stage
            assert tags["sagemaker:project-name"] == settings.project_name
            assert tags["sagemaker:project-id"] == settings.project_id


@pytest.mark.slow
def test_parameters_come_from_the_stage_configuration(built):
    build_dir, registry = built.build_dir, built.registry
    for stage in naming.STAGES:
        config = load(stage, CONFIG_DIR)
        if "realtime" in config:
            parameters = _configuration(build_dir, stage, "endpoint")["Parameters"]
            assert parameters["ModelPackageArn"] == registry["approved"]
            assert parameters["InstanceType"] == config["realtime"]["instance_type"]
            assert parameters["MaxCapacity"] == str(config["realtime"]["autoscaling"]["max_capacity"])
            strategy = stacks.STRATEGIES[config["realtime"]["deployment"]["strategy"]]
            assert parameters["DeploymentStrategy"] == strategy
            latency_ms = config["realtime"]["alarms"]["model_latency_p99_ms"]
            assert parameters["ModelLatencyP99Microseconds"] == str(int(latency_ms * 1000))
            assert all(isinstance(value, str) for value in parameters.values())
        if "batch" in config:
            parameters = _configuration(build_dir, stage, "batch-schedule")["Parameters"]
            assert parameters["ScheduleExpression"] == config["batch"]["schedule"]


@pytest.mark.slow
def test_lambda_code_is_uploaded_and_guards_the_model_columns(built):
    build_dir = built.build_dir
    if "api" not in load("staging", CONFIG_DIR):
        pytest.skip("this repository has no API")
    parameters = _configuration(build_dir, "staging", "lambda")["Parameters"]
    body = (
        built.session.client("s3")
        .get_object(Bucket=parameters["CodeS3Bucket"], Key=parameters["CodeS3Key"])["Body"]
        .read()
    )
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["handler.py"]
    metadata = json.loads((build_dir / "model_metadata.json").read_text(encoding="utf-8"))
    assert parameters["FeatureColumns"].split(",") == metadata["raw_feature_columns"]


@pytest.mark.slow
def test_batch_pipeline_definition_is_rendered_per_stage(built):
    for stage in naming.STAGES:
        if "batch" in load(stage, CONFIG_DIR):
            definition = json.loads((built.build_dir / stage / "batch-pipeline.json").read_text(encoding="utf-8"))
            assert [step["Name"] for step in definition["Steps"]][0] == "PrepareInferenceData"


@pytest.mark.slow
def test_monitored_stages_get_their_baseline_and_constraints_and_batch_uses_the_same_analyzer(built):
    """The monitoring stack compares against the approved model's registered baseline, reads the
    model-quality constraints the build uploaded, and runs the analyzer image the batch pipeline's
    DataQualityCheck runs: one method and one report format for real-time and batch."""
    s3 = built.session.client("s3")
    model = json.loads((built.build_dir / "model_package.json").read_text(encoding="utf-8"))
    for stage in naming.STAGES:
        config = load(stage, CONFIG_DIR)
        if not stacks.monitoring_wanted(config):
            assert not (built.build_dir / stage / "monitoring.json").exists()
            continue
        parameters = _configuration(built.build_dir, stage, "monitoring")["Parameters"]
        assert parameters["BaselineStatisticsUri"] == model["baseline_statistics_uri"]
        assert parameters["BaselineConstraintsUri"] == model["baseline_constraints_uri"]
        bucket, _, key = parameters["ModelQualityConstraintsUri"][len("s3://") :].partition("/")
        uploaded = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        (section,) = [name for name in uploaded if name.endswith("_constraints")]
        rules = config["realtime"]["monitoring"]["model_quality"]["constraints"]
        assert set(uploaded[section]) == set(rules)
        if "batch" in config:
            definition = json.loads((built.build_dir / stage / "batch-pipeline.json").read_text(encoding="utf-8"))
            (check,) = [step for step in definition["Steps"] if step["Type"] == "QualityCheck"]
            assert json.dumps(check).count(parameters["MonitorImageUri"]) >= 1
