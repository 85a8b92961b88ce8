"""The notebooks use the shared libraries: run them top to bottom so a library change cannot silently break them.

Cells are executed in one namespace without a Jupyter kernel (Jupyter is the optional notebook
environment of `make notebooks`, not part of requirements.txt); the notebooks hold plain Python, no magics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[3] / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook():
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_top_to_bottom(notebook, monkeypatch):
    # Jupyter starts in the notebook's folder. Nothing is tracked in MLflow here (the tracking cell
    # then says so; test_tracking.py tests what it calls).
    monkeypatch.chdir(notebook.parent)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{notebook.name}[cell {number}]", "exec"), namespace)
