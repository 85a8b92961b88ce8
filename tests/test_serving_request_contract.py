"""The two serving handlers a deploy repo's endpoint may load read the same JSON requests.

The kit's sample model (mlops_template_kit.local_endpoint.sample_inference, code/inference.py of the
sample bundle) and build-train's own handler (algorithms/inference/predict/inference.py) each parse
the request body inside the model's container, where the other's code is not installed: the kit's
bundle cannot ship a team's code, and the team's container does not install the kit. The deploy
repo's Lambda handler and promotion tests send one request format to whichever model a stage
serves; this test holds both parsers to it instead of a shared module."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_template_kit.local_endpoint import sample_inference

JSON = "application/json"
RECORDS = [{"id": 7, "age": 50, "sex": "F", "bmi": 27.1}, {"id": 8, "age": 61, "sex": "M", "bmi": 31.0}]
ACCEPTED = [
    (json.dumps({"instances": RECORDS}), JSON),
    (json.dumps(RECORDS), JSON),
    (json.dumps(RECORDS).encode(), "application/json; charset=utf-8"),
]
# Each with the HTTP status the container answers (a 4xx: the client's mistake, never a 500).
REJECTED = [
    ("", JSON, 400),
    ("  \n", JSON, 400),
    ("{not json", JSON, 400),
    (json.dumps({"instances": []}), JSON, 400),
    (json.dumps([]), JSON, 400),
    (json.dumps([1, 2]), JSON, 400),
    (json.dumps({"rows": RECORDS}), JSON, 400),
    (json.dumps(RECORDS), "application/x-npy", 415),
    (b"\x93NUMPY", "application/x-npy", 415),
]


def build_train_handler(repo: Path):
    """build-train's handler from a default bake (it imports shared_libraries, whose model module is
    rendered), loaded without leaving that bake's modules or path to later tests in this process."""
    path = repo / "algorithms" / "inference" / "predict" / "inference.py"
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    spec = importlib.util.spec_from_file_location("build_train_inference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks the module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]
    return module


@pytest.fixture(scope="module")
def handlers(baked):
    repo = baked("build-train", {})
    return {"kit sample": sample_inference.input_fn, "build-train": build_train_handler(repo).input_fn}


def records_of(parsed) -> pd.DataFrame:
    # build-train wraps the frame with whether its columns are named; JSON records always are.
    if hasattr(parsed, "named"):
        assert parsed.named
        return parsed.rows
    return parsed


def disagreements(handlers: dict) -> list[str]:
    """Every accepted body a handler does not read as RECORDS, every rejected one it does not refuse."""
    expected = pd.DataFrame.from_records(RECORDS)
    found = []
    for name, input_fn in handlers.items():
        for body, content_type in ACCEPTED:
            try:
                if not records_of(input_fn(body, content_type)).equals(expected):
                    found.append(f"{name} misreads {body!r}")
            except ValueError as problem:
                found.append(f"{name} refuses {body!r}: {problem}")
        for body, content_type, status in REJECTED:
            try:
                input_fn(body, content_type)
            except ValueError as problem:
                if getattr(problem, "status_code", None) != status:
                    found.append(f"{name} refuses {body!r} without status {status}: {problem!r}")
                continue
            found.append(f"{name} accepts {body!r} as {content_type}")
    return found


def test_both_handlers_read_and_refuse_the_same_requests(handlers):
    assert disagreements(handlers) == []


def test_a_handler_that_drifted_is_told_apart(handlers):
    """A parser that also took a `rows` key would serve requests the other refuses."""

    def lenient(body, content_type):
        if isinstance(body, str) and body.startswith('{"rows"'):
            body = body.replace('{"rows"', '{"instances"', 1)
        return sample_inference.input_fn(body, content_type)

    found = disagreements({**handlers, "lenient": lenient})
    assert any(line.startswith("lenient accepts") and "rows" in line for line in found), found


def test_a_handler_that_refuses_without_a_client_status_is_told_apart(handlers):
    """A parser raising a plain ValueError would make the container answer 500 for a client's mistake."""

    def plain(body, content_type):
        try:
            return sample_inference.input_fn(body, content_type)
        except ValueError as problem:
            raise ValueError(str(problem)) from None

    found = disagreements({**handlers, "plain": plain})
    assert any(line.startswith("plain refuses") and "without status 415" in line for line in found), found
