"""The deploy repository's batch-inference pipeline, run locally on the model a build-train bake
trained: the build-train repository's local run registers an Approved model in a local AWS
emulator; the deploy repository's build step resolves it and writes the stage's batch pipeline
definition; the kit's local runner runs that definition (prepare_data in transform mode from the
training build's code, batch transform, postprocessing, data-quality check) on sample records.

The run must stop, naming the step and the cause, when the training repository changes
prepare_data's transform command: the contract both repositories import from the kit
(`mlops_template_kit.contract`) is what keeps the two sides in step, and the training
repository's own test of that contract fails first.

Recorded by the authorization harness (tests/test_authz_calls.py runs this module with
`authz.calls.recording_env`): the batch run is recorded as the stage's batch-pipeline role, which
runs the pipeline and its jobs in AWS."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest

from authz import calls
from tests import bakery
from tests.local_run_fixtures import support

pytestmark = pytest.mark.slow

# The default build-train bake and the deploy bake test_deploy_e2e uses: one bake each per run.
TRAIN_ANSWERS: dict[str, str] = {}
DEPLOY_ANSWERS = {"problem_type": "binary_classification", "inference_mode": "both"}
STAGE = "staging"
# The model the stage's batch stack would create from the Approved package (batch_inference.yaml).
MODEL_NAME = "local-batch-model"
(BATCH_PIPELINE_ROLE,) = calls.PIPELINE_ROLES
PREPARE_DATA = Path("algorithms") / "preprocessing" / "prepare_data"
PREDICT_WITH_THE_BUNDLE = """
import sys
from pathlib import Path
import pandas as pd
from shared_libraries.bundle import load_bundle
bundle = load_bundle(Path(sys.argv[1]))
print(bundle.predict_records(pd.read_csv(sys.argv[2])).to_json(orient="records"))
"""


def kit(repo: Path, *arguments: str) -> subprocess.CompletedProcess:
    return bakery.run([sys.executable, "-m", "mlops_template_kit.cli", *arguments], cwd=repo)


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return result


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_csv(s3, uri: str) -> pd.DataFrame:
    bucket, key = split(uri)
    return pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def batch_definition(deploy: Path) -> tuple[Path, dict]:
    path = deploy / "build" / STAGE / "batch-pipeline.json"
    document = json.loads(path.read_text())
    return path, {parameter["Name"]: parameter.get("DefaultValue") for parameter in document["Parameters"]}


def stage_like_the_batch_stack(s3, sagemaker, deploy: Path, records: pd.DataFrame) -> dict:
    """What the stage's batch stack and its scheduler provide: the model, the bucket, the records."""
    package = json.loads((deploy / "build" / "model_package.json").read_text())
    sagemaker.create_model(
        ModelName=MODEL_NAME,
        PrimaryContainer={"ModelPackageName": package["arn"]},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/local-batch-model",
    )
    _, parameters = batch_definition(deploy)
    bucket, prefix = split(parameters["InputDataUri"])
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/records.csv", Body=records.to_csv(index=False).encode())
    return package


def sample_records(s3, train: Path) -> pd.DataFrame:
    """The training input (the bundled sample data, a few hundred rows) without its label.

    All of it, not a handful: the data-quality check compares the distribution of what it scores
    with the training baseline, and a few dozen rows drift from it by chance alone."""
    from mlops_template_kit import contract, naming

    answers = json.loads((train / ".cruft.json").read_text())["context"]["cookiecutter"]
    bucket = naming.artifact_bucket(answers["project_id"])
    prefix = split(contract.area_uri(bucket, naming.s3_prefix(answers["project_name"]), contract.INPUT_AREA))[1]
    (listed,) = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")["Contents"]
    config = json.loads((train / "ml_pipelines" / "training" / "input.json").read_text())
    return read_csv(s3, f"s3://{bucket}/{listed['Key']}").drop(columns=[config["data"]["target_column"]])


def run_batch(deploy: Path, monkeypatch: pytest.MonkeyPatch) -> subprocess.CompletedProcess:
    """The local runner on the stage's batch definition; when calls are recorded, as the role that
    runs the batch pipeline and its jobs in AWS (authz.calls.PIPELINE_ROLES)."""
    path, _ = batch_definition(deploy)
    with monkeypatch.context() as patched:
        if os.environ.get("AUTHZ_ROLE"):
            patched.setenv("AUTHZ_ROLE", BATCH_PIPELINE_ROLE)
        return kit(deploy, "local-run", "--definition", str(path), "--param", f"ModelName={MODEL_NAME}", "--no-cache")


def batch_outputs(s3, deploy: Path) -> tuple[pd.DataFrame, dict]:
    """predictions.csv and distribution.json of the (one) execution under the output prefix."""
    _, parameters = batch_definition(deploy)
    bucket, prefix = split(parameters["OutputDataUri"])
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    (predictions,) = [key for key in keys if key.endswith("/predictions/predictions.csv")]
    (summary,) = [key for key in keys if key.endswith("/predictions/distribution.json")]
    distribution = json.loads(s3.get_object(Bucket=bucket, Key=summary)["Body"].read())
    return read_csv(s3, f"s3://{bucket}/{predictions}"), distribution


def bundle_predictions(s3, train: Path, model_data_url: str, records: pd.DataFrame, workdir: Path) -> pd.DataFrame:
    """The registered model's own predictions for the records, through the training repository's
    bundle code (not the serving handler the transform goes through)."""
    workdir.mkdir()
    bucket, key = split(model_data_url)
    s3.download_file(bucket, key, str(workdir / "model.tar.gz"))
    records.to_csv(workdir / "records.csv", index=False)
    command = [sys.executable, "-c", PREDICT_WITH_THE_BUNDLE, str(workdir), str(workdir / "records.csv")]
    result = succeeded(bakery.run(command, cwd=train / "algorithms"))
    return pd.DataFrame.from_records(json.loads(result.stdout))


def break_the_transform_command(train: Path) -> None:
    """A team renames prepare_data's --preprocessor-dir option: fit mode, and training, still work."""
    script = train / PREPARE_DATA / "__main__.py"
    text = script.read_text()
    assert text.count('"--preprocessor-dir"') == 1
    script.write_text(text.replace('"--preprocessor-dir"', '"--fitted-dir"'))


def test_batch_inference_scores_the_trained_model_and_stops_when_prepare_data_breaks_the_contract(
    baked, tmp_path, monkeypatch
):
    train = bakery.private_copy(baked("build-train", TRAIN_ANSWERS), tmp_path)
    deploy = bakery.private_copy(baked("deploy", DEPLOY_ANSWERS), tmp_path)
    with support.emulator():
        s3, sagemaker = (boto3.client(name, region_name="us-east-1") for name in ("s3", "sagemaker"))
        succeeded(kit(train, "local-run", "--tuning-trials", "1", "--param", "ModelApprovalStatus=Approved"))
        succeeded(kit(deploy, "deploy-build"))
        records = sample_records(s3, train)
        package = stage_like_the_batch_stack(s3, sagemaker, deploy, records)

        batch = succeeded(run_batch(deploy, monkeypatch))
        assert "Pipeline succeeded." in batch.stdout
        for step in ("PrepareInferenceData", "BatchTransform", "PostprocessPredictions", "DataQualityCheck"):
            assert f"<== {step}: succeeded" in batch.stdout
        predictions, distribution = batch_outputs(s3, deploy)
        assert len(predictions) == len(records) == distribution["count"] > 100
        assert predictions["id"].tolist() == records["id"].tolist()
        expected = bundle_predictions(s3, train, package["model_data_url"], records, tmp_path / "bundle")
        assert predictions["prediction"].tolist() == expected["prediction"].tolist()
        assert predictions["probability"].tolist() == pytest.approx(expected["probability"].tolist(), abs=1e-9)

        break_the_transform_command(train)
        # The training repository's own test of the contract is the first to say so.
        pytest_command = [sys.executable, "-m", "pytest", str(PREPARE_DATA / "test"), "-q", "-p", "no:cacheprovider"]
        own_test = bakery.run([*pytest_command, "-k", "contract"], cwd=train)
        assert own_test.returncode != 0 and "unrecognized arguments: --preprocessor-dir" in own_test.stdout
        # A build of that code uploads it where batch inference reads the training build's code.
        uploaded = kit(train, "pipeline", "upload-code")
        succeeded(uploaded)
        broken = run_batch(deploy, monkeypatch)
        assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-3000:]
        assert "Pipeline failed: step PrepareInferenceData: the processing script exited with code 2" in broken.stderr
        assert "unrecognized arguments: --preprocessor-dir" in broken.stderr
        assert "Traceback" not in broken.stderr
        assert re.search(r"^BatchTransform\s+Transform\s+not run", broken.stdout, flags=re.MULTILINE)
