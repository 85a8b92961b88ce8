"""The deploy README's request by hand works as written: its curl command, run against the sample
model it tells the reader to serve, answers what the README shows, and its malformed example gets
the documented one-line 400."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

import pytest

from mlops_template_kit.local_endpoint.sample_bundle import build_sample_bundle
from mlops_template_kit.local_endpoint.server import RunningEndpoint
from tests import bakery

SECTION = "### A request by hand"
FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SERVE_PORT = re.compile(r"make serve-local MODEL=sample PORT=(\d+)")
PROBLEM_TYPES = bakery.choices("deploy")["problem_type"]


def request_section(readme: str) -> str:
    start = readme.index(SECTION)
    following = readme.find("\n## ", start)
    return readme[start : following if following != -1 else None]


def documented(readme: str) -> tuple[str, dict, dict, int]:
    """The curl command, the response and the malformed request's answer the README shows, and the
    port it serves on."""
    section = request_section(readme)
    blocks = FENCED.findall(section)
    (command,) = [body.strip() for kind, body in blocks if kind == "bash" and body.startswith("curl ")]
    response, error = [json.loads(body) for kind, body in blocks if kind == "json"]
    return command, response, error, int(SERVE_PORT.search(section).group(1))


def run_curl(command: str, port: int, url: str) -> str:
    words = shlex.split(command.replace(f"http://127.0.0.1:{port}", url))
    assert shutil.which(words[0]), "curl is needed to run the README's command as written"
    result = subprocess.run(words, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def shape(document: object) -> object:
    """Keys and value types, not values: the numbers depend on the model."""
    if isinstance(document, dict):
        return {key: shape(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shape(item) for item in document]
    return type(document).__name__


@pytest.fixture(scope="module", params=PROBLEM_TYPES)
def served(request, baked, tmp_path_factory):
    """The README of a deploy bake of one problem type, and the sample model it serves."""
    problem_type = request.param
    readme = (baked("deploy", {"problem_type": problem_type}) / "README.md").read_text(encoding="utf-8")
    bundle = build_sample_bundle(tmp_path_factory.mktemp(f"sample-{problem_type}"), problem_type)
    with RunningEndpoint(bundle.model_data, "readme-example") as endpoint:
        yield readme, endpoint


def test_the_documented_curl_command_gets_the_documented_answer(served):
    readme, endpoint = served
    command, response, _, port = documented(readme)
    answer = json.loads(run_curl(command, port, endpoint.url))
    assert shape(answer) == shape(response)


def test_the_documented_malformed_request_gets_the_documented_400(served):
    readme, endpoint = served
    command, _, error, port = documented(readme)
    three_values = re.sub(r"--data-binary '[^']*'", "--data-binary '59,M,32.1'", command)
    three_values = three_values.replace("curl -s ", "curl -s -w '\\n%{http_code}' ", 1)
    body, status = run_curl(three_values, port, endpoint.url).rsplit("\n", 1)
    assert status == "400"
    assert json.loads(body) == error


def test_a_readme_whose_response_drifted_is_told_apart(served):
    """The shape check notices a documented response the endpoint does not give."""
    readme, endpoint = served
    command, response, _, port = documented(readme)
    drifted = {"predictions": [{**response["predictions"][0], "score": 0.5}]}
    assert shape(json.loads(run_curl(command, port, endpoint.url))) != shape(drifted)


def test_the_section_is_found_in_every_variant(baked):
    """Batch-only repositories serve locally too (their batch tests run through the local endpoint)."""
    for answers in ({"inference_mode": "batch", "api_gateway": "no"}, {"inference_mode": "realtime"}):
        project = baked("deploy", answers)
        assert documented((project / "README.md").read_text(encoding="utf-8"))[3] == 8080
        # The port the README serves on reaches the server.
        assert "--port $(PORT)" in (project / "Makefile").read_text(encoding="utf-8")
