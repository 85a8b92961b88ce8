"""The whole loop without AWS: the build/train repository's local run registers an Approved
model in a local AWS emulator; the deploy repository serves that model and its promotion tests
(integration, stress, ML) pass against it."""

from __future__ import annotations

import os
import sys
import urllib.request

import pytest
from moto.server import ThreadedMotoServer

from tests import bakery


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_the_deploy_repo_tests_the_model_the_training_repo_registered(baked, tmp_path, problem_type):
    # Private copies of the run's shared bakes: the local run and the endpoint write into them.
    train = bakery.private_copy(baked("build-train", {"problem_type": problem_type}), tmp_path)
    deploy = bakery.private_copy(baked("deploy", {"problem_type": problem_type, "inference_mode": "both"}), tmp_path)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # The server keeps moto's state in this process: without a reset, a previous case's
        # project bucket (same name, other problem type's data) would still be there.
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        trained = bakery.run(
            [sys.executable, "-m", "mlops_template_kit.local_run", "--param", "ModelApprovalStatus=Approved"], cwd=train
        )
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-2000:]
        tested = bakery.run(
            [sys.executable, "-m", "mlops_template_kit.cli", "local-endpoint", "test", "--model", "registry"],
            cwd=deploy,
        )
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "failed" not in tested.stdout
    assert "endpoint" in tested.stdout and "p99 ms" in tested.stdout
