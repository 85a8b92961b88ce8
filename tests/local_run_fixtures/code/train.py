"""Script-mode training: least-squares line y = a + b * x, with ridge penalty --alpha."""

import argparse
import csv
import json
import os
import pathlib
import sys


def load(folder: str) -> list[tuple[float, float]]:
    points = []
    for path in sorted(pathlib.Path(folder).glob("*.csv")):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                points.append((float(row["x"]), float(row["y"])))
    return points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--flag", default="unset")
    parser.add_argument("--mode", default="plain")
    parser.add_argument("--_tuning_objective_metric", default=None)
    args = parser.parse_args()
    points = load(os.environ["SM_CHANNEL_TRAIN"])
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / (sxx + args.alpha)
    intercept = mean_y - slope * mean_x
    rmse = (sum((intercept + slope * x - y) ** 2 for x, y in points) / n) ** 0.5
    model_dir = pathlib.Path(os.environ["SM_MODEL_DIR"])
    (model_dir / "model.json").write_text(json.dumps({"intercept": intercept, "slope": slope}))
    contract = {
        "argv": sys.argv[1:],
        "hps": json.loads(os.environ["SM_HPS"]),
        "channels": json.loads(os.environ["SM_CHANNELS"]),
        "output_data_dir": os.environ["SM_OUTPUT_DATA_DIR"],
        "hyperparameters_json": json.loads(
            (pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json").read_text()
        ),
    }
    (pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "contract.json").write_text(json.dumps(contract))
    (model_dir / "contract.json").write_text(json.dumps(contract))
    print(f"train:rmse={rmse:.6f}")
    print(f"validation:rmse={rmse + args.alpha / 1000:.6f}")


if __name__ == "__main__":
    main()
