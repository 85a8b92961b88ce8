"""Run-time AWS calls, evaluated: every call our code makes in the moto-backed end-to-end
scenarios is recorded (authz/record/sitecustomize.py in every subprocess), attributed to the role
that makes it in AWS (authz.calls) and checked with authz.evaluate.decide against that role's
policies. The logs stay in .authz/calls/ for `python -m authz`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from authz import calls

# The kit's deploy step, where an editable install or a checkout keeps it.
KIT_DEPLOY = "/k/src/mlops_template_kit/deploy/deploy.py"

NESTED = textwrap.dedent(
    """
    import subprocess, sys
    child = '''
    import botocore.session, botocore.config
    config = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=0.5)
    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9", config=config,
        aws_access_key_id="x", aws_secret_access_key="y")
    try:
        client.head_object(Bucket="sagemaker-project-p-1", Key="a/b.csv", IfMatch="etag-is-not-kept")
    except Exception:
        pass
    '''
    sys.exit(subprocess.run([sys.executable, "-c", child]).returncode)
    """
)


def run_nested(env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "parent_process.py"
    script.write_text(NESTED)
    subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=120)


def test_sitecustomize_records_calls_in_subprocesses_of_subprocesses(tmp_path):
    log = tmp_path / "log"
    run_nested(calls.recording_env(log, "codebuild"), tmp_path)
    (call,) = list(calls.read(log))
    assert (call["role"], call["service"], call["operation"], call["region"]) == (
        "codebuild",
        "s3",
        "HeadObject",
        "eu-west-1",
    )
    # Names of every parameter, values only where they identify the resource.
    assert call["params"] == {"Bucket": "sagemaker-project-p-1", "Key": "a/b.csv", "IfMatch": None}
    assert call["pid"] != 0 and list(log.glob("codebuild-*.jsonl"))


def test_without_the_variables_nothing_is_recorded(tmp_path):
    env = calls.recording_env(tmp_path / "log", "codebuild")
    del env["AUTHZ_ROLE"]
    run_nested(env, tmp_path)
    assert not (tmp_path / "log").exists()


def call(*frames: str, role: str = "codebuild") -> dict:
    return {"role": role, "service": "s3", "operation": "GetObject", "params": {}, "stack": list(frames)}


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (
            [
                f"{calls.REPO_ROOT}/servicecatalog/functions/project_lifecycle.py:9:empty",
                f"{calls.REPO_ROOT}/tests/test_x.py:3:t",
            ],
            "lambda",
        ),
        (["/venv/site-packages/mlops_template_kit/pipeline/aws.py:5:upload_code"], "codebuild"),
        (["/t/repo/ml_pipelines/training/ml-pipeline-training.py:5:build_pipeline"], "codebuild"),
        (
            [
                "/venv/site-packages/mlops_template_kit/pipeline/aws.py:5:upload_code",
                "/t/repo/mlops_template_kit/local_run/project.py:1:run",
            ],
            "codebuild",
        ),
        (
            [
                "/t/repo/mlops_template_kit/local_run/storage.py:5:download",
                "/t/repo/mlops_template_kit/local_run/project.py:1:run",
            ],
            "execution",
        ),
        (["/t/repo/algorithms/preprocessing/prepare_data/__main__.py:5:main"], "execution"),
        (["/k/src/mlops_template_kit/deploy/build.py:5:run"], "codebuild"),
        (["/venv/lib/python3.11/site-packages/mlops_template_kit/deploy/build.py:5:run"], "codebuild"),
        (["/t/deploy/app_infra/batch_inference/ml-pipeline-inference.py:5:main"], "codebuild"),
        (["/t/deploy/tests/integration_test/test_endpoint.py:5:test_it"], "codebuild"),
        (["/t/deploy/tests/conftest.py:5:invoke", "/t/deploy/tests/stress_test/test_latency.py:3:worker"], "codebuild"),
        (
            ["/t/deploy/app_infra/lambda/invoke_endpoint/handler.py:5:h", "/t/deploy/tests/conftest.py:5:call"],
            "stage-invoke",
        ),
        (["/k/src/mlops_template_kit/local_endpoint/run.py:5:resolve_model"], "stage-endpoint"),
        (["/k/src/mlops_template_kit/local_endpoint/server.py:5:predict"], "stage-endpoint"),
        (["/k/src/mlops_template_kit/local_endpoint/benchmark.py:5:boto3_series"], "codebuild"),
        (["/k/src/mlops_template_kit/deploy/deploy.py:5:deploy_stack"], "codebuild"),
        (["/w/scripts/publish.py:5:main"], "publisher"),
        (["/somewhere/else.py:1:f"], "codebuild"),
    ],
)
def test_each_call_is_attributed_to_the_role_that_makes_it_in_aws(frames, expected):
    from authz.roles import deployed_roles

    assert calls.attribute(call(*frames)).role == expected
    assert expected in deployed_roles() or expected in calls.NOT_EVALUATED


@pytest.mark.parametrize(
    "frames",
    [
        [f"{calls.REPO_ROOT}/tests/test_servicecatalog_lifecycle.py:5:make_project_resources"],
        [f"{calls.REPO_ROOT}/tests/local_run_fixtures/support.py:5:seed_bucket"],
        ["/t/repo/app_infra/conftest.py:5:registry"],
        ["/t/repo/ml_pipelines/training/test/test_feature_branches.py:5:seed"],
        [f"{calls.REPO_ROOT}/packages/mlops-template-kit/tests/test_kit_pipeline_branches.py:5:register"],
        [
            "/t/repo/mlops_template_kit/local_run/storage.py:5:ensure_bucket",
            "/t/repo/mlops_template_kit/local_run/project.py:1:run",
        ],
        ["/t/repo/mlops_template_kit/local_run/emulator.py:5:warm_up"],
        # issue 13: the team's own data uploaded by a local run, the local services' own state,
        # and the local approval (a person's in Studio)
        ["/t/repo/mlops_template_kit/local_run/input_data.py:5:upload"],
        ["/t/repo/mlops_template_kit/local_run/input_data.py:5:bucket_exists"],
        ["/t/repo/mlops_template_kit/local_aws/state.py:5:_save_s3"],
        ["/t/repo/mlops_template_kit/local_aws/approve.py:5:approve_newest"],
    ],
)
def test_test_set_up_and_local_only_calls_are_not_attributed(frames):
    assert calls.attribute(call(*frames)).role is None


def test_other_calls_of_the_local_run_stay_evaluated_as_the_execution_role():
    """Only the named own-data functions are local-only: the run's other S3 calls are the jobs'."""
    attributed = calls.attribute(call("/t/repo/mlops_template_kit/local_run/input_data.py:5:read_inputs"))
    assert attributed.role == "execution"


@pytest.mark.parametrize(
    "frames",
    [
        [f"{KIT_DEPLOY}:122:deploy_stack", f"{KIT_DEPLOY}:276:deploy_stage_access"],
        [f"{KIT_DEPLOY}:122:deploy_stack", f"{KIT_DEPLOY}:290:deploy_shared_stage_access"],
        [f"{KIT_DEPLOY}:122:deploy_stack", "/t/deploy/app_infra/conftest.py:168:grant_stage_access"],
        [f"{KIT_DEPLOY}:122:deploy_stack", f"{KIT_DEPLOY}:258:deploy_trigger"],
    ],
)
def test_the_administrators_stage_access_deployment_is_recorded_not_evaluated(frames):
    attributed = calls.attribute(call(*frames))
    assert attributed.role == "administrator" and attributed.role in calls.NOT_EVALUATED


# The kit's Transform step as the local runner runs it (local_run/transform.py): the model lookup
# SageMaker makes itself, and the download of the model's data, which its execution role makes.
TRANSFORM_STEP = [
    "/k/src/mlops_template_kit/local_run/transform.py:45:run",
    "/k/src/mlops_template_kit/local_run/runner.py:80:run_step",
]
MODEL_LOOKUP = "/k/src/mlops_template_kit/local_run/transform.py:111:model_data_of"
MODEL_DOWNLOAD = [
    "/k/src/mlops_template_kit/local_run/storage.py:78:_get",
    "/k/src/mlops_template_kit/local_run/storage.py:90:download_object",
    "/k/src/mlops_template_kit/local_run/transform.py:99:load_model",
]
BATCH_ROLE = "stage-batch-pipeline"


def transform_call(role: str, operation: str, *frames: str) -> dict:
    return {"role": role, "service": "sagemaker", "operation": operation, "params": {}, "stack": list(frames)}


def test_a_transform_step_of_a_batch_run_is_the_batch_pipeline_roles():
    """A local run of the deploy repo's batch definition plays the stage's batch pipeline: its
    steps, the kit's Transform step too, run as that role (stage_access.yaml BatchPipelineRole,
    also the batch model's execution role in batch_inference.yaml)."""
    assert BATCH_ROLE in calls.PIPELINE_ROLES
    download = {**transform_call(BATCH_ROLE, "GetObject", *MODEL_DOWNLOAD, *TRANSFORM_STEP), "service": "s3"}
    assert calls.attribute(download).role == BATCH_ROLE
    # The same kit code in the training pipeline's local run (a CodeBuild build) is its jobs': execution.
    assert calls.attribute({**download, "role": "codebuild"}).role == "execution"
    # SageMaker resolves the job's model itself; a test or the emulator in that process is nobody's.
    lookup = transform_call(BATCH_ROLE, "DescribeModel", MODEL_LOOKUP, *MODEL_DOWNLOAD[2:], *TRANSFORM_STEP)
    assert calls.attribute(lookup).role is None
    assert (
        calls.attribute(transform_call(BATCH_ROLE, "DescribeModel", f"{calls.REPO_ROOT}/tests/t.py:3:s")).role is None
    )
    warm_up = transform_call(BATCH_ROLE, "ListBuckets", "/k/src/mlops_template_kit/local_run/emulator.py:5:warm_up")
    assert calls.attribute(warm_up).role is None


def test_the_checker_denies_a_batch_run_what_the_batch_pipeline_role_must_not_do():
    """The batch pipeline reads the training build's code and model; it must not approve models nor
    overwrite what the training build wrote."""
    approve = {
        "role": BATCH_ROLE,
        "service": "sagemaker",
        "operation": "UpdateModelPackage",
        "params": {
            "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:{calls.ACCOUNT}:model-package/churn-p-1/3",
            "ModelApprovalStatus": "Approved",
        },
        "stack": TRANSFORM_STEP,
    }
    overwrite = {
        "role": BATCH_ROLE,
        "service": "s3",
        "operation": "PutObject",
        "params": {"Bucket": "sagemaker-project-p-1", "Key": "churn/code/b1/algorithms/preprocessing/x.py"},
        "stack": TRANSFORM_STEP,
    }
    read = {**overwrite, "operation": "GetObject"}
    checked, denials, counts = evaluate([approve, overwrite, read])
    assert counts["checked"] == 3 and {item["role"] for item in checked} == {BATCH_ROLE}
    assert [line.split(" ")[:2] for line in denials] == [
        [BATCH_ROLE, "s3:PutObject"],
        [BATCH_ROLE, "sagemaker:UpdateModelPackage"],
    ]


def test_later_calls_see_the_tags_our_code_created_a_resource_with():
    group = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-p-1-feature-x"
    tags = [{"Key": "sagemaker:project-id", "Value": "p-1"}]
    create = {
        "role": "codebuild",
        "service": "sagemaker",
        "operation": "CreateModelPackageGroup",
        "params": {"ModelPackageGroupName": "churn-p-1-feature-x", "Tags": tags},
        "stack": ["/venv/site-packages/mlops_template_kit/pipeline/aws.py:9:ensure_model_package_group"],
    }
    delete = {
        **create,
        "operation": "DeleteModelPackageGroup",
        "params": {"ModelPackageGroupName": "churn-p-1-feature-x"},
    }
    created = calls.created_tags([create, delete])
    assert created == {group: {"sagemaker:project-id": "p-1"}}
    (request,) = calls.requests(delete, created)
    assert request.context["aws:ResourceTag/sagemaker:project-id"] == "p-1"
    (untagged,) = calls.requests(delete)
    assert "aws:ResourceTag/sagemaker:project-id" not in untagged.context
    # Tags a test set-up call wrote are not the product's.
    assert calls.created_tags([{**create, "stack": ["/t/repo/ml_pipelines/training/test/test_b.py:1:seed"]}]) == {}


def test_product_stack_resources_carry_the_project_tags_their_template_gives_them():
    from authz.template import load

    for template, resource, pattern in calls.PROJECT_TAGGED:
        tags = load(calls.REPO_ROOT / template)["Resources"][resource]["Properties"]["Tags"]
        assert {tag["Key"] for tag in tags} >= {"sagemaker:project-name", "sagemaker:project-id"}, resource
        assert pattern.pattern
    arn = "arn:aws:codebuild:us-east-1:123456789012:project/sagemaker-churn-p-abc123def456-seed"
    assert calls.resource_tags(arn) == {
        "aws:ResourceTag/sagemaker:project-name": "churn",
        "aws:ResourceTag/sagemaker:project-id": "p-abc123def456",
    }
    assert calls.resource_tags(arn.replace("-seed", "-other")) == {}
    assert calls.resource_tags(arn.replace("-seed", "-modelbuild-branches")) == calls.resource_tags(arn)


def _recorder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("recorder_under_test", calls.RECORD_DIR / "authz_call_recorder.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    return recorder


def test_deleted_keys_are_kept_with_their_version_ids():
    recorder = _recorder()
    summary = recorder.summarize(
        {"Bucket": "b", "Delete": {"Objects": [{"Key": "k", "VersionId": "v"}], "Quiet": True}}
    )
    assert summary == {"Bucket": "b", "Delete": {"Objects": [{"Key": "k", "VersionId": "v"}]}}


def test_the_kit_is_product_code_even_where_a_wheel_installs_it():
    """A generated repo installs the kit's wheel into site-packages: its frames still attribute calls."""
    recorder = _recorder()
    assert not recorder._is_library("/venv/lib/python3.11/site-packages/mlops_template_kit/deploy/build.py")
    assert recorder._is_library("/venv/lib/python3.11/site-packages/boto3/session.py")


def test_every_line_of_a_log_is_read(tmp_path):
    lines = [call("/a.py:1:f"), call("/b.py:1:g", role="lambda")]
    (tmp_path / "x-1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [item["role"] for item in calls.read(tmp_path)] == ["codebuild", "lambda"]


# --- the scenario: the moto-backed end-to-end runs, recorded ------------------------------------

RECORDED_DIR = calls.REPO_ROOT / ".authz" / "recorded"
CALLS_FILE = calls.DEFAULT_LOG_DIR / "runtime.jsonl"
# Roles the scenario must have seen acting: an empty log would otherwise pass.
EXPECTED_ROLES = {"codebuild", "execution", "lambda", "stage-batch-pipeline"}
# Which scenario runs as which role: (role, what runs, where).
#   lambda     the lifecycle function's tests (seed check-in, teardown) against moto
#   codebuild  the deploy e2e: the build/train repo's local run (its build part; the steps are the
#              execution role by source), then the deploy repo's promotion tests on the local endpoint
#   codebuild  the build/train repo's build-spec commands (`mlops-kit pipeline` upload-code, upsert,
#              start, cleanup-branch, approve-merged) under moto, from the kit's tests
#   codebuild  the deploy repo's build and deploy commands under moto, from its own tests
#   codebuild  the by-hand loop from the READMEs, as the deploy e2e plus the local services
#   codebuild  the batch e2e: the build/train local run and the deploy repo's build step as above,
#              then the local run of the stage's batch definition, which the test runs as the stage
#              batch-pipeline role (authz.calls.PIPELINE_ROLES)
MONOREPO_RUNS = [
    ("lambda", ["tests/test_servicecatalog_lifecycle.py"]),
    ("codebuild", ["tests/test_deploy_e2e.py", "-k", "regression"]),
    ("codebuild", ["tests/test_batch_inference_e2e.py"]),
    # the by-hand loop (issue 13): local services, local-run on own data, the local approval,
    # serve-local and test-local of the registry model; the new calls are local-only by source
    ("codebuild", ["tests/test_by_hand_loop.py"]),
    (
        "codebuild",
        [
            "packages/mlops-template-kit/tests/test_kit_pipeline_branches.py",
            "packages/mlops-template-kit/tests/test_kit_pipeline_aws.py",
            "-k",
            "branch or merged or upload_code or upsert_creates or start_names or creates_the_tagged",
        ],
    ),
]
GENERATED_RUNS = [
    # Single account, as the Studio products create it: every call is the CodeBuild role's own.
    # (With multi_account the deploy step acts through each stage account's deploy role, and the
    # recorder does not know which credentials a call was signed with; that path's roles are
    # checked as templates: authz.stages and tests/test_deploy_access.py.)
    (
        "deploy",
        {"inference_mode": "both"},
        ["app_infra/test", "app_infra/lambda", "app_infra/event_bridge"],
    ),
]


RECORDER_TEST = "tests/test_authz_calls.py::test_every_recorded_call_is_allowed_for_the_role_that_makes_it_in_aws"


def scenario_runs() -> Callable[[pytest.Item], bool]:
    """`runs(item)`: whether one of MONOREPO_RUNS runs this test of the monorepo's suite (the same
    files and -k expression, each expression compiled once)."""
    from _pytest.mark import KeywordMatcher  # the matcher -k itself uses; pytest is pinned
    from _pytest.mark.expression import Expression

    selections = []
    for _, arguments in MONOREPO_RUNS:
        files = {argument for argument in arguments if argument.endswith(".py")}
        keyword = Expression.compile(arguments[arguments.index("-k") + 1]) if "-k" in arguments else None
        selections.append((files, keyword))

    def runs(item: pytest.Item) -> bool:
        path = item.nodeid.split("::")[0]
        return any(
            path in files and (keyword is None or keyword.evaluate(KeywordMatcher.from_item(item)))
            for files, keyword in selections
        )

    return runs


def _pytest(arguments: list[str], cwd: Path, role: str) -> subprocess.Popen:
    env = calls.recording_env(RECORDED_DIR, role)
    # make's job-server variables (make test runs this suite) must not reach the sessions' own makes.
    for name in [key for key in env if key.startswith(("PYTEST_", "AWS_ENDPOINT_URL", "MAKE", "MFLAGS"))]:
        del env[name]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# Once per test run, not per worker: CI's durations showed the scenarios run twice (~280 s each, two
# xdist workers), and two workers recording at once would also clear each other's recordings.
@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> list[dict]:
    """Run the scenarios at once, each recorded, in the first worker that asks; the calls they made."""
    from tests import bakery

    run_root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_root = run_root.parent  # each worker's base folder sits inside the run's
    done = run_root / "authz-recorded.done"
    with bakery.exclusive(run_root / "authz-recorded.lock"):
        if not done.exists():
            record_scenarios(tmp_path_factory)
            done.touch()
    return list(calls.read(RECORDED_DIR))


def record_scenarios(tmp_path_factory) -> None:
    """Run every scenario with the recorder on, replacing earlier recordings."""
    from scripts.bake import bake
    from tests import bakery

    RECORDED_DIR.mkdir(parents=True, exist_ok=True)
    for old in RECORDED_DIR.glob("*.jsonl"):
        old.unlink()
    runs = [(" ".join(args), args, calls.REPO_ROOT, role) for role, args in MONOREPO_RUNS]
    for template, answers, args in GENERATED_RUNS:
        answers = bakery.answers_for({**bake_defaults(template), **answers})
        repo = bake(template, tmp_path_factory.mktemp(template), answers)
        runs.append((f"{template}: {' '.join(args)}", args, repo, "codebuild"))
    # One at a time: the end-to-end run includes the deploy repo's stress test, whose latency
    # thresholds are meant for a machine that is not also running three other test sessions.
    for name, args, cwd, role in runs:
        process = _pytest(args, cwd, role)
        output, _ = process.communicate(timeout=3600)
        assert process.returncode == 0, f"{name} failed:\n{output[-4000:]}"


def bake_defaults(template: str) -> dict[str, str]:
    from tests import bakery

    return {key: values[0] for key, values in bakery.choices(template).items()}


def evaluate(recorded: list[dict]) -> tuple[list[dict], list[str], dict[str, int]]:
    """(checked requests as written for `python -m authz`, denial lines, calls per outcome)."""
    from authz.evaluate import decide
    from authz.roles import deployed_roles

    # The same roles `python -m authz` evaluates with (one place decides them).
    roles = deployed_roles()
    created = calls.created_tags(recorded)
    checked, denials, counts = [], set(), {"checked": 0, "test set-up or local only": 0, "publisher": 0}
    for call in recorded:
        attributed = calls.attribute(call)
        if attributed.role is None or attributed.role in calls.NOT_EVALUATED:
            counts["publisher" if attributed.role else "test set-up or local only"] += 1
            continue
        counts["checked"] += 1
        role = roles[attributed.role]
        for request in calls.requests(call, created):
            decision = decide(role.policies, request, role.boundary)
            source = calls.where(call)
            checked.append(
                {
                    "role": attributed.role,
                    "action": request.action,
                    "resource": request.resource,
                    "context": request.context,
                    "source": source,
                }
            )
            if not decision.allowed:
                denials.add(f"{attributed.role} {request.action} {request.resource} <- {source}")
    return checked, sorted(denials), counts


@pytest.mark.slow
@pytest.mark.xdist_group("authz_calls")
def test_the_recorder_reached_the_grandchild_processes_of_the_scenarios(recorded):
    """The local run and the local endpoint only run as subprocesses of the e2e test's pytest
    process (itself a subprocess here): their calls prove sitecustomize was imported there."""
    sources = {call["source"] or "" for call in recorded}
    for marker in (
        "/mlops_template_kit/local_run/",
        "/mlops_template_kit/local_endpoint/",
        "/servicecatalog/functions/",
    ):
        assert any(marker in source for source in sources), f"no call recorded from {marker}"
    assert len({call["pid"] for call in recorded}) >= 4


@pytest.mark.slow
@pytest.mark.xdist_group("authz_calls")
def test_every_recorded_operation_maps_to_iam(recorded):
    unmapped = set()
    for call in recorded:
        role = calls.attribute(call).role
        if role is None or role in calls.NOT_EVALUATED:
            continue
        try:
            calls.requests(call)
        except ValueError as problem:
            unmapped.add(f"{call['service']} {call['operation']} <- {calls.where(call)}: {problem}")
    assert not unmapped, "\n".join(sorted(unmapped))


@pytest.mark.slow
@pytest.mark.xdist_group("authz_calls")
def test_every_recorded_call_is_allowed_for_the_role_that_makes_it_in_aws(recorded):
    checked, denials, counts = evaluate(recorded)
    calls.DEFAULT_LOG_DIR.mkdir(parents=True, exist_ok=True)
    CALLS_FILE.write_text("".join(json.dumps(item, sort_keys=True) + "\n" for item in checked), encoding="utf-8")
    by_role = {
        role: sum(1 for item in checked if item["role"] == role) for role in sorted({i["role"] for i in checked})
    }
    print(f"\nrun-time calls: {len(recorded)} recorded, {counts}; requests by role {by_role}; denied {len(denials)}")
    assert set(by_role) >= EXPECTED_ROLES, f"no calls recorded for {EXPECTED_ROLES - set(by_role)}"
    assert not denials, f"{len(denials)} run-time requests denied:\n" + "\n".join(grouped(denials))


def grouped(denials: list[str]) -> list[str]:
    """One line per role, action and calling function: the resources it was denied on."""
    groups: dict[str, list[str]] = {}
    for line in denials:
        role, action, resource, _, source = line.split(" ", 4)
        function = re.sub(r":\d+:", ":", source)
        groups.setdefault(f"{role} {action} <- {function}", []).append(resource)
    return [f"{key}: {len(found)} resource(s), e.g. {sorted(found)[0]}" for key, found in sorted(groups.items())]


def _collected(*arguments: str) -> set[str]:
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *arguments]
    result = subprocess.run(command, cwd=calls.REPO_ROOT, capture_output=True, text=True, timeout=300, check=True)
    return {line.split("@")[0] for line in result.stdout.splitlines() if "::" in line}


def test_the_scenarios_tests_run_once_in_a_session_that_records_them():
    """With the recorder's test in the session, the tests a scenario runs are left to the scenario
    (the regression case of the deploy e2e test only, as its -k says); without it they run here."""
    deploy = "tests/test_deploy_e2e.py::test_the_deploy_repo_tests_the_model_the_training_repo_registered"
    batch = "tests/test_batch_inference_e2e.py"
    alone = _collected("tests/test_deploy_e2e.py", batch)
    with_recorder = _collected("tests/test_deploy_e2e.py", batch, RECORDER_TEST)
    assert {f"{deploy}[regression]", f"{deploy}[binary_classification]"} < alone
    assert any(test.startswith(batch) for test in alone)
    assert with_recorder == {RECORDER_TEST, f"{deploy}[binary_classification]"}


# --- issue 14: the local monitor ---------------------------------------------------------------------

MONITOR_REGISTRY = "/k/src/mlops_template_kit/monitor/registry.py:44:registered_baseline"


def test_the_local_monitors_registry_lookup_and_baseline_reads_are_the_deploy_builds_and_allowed():
    """`mlops-kit monitor` reads the newest Approved model and its registered baseline, as the deploy
    build does in its CodeBuild project: attributed to the CodeBuild role, which may make them."""
    group = f"arn:aws:sagemaker:us-east-1:{calls.ACCOUNT}:model-package-group/churn-p-1"
    lookup = [
        {
            "role": "codebuild",
            "service": "sagemaker",
            "operation": operation,
            "params": params,
            "stack": [f"/k/src/mlops_template_kit/deploy/model_registry.py:40:{function}", MONITOR_REGISTRY],
        }
        for operation, params, function in [
            ("ListModelPackages", {"ModelPackageGroupName": "churn-p-1"}, "_approved_summaries"),
            ("DescribeModelPackage", {"ModelPackageName": f"{group.replace('-group', '')}/1"}, "newest_approved"),
        ]
    ]
    read = {
        "role": "codebuild",
        "service": "s3",
        "operation": "GetObject",
        "params": {"Bucket": "sagemaker-project-p-1", "Key": "churn/ml-pipeline-outputs/b1/baseline/statistics.json"},
        "stack": ["/k/src/mlops_template_kit/monitor/registry.py:20:_read_json", MONITOR_REGISTRY],
    }
    assert {calls.attribute(call).role for call in [*lookup, read]} == {"codebuild"}
    checked, denials, counts = evaluate([*lookup, read])
    assert counts["checked"] == 3 and denials == []


# --- issue 15: the bias step, the model card on the package, the local run's card -----------------
CARD_REPORT_READ = [
    "/k/src/mlops_template_kit/local_run/storage.py:78:_get",
    "/k/src/mlops_template_kit/definition/expressions.py:90:json_get",
    "/k/src/mlops_template_kit/local_run/card.py:30:_report",
    "/k/src/mlops_template_kit/local_run/runner.py:97:_model_cards",
]
REGISTRATION = ["/k/src/mlops_template_kit/local_run/registry.py:45:register"]


def test_the_bias_reports_and_the_model_card_are_the_execution_roles_and_allowed():
    """The CheckBias step and the registration carrying a ModelCard run as the pipeline's execution
    role; the card is a member of the CreateModelPackage request
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageModelCard.html), evaluated
    as sagemaker:CreateModelPackage. The local run's card reads the reports from the artifact bucket
    as that role would; a bucket outside the role's reach is denied."""
    bucket, prefix = "sagemaker-project-p-1", "churn/ml-pipeline-outputs/b1"
    read = {
        "role": "codebuild",
        "service": "s3",
        "operation": "GetObject",
        "params": {"Bucket": bucket, "Key": f"{prefix}/CheckBias/bias/analysis.json"},
        "stack": CARD_REPORT_READ,
    }
    write = {
        **read,
        "operation": "PutObject",
        "stack": ["/t/repo/algorithms/postprocessing/check_bias/__main__.py:9:main"],
    }
    register = {
        "role": "codebuild",
        "service": "sagemaker",
        "operation": "CreateModelPackage",
        "params": {
            "ModelPackageGroupName": "churn-p-1",
            "ModelCard": {"ModelCardContent": "{}", "ModelCardStatus": "Draft"},
        },
        "stack": REGISTRATION,
    }
    checked, denials, counts = evaluate([read, write, register])
    assert counts["checked"] == 3 and {item["role"] for item in checked} == {"execution"}
    assert denials == []
    elsewhere = {**read, "params": {**read["params"], "Bucket": "someone-elses-bucket"}}
    assert [line.split(" ")[:2] for line in evaluate([elsewhere])[1]] == [["execution", "s3:GetObject"]]
