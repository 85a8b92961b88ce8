"""Prepare raw data for training (fit mode) or for batch prediction (transform mode).

Raw data: CSV files with a header, or JSON Lines files (`--input-format json`, what an Athena
query of the data lake delivers).
fit:       split into train/validation/test, fit the preprocessing on the training split only and
           write processed splits (target first, id dropped), the data-quality baseline and preprocessor.json.
transform: apply an existing preprocessor.json to unlabelled records; ids are kept in a separate file,
           and the raw feature columns in a third (what the data-quality check compares with the baseline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402

from shared_libraries import defaults  # noqa: E402
from shared_libraries.data_io import INPUT_FORMATS, read_input_dir, write_csv  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402
from shared_libraries.paths import existing_dir  # noqa: E402
from shared_libraries.preprocessing import Preprocessor, require_columns, validate_target  # noqa: E402
from shared_libraries.splitting import check_fractions, split_frame  # noqa: E402

STEP = "prepare_data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=STEP, description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("fit", "transform"), default="fit")
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="csv",
        help="csv: *.csv files with a header; json: JSON Lines files, gzip compressed or not (Athena query results)",
    )
    parser.add_argument(
        "--preprocessor-dir",
        type=Path,
        default=Path("/opt/ml/processing/input/preprocessor"),
        help="transform mode: folder holding preprocessor.json",
    )
    parser.add_argument("--target-column", default=defaults.TARGET_COLUMN)
    parser.add_argument("--id-column", default=defaults.ID_COLUMN, help="'' when the data has no id column")
    parser.add_argument(
        "--categorical-columns",
        default=",".join(defaults.CATEGORICAL_COLUMNS),
        help="comma-separated columns to one-hot encode; every other feature must be numeric",
    )
    parser.add_argument("--problem-type", choices=defaults.PROBLEM_TYPES, default=defaults.PROBLEM_TYPE)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--random-seed", type=int, default=defaults.RANDOM_SEED)
    return parser.parse_args(argv)


def fit(args: argparse.Namespace) -> None:
    """Split, fit the preprocessor on the training split and write every output."""
    check_fractions(args.validation_fraction, args.test_fraction)
    frame = read_input_dir(args.input_dir, args.input_format)
    require_columns(frame, [args.target_column], "target column")
    if args.id_column:
        require_columns(frame, [args.id_column], "id column")
    labels = validate_target(frame[args.target_column], args.problem_type)
    stratify = labels if args.problem_type == "binary_classification" else None
    splits = split_frame(frame, args.validation_fraction, args.test_fraction, args.random_seed, stratify)
    preprocessor = Preprocessor.fit(
        splits.train, args.target_column, args.id_column, _columns(args.categorical_columns)
    )
    # Everything is computed before the first write, so bad data leaves no partial output behind.
    processed = {name: _labelled(preprocessor, part, labels) for name, part in splits._asdict().items()}
    # Model Monitor compares this baseline with what an endpoint or a batch job receives: raw
    # records, before preprocessing. So the baseline is the raw training features.
    baseline = splits.train[preprocessor.raw_feature_columns]
    for name, part in processed.items():
        write_csv(part, args.output_dir / name / f"{name}.csv")
    write_csv(baseline, args.output_dir / "baseline" / "baseline.csv")
    preprocessor.save(args.output_dir / "preprocessor")
    print(f"{STEP}: {', '.join(f'{name} {len(part)} rows' for name, part in processed.items())}")


def transform(args: argparse.Namespace) -> None:
    """Apply the stored preprocessor to unlabelled records; write features, ids and raw features.

    Batch inference runs this with the arguments and reads the folders the kit's contract names.
    """
    preprocessor = Preprocessor.load(existing_dir(args.preprocessor_dir, "preprocessor"))
    frame = read_input_dir(args.input_dir, args.input_format)
    features = preprocessor.transform(frame)
    if preprocessor.id_column:
        require_columns(frame, [preprocessor.id_column], "id column")
        ids = frame[[preprocessor.id_column]]
    else:
        # Without an id, the row number is what joins predictions back to the records.
        ids = pd.DataFrame({"row": range(len(frame))})
    write_csv(features, args.output_dir / "features" / "features.csv")
    write_csv(ids, args.output_dir / "ids" / "ids.csv")
    # The baseline fit mode writes is raw features: the records are checked against it in that form.
    write_csv(frame[preprocessor.raw_feature_columns], args.output_dir / "raw_features" / "raw_features.csv")
    print(f"{STEP}: {len(features)} records transformed")


def _labelled(preprocessor: Preprocessor, part: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    # Target first: the layout SageMaker's built-in algorithms expect and the one train_model reads.
    features = preprocessor.transform(part)
    return pd.concat([labels.loc[part.index].rename(preprocessor.target_column), features], axis=1)


def _columns(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.mode == "fit":
            fit(args)
        else:
            transform(args)
    except InputError as error:
        return report(STEP, error)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
