"""Processing script: evaluate the packed model on the test set, write evaluation.json."""

import argparse
import csv
import json
import pathlib
import tarfile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default="/opt/ml/processing/input/model")
    parser.add_argument("--test-dir", default="/opt/ml/processing/input/test")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output/evaluation")
    args = parser.parse_args()
    with tarfile.open(pathlib.Path(args.model_dir) / "model.tar.gz") as tar:
        model = json.load(tar.extractfile("model.json"))
    if not pathlib.Path(args.test_dir).is_dir():
        raise SystemExit(f"evaluate: the test data folder {args.test_dir} does not exist")
    errors = []
    for path in sorted(pathlib.Path(args.test_dir).glob("*.csv")):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                errors.append(model["intercept"] + model["slope"] * float(row["x"]) - float(row["y"]))
    rmse = (sum(e * e for e in errors) / len(errors)) ** 0.5
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    report = {"regression_metrics": {"rmse": {"value": rmse, "standard_deviation": 0.0}, "points": [len(errors)]}}
    (output / "evaluation.json").write_text(json.dumps(report))
    print(f"test rmse {rmse:.4f} on {len(errors)} points")


if __name__ == "__main__":
    main()
