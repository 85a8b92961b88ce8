"""Batch prediction: score raw CSV records with the model bundle and write predictions.csv.

The output keeps the id column (when the records have one) next to `prediction` and, for
classification, the positive-class `probability`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared_libraries.bundle import load_bundle  # noqa: E402
from shared_libraries.data_io import read_csv_dir, write_csv  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402

STEP = "predict"
PREDICTIONS_FILENAME = "predictions.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=STEP, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path("/opt/ml/processing/input/model"),
        help="holds model.tar.gz (or the extracted bundle)",
    )
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output/predictions"))
    return parser.parse_args(argv)


def predict(model_dir: Path, input_dir: Path):
    """Predictions for every record under `input_dir`, with the id column first when present."""
    bundle = load_bundle(model_dir)
    records = read_csv_dir(input_dir)
    predictions = bundle.predict_records(records)
    id_column = bundle.metadata.get("id_column")
    if id_column and id_column in records.columns:
        predictions.insert(0, id_column, records[id_column])
    return predictions


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        predictions = predict(args.model_dir, args.input_dir)
    except InputError as error:
        return report(STEP, error)
    write_csv(predictions, args.output_dir / PREDICTIONS_FILENAME)
    print(f"{STEP}: {len(predictions)} predictions written to {args.output_dir / PREDICTIONS_FILENAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
