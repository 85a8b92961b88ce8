"""Train the model on the processed splits and write the model bundle (SageMaker script mode).

Channels and folders come from SageMaker's SM_* environment variables; hyperparameters arrive as
`--name value` arguments. One `validation:<metric>=<value>` line per validation metric is printed
for SageMaker's metric definitions and hyperparameter tuning.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
ALGORITHMS_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ALGORITHMS_ROOT))

from shared_libraries import defaults, tracking  # noqa: E402
from shared_libraries import model as algorithm  # noqa: E402
from shared_libraries.bundle import build_metadata, write_bundle  # noqa: E402
from shared_libraries.data_io import read_csv_dir, write_json  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402
from shared_libraries.metrics import metrics_for  # noqa: E402
from shared_libraries.paths import env_path, existing_dir  # noqa: E402
from shared_libraries.preprocessing import Preprocessor, require_columns, validate_target  # noqa: E402

STEP = "train_model"
INFERENCE_SCRIPT = ALGORITHMS_ROOT / "inference" / "predict" / "inference.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=STEP, description=__doc__.splitlines()[0])
    parser.add_argument("--train_dir", type=Path, default=env_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation_dir", type=Path, default=env_path("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    parser.add_argument(
        "--preprocessor_dir", type=Path, default=env_path("SM_CHANNEL_PREPROCESSOR", "/opt/ml/input/data/preprocessor")
    )
    parser.add_argument("--model_dir", type=Path, default=env_path("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--output_data_dir", type=Path, default=env_path("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    parser.add_argument("--problem_type", choices=defaults.PROBLEM_TYPES, default=defaults.PROBLEM_TYPE)
    parser.add_argument("--target_column", default=None, help="defaults to the one recorded in preprocessor.json")
    for parameter in algorithm.HYPERPARAMETERS:
        parser.add_argument(f"--{parameter.name}", type=parameter.type, default=parameter.default, help=parameter.help)
    # Added by SageMaker automatic model tuning to every training job it starts; not a hyperparameter.
    parser.add_argument("--_tuning_objective_metric", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for parameter in algorithm.HYPERPARAMETERS:
        try:
            parameter.check(getattr(args, parameter.name))
        except InputError as error:
            parser.error(str(error))
    return args


def hyperparameters_of(args: argparse.Namespace) -> dict:
    return {parameter.name: getattr(args, parameter.name) for parameter in algorithm.HYPERPARAMETERS}


def load_split(directory: Path, what: str, target_column: str, preprocessor: Preprocessor, problem_type: str):
    """Features (in preprocessor order) and checked labels of one processed split."""
    frame = read_csv_dir(existing_dir(directory, what))
    require_columns(frame, [target_column], "target column", f"the {what} split")
    require_columns(frame, preprocessor.feature_columns, "feature column", f"the {what} split")
    return frame[preprocessor.feature_columns], validate_target(frame[target_column], problem_type)


def start_tracking(args: argparse.Namespace) -> tuple[tracking.Tracker, str | None]:
    """The step's MLflow run; a tuning trial's run is tagged so the evaluation can nest it."""
    tracker = tracking.open_tracker(STEP)
    tags = {tracking.STEP_TAG: STEP}
    if args._tuning_objective_metric is not None:
        tags[tracking.TUNING_TAG] = tracking.tuning_group()
    return tracker, tracker.start_run(os.environ.get("TRAINING_JOB_NAME") or STEP, tags)


def train(args: argparse.Namespace) -> dict[str, float]:
    """Fit the model, write the bundle and the validation metrics, track them; return those metrics."""
    preprocessor = Preprocessor.load(existing_dir(args.preprocessor_dir, "preprocessor"))
    target = args.target_column or preprocessor.target_column
    x_train, y_train = load_split(args.train_dir, "train", target, preprocessor, args.problem_type)
    x_validation, y_validation = load_split(args.validation_dir, "validation", target, preprocessor, args.problem_type)
    hyperparameters = hyperparameters_of(args)
    trained = algorithm.fit(args.problem_type, hyperparameters, x_train, y_train, x_validation, y_validation)
    scores = algorithm.predict(trained.model, x_validation)
    validation_metrics = metrics_for(args.problem_type)(y_validation, scores)
    # Only a model worth recording opens a run (bad input fails above, in one line, with no run left open).
    tracker, run_id = start_tracking(args)
    metadata = build_metadata(
        args.problem_type,
        preprocessor,
        hyperparameters,
        best_iteration=trained.best_iteration,
        validation_metrics=validation_metrics,
        **({tracking.RUN_ID_KEY: run_id} if run_id else {}),
    )
    write_bundle(args.model_dir, trained.model, preprocessor, metadata, INFERENCE_SCRIPT)
    track_training(tracker, run_id, args, hyperparameters, validation_metrics, trained.best_iteration)
    write_json(
        {"best_iteration": trained.best_iteration, "validation_metrics": validation_metrics},
        args.output_data_dir / "validation_metrics.json",
    )
    return validation_metrics


def track_training(tracker, run_id, args, hyperparameters: dict, validation_metrics: dict, best_iteration) -> None:
    """Parameters and validation metrics in one batch, then the model bundle once (it is small)."""
    params = {**hyperparameters, "framework": algorithm.FRAMEWORK, "problem_type": args.problem_type}
    metrics = {f"validation_{name}": value for name, value in validation_metrics.items()}
    if best_iteration is not None:
        metrics["best_iteration"] = best_iteration
    tracker.log(run_id, params=params, metrics=metrics)
    tracker.log_artifacts(run_id, args.model_dir, "model")
    tracker.finish(run_id)


def print_metrics(metrics: dict[str, float]) -> None:
    # Fixed-point notation (never 1e-05), so a regex such as `validation:auc=(-?[0-9.]+)` reads every value.
    for name, value in metrics.items():
        print(f"validation:{name}={value:.6f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print_metrics(train(args))
    except InputError as error:
        return report(STEP, error)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
