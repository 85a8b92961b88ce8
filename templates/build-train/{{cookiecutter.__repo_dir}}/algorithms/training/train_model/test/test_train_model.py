"""Tests of train_model: SageMaker's calling convention, the model bundle, the metric lines and bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shared_libraries import metrics, model

STEP_DIR = Path(__file__).resolve().parents[1]
ALGORITHMS = STEP_DIR.parents[1]
# What a metric definition or a tuning objective regex would read from the training log.
METRIC_LINE = re.compile(r"^validation:(\w+)=(-?[0-9.]+)$")


def sagemaker_environment(monkeypatch, prepared: Path, model_dir: Path, output_dir: Path) -> None:
    """The SM_* variables SageMaker sets for a job with train, validation and preprocessor channels."""
    for channel in ("train", "validation", "preprocessor"):
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(prepared / channel))
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(output_dir))


def test_bundle_holds_model_preprocessor_metadata_and_serving_code(bundle_dir, prepared_dir, problem_type):
    files = {path.relative_to(bundle_dir).as_posix() for path in bundle_dir.rglob("*") if path.is_file()}
    assert {model.MODEL_FILENAME, "preprocessor.json", "metadata.json", "code/inference.py"} <= files
    assert "code/shared_libraries/bundle.py" in files
    served = (bundle_dir / "code" / "inference.py").read_text()
    assert served == (ALGORITHMS / "inference" / "predict" / "inference.py").read_text()
    assert (bundle_dir / "preprocessor.json").read_text() == (
        prepared_dir / "preprocessor" / "preprocessor.json"
    ).read_text()
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    assert metadata["framework"] == model.FRAMEWORK and metadata["problem_type"] == problem_type
    assert metadata["hyperparameters"] == model.default_hyperparameters()
    assert metadata["id_column"] == "id" and "sex" in metadata["raw_feature_columns"]
    assert {"sex_F", "sex_M"} <= set(metadata["feature_columns"])
    assert 1 <= metadata["best_iteration"] <= max(metadata["hyperparameters"].values())


def test_reads_sagemaker_environment_and_hyperparameter_arguments(
    tmp_path, monkeypatch, capsys, train_model, prepared_dir, problem_type
):
    sagemaker_environment(monkeypatch, prepared_dir, tmp_path / "model", tmp_path / "output")
    first = model.HYPERPARAMETERS[0]
    argv = ["--problem_type", problem_type, f"--{first.name}", str(first.default), "--seed", "7"]
    # Automatic model tuning adds this to every training job it starts.
    assert train_model.main([*argv, "--_tuning_objective_metric", "validation:auc"]) == 0
    printed = dict(METRIC_LINE.match(line).groups() for line in capsys.readouterr().out.splitlines())
    assert list(printed) == list(metrics.METRIC_NAMES[problem_type])
    recorded = json.loads((tmp_path / "output" / "validation_metrics.json").read_text())["validation_metrics"]
    assert {name: float(value) for name, value in printed.items()} == pytest.approx(recorded, abs=1e-6)
    assert json.loads((tmp_path / "model" / "metadata.json").read_text())["hyperparameters"]["seed"] == 7


def test_learns_something_on_the_validation_split(bundle_dir, problem_type):
    validation = json.loads((bundle_dir / "metadata.json").read_text())["validation_metrics"]
    if problem_type == "binary_classification":
        assert validation["auc"] > 0.6
    else:
        assert validation["r2"] > 0.1


def test_problem_type_comes_from_the_argument(tmp_path, prepare_data, train_model, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    records = pd.read_csv(STEP_DIR.parents[1] / "preprocessing" / "prepare_data" / "test" / "input" / "records.csv")
    records.to_csv(raw / "records.csv", index=False)
    prepared = tmp_path / "prepared"
    argv = ["--input-dir", str(raw), "--output-dir", str(prepared), "--target-column", "progression"]
    assert prepare_data.main([*argv, "--problem-type", "regression"]) == 0
    common = ["--train_dir", str(prepared / "train"), "--validation_dir", str(prepared / "validation")]
    common += ["--preprocessor_dir", str(prepared / "preprocessor"), "--output_data_dir", str(tmp_path / "out")]
    assert train_model.main([*common, "--model_dir", str(tmp_path / "m1"), "--problem_type", "regression"]) == 0
    assert "validation:rmse=" in capsys.readouterr().out
    # Progression values are not 0/1 labels: training them as a classifier must fail clearly.
    assert (
        train_model.main([*common, "--model_dir", str(tmp_path / "m2"), "--problem_type", "binary_classification"]) == 2
    )
    assert "must hold 0 or 1" in capsys.readouterr().err
    assert not (tmp_path / "m2").exists()


def test_readme_lists_every_hyperparameter_with_its_default():
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", (STEP_DIR / "README.md").read_text(), flags=re.MULTILINE)
    documented = {name: float(default) for name, default in rows}
    assert documented == {parameter.name: float(parameter.default) for parameter in model.HYPERPARAMETERS}


@pytest.mark.parametrize(
    "argv, message",
    [
        ([f"--{model.HYPERPARAMETERS[0].name}", str(model.HYPERPARAMETERS[0].high + 1)], "must be between"),
        (["--learning_speed", "3"], "unrecognized arguments: --learning_speed"),
        (["--problem_type", "ranking"], "invalid choice: 'ranking'"),
    ],
    ids=["out-of-range", "unknown-hyperparameter", "problem-type"],
)
def test_rejects_bad_hyperparameters_like_argparse(train_model, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        train_model.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage, message",
    [
        ("no-channel", "train directory"),
        ("no-target", "unknown target column 'outcome'"),
        ("no-feature", "unknown feature column 'bmi': the validation split has columns"),
    ],
)
def test_rejects_bad_channels_in_one_line(tmp_path, train_model, prepared_dir, capsys, damage, message):
    argv = [
        "--train_dir",
        str(prepared_dir / "train" if damage != "no-channel" else tmp_path / "missing"),
        "--validation_dir",
        str(prepared_dir / "validation"),
        "--preprocessor_dir",
        str(prepared_dir / "preprocessor"),
        "--model_dir",
        str(tmp_path / "model"),
        "--output_data_dir",
        str(tmp_path / "output"),
    ]
    if damage == "no-target":
        argv += ["--target_column", "outcome"]
    if damage == "no-feature":
        (tmp_path / "validation").mkdir()
        pd.read_csv(prepared_dir / "validation" / "validation.csv").drop(columns="bmi").to_csv(
            tmp_path / "validation" / "validation.csv", index=False
        )
        argv[3] = str(tmp_path / "validation")
    assert train_model.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("train_model: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "model").exists()


def test_runs_as_a_plain_script_with_sagemaker_environment(tmp_path, prepared_dir):
    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(prepared_dir / "train"),
        "SM_CHANNEL_VALIDATION": str(prepared_dir / "validation"),
        "SM_CHANNEL_PREPROCESSOR": str(prepared_dir / "preprocessor"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output"),
    }
    result = subprocess.run(
        [sys.executable, str(STEP_DIR / "__main__.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert all(METRIC_LINE.match(line) for line in result.stdout.splitlines())
    assert (tmp_path / "model" / "metadata.json").is_file()
