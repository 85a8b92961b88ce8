"""The executor running hand-written definitions against a local emulator: registration, the Fail
branch, step caching, the training-toolkit contract, tuning, the data-quality check, and failures
that name the step and what broke."""

import io
import json
import re
import tarfile

import boto3
import pytest

from tests.local_run_fixtures import support

REGISTER_STEPS = {"PrepareData", "TrainModel", "EvaluateModel", "DataQualityBaseline", "CheckRmse", "RegisterModel"}


@pytest.fixture
def aws():
    """A fresh emulator with the bucket, data and code the fixture pipeline reads."""
    with support.emulator():
        clients = {name: boto3.client(name, region_name="us-east-1") for name in ("s3", "sagemaker")}
        support.seed_bucket(clients["s3"])
        yield clients


def run(capsys, tmp_path, document=None, *extra):
    path = support.write(tmp_path / "pipeline.json", document or support.fixture_pipeline())
    code = support.main(["--definition", str(path), "--work-dir", str(tmp_path / "work"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def statuses(out):
    return dict(re.findall(r"^<== (\S+): (\w+)", out, flags=re.MULTILINE))


def packages(sagemaker, **filters):
    listed = sagemaker.list_model_packages(ModelPackageGroupName=support.GROUP, **filters)
    return listed["ModelPackageSummaryList"]


def read(s3, uri):
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def model_file(s3, model_uri, name):
    with tarfile.open(fileobj=io.BytesIO(read(s3, model_uri))) as tar:
        return json.load(tar.extractfile(name))


def test_the_pipeline_runs_to_a_registered_model(aws, capsys, tmp_path):
    code, out, err = run(capsys, tmp_path)
    assert code == 0, err
    assert statuses(out) == {name: "succeeded" for name in REGISTER_STEPS}
    assert "RmseTooHigh          Fail           skipped" in out
    assert re.search(r"^PrepareData \| split 40 rows: 30 train, 10 test$", out, flags=re.MULTILINE)
    (summary,) = packages(aws["sagemaker"])
    assert summary["ModelPackageVersion"] == 1 and summary["ModelApprovalStatus"] == "PendingManualApproval"
    package = aws["sagemaker"].describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    evaluation = json.loads(read(aws["s3"], package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]))
    assert evaluation["regression_metrics"]["rmse"]["value"] < 1.0
    statistics = json.loads(read(aws["s3"], package["ModelMetrics"]["ModelDataQuality"]["Statistics"]["S3Uri"]))
    assert set(statistics) == {"version", "dataset", "features"}
    drift = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Constraints"]["S3Uri"] == package["ModelMetrics"]["ModelDataQuality"]["Constraints"]["S3Uri"]
    model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert re.fullmatch(r"s3://local-run-test/proj/models/pipelines-\w+-TrainModel-\w+/output/model.tar.gz", model_uri)
    assert model_file(aws["s3"], model_uri, "model.json")["slope"] == pytest.approx(2, abs=0.2)
    assert f"Registered model package: {support.GROUP} version 1 (PendingManualApproval)" in out


def test_an_approved_registration_is_found_by_the_latest_approved_query(aws, capsys, tmp_path):
    assert run(capsys, tmp_path)[0] == 0
    assert run(capsys, tmp_path, None, "--param", "ModelApprovalStatus=Approved")[0] == 0
    latest = packages(aws["sagemaker"], ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending")
    assert [summary["ModelPackageVersion"] for summary in latest] == [2]


def test_a_model_step_creates_the_model(aws, capsys, tmp_path):
    document = support.fixture_pipeline()
    register = support.find_step(document, "RegisterModel")
    container = register["Arguments"]["InferenceSpecification"]["Containers"][0]
    create = {
        "Name": "CreateModel",
        "Type": "Model",
        "Arguments": {
            "ExecutionRoleArn": support.find_step(document, "TrainModel")["Arguments"]["RoleArn"],
            "PrimaryContainer": container,
        },
    }
    support.find_step(document, "CheckRmse")["Arguments"]["IfSteps"].append(create)
    code, out, err = run(capsys, tmp_path, document)
    assert code == 0, err
    assert statuses(out)["CreateModel"] == "succeeded"
    (model,) = aws["sagemaker"].list_models()["Models"]
    assert model["ModelName"].startswith("pipelines-") and "-CreateModel-" in model["ModelName"]
    described = aws["sagemaker"].describe_model(ModelName=model["ModelName"])
    assert described["PrimaryContainer"]["ModelDataUrl"].endswith("/output/model.tar.gz")


def test_an_impossible_threshold_ends_in_the_fail_step(aws, capsys, tmp_path):
    code, out, err = run(capsys, tmp_path, None, "--param", "MaxRmse=0.01")
    assert code == 1
    assert statuses(out)["RmseTooHigh"] == "failed"
    assert "RegisterModel        RegisterModel  skipped" in out
    assert re.search(
        r"Pipeline failed: step RmseTooHigh: Fail step reached: Test RMSE [\d.]+ is above the threshold 0.01", err
    )
    assert packages(aws["sagemaker"]) == []


def test_an_unchanged_rerun_is_cached_and_changed_code_reruns_its_step(aws, capsys, tmp_path):
    assert run(capsys, tmp_path)[0] == 0
    code, out, _ = run(capsys, tmp_path)
    assert code == 0
    cached = {"PrepareData", "TrainModel", "EvaluateModel", "DataQualityBaseline"}
    assert {name for name, status in statuses(out).items() if status == "cached"} == cached
    source = (support.CODE / "evaluate.py").read_text().replace("test rmse", "test RMSE")
    aws["s3"].put_object(Bucket=support.BUCKET, Key="proj/code/evaluate.py", Body=source.encode())
    code, out, _ = run(capsys, tmp_path)
    assert code == 0
    assert statuses(out)["EvaluateModel"] == "succeeded" and statuses(out)["TrainModel"] == "cached"
    assert "EvaluateModel | test RMSE" in out
    code, out, _ = run(capsys, tmp_path, None, "--no-cache")
    assert "cached" not in statuses(out).values()


def test_a_cached_step_restores_its_outputs_into_a_fresh_emulator(capsys, tmp_path):
    for _ in range(2):
        with support.emulator():
            support.seed_bucket(boto3.client("s3", region_name="us-east-1"))
            code, out, err = run(capsys, tmp_path)
            assert code == 0, err
    assert statuses(out)["EvaluateModel"] == "cached"
    assert "Registered model package: local-run-models version 1" in out


def test_the_training_script_gets_the_script_mode_contract(aws, capsys, tmp_path):
    assert run(capsys, tmp_path)[0] == 0
    (summary,) = packages(aws["sagemaker"])
    package = aws["sagemaker"].describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    contract = model_file(
        aws["s3"], package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"], "contract.json"
    )
    # Values decoded as JSON when they parse, passed sorted as --name value, sagemaker_* left out.
    assert contract["argv"] == ["--alpha", "0.0", "--epochs", "3", "--flag", "True", "--mode", "fast"]
    assert contract["hps"] == {"alpha": 0.0, "epochs": 3, "flag": True, "mode": "fast"}
    assert contract["channels"] == ["train"]
    assert contract["hyperparameters_json"]["sagemaker_program"] == "train.py"
    assert contract["hyperparameters_json"]["epochs"] == "3"
    assert contract["output_data_dir"].endswith("/opt/ml/output/data")


def tuning_pipeline():
    """The fixture pipeline with a tuning step in place of the training step."""
    document = support.fixture_pipeline()
    train = support.find_step(document, "TrainModel")["Arguments"]
    static = {
        key: value
        for key, value in train["HyperParameters"].items()
        if key in ("sagemaker_program", "sagemaker_submit_directory", "flag")
    }
    tune = {
        "Name": "TuneModel",
        "Type": "Tuning",
        "Arguments": {
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
                "ParameterRanges": {
                    "IntegerParameterRanges": [
                        {"Name": "epochs", "MinValue": "1", "MaxValue": "9", "ScalingType": "Auto"}
                    ],
                    "ContinuousParameterRanges": [
                        {"Name": "alpha", "MinValue": "0.1", "MaxValue": "500", "ScalingType": "Logarithmic"}
                    ],
                    "CategoricalParameterRanges": [{"Name": "mode", "Values": ["fast", "slow"]}],
                },
                "TrainingJobEarlyStoppingType": "Off",
            },
            "TrainingJobDefinition": {
                "AlgorithmSpecification": train["AlgorithmSpecification"],
                "RoleArn": train["RoleArn"],
                "OutputDataConfig": train["OutputDataConfig"],
                "StoppingCondition": train["StoppingCondition"],
                "StaticHyperParameters": static,
                "ResourceConfig": train["ResourceConfig"],
                "InputDataConfig": train["InputDataConfig"],
            },
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"},
    }
    best_model = {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"{support.PREFIX}/models",
                {"Get": "Steps.TuneModel.BestTrainingJob.TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    text = json.dumps(document).replace(
        json.dumps({"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}), json.dumps(best_model)
    )
    document = json.loads(text)
    document["Steps"][1] = tune
    return document


def test_tuning_runs_trials_and_the_best_one_is_registered(aws, capsys, tmp_path):
    code, out, err = run(capsys, tmp_path, tuning_pipeline(), "--tuning-trials", "3")
    assert code == 0, err
    assert len(re.findall(r"^TuneModel \| trial \d: ", out, flags=re.MULTILINE)) == 3
    (summary,) = packages(aws["sagemaker"])
    package = aws["sagemaker"].describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    best_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    listed = aws["s3"].list_objects_v2(Bucket=support.BUCKET, Prefix="proj/models/")["Contents"]
    trials = [f"s3://{support.BUCKET}/{item['Key']}" for item in listed if item["Key"].endswith("model.tar.gz")]
    assert len(trials) == 3 and best_uri in trials
    alphas = {uri: float(model_file(aws["s3"], uri, "contract.json")["hps"]["alpha"]) for uri in trials}
    # validation:rmse grows with alpha here, and the objective is Minimize.
    assert alphas[best_uri] == min(alphas.values())
    contract = model_file(aws["s3"], best_uri, "contract.json")
    assert contract["argv"][:2] == ["--_tuning_objective_metric", "validation:rmse"]
    assert re.search(r"<== TuneModel: succeeded in [\d.]+s: best validation:rmse=", out)


def test_tuning_without_a_matching_metric_regex_names_the_objective(aws, capsys, tmp_path):
    document = tuning_pipeline()
    metrics = document["Steps"][1]["Arguments"]["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    metrics[0]["Regex"] = "validation-rmse: ([0-9.]+)"
    code, _, err = run(capsys, tmp_path, document)
    assert code == 1
    assert "step TuneModel: trial 1" in err and "no value of the objective metric 'validation:rmse'" in err


def test_a_failing_script_stops_the_run_with_its_stderr(aws, capsys, tmp_path):
    document = support.fixture_pipeline()
    arguments = support.find_step(document, "PrepareData")["Arguments"]["AppSpecification"]["ContainerArguments"]
    arguments[-1] = "a quarter"
    code, out, err = run(capsys, tmp_path, document)
    assert code == 1
    assert statuses(out) == {"PrepareData": "failed"}
    assert "TrainModel           Training       not run" in out
    assert "step PrepareData: the processing script exited with code 2" in err
    assert "invalid float value: 'a quarter'" in err


def test_a_script_default_left_at_a_container_path_is_pointed_out(aws, capsys, tmp_path):
    document = support.fixture_pipeline()
    arguments = support.find_step(document, "EvaluateModel")["Arguments"]["AppSpecification"]["ContainerArguments"]
    arguments.remove("--test-dir")
    arguments.remove("/opt/ml/processing/input/test")
    code, _, err = run(capsys, tmp_path, document)
    assert code == 1
    assert "the test data folder /opt/ml/processing/input/test does not exist" in err
    assert "after using a path under /opt/ml that the definition does not pass to it" in err


def test_a_wrong_property_file_path_names_the_step_and_the_file(aws, capsys, tmp_path):
    document = support.fixture_pipeline()
    support.find_step(document, "EvaluateModel")["PropertyFiles"][0]["FilePath"] = "metrics/evaluation.json"
    code, out, err = run(capsys, tmp_path, document)
    assert code == 1
    assert "step EvaluateModel: property file Evaluation: 'metrics/evaluation.json' was not written" in err
    assert "(it holds: evaluation.json)" in err
    # What finished is kept for inspection.
    kept = list((tmp_path / "work" / "runs").glob("*/PrepareData/opt/ml/processing/output/train/train.csv"))
    assert len(kept) == 1


def test_a_wrong_json_path_names_the_condition_and_the_property_file(aws, capsys, tmp_path):
    document = support.fixture_pipeline()
    condition = support.find_step(document, "CheckRmse")["Arguments"]["Conditions"][0]
    condition["LeftValue"]["Std:JsonGet"]["Path"] = "regression_metrics.rsme.value"
    code, out, err = run(capsys, tmp_path, document)
    assert code == 1
    assert statuses(out)["CheckRmse"] == "failed"
    assert "step CheckRmse: Std:JsonGet path 'regression_metrics.rsme.value'" in err
    assert "Steps.EvaluateModel.PropertyFiles.Evaluation" in err
    assert "no 'rsme' under regression_metrics (found: points, rmse)" in err


def test_a_missing_input_fails_the_step_that_reads_it(aws, capsys, tmp_path):
    code, _, err = run(capsys, tmp_path, None, "--param", f"InputDataUri={support.PREFIX}/nothing-here/")
    assert code == 1
    assert f"step PrepareData: input data: no objects under {support.PREFIX}/nothing-here/" in err
    assert "Traceback" not in err


def test_the_data_quality_check_fails_on_drift_from_the_approved_baseline(aws, capsys, tmp_path):
    assert run(capsys, tmp_path, None, "--param", "ModelApprovalStatus=Approved")[0] == 0
    shifted = support.sample_rows().splitlines()
    rows = [shifted[0]] + [f"{x},{float(y) + 40:.4f},{g}" for x, y, g in (line.split(",") for line in shifted[1:])]
    aws["s3"].put_object(Bucket=support.BUCKET, Key="proj/input/data.csv", Body="\n".join(rows).encode())
    document = support.fixture_pipeline()
    support.find_step(document, "DataQualityBaseline").update(SkipCheck=False, RegisterNewBaseline=False)
    code, out, err = run(capsys, tmp_path, document)
    assert code == 1
    assert statuses(out)["DataQualityBaseline"] == "failed"
    assert "data-quality violations against the baseline: y: baseline_drift_check" in err
    violations = aws["s3"].get_object(Bucket=support.BUCKET, Key="proj/outputs/data-quality/constraint_violations.json")
    assert json.loads(violations["Body"].read())["violations"]


def test_a_job_runs_numerical_libraries_on_one_thread_unless_told_otherwise(tmp_path, monkeypatch):
    for name in support.jobs.SINGLE_THREAD:
        monkeypatch.delenv(name, raising=False)
    assert {name: support.jobs.environment({}, tmp_path)[name] for name in support.jobs.SINGLE_THREAD} == {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # the user's own choice wins over the default...
    assert support.jobs.environment({}, tmp_path)["OMP_NUM_THREADS"] == "4"
    # ...and the job's own Environment wins over both, as in its container.
    assert support.jobs.environment({"OMP_NUM_THREADS": 2}, tmp_path)["OMP_NUM_THREADS"] == "2"


def counted_gets(s3) -> list[str]:
    """The keys of every GetObject the client sends from now on."""
    keys: list[str] = []
    s3.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: keys.append(params["Key"]))
    return keys


def test_each_object_is_fetched_once_per_run_and_a_changed_one_again(aws, tmp_path):
    """Steps reading the same code prefix or model get copies of one GET; a copy a step changes
    does not reach the next step; a new version of the object (a new ETag) is fetched again."""
    from mlops_template_kit.local_run.storage import Storage

    s3 = aws["s3"]
    s3.put_object(Bucket=support.BUCKET, Key="shared/code/a.py", Body=b"print(1)\n")
    s3.put_object(Bucket=support.BUCKET, Key="shared/code/b.py", Body=b"print(2)\n")
    storage = Storage(s3, tmp_path / "downloads")
    gets = counted_gets(s3)
    assert storage.download(f"s3://{support.BUCKET}/shared/code", tmp_path / "step1") == 2
    (tmp_path / "step1" / "a.py").write_text("changed by step 1\n")
    storage.download(f"s3://{support.BUCKET}/shared/code", tmp_path / "step2")
    storage.download_object(f"s3://{support.BUCKET}/shared/code/a.py", tmp_path / "step3" / "a.py")
    assert sorted(gets) == ["shared/code/a.py", "shared/code/b.py"]
    assert (tmp_path / "step2" / "a.py").read_text() == (tmp_path / "step3" / "a.py").read_text() == "print(1)\n"

    s3.put_object(Bucket=support.BUCKET, Key="shared/code/a.py", Body=b"print(3)\n")
    storage.download(f"s3://{support.BUCKET}/shared/code", tmp_path / "step4")
    assert len(gets) == 3 and (tmp_path / "step4" / "a.py").read_text() == "print(3)\n"


def test_without_a_downloads_folder_every_read_is_a_get(aws, tmp_path):
    from mlops_template_kit.local_run.storage import Storage

    aws["s3"].put_object(Bucket=support.BUCKET, Key="shared/one.csv", Body=b"x\n")
    storage = Storage(aws["s3"])
    gets = counted_gets(aws["s3"])
    for step in ("a", "b"):
        storage.download(f"s3://{support.BUCKET}/shared", tmp_path / step)
    assert gets == ["shared/one.csv", "shared/one.csv"]


def test_a_run_leaves_no_downloaded_copies_behind(aws, capsys, tmp_path):
    code, out, _ = run(capsys, tmp_path)
    assert code == 0, out
    assert not list((tmp_path / "work" / "runs").glob("*/.downloads"))
