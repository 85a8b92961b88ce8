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


def evaluate(args: argparse.Namespace) -> dict:
    """The model quality report of the bundle in --model-dir on the test split in --test-dir."""
    bundle = load_bundle(args.model_dir)
    test = read_csv_dir(args.test_dir)
    target = bundle.metadata["target_column"]
    require_columns(test, [target], "target column", "the test split")
    labels = validate_target(test[target], bundle.problem_type)
    scores = bundle.predict_processed(test)
    score_column = "probability" if bundle.problem_type == "binary_classification" else "prediction"
    return model_quality_report(
        bundle.problem_type, labels, scores[score_column], args.bootstrap_resamples, args.random_seed
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        evaluation = evaluate(args)
    except InputError as error:
        return report(STEP, error)
    write_json(evaluation, args.output_dir / REPORT_FILENAME)
    for kind in REPORT_KEYS.values():
        for name, metric in evaluation.get(kind, {}).items():
            print(f"test:{name}={metric['value']:.6f} (standard deviation {metric['standard_deviation']:.6f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
