"""Processing script: split the CSV files of --input-dir into train and test sets."""

import argparse
import csv
import pathlib
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    args = parser.parse_args()
    rows, header = [], None
    for path in sorted(pathlib.Path(args.input_dir).glob("*.csv")):
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows.extend(reader)
    random.Random(0).shuffle(rows)
    cut = int(len(rows) * (1 - args.test_fraction))
    for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
        folder = pathlib.Path(args.output_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(part)
    print(f"split {len(rows)} rows: {cut} train, {len(rows) - cut} test")


if __name__ == "__main__":
    main()
