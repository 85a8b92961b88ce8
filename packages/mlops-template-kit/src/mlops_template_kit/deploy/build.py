"""CI build step: resolve the model to deploy and render every stage's stack configuration.

    mlops-kit deploy-build [--output-dir build] [--repo-root .]

1. validate inference_config/<stage>/inference_config.json of every stage;
2. find the newest Approved package of the model package group (stops with one line when none);
3. read the model's metadata.json (its raw feature columns guard the API);
4. upload the Lambda code, the batch postprocessing code, each monitored stage's model-quality
   constraints and (for monitoring.engine "processing") the kit's monitor job under
   <project>/deploy/<build-id>/;
5. write build/<stage>/<stack>.json (CodePipeline template configurations: parameters and the
   tags sagemaker:deployment-stage, sagemaker:project-name, sagemaker:project-id), the batch
   pipeline definition of each stage, build/model_package.json and build/manifest.json.

The output folder is replaced only when everything succeeded.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlops_template_kit import naming, s3_uri
from mlops_template_kit.deploy import inference_config, stacks
from mlops_template_kit.deploy import settings as settings_module
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import ApprovedModel, newest_approved
from mlops_template_kit.deploy.settings import Settings, build_dir, config_dir

# Zip entries get a fixed time so the same code gives the same archive.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); DeployError for anything else."""
    return s3_uri.split(uri, DeployError)


def bundle_metadata(s3_client: Any, model_data_url: str) -> dict[str, Any]:
    """metadata.json of the model bundle at `model_data_url` (a model.tar.gz)."""
    bucket, key = split_s3_uri(model_data_url)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as problem:
        raise DeployError(f"cannot read the model artifact {model_data_url}: {problem}") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            member = archive.extractfile("metadata.json")
            return json.loads(member.read()) if member else {}
    except (tarfile.TarError, KeyError, json.JSONDecodeError):
        raise DeployError(f"the model artifact {model_data_url} holds no readable metadata.json") from None


def code_archive(directory: Path) -> bytes:
    """A zip of the Python files of `directory` (tests left out), byte-identical for identical files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.glob("*.py")):
            info = zipfile.ZipInfo(path.name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def upload_lambda_code(s3_client: Any, settings: Settings) -> str:
    """Upload the inference function's code; returns its key in the artifact bucket."""
    key = f"{settings.deploy_prefix()}/lambda/invoke_endpoint.zip"
    s3_client.put_object(
        Bucket=settings.artifact_bucket, Key=key, Body=code_archive(settings.repo_root / stacks.LAMBDA_CODE_DIR)
    )
    return key


def upload_postprocess_code(s3_client: Any, settings: Settings, batch_pipeline: Any) -> None:
    """Upload the batch postprocessing step next to the build's other deploy files."""
    bucket, prefix = split_s3_uri(batch_pipeline.postprocess_code_uri(settings))
    script = settings.repo_root / "app_infra" / "batch_inference" / "postprocess" / "__main__.py"
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}__main__.py", Body=script.read_bytes())


# What the processing engine's job imports (mlops_template_kit.monitor.processing and its imports,
# nothing else: the scikit-learn image brings numpy and boto3). Uploaded as files under the code
# prefix; the step puts that folder on PYTHONPATH.
MONITOR_JOB_FILES = (
    "__init__.py",
    "s3_uri.py",
    "deploy/__init__.py",
    "deploy/errors.py",
    "monitor/__init__.py",
    "monitor/capture.py",
    "monitor/data_quality.py",
    "monitor/errors.py",
    "monitor/model_quality.py",
    "monitor/processing.py",
    "monitor/run.py",
)


def upload_monitor_code(s3_client: Any, settings: Settings) -> list[str]:
    """Upload the kit's monitor job where monitoring.yaml's MonitorCodeUri points; the keys written."""
    package = Path(__file__).resolve().parents[1]
    bucket, prefix = split_s3_uri(stacks.monitor_code_uri(settings))
    keys = []
    for name in MONITOR_JOB_FILES:
        key = f"{prefix}{package.name}/{name}"
        s3_client.put_object(Bucket=bucket, Key=key, Body=(package / name).read_bytes())
        keys.append(key)
    return keys


def upload_quality_constraints(s3_client: Any, ctx: stacks.StageContext) -> None:
    """Put the stage's model-quality constraints.json where its monitoring stack points
    (ModelQualityConstraintsUri), written from realtime.monitoring.model_quality."""
    model_quality = ctx.config["realtime"]["monitoring"]["model_quality"]
    if not model_quality["enabled"]:
        return
    kind = settings_module.problem_type(ctx.settings.repo_root)
    document = stacks.model_quality_constraints(kind, model_quality["constraints"])
    s3_client.put_object(
        Bucket=ctx.settings.artifact_bucket,
        Key=stacks.monitoring_constraints_key(ctx.settings, ctx.stage),
        Body=json.dumps(document, indent=2, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def render_stage(ctx: stacks.StageContext, output_dir: Path, batch_pipeline: Any) -> list[dict[str, str]]:
    """Write one stage's stack configurations (and batch pipeline definition); the manifest entries."""
    entries = []
    for spec in stacks.stage_stacks(ctx.config, ctx.settings.repo_root):
        configuration = f"{ctx.stage}/{spec.part}.json"
        _write_json(output_dir / configuration, stacks.template_configuration(ctx, spec))
        entries.append(
            {
                "part": spec.part,
                "stack_name": ctx.settings.stack_name(ctx.stage, spec.part),
                "template": spec.template,
                "configuration": configuration,
            }
        )
    if "batch" in ctx.config:
        resources = batch_pipeline.expected_resources(ctx.settings, ctx.stage, ctx.role_arn("batch-pipeline"))
        definition = batch_pipeline.build_definition(ctx.settings, ctx.stage, ctx.config["batch"], ctx.model, resources)
        _write_json(output_dir / ctx.stage / "batch-pipeline.json", json.loads(definition))
    return entries


def build(settings: Settings, output_dir: Path, session: Any) -> dict[str, Any]:
    """Run the build step; returns the manifest written to `output_dir`."""
    configs = {stage: inference_config.load(stage, config_dir(settings.repo_root)) for stage in naming.STAGES}
    s3_client = session.client("s3")
    model: ApprovedModel = newest_approved(session.client("sagemaker"), settings.model_package_group)
    metadata = bundle_metadata(s3_client, model.model_data_url)
    needs_batch = any("batch" in config for config in configs.values())
    batch_pipeline = None
    if needs_batch:
        from mlops_template_kit.deploy.batch import pipeline_module

        batch_pipeline = pipeline_module(settings.repo_root)
        upload_postprocess_code(s3_client, settings, batch_pipeline)
    lambda_key = upload_lambda_code(s3_client, settings) if any("api" in c for c in configs.values()) else ""
    if any(stacks.monitoring_wanted(c) and stacks.monitoring_engine(c) == "processing" for c in configs.values()):
        upload_monitor_code(s3_client, settings)
    account_id = session.client("sts").get_caller_identity()["Account"]

    staging_dir = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(staging_dir, ignore_errors=True)
    manifest: dict[str, Any] = {"build_id": settings.build_id, "model_package_arn": model.arn, "stages": {}}
    for stage, config in configs.items():
        ctx = stacks.StageContext(
            settings=settings,
            stage=stage,
            config=config,
            model=model,
            feature_columns=list(metadata.get("raw_feature_columns", [])),
            lambda_code_key=lambda_key,
            account_id=account_id,
        )
        manifest["stages"][stage] = render_stage(ctx, staging_dir, batch_pipeline)
        if stacks.monitoring_wanted(config):
            upload_quality_constraints(s3_client, ctx)
    _write_json(staging_dir / "model_package.json", model.to_json())
    _write_json(staging_dir / "model_metadata.json", metadata)
    _write_json(staging_dir / "manifest.json", manifest)
    shutil.rmtree(output_dir, ignore_errors=True)
    staging_dir.rename(output_dir)
    return manifest


def run(repo_root: Path, output_dir: Path | None = None) -> int:
    """`mlops-kit deploy-build`: build the repository at `repo_root` into output_dir (its build/ by default)."""
    output_dir = output_dir or build_dir(repo_root)
    settings = Settings.from_env(repo_root)
    try:
        session = boto3.Session(region_name=settings.region)
        manifest = build(settings, output_dir, session)
    except (BotoCoreError, ClientError) as problem:
        raise DeployError(f"AWS call failed: {problem}") from None
    for stage, entries in manifest["stages"].items():
        print(f"{stage}: {', '.join(entry['stack_name'] for entry in entries)}")
    print(f"model package {manifest['model_package_arn']} -> {output_dir}")
    return 0
