"""Serve a model bundle locally, test against it, or benchmark it.

    mlops-kit local-endpoint serve --model registry|sample|PATH|s3://...
    mlops-kit local-endpoint test  --model ... [--pytest-args="-q"]   # tests/ against the local endpoint
    mlops-kit local-endpoint bench --model ...   # latency, throughput, overhead

`registry` takes the newest Approved package of the project's model package group (boto3 honours
AWS_ENDPOINT_URL, so a local AWS emulator's registry works); `sample` trains the sample model of
mlops_template_kit/local_endpoint/sample_bundle.py; anything else is a model.tar.gz path or S3 URI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlops_template_kit import naming
from mlops_template_kit.deploy.build import split_s3_uri
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import newest_approved
from mlops_template_kit.deploy.settings import Settings, build_dir, problem_type
from mlops_template_kit.local_endpoint import benchmark
from mlops_template_kit.local_endpoint.server import RunningEndpoint

STRESS_REPORT = "stress_report.json"


@dataclass(frozen=True)
class LocalModel:
    """A model to serve and what its tests compare against (paths or s3:// URIs; '' when unknown)."""

    model_data: Path
    evaluation: str
    test_data: str


def _download(uri: str, destination: Path) -> Path:
    bucket, key = split_s3_uri(uri)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        boto3.client("s3").download_file(bucket, key, str(destination))
    except (BotoCoreError, ClientError) as problem:
        raise DeployError(f"cannot download {uri}: {problem}") from None
    return destination


def resolve_model(
    choice: str, workdir: Path, settings: Settings, evaluation: str = "", test_data: str = ""
) -> LocalModel:
    """The bundle to serve for `choice` (registry | sample | a path | an s3:// URI)."""
    if choice == "sample":
        # scikit-learn and pandas load only for the sample model: a bad path or an unreachable
        # registry is reported in about a second, not after five seconds of imports.
        from mlops_template_kit.local_endpoint.sample_bundle import build_sample_bundle

        sample = build_sample_bundle(workdir, problem_type(settings.repo_root))
        return LocalModel(sample.model_data, evaluation or str(sample.evaluation), test_data or str(sample.test_data))
    if choice == "registry":
        client = boto3.client("sagemaker", region_name=settings.region)
        try:
            model = newest_approved(client, settings.model_package_group)
        except (BotoCoreError, ClientError) as problem:
            raise DeployError(
                f"cannot reach the model registry ({problem}): start the local one (make local-aws-start in "
                "the build-train repository) or set AWS_ENDPOINT_URL, or serve the sample model with MODEL=sample"
            ) from None
        print(f"serving {model.arn}")
        default_data = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/input/"
        return LocalModel(
            _download(model.model_data_url, workdir / "model.tar.gz"),
            evaluation or model.evaluation_uri,
            test_data or default_data,
        )
    if choice.startswith("s3://"):
        return LocalModel(_download(choice, workdir / "model.tar.gz"), evaluation, test_data)
    # Absolute: the tests run from the repository root. A missing bundle is the server's to report.
    return LocalModel(Path(choice).expanduser().resolve(), evaluation, test_data)


def _existing(location: str, variable: str) -> Path:
    """A local path the user gave, made absolute (the tests run from the repository root)."""
    path = Path(location).expanduser()
    if not path.exists():
        raise DeployError(f"{variable}={location}: no such file or folder")
    return path.resolve()


def check_test_inputs(action: str, choice: str, evaluation: str, test_data: str) -> tuple[str, str]:
    """EVALUATION and TEST_DATA as the tests get them; DeployError for what cannot work.

    A model.tar.gz path brings no test records: without TEST_DATA the tests would read the
    project's input prefix in S3, which for a local model means real AWS. So a path needs
    TEST_DATA; EVALUATION stays optional (the ML metric test then skips, saying why)."""
    local_model = choice not in ("registry", "sample") and not choice.startswith("s3://")
    if action == "test" and local_model and not test_data:
        raise DeployError(
            f"MODEL={choice} is a local model: set TEST_DATA=<labelled CSV file or folder> "
            "(and EVALUATION=<evaluation.json> for the ML metric test), or use MODEL=registry"
        )

    def local(location: str, variable: str) -> str:
        return location if not location or location.startswith("s3://") else str(_existing(location, variable))

    return local(evaluation, "EVALUATION"), local(test_data, "TEST_DATA")


def use_local_services(port: int | None) -> str | None:
    """Point boto3 (here and in the tests' process) at the local AWS services when they run on
    `port` and no AWS_ENDPOINT_URL is set; their URL, or None."""
    from mlops_template_kit.local_aws import service
    from mlops_template_kit.local_run.emulator import ENDPOINT_VARIABLE, OFFLINE_DEFAULTS

    if os.environ.get(ENDPOINT_VARIABLE):
        return None
    url = service.running_endpoint(port)
    if url:
        os.environ[ENDPOINT_VARIABLE] = url
        for name, value in OFFLINE_DEFAULTS.items():
            os.environ.setdefault(name, value)
        print(f"using the local AWS services at {url}")
    return url


def _serve(endpoint: RunningEndpoint) -> int:
    print(f"endpoint {endpoint.endpoint_name} serving at {endpoint.url} (GET /ping, POST /invocations)")
    print(f"boto3 / the Lambda handler: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={endpoint.url}")
    print("Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    return 0


def _test_environment(endpoint: RunningEndpoint, model: LocalModel, stage: str, settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TARGET": "local",
            "STAGE": stage,
            "ENDPOINT_NAME": endpoint.endpoint_name,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
            "MODEL_DATA": str(model.model_data),
            "EVALUATION": model.evaluation,
            "TEST_DATA": model.test_data,
            "STRESS_REPORT": str(build_dir(settings.repo_root) / STRESS_REPORT),
        }
    )
    # The runtime client signs requests; the local endpoint ignores the signature.
    env.setdefault("AWS_ACCESS_KEY_ID", "local")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    env.setdefault("AWS_DEFAULT_REGION", settings.region)
    return env


def print_stress_report(path: Path) -> None:
    """The latency table the stress test wrote, if it ran."""
    if not path.is_file():
        return
    report = json.loads(path.read_text(encoding="utf-8"))
    print(
        f"\n{'path':<16}{'clients':>8}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}"
    )
    for row in report["series"]:
        print(
            f"{row['path']:<16}{row['clients']:>8}{row['requests']:>10}{row['errors']:>8}"
            f"{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['throughput_rps']:>9.1f}"
        )


def _test(endpoint: RunningEndpoint, model: LocalModel, stage: str, settings: Settings, pytest_args: list[str]) -> int:
    report = build_dir(settings.repo_root) / STRESS_REPORT
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", *pytest_args]
    environment = _test_environment(endpoint, model, stage, settings)
    result = subprocess.run(command, cwd=settings.repo_root, env=environment, check=False)
    print_stress_report(report)
    return result.returncode


def _bench(model: LocalModel, repo_root: Path) -> int:
    from mlops_template_kit.local_endpoint.sample_bundle import sample_records

    records = sample_records(problem_type(repo_root))
    features = [name for name in records.columns if name not in ("id", "progression", "high_progression")]
    record = records[features].head(1).to_csv(header=False, index=False)
    report = benchmark.run_benchmark(model.model_data, record)
    print(benchmark.format_report(report))
    build_dir(repo_root).mkdir(exist_ok=True)
    (build_dir(repo_root) / "benchmark.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def run(args: argparse.Namespace, repo_root: Path) -> int:
    """`mlops-kit local-endpoint` on the repository at `repo_root`: serve, test or bench args.model."""
    settings = Settings.from_env(repo_root)
    evaluation, test_data = check_test_inputs(args.action, args.model, args.evaluation, args.test_data)
    use_local_services(getattr(args, "local_aws_port", None))
    with tempfile.TemporaryDirectory(prefix="local-model-") as workdir:
        model = resolve_model(args.model, Path(workdir), settings, evaluation, test_data)
        if args.action == "bench":
            return _bench(model, repo_root)
        capture_dir = Path(args.capture).resolve() if getattr(args, "capture", "") else None
        with RunningEndpoint(
            model.model_data, settings.endpoint_name(args.stage), args.port, capture_dir=capture_dir
        ) as endpoint:
            if capture_dir is not None:
                print(f"capturing requests in Model Monitor's format under {capture_dir}")
            if args.action == "serve":
                return _serve(endpoint)
            return _test(endpoint, model, args.stage, settings, shlex.split(args.pytest_args))
