"""Shared test set-up: offline AWS settings, no bytecode written into the template payload, one
thread per numerical library, and one bake per answer set per test run."""

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests import modules straight from the template payload; bytecode written there would be
# baked into every generated repository.
sys.dont_write_bytecode = True
os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")

# No test may reach AWS: fake credentials, a fixed region, no instance metadata look-ups.
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}.items():
    os.environ.setdefault(key, value)

# One thread per numerical library in the test processes and every process they start (baked repos'
# own tests, local runs): the suite runs two workers on two cores, and OpenMP/BLAS pools of one
# thread per core in each process made a 1.8 s training step take 21.9 s. The local runner sets the
# same for its steps (mlops_template_kit/local_run/jobs.py); set before any test imports numpy.
for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(key, "1")

# No MLflow tracking unless a test asks for it: a local run would otherwise track into a store in
# its work folder (mlops_template_kit/local_run/tracking.py); empty means "off" there and in the steps.
os.environ.setdefault("MLFLOW_TRACKING_URI", "")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def baked(tmp_path_factory) -> Callable[[str, dict[str, str]], Path]:
    """`baked(template, answers)`: the one bake of these answers in this test run, shared by the
    tests and by every xdist worker (a session fixture alone is per worker; the bakes live in
    the run's base folder, which all workers share). Read only: copy it to write into it."""
    from tests import bakery

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's base folder sits inside the run's
    return lambda template, answers: bakery.shared_bake(root / "shared-bakes", template, dict(answers))


@pytest.hookimpl(trylast=True)  # after -k and -m chose what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The recorded authz scenarios (tests/test_authz_calls.py) run some of this suite's tests in
    subprocesses with the recorder on. When the test that needs those recordings runs in this
    session, those tests run there only, not twice (a failure there fails it, with the output)."""
    from tests.test_authz_calls import RECORDER_TEST, scenario_runs

    if not any(item.nodeid.split("@")[0] == RECORDER_TEST for item in items):
        return
    runs_it = scenario_runs()
    repeated = {item for item in items if runs_it(item)}
    if repeated:
        config.hook.pytest_deselected(items=[item for item in items if item in repeated])
        items[:] = [item for item in items if item not in repeated]
