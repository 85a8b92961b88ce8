"""The local monitor: Model Monitor's capture, data-quality and model-quality formats, its errors,
its atomic reports and what a violation starts (issue 14).

Data are small and synthetic (diabetes-like columns); the deploy repository is the template's own
stage configuration rendered with Jinja, so the monitor reads the file teams get."""

from __future__ import annotations

import base64
import json
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import jinja2
import numpy as np
import pytest

from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.monitor import capture, command, data_quality, model_quality, run, trigger
from mlops_template_kit.monitor.errors import MonitorError

TEMPLATE = Path(__file__).resolve().parents[3] / "templates" / "deploy" / "{{cookiecutter.__repo_dir}}"
FEATURES = ["age", "sex", "bmi", "bp"]
RECORDS = 1000


def feature_rows(count: int, seed: int, shift: dict[str, float] | None = None) -> list[dict[str, str]]:
    rng, shift = random.Random(seed), shift or {}
    return [
        {
            "age": str(rng.randint(20, 80)),
            "sex": rng.choice(["1", "2"]),
            "bmi": f"{rng.gauss(26 + shift.get('bmi', 0.0), 4):.3f}",
            "bp": f"{rng.gauss(95 + shift.get('bp', 0.0), 12):.2f}",
        }
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def baseline() -> run.Baseline:
    rows = feature_rows(1000, seed=0)
    statistics = data_quality.statistics({name: [row[name] for row in rows] for name in FEATURES})
    return run.Baseline(statistics, data_quality.constraints(statistics))


def write_capture(folder: Path, rows: list[dict[str, str]], as_json_every: int = 3) -> list[str]:
    """One request per record, as the local endpoint captures it: CSV without a header, or JSON
    instances; each with an inference id; a prediction per record. Returns the inference ids."""
    writer = capture.CaptureWriter(folder, "endpoint-x")
    ids = []
    for index, row in enumerate(rows):
        if index % as_json_every == 0:
            body, content_type = json.dumps({"instances": [row]}).encode(), capture.JSON
        else:
            body, content_type = ",".join(row[name] for name in FEATURES).encode(), capture.CSV
        answer = {"prediction": float(row["bmi"]) * 5, "probability": min(float(row["bmi"]) / 40, 1.0)}
        response = json.dumps({"predictions": [answer]}).encode()
        ids.append(f"inference-{index}")
        writer.add(capture.record(body, content_type, response, capture.JSON, ids[-1]))
    writer.close()
    return ids


def kinds(violations: list[dict]) -> list[tuple[str, str]]:
    return sorted((v["feature_name"], v["constraint_check_type"]) for v in violations)


# --- capture format --------------------------------------------------------------------------------


def test_a_capture_line_has_model_monitors_layout_and_encodings():
    line = capture.record(b"1,2", "text/csv", b"\x00\xff", "application/x-npy", "abc")
    assert set(line) == {"captureData", "eventMetadata", "eventVersion"} and line["eventVersion"] == "0"
    given, answered = line["captureData"]["endpointInput"], line["captureData"]["endpointOutput"]
    assert given == {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"}
    assert answered["mode"] == "OUTPUT" and answered["encoding"] == "BASE64"
    assert base64.b64decode(answered["data"]) == b"\x00\xff"
    metadata = line["eventMetadata"]
    assert metadata["inferenceId"] == "abc" and len(metadata["eventId"]) == 36
    assert metadata["inferenceTime"].endswith("Z")


def test_the_writer_buffers_and_files_lines_by_hour_and_the_reader_merges_on_the_inference_id(tmp_path):
    writer = capture.CaptureWriter(tmp_path, "endpoint-x")
    writer.add(capture.record(b'{"instances": [{"a": 1}]}', "application/json", b"5", "text/csv", "id-1"))
    writer.add(capture.record(b"7", "text/csv", b"8", "text/csv"))
    assert not list(tmp_path.rglob("*.jsonl"))  # buffered: nothing on disk before a flush
    writer.close()
    (path,) = tmp_path.rglob("*.jsonl")
    assert path.relative_to(tmp_path).parts[:2] == ("endpoint-x", "AllTraffic") and len(path.parts[-6:-1]) == 5
    first, second = capture.read(tmp_path)
    assert first.key == "id-1" and second.key == second.event_id
    assert capture.input_rows(first, []) == [{"a": "1"}] and capture.predictions(second) == [{"prediction": 8.0}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "holds no .jsonl files"),
        ("{not json\n", r"x\.jsonl:1: not a JSON line"),
        ('{"captureData": {}}\n', "not a capture line"),
        (
            '{"captureData": {"endpointInput": {"data": "%%%", "encoding": "BASE64"}}, '
            '"eventMetadata": {"eventId": "e"}}',
            "not base64",
        ),
    ],
)
def test_a_missing_or_malformed_capture_is_one_line(tmp_path, content, message):
    location = tmp_path / "capture"
    if content is not None:
        location.mkdir()
        if content:
            (location / "x.jsonl").write_text(content)
    with pytest.raises(MonitorError, match=message) as failure:
        capture.read(location)
    assert "\n" not in str(failure.value)


# --- data quality ----------------------------------------------------------------------------------


def test_the_drift_distance_is_the_two_sample_ks_statistic():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    reference, current = rng.normal(0, 1, 500), rng.normal(0.3, 1.2, 700)
    feature = {"distribution": {"kll": {"sketch": {"data": [sorted(reference.tolist())]}}}}
    distance = data_quality._numeric_distance(feature, [str(float(x)) for x in current])
    assert distance == pytest.approx(ks_2samp(reference, current).statistic, abs=1e-12)


def test_a_shifted_capture_yields_violations_naming_the_shifted_features(tmp_path, baseline):
    write_capture(tmp_path, feature_rows(RECORDS, seed=1, shift={"bmi": 8.0, "bp": 30.0}))
    result = run.monitor(tmp_path, baseline, "regression", {"data_quality": {"enabled": True, "drift_threshold": 0.1}})
    assert result.records == RECORDS
    assert kinds(result.data_violations) == [("bmi", "baseline_drift_check"), ("bp", "baseline_drift_check")]
    assert "bmi" in result.summary_line() and "bp" in result.summary_line()


def test_an_unshifted_capture_yields_none(tmp_path, baseline):
    write_capture(tmp_path, feature_rows(RECORDS, seed=2))
    result = run.monitor(tmp_path, baseline, "regression", {"data_quality": {"enabled": True, "drift_threshold": 0.1}})
    assert result.data_violations == [] and result.violations == []
    statistics = result.reports["data-quality/statistics.json"]
    assert statistics["dataset"]["item_count"] == RECORDS
    assert [feature["name"] for feature in statistics["features"]] == FEATURES


def test_the_stages_drift_threshold_replaces_the_baselines(tmp_path, baseline):
    write_capture(tmp_path, feature_rows(RECORDS, seed=1, shift={"bmi": 1.5}))
    strict = run.monitor(tmp_path, baseline, "regression", {"data_quality": {"enabled": True, "drift_threshold": 0.05}})
    loose = run.monitor(tmp_path, baseline, "regression", {"data_quality": {"enabled": True, "drift_threshold": 0.9}})
    assert ("bmi", "baseline_drift_check") in kinds(strict.data_violations) and loose.data_violations == []


# --- model quality ---------------------------------------------------------------------------------


def ground_truth_lines(ids: list[str], labels: list[float]) -> str:
    return "".join(
        json.dumps(
            {
                "groundTruthData": {"data": str(label), "encoding": "CSV"},
                "eventMetadata": {"eventId": i},
                "eventVersion": "0",
            }
        )
        + "\n"
        for i, label in zip(ids, labels, strict=True)
    )


def test_regression_metrics_match_scikit_learn_and_a_broken_constraint_is_a_violation(tmp_path, baseline):
    from sklearn.metrics import mean_absolute_error, r2_score

    rows = feature_rows(RECORDS, seed=3)
    ids = write_capture(tmp_path / "capture", rows)
    predicted = [float(row["bmi"]) * 5 for row in rows]
    labels = [p + (40 if index % 2 else -40) for index, p in enumerate(predicted)]
    (tmp_path / "gt.jsonl").write_text(ground_truth_lines(ids, labels))
    settings = {"data_quality": {"enabled": False}, "model_quality": {"enabled": True, "constraints": {
        "rmse": {"threshold": 30.0, "comparison_operator": "GreaterThanThreshold"},
        "r2": {"threshold": -1000.0, "comparison_operator": "LessThanThreshold"},
    }}}  # fmt: skip
    result = run.monitor(tmp_path / "capture", None, "regression", settings, tmp_path / "gt.jsonl")
    metrics = result.reports["model-quality/statistics.json"]["regression_metrics"]
    assert metrics["mae"]["value"] == pytest.approx(mean_absolute_error(labels, predicted))
    assert metrics["rmse"]["value"] == pytest.approx(40.0)
    assert metrics["r2"]["value"] == pytest.approx(r2_score(labels, predicted))
    assert isinstance(metrics["rmse"]["standard_deviation"], float)  # 300 records: from 200 on
    assert [v["metric_name"] for v in result.model_violations] == ["rmse"]
    assert result.reports["model-quality/constraints.json"]["regression_constraints"]["rmse"]["threshold"] == 30.0


def test_binary_metrics_have_model_monitors_names_and_no_deviation_below_200_records():
    merged = model_quality.Merged(
        labels=np.array([1, 0, 1, 1, 0, 0.0]),
        predictions=np.array([1, 0, 0, 1, 1, 0.0]),
        probabilities=np.array([0.9, 0.2, 0.4, 0.8, 0.6, 0.1]),
        unmatched_ground_truth=0,
    )
    metrics = model_quality.statistics(merged, "binary_classification")["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 1}, "1": {"0": 1, "1": 2}}
    assert metrics["accuracy"]["value"] == pytest.approx(4 / 6)
    assert metrics["precision"]["value"] == pytest.approx(2 / 3) and metrics["recall"]["value"] == pytest.approx(2 / 3)
    assert metrics["auc"]["value"] == pytest.approx(8 / 9)
    assert metrics["f1"]["standard_deviation"] == "NaN"
    constraints = model_quality.constraints(
        {"auc": {"threshold": 0.95, "comparison_operator": "LessThanThreshold"}}, "binary_classification"
    )
    found = model_quality.violations({"binary_classification_metrics": metrics}, constraints, "binary_classification")
    assert [(v["metric_name"], v["constraint_check_type"]) for v in found["violations"]] == [
        ("auc", "LessThanThreshold")
    ]


@pytest.mark.parametrize(
    ("ground_truth", "message"),
    [
        (None, "ground truth .* does not exist"),
        ("", "ground truth .* holds no records"),
        ("not json\n", r"gt\.jsonl:1: not a JSON line"),
        ('{"eventMetadata": {"eventId": "inference-0"}}\n', r"gt\.jsonl:1: not a ground-truth line"),
        (
            '{"groundTruthData": {"data": "high", "encoding": "CSV"}, "eventMetadata": {"eventId": "inference-0"}}\n',
            "is not a number",
        ),
        (
            '{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "nobody"}}\n',
            "none of the 1 ground-truth records matches",
        ),
        (
            '{"groundTruthData": {"data": "1\\n2", "encoding": "CSV"}, "eventMetadata": {"eventId": "inference-0"}}\n',
            "2 label",
        ),
    ],
)
def test_missing_or_malformed_ground_truth_is_one_line_and_writes_no_report(
    deploy_repo, tmp_path, capsys, ground_truth, message
):
    write_capture(deploy_repo / "build" / "capture", feature_rows(30, seed=4))
    location = tmp_path / "gt.jsonl"
    if ground_truth is not None:
        location.write_text(ground_truth)
    code = command.run(
        arguments(deploy_repo, "--ground-truth", str(location), "--baseline", str(deploy_repo / "baseline"))
    )
    assert code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and re.search(message, line)
    assert not (deploy_repo / "build" / "monitor").exists()


# --- the command, its reports and what a violation starts -----------------------------------------


def render(relative: str, answers: dict[str, str]) -> str:
    source = (TEMPLATE / relative).read_text(encoding="utf-8")
    return jinja2.Template(source).render(cookiecutter=answers)


@pytest.fixture
def deploy_repo(tmp_path, baseline, monkeypatch):
    """A deploy repository with the template's own staging config (on_drift=retrain, regression),
    a saved baseline, and a build-train repository beside it whose local-run only leaves a mark."""
    answers = {"project_name": "churn", "project_id": "p-monitor00001", "region": "us-east-1"}
    answers |= {"problem_type": "regression", "inference_mode": "realtime", "api_gateway": "no", "multi_account": "no"}
    answers |= {"deployment_strategy": "all-at-once", "on_drift": "retrain"}
    repo = tmp_path / "churn-deploy"
    (repo / "inference_config" / "staging").mkdir(parents=True)
    (repo / ".cruft.json").write_text(json.dumps({"context": {"cookiecutter": answers}}))
    shutil.copy(TEMPLATE / "inference_config" / "inference_config.schema.json", repo / "inference_config")
    staging = render("inference_config/staging/inference_config.json", answers)
    (repo / "inference_config" / "staging" / "inference_config.json").write_text(staging)
    (repo / "baseline").mkdir()
    (repo / "baseline" / "statistics.json").write_text(json.dumps(baseline.statistics))
    (repo / "baseline" / "constraints.json").write_text(json.dumps(baseline.constraints))
    train = tmp_path / "churn-build-train"
    train.mkdir()
    (train / "Makefile").write_text("local-run:\n\t@echo retrained on $(DATA) > retrained.txt\n")
    write_data_source(train, "s3")
    for name in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID", "PROBLEM_TYPE"):
        monkeypatch.delenv(name, raising=False)
    return repo


def write_data_source(train: Path, source: str) -> None:
    """The part of the build-train repository's input.json the retraining trigger reads."""
    (train / "ml_pipelines" / "training").mkdir(parents=True, exist_ok=True)
    (train / "ml_pipelines" / "training" / "input.json").write_text(json.dumps({"data": {"source": source}}))


def arguments(repo: Path, *extra: str):
    import argparse

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(["--repo-root", str(repo), *extra])


def test_a_violation_with_on_drift_retrain_starts_the_local_retraining_run(deploy_repo, capsys, monkeypatch):
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=5, shift={"bmi": 8.0}))
    monkeypatch.chdir(deploy_repo)  # DATA is the user's path: made absolute before the run changes folder
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "baseline"), "--data", "new-data/")) == 0
    output = capsys.readouterr().out
    newest = deploy_repo / "new-data"
    assert "bmi: baseline_drift_check" in output
    assert f"retrain: running `make --no-print-directory local-run DATA={newest}`" in output
    assert (deploy_repo.parent / "churn-build-train" / "retrained.txt").read_text().strip() == f"retrained on {newest}"
    reports = deploy_repo / "build" / "monitor" / "staging"
    assert sorted(path.name for path in reports.rglob("*.json")) == [
        "constraint_violations.json",
        "statistics.json",
        "summary.json",
    ]


def test_a_dry_run_names_the_retraining_run_without_starting_it_and_notify_prints_one_line(deploy_repo, capsys):
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=5, shift={"bp": 30.0}))
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "baseline"), "--dry-run")) == 0
    assert "retrain (dry run): would run `make --no-print-directory local-run`" in capsys.readouterr().out
    assert not (deploy_repo.parent / "churn-build-train" / "retrained.txt").exists()
    assert trigger.on_violation("notify", "1 data-quality violation(s) (bp)", Path("/nowhere"), None, False) == 0
    assert capsys.readouterr().out == "notify: 1 data-quality violation(s) (bp)\n"


def test_an_athena_build_train_repository_retrains_without_data_and_the_dry_run_says_so(deploy_repo, capsys):
    """Its pipeline declares no InputDataUrl: DATA would be refused by its local run, so none is passed."""
    train = deploy_repo.parent / "churn-build-train"
    write_data_source(train, "athena")
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=5, shift={"bp": 30.0}))
    baseline = ("--baseline", str(deploy_repo / "baseline"))
    assert command.run(arguments(deploy_repo, *baseline, "--dry-run")) == 0
    dry = capsys.readouterr().out.splitlines()[-1]
    assert dry == (
        f"retrain (dry run): would run `make --no-print-directory local-run` in {train} "
        "(data.source athena: no DATA, its query reads the local tables under its input prefix)"
    )
    assert command.run(arguments(deploy_repo, *baseline)) == 0
    assert (train / "retrained.txt").read_text().strip() == "retrained on"
    (train / "retrained.txt").unlink()
    # DATA is an S3 pipeline's InputDataUrl: given for this one, it is refused in one line, nothing run.
    assert command.run(arguments(deploy_repo, *baseline, "--data", "new-data/")) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: --data/DATA is the InputDataUrl of a pipeline that reads S3;")
    assert not (train / "retrained.txt").exists()


@pytest.mark.parametrize(
    ("input_json", "message"),
    [
        ("", r"cannot read data\.source from .*input\.json: is .* a build-train repository\?$"),
        ('{"data": {"source": "delta"}}', r"data\.source 'delta' is not one of s3, athena$"),
    ],
)
def test_a_build_train_repository_without_a_known_data_source_is_one_line(deploy_repo, capsys, input_json, message):
    config = deploy_repo.parent / "churn-build-train" / "ml_pipelines" / "training" / "input.json"
    config.write_text(input_json)
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=5, shift={"bp": 30.0}))
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "baseline"))) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and re.search(message, line)
    assert not (deploy_repo.parent / "churn-build-train" / "retrained.txt").exists()


def test_retrain_without_a_build_train_repository_is_one_line(deploy_repo, capsys):
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=5, shift={"bp": 30.0}))
    args = arguments(
        deploy_repo, "--baseline", str(deploy_repo / "baseline"), "--train-repo", str(deploy_repo / "nope")
    )
    assert command.run(args) == 1
    assert capsys.readouterr().err.startswith("error: on_drift=retrain: no build-train repository at ")


def test_an_unshifted_capture_starts_nothing_and_a_failed_run_keeps_the_previous_reports(deploy_repo, capsys):
    write_capture(deploy_repo / "build" / "capture", feature_rows(RECORDS, seed=6))
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "baseline"))) == 0
    assert "retrain" not in capsys.readouterr().out
    summary = deploy_repo / "build" / "monitor" / "staging" / "summary.json"
    before = summary.read_text()
    assert json.loads(before)["data_quality_violations"] == []
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "missing"))) == 1
    assert summary.read_text() == before and not list(summary.parent.parent.glob(".staging-*"))


# --- the local endpoint captures what it answers -------------------------------------------------


@pytest.mark.usefixtures("offline")
def test_the_local_endpoint_captures_answered_requests_with_the_callers_inference_id(sample_bundle, tmp_path):
    import boto3
    import pandas as pd
    from botocore.exceptions import ClientError

    from mlops_template_kit.local_endpoint.server import RunningEndpoint

    frame = pd.read_csv(sample_bundle.test_data)
    rows = frame.drop(columns=[c for c in ("id", "progression", "high_progression") if c in frame]).head(2)
    with RunningEndpoint(sample_bundle.model_data, "endpoint-x", capture_dir=tmp_path) as endpoint:
        runtime = boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1")
        body = rows.to_csv(index=False, header=False)
        answer = runtime.invoke_endpoint(
            EndpointName="endpoint-x", Body=body, ContentType="text/csv", InferenceId="r-1"
        )
        expected = json.loads(answer["Body"].read())["predictions"]
        runtime.invoke_endpoint(EndpointName="endpoint-x", Body=body, ContentType="text/csv")
        with pytest.raises(ClientError):  # a failed request is not captured
            runtime.invoke_endpoint(EndpointName="endpoint-x", Body=b"not,a,record", ContentType="text/csv")
    first, second = capture.read(tmp_path)
    assert first.inference_id == "r-1" and first.key == "r-1" and second.inference_id == "" and second.key
    assert first.input_text == body and capture.predictions(first) == expected
    assert [sorted(row) for row in capture.input_rows(first, list(rows.columns))] == [sorted(rows.columns)] * 2


def test_the_training_baseline_the_batch_drift_check_and_the_monitor_share_one_implementation():
    """The local run's QualityCheck step (the training pipeline's baseline, the batch pipeline's drift
    check) computes with the monitor's data_quality module: one method, one report format."""
    from mlops_template_kit.local_run import quality

    assert quality.baseline is data_quality and run.data_quality is data_quality
    assert not (Path(quality.__file__).parent / "baseline.py").exists()


# --- the registered baseline, from a (moto) model registry ------------------------------------------


def _register(sagemaker, group: str, baseline_uri: str | None) -> None:
    drift = {}
    if baseline_uri:
        drift = {
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{baseline_uri}/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{baseline_uri}/constraints.json"},
            }
        }
    sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://sagemaker-project-p-1/m/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        **({"DriftCheckBaselines": drift} if drift else {}),
    )


@pytest.mark.usefixtures("offline")
def test_the_registry_baseline_is_the_newest_approved_models_drift_check_baseline(baseline):
    import time

    import boto3
    from moto import mock_aws

    from mlops_template_kit.monitor.registry import registered_baseline

    with mock_aws():
        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        s3.create_bucket(Bucket="sagemaker-project-p-1")
        uri = "s3://sagemaker-project-p-1/churn/ml-pipeline-outputs/b1/DataQualityBaseline"
        for name, document in (("statistics.json", baseline.statistics), ("constraints.json", baseline.constraints)):
            s3.put_object(
                Bucket="sagemaker-project-p-1", Key=f"{uri.split('/', 3)[3]}/{name}", Body=json.dumps(document)
            )
        sagemaker.create_model_package_group(ModelPackageGroupName="churn-p-1")
        _register(sagemaker, "churn-p-1", uri)
        assert registered_baseline("churn-p-1", "us-east-1") == baseline
        time.sleep(0.01)  # CreationTime has millisecond resolution
        _register(sagemaker, "churn-p-1", None)
        with pytest.raises(MonitorError, match="has no data-quality baseline"):
            registered_baseline("churn-p-1", "us-east-1")
        with pytest.raises(DeployError, match="no Approved model package in group 'other'"):  # one line too
            registered_baseline("other", "us-east-1")


def test_the_auc_is_scikit_learns_with_ties_and_nan_with_one_class():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, 400)
    score = np.round(rng.random(400) * 0.5 + truth * 0.3, 1)  # few distinct values: many ties
    assert model_quality.area_under_roc(truth, score) == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
    assert np.isnan(model_quality.area_under_roc(np.ones(5, int), score[:5]))


def test_no_capture_yet_says_how_to_make_one(deploy_repo, capsys):
    assert command.run(arguments(deploy_repo, "--baseline", str(deploy_repo / "baseline"))) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "build/capture does not exist: capture requests first" in line and "CAPTURE=" in line


def test_with_ground_truth_the_report_shows_the_headline_metrics_and_the_model_quality_files(deploy_repo, capsys):
    rows = feature_rows(RECORDS, seed=6)
    ids = write_capture(deploy_repo / "build" / "capture", rows)
    truth = deploy_repo / "gt.jsonl"
    truth.write_text(ground_truth_lines(ids, [float(row["bmi"]) * 5 + 100 for row in rows]))  # rmse 100 > 75
    args = arguments(
        deploy_repo, "--baseline", str(deploy_repo / "baseline"), "--ground-truth", str(truth), "--dry-run"
    )
    assert command.run(args) == 0
    output = capsys.readouterr().out
    assert f"model quality of {RECORDS} labelled records: rmse 100.000, mae 100.000" in output
    assert "rmse: GreaterThanThreshold" in output and "retrain (dry run)" in output
    reports = deploy_repo / "build" / "monitor" / "staging" / "model-quality"
    assert sorted(path.name for path in reports.iterdir()) == [
        "constraint_violations.json",
        "constraints.json",
        "statistics.json",
    ]


@pytest.mark.usefixtures("offline")
def test_a_request_is_captured_before_it_is_answered_so_switching_folders_loses_none(sample_bundle, tmp_path):
    import http.client

    import pandas as pd

    from mlops_template_kit.local_endpoint.server import RunningEndpoint

    frame = pd.read_csv(sample_bundle.test_data).drop(columns=["id", "progression"]).head(1)
    body = frame.to_csv(index=False, header=False)
    with RunningEndpoint(sample_bundle.model_data, "endpoint-x") as endpoint:
        host, port = endpoint.server.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=10)
        for name in ("first", "second", "third"):
            endpoint.capture_to(tmp_path / name)
            for _ in range(5):
                connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
                connection.getresponse().read()
        endpoint.capture_to(None)
    assert [len(capture.read(tmp_path / name)) for name in ("first", "second", "third")] == [5, 5, 5]


# --- the processing engine's job (monitor.processing): S3 capture in, reports and metrics out -----

CAPTURE_BUCKET = "sagemaker-p-1-staging-datacapture"


def _processing_arguments(**extra: str) -> list[str]:
    given = {
        "--capture-uri": f"s3://{CAPTURE_BUCKET}/datacapture/endpoint-x/AllTraffic",
        "--baseline-statistics-uri": "s3://sagemaker-project-p-1/baseline/statistics.json",
        "--baseline-constraints-uri": "s3://sagemaker-project-p-1/baseline/constraints.json",
        "--reports-uri": f"s3://{CAPTURE_BUCKET}/monitoring",
        "--namespace": "sagemaker-p-1/monitoring",
        "--endpoint": "endpoint-x",
        "--schedule-prefix": "p-1-staging",
        "--drift-threshold": "0.1",
        **extra,
    }
    return [part for pair in given.items() for part in pair]


def _run_processing_job(tmp_path: Path, baseline: run.Baseline, rows: list[dict[str, str]], *, truth=None):
    """Capture `rows` locally, put it in a moto bucket where SageMaker's capture would, run the job one
    hour later; (exit code, report keys, PutMetricData requests)."""
    from datetime import datetime

    import boto3
    from botocore.stub import ANY, Stubber
    from moto import mock_aws

    from mlops_template_kit.monitor import processing

    ids = write_capture(tmp_path / "capture", rows)
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        s3 = session.client("s3")
        for bucket in (CAPTURE_BUCKET, "sagemaker-project-p-1"):
            s3.create_bucket(Bucket=bucket)
        for name in ("statistics", "constraints"):
            document = getattr(baseline, name)
            s3.put_object(Bucket="sagemaker-project-p-1", Key=f"baseline/{name}.json", Body=json.dumps(document))
        for path in sorted((tmp_path / "capture").rglob("*.jsonl")):
            relative = path.relative_to(tmp_path / "capture").as_posix()
            s3.upload_file(str(path), CAPTURE_BUCKET, f"datacapture/{relative}")
        hour = path.relative_to(tmp_path / "capture").parts[2:6]  # yyyy mm dd hh of the capture
        if truth is not None:
            s3.put_object(
                Bucket=CAPTURE_BUCKET, Key=f"ground-truth/{'/'.join(hour)}/labels.jsonl", Body=truth(ids).encode()
            )
        # Recorded through botocore's Stubber: every request is validated against PutMetricData's shape.
        cloudwatch = session.client("cloudwatch")
        requests: list[dict] = []
        stubber = Stubber(cloudwatch)
        for _ in range(4):
            stubber.add_response("put_metric_data", {}, {"Namespace": "sagemaker-p-1/monitoring", "MetricData": ANY})
        original = cloudwatch.put_metric_data

        def recording(**request):
            requests.append(request)
            return original(**request)

        cloudwatch.put_metric_data = recording
        fake_session = type("Session", (), {"client": lambda self, name: cloudwatch if name == "cloudwatch" else s3})()
        extra = {"--ground-truth-uri": f"s3://{CAPTURE_BUCKET}/ground-truth/"} if truth else {}
        if truth:
            rules = {"rmse": {"threshold": 75.0, "comparison_operator": "GreaterThanThreshold"}}
            document = {"version": 0.0, "regression_constraints": rules}
            s3.put_object(Bucket="sagemaker-project-p-1", Key="deploy/mq.json", Body=json.dumps(document))
            extra |= {
                "--problem-type": "Regression",
                "--quality-constraints-uri": "s3://sagemaker-project-p-1/deploy/mq.json",
            }
        now = datetime(*map(int, hour), tzinfo=UTC) + timedelta(hours=1, minutes=5)
        with stubber:
            code = processing.main(_processing_arguments(**extra), session=fake_session, now=now)
        listed = s3.list_objects_v2(Bucket=CAPTURE_BUCKET, Prefix="monitoring/").get("Contents", [])
        reports = {
            item["Key"]: json.loads(s3.get_object(Bucket=CAPTURE_BUCKET, Key=item["Key"])["Body"].read())
            for item in listed
        }
    return code, reports, requests


def _published(requests: list[dict]) -> dict[str, float]:
    return {datum["MetricName"]: datum["Value"] for request in requests for datum in request["MetricData"]}


@pytest.mark.usefixtures("offline")
def test_the_processing_job_reports_shifted_features_and_publishes_their_drift(tmp_path, baseline):
    rows = feature_rows(400, seed=11, shift={"bmi": 8.0, "bp": 25.0})
    code, reports, requests = _run_processing_job(tmp_path, baseline, rows)
    assert code == 0
    (violations_key,) = [key for key in reports if key.endswith("constraint_violations.json")]
    assert re.fullmatch(r"monitoring/data-quality/\d{4}/\d\d/\d\d/\d\d/constraint_violations\.json", violations_key)
    drifted = {
        v["feature_name"]
        for v in reports[violations_key]["violations"]
        if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drifted == {"bmi", "bp"}
    published = _published(requests)
    assert set(published) == {f"feature_baseline_drift_{name}" for name in FEATURES}
    assert published["feature_baseline_drift_bmi"] > 0.1 and published["feature_baseline_drift_bp"] > 0.1
    assert published["feature_baseline_drift_age"] < 0.1
    dimensions = requests[0]["MetricData"][0]["Dimensions"]
    assert dimensions == [
        {"Name": "Endpoint", "Value": "endpoint-x"},
        {"Name": "MonitoringSchedule", "Value": "p-1-staging-data-quality"},
    ]


@pytest.mark.usefixtures("offline")
def test_the_processing_job_on_unshifted_traffic_reports_no_violation_and_low_drift(tmp_path, baseline):
    code, reports, requests = _run_processing_job(tmp_path, baseline, feature_rows(400, seed=12))
    assert code == 0
    (violations,) = [doc for key, doc in reports.items() if key.endswith("constraint_violations.json")]
    assert violations == {"violations": []}
    assert all(value <= 0.1 for value in _published(requests).values())


@pytest.mark.usefixtures("offline")
def test_the_processing_job_merges_ground_truth_and_publishes_the_quality_metrics(tmp_path, baseline):
    rows = feature_rows(300, seed=13)
    labels = lambda ids: ground_truth_lines(ids, [float(row["bmi"]) * 5 + 100 for row in rows])  # noqa: E731
    code, reports, requests = _run_processing_job(tmp_path, baseline, rows, truth=labels)
    assert code == 0
    quality = [doc for key, doc in reports.items() if "model-quality/" in key and key.endswith("violations.json")]
    assert [v["metric_name"] for v in quality[0]["violations"]] == ["rmse"]
    assert _published(requests)["rmse"] == pytest.approx(100.0)


@pytest.mark.usefixtures("offline")
def test_the_processing_job_with_a_bad_baseline_writes_nothing_and_says_so_in_one_line(tmp_path, capsys):
    bad = run.Baseline({"features": "nope"}, {"features": []})
    code, reports, requests = _run_processing_job(tmp_path, bad, feature_rows(20, seed=14))
    assert code == 1 and reports == {} and requests == []
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: baseline s3://") and "features list" in line


def _uploaded_monitor_job(folder: Path) -> list[str]:
    """The files the build uploads for the processing engine, put into `folder` as the step gets them."""
    from types import SimpleNamespace

    import boto3
    from moto import mock_aws

    from mlops_template_kit.deploy import build

    settings = SimpleNamespace(artifact_bucket="sagemaker-project-p-1", deploy_prefix=lambda: "churn/deploy/b1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=settings.artifact_bucket)
        keys = build.upload_monitor_code(s3, settings)
        for key in keys:
            target = folder / key.removeprefix("churn/deploy/b1/monitor-code/")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(settings.artifact_bucket, key, str(target))
    return keys


# The scikit-learn 1.4-2 image runs Python 3.10 (aws/sagemaker-scikit-learn-container,
# docker/1.4-2/base/Dockerfile.cpu). numpy is not installed for it here: a stand-in lets the import
# run, which is what breaks on a newer-Python-only name (datetime.UTC, 3.11).
def _python_310() -> str | None:
    """A Python 3.10 interpreter that runs (a pyenv shim may exist without the version enabled)."""
    candidates = [shutil.which("python3.10"), *map(str, Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


PYTHON_OF_THE_IMAGE = _python_310()


@pytest.mark.usefixtures("offline")
@pytest.mark.skipif(PYTHON_OF_THE_IMAGE is None, reason="python3.10 (the image's Python) is not installed")
def test_the_uploaded_monitor_job_imports_on_the_images_python(tmp_path):
    _uploaded_monitor_job(tmp_path)
    probe = (
        "import sys, types; sys.modules['numpy'] = types.ModuleType('numpy'); sys.path.insert(0, sys.argv[1]); "
        "import mlops_template_kit.monitor.processing as job; print(sys.version_info[:2])"
    )
    result = subprocess.run([PYTHON_OF_THE_IMAGE, "-I", "-c", probe, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr.strip().splitlines()[-1:]
    assert result.stdout.strip() == "(3, 10)"


@pytest.mark.usefixtures("offline")
def test_the_uploaded_monitor_job_imports_on_its_own(tmp_path):
    """What the build uploads for the processing engine is all the job imports: run from a folder
    holding only those files (as the step's PYTHONPATH), every kit module it loads comes from there."""
    keys = _uploaded_monitor_job(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mlops_template_kit.monitor.processing as job; "
        "print('\\n'.join(m.__file__ for n, m in sorted(sys.modules.items()) if n.startswith('mlops_template_kit')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded and all(path.startswith(str(tmp_path)) for path in loaded), loaded
    assert len(loaded) == len(keys)


@pytest.mark.usefixtures("offline")
def test_the_processing_job_without_its_baseline_object_says_so_in_one_line(capsys):
    import boto3
    from moto import mock_aws

    from mlops_template_kit.monitor import processing

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket="sagemaker-project-p-1")
        assert processing.main(_processing_arguments(), session=session) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: AWS call failed:") and "NoSuchKey" in line
