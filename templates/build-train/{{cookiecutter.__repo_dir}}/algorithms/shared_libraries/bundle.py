"""The model bundle: what training writes to SM_MODEL_DIR and SageMaker packs into model.tar.gz.

    model.json | model.joblib   the trained model (see model.py)
    preprocessor.json           the fitted preprocessing, so the bundle accepts raw records
    metadata.json               framework, problem type, columns, hyperparameters
    code/inference.py           the serving handler, with code/shared_libraries/ next to it

Framework containers serve it with SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from shared_libraries import model as algorithm
from shared_libraries.data_io import read_json, write_json
from shared_libraries.errors import InputError
from shared_libraries.metrics import DECISION_THRESHOLD
from shared_libraries.preprocessing import Preprocessor, require_columns

ARCHIVE_NAME = "model.tar.gz"
METADATA_FILENAME = "metadata.json"
CODE_DIR = "code"
INFERENCE_SCRIPT = "inference.py"
LIBRARY_NAME = "shared_libraries"


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: predicts from raw records or from already processed features."""

    model: Any
    preprocessor: Preprocessor
    metadata: dict[str, Any]

    @property
    def problem_type(self) -> str:
        return self.metadata["problem_type"]

    def predict_processed(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predictions for processed features (the columns prepare_data writes)."""
        require_columns(features, self.metadata["feature_columns"], "feature column")
        scores = algorithm.predict(self.model, features[self.metadata["feature_columns"]])
        return predictions_frame(self.problem_type, scores, features.index)

    def predict_records(self, records: pd.DataFrame) -> pd.DataFrame:
        """Predictions for raw records: the preprocessing recorded at training time is applied first."""
        return self.predict_processed(self.preprocessor.transform(records))


def predictions_frame(problem_type: str, scores: np.ndarray, index: pd.Index | None = None) -> pd.DataFrame:
    """`prediction` (0/1 for classification, the value for regression) and, for classification, `probability`."""
    scores = np.asarray(scores, dtype=float)
    if problem_type == "binary_classification":
        columns = {"prediction": (scores >= DECISION_THRESHOLD).astype(int), "probability": scores}
    else:
        columns = {"prediction": scores}
    return pd.DataFrame(columns, index=index)


def build_metadata(problem_type: str, preprocessor: Preprocessor, hyperparameters: dict[str, Any], **extra) -> dict:
    """metadata.json content: what a reader needs to use the model without the training code."""
    return {
        "framework": algorithm.FRAMEWORK,
        "problem_type": problem_type,
        "target_column": preprocessor.target_column,
        "id_column": preprocessor.id_column,
        "raw_feature_columns": preprocessor.raw_feature_columns,
        "feature_columns": preprocessor.feature_columns,
        "hyperparameters": hyperparameters,
        **extra,
    }


def write_bundle(
    directory: Path, trained_model: Any, preprocessor: Preprocessor, metadata: dict, inference_script: Path
) -> Path:
    """Write the bundle into `directory`, with the serving code and the shared libraries it imports."""
    directory = Path(directory)
    library = Path(__file__).resolve().parent
    if not Path(inference_script).is_file():
        raise InputError(f"serving handler {inference_script} is missing: package the whole algorithms/ folder")
    directory.mkdir(parents=True, exist_ok=True)
    algorithm.save(trained_model, directory)
    preprocessor.save(directory)
    write_json(metadata, directory / METADATA_FILENAME)
    code = directory / CODE_DIR
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(library, code / LIBRARY_NAME, ignore=shutil.ignore_patterns("test", "__pycache__", "*.pyc"))
    shutil.copy2(inference_script, code / INFERENCE_SCRIPT)
    return directory


def load_bundle_dir(directory: Path) -> ModelBundle:
    """Load an extracted bundle from `directory`."""
    directory = Path(directory)
    metadata = read_json(directory / METADATA_FILENAME, "model metadata")
    if metadata.get("framework") != algorithm.FRAMEWORK:
        raise InputError(
            f"the model in {directory} was trained with {metadata.get('framework')!r}, "
            f"this code serves {algorithm.FRAMEWORK!r} models"
        )
    if not (directory / algorithm.MODEL_FILENAME).is_file():
        raise InputError(f"{directory} holds no {algorithm.MODEL_FILENAME}")
    return ModelBundle(algorithm.load(directory), Preprocessor.load(directory), metadata)


def load_bundle(model_dir: Path) -> ModelBundle:
    """Load the bundle in `model_dir`: from its model.tar.gz (as SageMaker delivers it) or already extracted."""
    model_dir = Path(model_dir)
    archive = model_dir / ARCHIVE_NAME
    if not archive.is_file():
        if not (model_dir / METADATA_FILENAME).is_file():
            raise InputError(f"no {ARCHIVE_NAME} or {METADATA_FILENAME} in model directory {model_dir}")
        return load_bundle_dir(model_dir)
    with tempfile.TemporaryDirectory(prefix="model-") as extracted:
        extract_archive(archive, Path(extracted))
        # Everything is read into memory here, so the temporary folder can go.
        return load_bundle_dir(Path(extracted))


def extract_archive(archive: Path, destination: Path) -> None:
    """Extract `archive`, refusing members that would land outside `destination` or are not plain files."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                _check_member(member, archive)
            # The "data" filter (Python >= 3.10.12) repeats the checks above and silences the deprecation warning.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, filter="data")
            else:
                tar.extractall(destination)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InputError(f"{archive} is not a readable tar.gz archive: {error}") from None


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise InputError(f"{archive} holds an unsafe member {member.name!r}")
