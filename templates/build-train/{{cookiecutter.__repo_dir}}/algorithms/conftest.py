"""Fixtures shared by the step tests: the tiny raw data set, and the outputs of running the real steps on it.

Later steps are tested on what the earlier steps really produce, so a change to one step's output
that breaks the next one fails here rather than in a pipeline run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from shared_libraries import defaults, sample_data

# The test data sets are tiny: one thread is faster, and OpenMP thread pools on a busy machine turn
# milliseconds of boosting into seconds. Subprocesses inherit the variable; this process gets the limit below.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ALGORITHMS = Path(__file__).resolve().parent
RAW_RECORDS = ALGORITHMS / "preprocessing" / "prepare_data" / "test" / "input" / "records.csv"
UNLABELLED_RECORDS = ALGORITHMS / "inference" / "predict" / "test" / "input" / "records.csv"


def load_step(relative: str) -> ModuleType:
    """Import a step's __main__.py (step folders are not packages)."""
    path = ALGORITHMS / relative / "__main__.py"
    spec = importlib.util.spec_from_file_location(f"step_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    # Registered first, as a normal import would be: dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", autouse=True)
def single_threaded_numerics():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def prepare_data() -> ModuleType:
    return load_step("preprocessing/prepare_data")


@pytest.fixture(scope="session")
def train_model() -> ModuleType:
    return load_step("training/train_model")


@pytest.fixture(scope="session")
def evaluate_model() -> ModuleType:
    return load_step("postprocessing/evaluate_model")


@pytest.fixture(scope="session")
def check_bias() -> ModuleType:
    return load_step("postprocessing/check_bias")


@pytest.fixture(scope="session")
def predict() -> ModuleType:
    return load_step("inference/predict")


@pytest.fixture(scope="session")
def problem_type() -> str:
    return defaults.PROBLEM_TYPE


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory, problem_type) -> Path:
    """A folder with the test records labelled for this repository's problem type."""
    directory = tmp_path_factory.mktemp("raw")
    sample_data.label(pd.read_csv(RAW_RECORDS), problem_type).to_csv(directory / "records.csv", index=False)
    return directory


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory, prepare_data, raw_dir, problem_type) -> Path:
    """Output of prepare_data (fit mode) on the raw records."""
    output = tmp_path_factory.mktemp("prepared")
    argv = ["--input-dir", str(raw_dir), "--output-dir", str(output), "--problem-type", problem_type]
    assert prepare_data.main(argv) == 0
    return output


def training_argv(prepared: Path, model_dir: Path, output_dir: Path, *extra: str) -> list[str]:
    """train_model arguments reading the prepare_data output in `prepared`."""
    return [
        "--train_dir",
        str(prepared / "train"),
        "--validation_dir",
        str(prepared / "validation"),
        "--preprocessor_dir",
        str(prepared / "preprocessor"),
        "--model_dir",
        str(model_dir),
        "--output_data_dir",
        str(output_dir),
        *extra,
    ]


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, train_model, prepared_dir, problem_type) -> Path:
    """The model bundle train_model writes (what SageMaker would pack into model.tar.gz)."""
    model_dir = tmp_path_factory.mktemp("model")
    output_dir = tmp_path_factory.mktemp("training-output")
    argv = training_argv(prepared_dir, model_dir, output_dir, "--problem_type", problem_type)
    assert train_model.main(argv) == 0
    return model_dir


@pytest.fixture(scope="session")
def model_archive_dir(tmp_path_factory, bundle_dir) -> Path:
    """A folder holding model.tar.gz, as SageMaker hands the model to processing jobs."""
    directory = tmp_path_factory.mktemp("model-archive")
    with tarfile.open(directory / "model.tar.gz", "w:gz") as archive:
        for path in sorted(bundle_dir.iterdir()):
            archive.add(path, arcname=path.name)
    return directory
