"""Postprocess batch transform results: join the ids back and summarise the predictions.

Inputs: `ids.csv` written by the preprocessing step (one row per record, in input order) and the
transform outputs (`<input file>.out`, each `{"predictions": [...]}` for one input file).
Outputs: `predictions.csv` (the id columns, `prediction`, and `probability` for classifiers) and
`distribution.json` (count, mean, spread and quantiles of the predictions; the share of each
class and a probability histogram for classifiers). Runs in a SageMaker processing container
and locally; paths default to the container paths.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 10


class PostprocessError(ValueError):
    """The inputs do not fit together; the message says how."""


def read_ids(ids_dir: Path) -> pd.DataFrame:
    files = sorted(ids_dir.rglob("*.csv"))
    if not files:
        raise PostprocessError(f"no ids CSV under {ids_dir}")
    return pd.concat([pd.read_csv(path) for path in files], ignore_index=True)


def read_predictions(transform_dir: Path) -> pd.DataFrame:
    """Every transform output, in input-file order, as one frame."""
    files = sorted(transform_dir.rglob("*.out"))
    if not files:
        raise PostprocessError(f"no batch transform output (*.out) under {transform_dir}")
    frames = []
    for path in files:
        try:
            records = json.loads(path.read_text(encoding="utf-8"))["predictions"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise PostprocessError(f"{path.name} is not a JSON document with a predictions list") from None
        frames.append(pd.DataFrame.from_records(records))
    return pd.concat(frames, ignore_index=True)


def join_ids(ids: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    if len(ids) != len(predictions):
        raise PostprocessError(f"{len(ids)} ids but {len(predictions)} predictions: the inputs do not match")
    if "prediction" not in predictions.columns:
        raise PostprocessError("the transform output has no 'prediction' field")
    return pd.concat([ids.reset_index(drop=True), predictions.reset_index(drop=True)], axis=1)


def distribution(predictions: pd.DataFrame, triggered_by: str) -> dict:
    """Summary statistics that ML tests and monitoring compare between runs."""
    values = predictions["prediction"].astype(float)
    summary = {
        "count": len(values),
        "triggered_by": triggered_by,
        "prediction": {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=0)),
            "min": float(values.min()),
            "max": float(values.max()),
            "quantiles": {str(q): float(values.quantile(q)) for q in QUANTILES},
        },
    }
    if "probability" in predictions.columns:
        probability = predictions["probability"].astype(float)
        counts, edges = np.histogram(probability, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
        summary["class_share"] = {str(int(k)): float(v) for k, v in values.value_counts(normalize=True).items()}
        summary["probability_histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    return summary


def run(ids_dir: Path, transform_dir: Path, output_dir: Path, triggered_by: str) -> pd.DataFrame:
    """Join, summarise and write; returns the joined predictions."""
    joined = join_ids(read_ids(ids_dir), read_predictions(transform_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
    joined.to_csv(output_dir / "predictions.csv", index=False)
    summary = distribution(joined, triggered_by)
    (output_dir / "distribution.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return joined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Join ids to batch predictions and summarise them")
    parser.add_argument("--ids-dir", type=Path, default=Path("/opt/ml/processing/input/ids"))
    parser.add_argument("--transform-dir", type=Path, default=Path("/opt/ml/processing/input/transform"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output/predictions"))
    parser.add_argument("--triggered-by", default="manual")
    args = parser.parse_args(argv)
    try:
        joined = run(args.ids_dir, args.transform_dir, args.output_dir, args.triggered_by)
    except PostprocessError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"PostprocessPredictions: {len(joined)} predictions written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
