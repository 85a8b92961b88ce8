"""Unit tests of the shared libraries: sample data, I/O, preprocessing, splitting, metrics, model and bundle."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from shared_libraries import bundle, data_io, defaults, metrics, model, sample_data
from shared_libraries.errors import InputError, report
from shared_libraries.paths import env_path
from shared_libraries.preprocessing import Preprocessor, validate_target
from shared_libraries.splitting import split_frame

PROBLEM_TYPES = ["binary_classification", "regression"]


@pytest.fixture
def raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [20.0, 30.0, 40.0, 50.0],
            "sex": ["F", "M", "F", "M"],
            "label": [0, 1, 0, 1],
        }
    )


# --- sample data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_sample_data_carries_exactly_the_label_of_the_problem_type(problem_type):
    frame = sample_data.load_sample_frame(problem_type)
    target = sample_data.TARGET_COLUMNS[problem_type]
    other = set(sample_data.TARGET_COLUMNS.values()) - {target}
    assert len(frame) == 442
    assert target in frame.columns and not other & set(frame.columns)
    assert frame["id"].is_unique
    assert set(frame["sex"]) == {"F", "M"}


def test_binary_label_is_progression_above_the_cut_and_balanced():
    raw = sample_data.load_raw_frame()
    labelled = sample_data.label(raw, "binary_classification")
    assert labelled["high_progression"].tolist() == (raw["progression"] > 140).astype(int).tolist()
    assert 0.4 < labelled["high_progression"].mean() < 0.6


def test_label_refuses_an_unknown_problem_type():
    with pytest.raises(ValueError, match="problem_type"):
        sample_data.label(sample_data.load_raw_frame(), "ranking")


def test_write_sample_data_into_a_folder_or_a_file(tmp_path):
    in_folder = sample_data.write_sample_data(tmp_path, "regression")
    as_file = sample_data.write_sample_data(tmp_path / "nested" / "data.csv", "binary_classification")
    assert in_folder == tmp_path / "diabetes.csv"
    assert "progression" in pd.read_csv(in_folder).columns
    assert "high_progression" in pd.read_csv(as_file).columns


def test_defaults_match_the_sample_data():
    assert defaults.PROBLEM_TYPE in defaults.PROBLEM_TYPES
    assert defaults.TARGET_COLUMN in sample_data.load_sample_frame(defaults.PROBLEM_TYPE).columns
    assert defaults.FRAMEWORK == model.FRAMEWORK


# --- errors, paths and I/O -----------------------------------------------------------------------


def test_report_prints_one_line_and_returns_the_input_error_code(capsys):
    code = report("step", InputError("first line\nsecond line"))
    err = capsys.readouterr().err
    assert code == 2
    assert err == "step: error: first line second line\n"


def test_env_path_prefers_the_environment(monkeypatch):
    monkeypatch.delenv("SM_MODEL_DIR", raising=False)
    assert str(env_path("SM_MODEL_DIR", "/opt/ml/model")) == "/opt/ml/model"
    monkeypatch.setenv("SM_MODEL_DIR", "/tmp/model")
    assert str(env_path("SM_MODEL_DIR", "/opt/ml/model")) == "/tmp/model"


def test_read_csv_dir_stacks_files_in_order_and_aligns_columns(tmp_path):
    (tmp_path / "b").mkdir()
    pd.DataFrame({"x": [1], "y": [2]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"y": [4], "x": [3]}).to_csv(tmp_path / "b" / "c.csv", index=False)
    frame = data_io.read_csv_dir(tmp_path)
    assert frame.to_dict("list") == {"x": [1, 3], "y": [2, 4]}


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "no \\*.csv file"),
        ({"a.csv": ""}, "is empty"),
        ({"a.csv": "x,y\n"}, "no data rows"),
        ({"a.csv": "x,y\n1,2\n", "b.csv": "x,z\n1,2\n"}, "has columns"),
    ],
)
def test_read_csv_dir_rejects_bad_input(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        data_io.read_csv_dir(tmp_path)


def test_read_csv_dir_rejects_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        data_io.read_csv_dir(tmp_path / "missing")


def test_read_json_lines_dir_reads_plain_and_gzip_files_and_skips_query_bookkeeping(tmp_path):
    (tmp_path / "b").write_text('{"x": 3, "y": "c"}\n')
    (tmp_path / "a").write_bytes(gzip.compress(b'{"x": 1, "y": "a"}\n\n{"x": 2, "y": "b"}\n'))
    (tmp_path / "a.metadata").write_bytes(b"\x00\x01")
    (tmp_path / "q-manifest.csv").write_text("s3://bucket/a\n")
    frame = data_io.read_input_dir(tmp_path, "json")
    assert frame.to_dict("list") == {"x": [1, 2, 3], "y": ["a", "b", "c"]}


@pytest.mark.parametrize(
    "body, message",
    [(b"[1, 2]\n", "one JSON object per line"), (b"\x1f\x8bnot gzip", "not a JSON Lines file"), (b"\n", "no records")],
    ids=["not-objects", "broken-gzip", "empty"],
)
def test_read_json_lines_dir_rejects_bad_input(tmp_path, body, message):
    (tmp_path / "part-0").write_bytes(body)
    with pytest.raises(InputError, match=message):
        data_io.read_input_dir(tmp_path, "json")


def test_read_input_dir_names_the_formats_it_knows(tmp_path):
    with pytest.raises(InputError, match="csv, json"):
        data_io.read_input_dir(tmp_path, "parquet")


def test_write_json_refuses_nan_and_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError):
        data_io.write_json({"auc": float("nan")}, tmp_path / "out.json")
    assert list(tmp_path.iterdir()) == []


def test_read_json_rejects_invalid_json(tmp_path):
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        data_io.read_json(tmp_path / "p.json", "preprocessor file")


# --- preprocessing -------------------------------------------------------------------------------


def test_preprocessor_scales_with_training_statistics_only(raw):
    preprocessor = Preprocessor.fit(raw, "label", "id", ["sex"])
    other = pd.DataFrame({"age": [35.0, 1000.0], "sex": ["M", "F"]})
    features = preprocessor.transform(other)
    assert preprocessor.means["age"] == 35.0
    assert features["age"].iloc[0] == 0.0
    assert features["age"].iloc[1] == pytest.approx((1000 - 35) / np.std([20, 30, 40, 50]))
    assert list(features.columns) == ["age", "sex_F", "sex_M"]
    assert features[["sex_F", "sex_M"]].values.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_preprocessor_handles_unseen_categories_and_missing_values(raw):
    preprocessor = Preprocessor.fit(raw, "label", "id", ["sex"])
    features = preprocessor.transform(pd.DataFrame({"age": [None], "sex": ["X"]}))
    assert features.values.tolist() == [[0.0, 0.0, 0.0]]


def test_preprocessor_round_trips_through_json(tmp_path, raw):
    preprocessor = Preprocessor.fit(raw, "label", "id", ["sex"])
    preprocessor.save(tmp_path)
    description = json.loads((tmp_path / "preprocessor.json").read_text())
    assert description["feature_columns"] == ["age", "sex_F", "sex_M"]
    assert description["target_column"] == "label" and description["id_column"] == "id"
    assert Preprocessor.load(tmp_path) == preprocessor


def test_integer_and_float_category_codes_are_the_same_category():
    frame = pd.DataFrame({"grade": [1, 2, 1, 2], "y": [0, 1, 0, 1]})
    preprocessor = Preprocessor.fit(frame, "y", None, ["grade"])
    features = preprocessor.transform(pd.DataFrame({"grade": [2.0, None]}))
    assert features.values.tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_constant_column_keeps_scale_one(raw):
    preprocessor = Preprocessor.fit(raw.assign(age=5.0), "label", "id", ["sex"])
    assert preprocessor.scales["age"] == 1.0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"categorical": ["colour"]}, "unknown categorical column 'colour'"),
        ({"target": "outcome"}, "unknown target column 'outcome'"),
        ({"id": "key"}, "unknown id column 'key'"),
        ({"categorical": []}, "column 'sex' holds non-numeric values such as 'F'"),
    ],
)
def test_preprocessor_fit_rejects_bad_column_choices(raw, change, message):
    with pytest.raises(InputError, match=message):
        Preprocessor.fit(raw, change.get("target", "label"), change.get("id", "id"), change.get("categorical", ["sex"]))


def test_preprocessor_fit_rejects_clashing_one_hot_names():
    frame = pd.DataFrame({"sex": ["F", "M"], "sex_F": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(InputError, match="clash"):
        Preprocessor.fit(frame, "y", None, ["sex"])


def test_transform_names_the_missing_feature_columns(raw):
    preprocessor = Preprocessor.fit(raw, "label", "id", ["sex"])
    with pytest.raises(InputError, match="unknown feature column 'age'"):
        preprocessor.transform(pd.DataFrame({"sex": ["F"]}))


def test_preprocessor_rejects_a_description_of_another_version(raw):
    description = Preprocessor.fit(raw, "label", "id", ["sex"]).to_dict()
    with pytest.raises(InputError, match="format_version"):
        Preprocessor.from_dict({**description, "format_version": 99})
    del description["standard_scaler"]
    with pytest.raises(InputError, match="standard_scaler"):
        Preprocessor.from_dict(description)


def test_validate_target_checks_labels_for_the_problem_type():
    assert validate_target(pd.Series([0.0, 1.0], name="y"), "binary_classification").tolist() == [0, 1]
    assert validate_target(pd.Series(["1.5", "2"], name="y"), "regression").tolist() == [1.5, 2.0]
    with pytest.raises(InputError, match="must hold 0 or 1 for binary classification, found 2$"):
        validate_target(pd.Series([0, 2], name="y"), "binary_classification")
    with pytest.raises(InputError, match="1 missing value"):
        validate_target(pd.Series([1.0, None], name="y"), "regression")
    with pytest.raises(InputError, match="non-numeric"):
        validate_target(pd.Series(["high", "low"], name="y"), "regression")
    with pytest.raises(InputError, match="problem type 'ranking'"):
        validate_target(pd.Series([1], name="y"), "ranking")


# --- splitting -----------------------------------------------------------------------------------


def test_split_is_a_deterministic_partition_that_keeps_label_shares():
    frame = pd.DataFrame({"x": range(100), "y": [0] * 70 + [1] * 30})
    splits = split_frame(frame, 0.2, 0.1, seed=7, stratify=frame["y"])
    again = split_frame(frame, 0.2, 0.1, seed=7, stratify=frame["y"])
    indexes = [set(part.index) for part in splits]
    assert sorted(len(part) for part in splits) == [10, 20, 70]
    assert set().union(*indexes) == set(frame.index) and sum(map(len, indexes)) == 100
    assert [part["y"].mean() for part in splits] == pytest.approx([0.3, 0.3, 0.3])
    assert all(a.equals(b) for a, b in zip(splits, again, strict=True))
    assert not splits.train.equals(split_frame(frame, 0.2, 0.1, seed=8, stratify=frame["y"]).train)


@pytest.mark.parametrize(
    "validation, test, message",
    [(0.0, 0.2, "validation fraction"), (0.2, 1.0, "test fraction"), (0.5, 0.5, "no rows for training")],
)
def test_split_rejects_bad_fractions(validation, test, message):
    with pytest.raises(InputError, match=message):
        split_frame(pd.DataFrame({"x": range(10)}), validation, test, seed=1)


def test_split_refuses_too_few_rows_or_a_missing_class():
    with pytest.raises(InputError, match="split is empty"):
        split_frame(pd.DataFrame({"x": range(3)}), 0.1, 0.1, seed=1)
    frame = pd.DataFrame({"x": range(20), "y": [0] * 18 + [1] * 2})
    with pytest.raises(InputError, match="validation split has no row labelled 1"):
        split_frame(frame, 0.15, 0.15, seed=1, stratify=frame["y"])


# --- metrics -------------------------------------------------------------------------------------


def test_binary_classification_metrics_on_a_worked_example():
    labels = [0, 0, 1, 1, 1]
    probabilities = [0.1, 0.6, 0.35, 0.8, 0.9]
    # Predicted 0,1,0,1,1: TP=2, FP=1, FN=1, TN=1; 5 of the 6 positive/negative pairs are ordered right.
    assert metrics.binary_classification_metrics(labels, probabilities) == pytest.approx(
        {"f1": 2 / 3, "precision": 2 / 3, "recall": 2 / 3, "auc": 5 / 6, "accuracy": 3 / 5}
    )


def test_auc_counts_ties_as_half_and_needs_both_classes():
    assert metrics.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    with pytest.raises(InputError, match="both classes"):
        metrics.roc_auc([1, 1], [0.2, 0.9])


def test_precision_without_positive_predictions_is_zero():
    assert metrics.binary_classification_metrics([0, 1], [0.1, 0.2])["precision"] == 0.0


def test_regression_metrics_on_a_worked_example():
    result = metrics.regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 6.0])
    assert result == pytest.approx({"rmse": np.sqrt(3.0), "mae": 1.0, "r2": 1 - 9 / 2})
    assert metrics.regression_metrics([2.0, 2.0], [2.0, 2.0])["r2"] == 1.0


def test_model_quality_report_has_sagemakers_form_and_a_reproducible_spread():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 80)
    scores = np.clip(labels * 0.3 + rng.random(80) * 0.7, 0, 1)
    report_ = metrics.model_quality_report("binary_classification", labels, scores, resamples=50, seed=3)
    again = metrics.model_quality_report("binary_classification", labels, scores, resamples=50, seed=3)
    values = report_["binary_classification_metrics"]
    assert set(values) == {"f1", "precision", "recall", "auc", "accuracy"}
    assert all(set(metric) == {"value", "standard_deviation"} for metric in values.values())
    assert all(0 < metric["standard_deviation"] < 0.2 for metric in values.values())
    assert report_ == again
    assert set(metrics.model_quality_report("regression", [1.0, 2.0, 3.0], [1.5, 2.0, 2.0])["regression_metrics"]) == {
        "rmse",
        "mae",
        "r2",
    }


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_metric_names_are_the_ones_computed(problem_type):
    computed = metrics.metrics_for(problem_type)([0, 1, 1], [0.2, 0.7, 0.4])
    assert tuple(computed) == metrics.METRIC_NAMES[problem_type]


def test_metrics_for_an_unknown_problem_type():
    with pytest.raises(InputError, match="problem type"):
        metrics.metrics_for("ranking")


# --- model and bundle ----------------------------------------------------------------------------


def _prepared(problem_type: str):
    frame = sample_data.load_sample_frame(problem_type).head(150)
    target = sample_data.TARGET_COLUMNS[problem_type]
    train, validation = frame.iloc[:110], frame.iloc[110:]
    preprocessor = Preprocessor.fit(train, target, "id", ["sex"])
    return preprocessor, train, validation


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_model_learns_and_survives_save_and_load(tmp_path, problem_type):
    preprocessor, train, validation = _prepared(problem_type)
    target = preprocessor.target_column
    x_train, x_validation = preprocessor.transform(train), preprocessor.transform(validation)
    trained = model.fit(
        problem_type, model.default_hyperparameters(), x_train, train[target], x_validation, validation[target]
    )
    scores = model.predict(trained.model, x_validation)
    model.save(trained.model, tmp_path)
    assert np.allclose(model.predict(model.load(tmp_path), x_validation), scores)
    assert trained.best_iteration >= 1
    if problem_type == "binary_classification":
        assert metrics.roc_auc(validation[target], scores) > 0.7
    else:
        assert metrics.regression_metrics(validation[target], scores)["r2"] > 0.2


def test_hyperparameters_check_their_range():
    first = model.HYPERPARAMETERS[0]
    first.check(first.default)
    with pytest.raises(InputError, match=f"hyperparameter {first.name} must be between"):
        first.check(first.high + 1)
    assert set(model.default_hyperparameters()) == {parameter.name for parameter in model.HYPERPARAMETERS}


@pytest.fixture(scope="module")
def written_bundle(tmp_path_factory):
    preprocessor, train, validation = _prepared("regression")
    x_train, x_validation = preprocessor.transform(train), preprocessor.transform(validation)
    hyperparameters = model.default_hyperparameters()
    trained = model.fit(
        "regression", hyperparameters, x_train, train["progression"], x_validation, validation["progression"]
    )
    directory = tmp_path_factory.mktemp("bundle")
    script = directory.parent / "inference.py"
    script.write_text("# serving handler\n")
    metadata = bundle.build_metadata("regression", preprocessor, hyperparameters)
    bundle.write_bundle(directory, trained.model, preprocessor, metadata, script)
    return directory, validation


def test_bundle_holds_model_preprocessing_metadata_and_code(written_bundle):
    directory, _ = written_bundle
    files = {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}
    assert {model.MODEL_FILENAME, "preprocessor.json", "metadata.json", "code/inference.py"} <= files
    assert "code/shared_libraries/preprocessing.py" in files
    assert not any("/test/" in name or "__pycache__" in name for name in files)
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata["framework"] == model.FRAMEWORK and metadata["target_column"] == "progression"


def test_bundle_predicts_raw_records_from_a_folder_or_an_archive(tmp_path, written_bundle):
    directory, validation = written_bundle
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        for path in directory.iterdir():
            archive.add(path, arcname=path.name)
    from_dir = bundle.load_bundle(directory).predict_records(validation)
    from_archive = bundle.load_bundle(tmp_path).predict_records(validation)
    assert list(from_dir.columns) == ["prediction"] and len(from_dir) == len(validation)
    assert np.allclose(from_dir["prediction"], from_archive["prediction"])


def test_load_bundle_refuses_unsafe_archives_and_empty_folders(tmp_path):
    with pytest.raises(InputError, match="no model.tar.gz or metadata.json"):
        bundle.load_bundle(tmp_path)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        member = tarfile.TarInfo("../escape.txt")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    with pytest.raises(InputError, match="unsafe member '../escape.txt'"):
        bundle.load_bundle(tmp_path)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_load_bundle_refuses_a_model_of_another_framework(tmp_path, written_bundle):
    directory, _ = written_bundle
    metadata = json.loads((directory / "metadata.json").read_text())
    (tmp_path / "metadata.json").write_text(json.dumps({**metadata, "framework": "pytorch"}))
    with pytest.raises(InputError, match="trained with 'pytorch'"):
        bundle.load_bundle(tmp_path)


def test_predictions_frame_thresholds_probabilities():
    frame = bundle.predictions_frame("binary_classification", np.array([0.2, 0.5, 0.9]))
    assert frame.to_dict("list") == {"prediction": [0, 1, 1], "probability": [0.2, 0.5, 0.9]}
