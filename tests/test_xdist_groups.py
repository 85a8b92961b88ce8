"""`make test` runs two xdist workers with --dist loadgroup and relies on it: the recorded authz
scenarios and checkov each run once in one worker, and a test of the same group on the other worker
would wait on the first one's lock doing nothing (CI showed 224 s of such waiting when a pytest
release stopped the grouping). This runs a small suite the way `make test` does and fails if the
members of a group land on different workers."""

import subprocess
import sys
import textwrap

SUITE = textwrap.dedent(
    """
    import os
    import time

    import pytest

    def record(name):
        with open("workers.txt", "a") as log:
            log.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")

    @pytest.mark.xdist_group("together")
    @pytest.mark.parametrize("index", range(4))
    def test_grouped(index):
        record(f"grouped-{index}")
        time.sleep(0.2)

    @pytest.mark.parametrize("index", range(4))
    def test_free(index):
        record(f"free-{index}")
        time.sleep(0.2)
    """
)


def workers_by_test(tmp_path, *options: str) -> dict[str, str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", *options, "test_suite.py"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = (tmp_path / "workers.txt").read_text().split("\n")
    return dict(line.split() for line in lines if line)


def test_loadgroup_keeps_a_group_on_one_worker(tmp_path):
    workers = workers_by_test(tmp_path, "--dist", "loadgroup", "-c", "/dev/null", "--rootdir", str(tmp_path))
    assert len({workers[f"grouped-{index}"] for index in range(4)}) == 1, workers


def test_the_check_notices_a_split_group(tmp_path):
    """Plain --dist load ignores groups: the same check must see the group spread over both workers."""
    workers = workers_by_test(tmp_path, "--dist", "load", "-c", "/dev/null", "--rootdir", str(tmp_path))
    assert len({workers[f"grouped-{index}"] for index in range(4)}) == 2, workers
