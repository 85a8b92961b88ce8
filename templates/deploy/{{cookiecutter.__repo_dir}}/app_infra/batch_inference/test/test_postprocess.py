"""The postprocessing step joins ids back to the predictions and summarises their distribution."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "postprocess" / "__main__.py"


def _inputs(tmp_path: Path, ids: list[int], parts: list[list[dict]]) -> tuple[Path, Path]:
    (tmp_path / "ids").mkdir()
    pd.DataFrame({"id": ids}).to_csv(tmp_path / "ids" / "ids.csv", index=False)
    (tmp_path / "transform").mkdir()
    for number, predictions in enumerate(parts, start=1):
        body = json.dumps({"predictions": predictions})
        (tmp_path / "transform" / f"part-{number}.csv.out").write_text(body, encoding="utf-8")
    return tmp_path / "ids", tmp_path / "transform"


def _run(tmp_path: Path, *arguments: str) -> int:
    argv = sys.argv
    sys.argv = [str(SCRIPT), *arguments]
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        sys.argv = argv
    return 0


def test_ids_join_back_in_input_order(tmp_path):
    parts = [
        [{"prediction": 1, "probability": 0.9}, {"prediction": 0, "probability": 0.2}],
        [{"prediction": 1, "probability": 0.7}],
    ]
    ids_dir, transform_dir = _inputs(tmp_path, [11, 12, 13], parts)
    output = tmp_path / "out"
    assert (
        _run(tmp_path, "--ids-dir", str(ids_dir), "--transform-dir", str(transform_dir), "--output-dir", str(output))
        == 0
    )
    joined = pd.read_csv(output / "predictions.csv")
    assert joined["id"].tolist() == [11, 12, 13]
    assert joined["prediction"].tolist() == [1, 0, 1]
    summary = json.loads((output / "distribution.json").read_text(encoding="utf-8"))
    assert summary["count"] == 3
    assert summary["class_share"] == pytest.approx({"1": 2 / 3, "0": 1 / 3})
    assert sum(summary["probability_histogram"]["counts"]) == 3


def test_regression_predictions_get_quantiles(tmp_path):
    ids_dir, transform_dir = _inputs(tmp_path, [1, 2], [[{"prediction": 100.0}, {"prediction": 200.0}]])
    output = tmp_path / "out"
    _run(tmp_path, "--ids-dir", str(ids_dir), "--transform-dir", str(transform_dir), "--output-dir", str(output))
    summary = json.loads((output / "distribution.json").read_text(encoding="utf-8"))
    assert summary["prediction"]["mean"] == 150.0
    assert "class_share" not in summary


def test_mismatched_inputs_fail_with_one_line(tmp_path, capsys):
    ids_dir, transform_dir = _inputs(tmp_path, [1, 2, 3], [[{"prediction": 1.0}]])
    output = tmp_path / "out"
    code = _run(tmp_path, "--ids-dir", str(ids_dir), "--transform-dir", str(transform_dir), "--output-dir", str(output))
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith("error: 3 ids but 1 predictions") and error.count("\n") == 1
    assert not (output / "predictions.csv").exists()
