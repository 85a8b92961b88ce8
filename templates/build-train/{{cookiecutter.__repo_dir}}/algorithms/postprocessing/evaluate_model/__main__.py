"""Evaluate the trained model on the processed test split and write evaluation.json.

The report has SageMaker's model quality form (`binary_classification_metrics` or
`regression_metrics`, each metric with a value and a bootstrap standard deviation), so the
pipeline can register it as model metrics and compare it in a condition step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared_libraries import tracking  # noqa: E402
from shared_libraries.bundle import load_bundle  # noqa: E402
from shared_libraries.data_io import read_csv_dir, write_json  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402
from shared_libraries.metrics import REPORT_KEYS, model_quality_report  # noqa: E402
from shared_libraries.preprocessing import require_columns, validate_target  # noqa: E402

STEP = "evaluate_model"
REPORT_FILENAME = "evaluation.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=STEP, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, default=Path("/opt/ml/processing/input/model"), help="holds model.tar.gz"
    )
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/input/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output/evaluation"))
    parser.add_argument("--bootstrap-resamples", type=int, default=200, help="resamples for the standard deviations")
    parser.add_argument("--random-seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.bootstrap_resamples < 2:
        parser.error(f"--bootstrap-resamples must be at least 2, not {args.bootstrap_resamples}")
    return args


def evaluate(args: argparse.Namespace, bundle=None) -> dict:
    """The model quality report of the bundle in --model-dir on the test split in --test-dir."""
    bundle = bundle or load_bundle(args.model_dir)
    test = read_csv_dir(args.test_dir)
    target = bundle.metadata["target_column"]
    require_columns(test, [target], "target column", "the test split")
    labels = validate_target(test[target], bundle.problem_type)
    scores = bundle.predict_processed(test)
    score_column = "probability" if bundle.problem_type == "binary_classification" else "prediction"
    return model_quality_report(
        bundle.problem_type, labels, scores[score_column], args.bootstrap_resamples, args.random_seed
    )


def track_evaluation(training_run_id: str | None, evaluation: dict, report_file: Path) -> str | None:
    """Log the test metrics and the report on the model's training run; the run the model belongs to.

    A tuned model's run is a trial: the evaluation opens one parent run for the tuning job, nests
    every trial of that job under it (by their shared tag) and logs the best trial's parameters
    and the test metrics there. The run id goes on the registered model (tracking.json).
    """
    tracker = tracking.open_tracker(STEP)
    if not tracker.active:
        return None
    run_id = training_run_id
    if training_run_id is None:
        run_id = tracker.start_run(STEP, {tracking.STEP_TAG: STEP})
    else:
        group = tracker.run_tags(training_run_id).get(tracking.TUNING_TAG)
        if group:
            run_id = nest_trials(tracker, training_run_id, group)
    tracker.log(run_id, metrics=tracking.flat_metrics(evaluation, "test"))
    tracker.log_artifacts(run_id, report_file)
    tracker.finish(run_id)
    return run_id


def nest_trials(tracker: tracking.Tracker, best_trial_id: str, group: str) -> str | None:
    """A parent run for one tuning job, holding the best trial's parameters, with every trial nested."""
    trials = tracker.runs_tagged(tracking.TUNING_TAG, group)
    parent_id = tracker.start_run("tuning", {tracking.STEP_TAG: "tuning", "mlops.best_trial_run_id": best_trial_id})
    best = next((trial for trial in trials if trial.info.run_id == best_trial_id), None)
    if best is not None:
        tracker.log(parent_id, params=dict(best.data.params), metrics=dict(best.data.metrics))
    tracker.log(parent_id, params={"tuning_trials": len(trials)})
    for trial in trials:
        tracker.log(trial.info.run_id, tags={tracking.PARENT_TAG: parent_id})
    return parent_id


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bundle = load_bundle(args.model_dir)
        evaluation = evaluate(args, bundle)
    except InputError as error:
        return report(STEP, error)
    report_file = write_json(evaluation, args.output_dir / REPORT_FILENAME)
    run_id = track_evaluation(bundle.metadata.get(tracking.RUN_ID_KEY), evaluation, report_file)
    tracking.write_tracking_file(run_id, args.output_dir)
    for kind in REPORT_KEYS.values():
        for name, metric in evaluation.get(kind, {}).items():
            print(f"test:{name}={metric['value']:.6f} (standard deviation {metric['standard_deviation']:.6f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
