"""The stage configurations are valid, and a broken one fails with one line naming the field."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import inference_config, stacks
from mlops_template_kit.deploy.errors import DeployError, run_cli

CONFIG_DIR = Path(__file__).resolve().parents[2] / "inference_config"


@pytest.mark.parametrize("stage", naming.STAGES)
def test_shipped_configuration_is_valid(stage):
    config = inference_config.load(stage, CONFIG_DIR)
    assert config["stage"] == stage
    assert "realtime" in config or "batch" in config


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copytree(CONFIG_DIR, tmp_path / "inference_config")
    return tmp_path / "inference_config"


def _write(config_dir: Path, stage: str, document) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    (config_dir / stage / "inference_config.json").write_text(text, encoding="utf-8")


def _staging(config_dir: Path) -> dict:
    return json.loads((config_dir / "staging" / "inference_config.json").read_text(encoding="utf-8"))


def _broken(document: dict, section: str, change) -> dict:
    broken = copy.deepcopy(document)
    if section not in broken:
        pytest.skip(f"this repository's configuration has no {section} section")
    change(broken[section])
    return broken


def _problem(config_dir: Path, document) -> str:
    _write(config_dir, "staging", document)
    with pytest.raises(DeployError) as raised:
        inference_config.load("staging", config_dir)
    message = str(raised.value)
    assert "\n" not in message, "the problem must fit on one line"
    assert "staging/inference_config.json" in message
    return message


BAD_FIELDS = [
    ("realtime", lambda s: s.update(initial_instance_count="two"), "realtime.initial_instance_count"),
    ("realtime", lambda s: s.update(instance_type="m5.large"), "realtime.instance_type"),
    ("realtime", lambda s: s["autoscaling"].update(max_capacity=0), "realtime.autoscaling.max_capacity"),
    ("realtime", lambda s: s["data_capture"].update(sampling_percentage=101), "sampling_percentage"),
    ("realtime", lambda s: s["deployment"].update(strategy="rolling"), "realtime.deployment.strategy"),
    ("realtime", lambda s: s["deployment"].update(wait_interval_seconds=4000), "wait_interval_seconds"),
    ("realtime", lambda s: s["alarms"].update(period_seconds=45), "realtime.alarms.period_seconds"),
    ("realtime", lambda s: s.update(spot=True), "spot"),
    ("batch", lambda s: s.update(schedule="every day"), "batch.schedule"),
    ("batch", lambda s: s.update(input_prefix="/absolute/"), "batch.input_prefix"),
    # API keys are gone: an old configuration's `auth` is named, not silently ignored.
    ("api", lambda s: s.update(auth="api_key"), "auth"),
    ("api", lambda s: s.update(throttling_burst_limit=0), "api.throttling_burst_limit"),
    ("api", lambda s: s.update(max_payload_bytes=7000000), "api.max_payload_bytes"),
]


@pytest.mark.parametrize(("section", "change", "field"), BAD_FIELDS, ids=[field for _, _, field in BAD_FIELDS])
def test_a_bad_field_is_named(config_dir, section, change, field):
    assert field in _problem(config_dir, _broken(_staging(config_dir), section, change))


def test_canary_needs_its_size(config_dir):
    def to_canary(realtime: dict) -> None:
        realtime["deployment"]["strategy"] = "canary"
        realtime["deployment"].pop("canary_size_percent", None)

    assert "canary_size_percent" in _problem(config_dir, _broken(_staging(config_dir), "realtime", to_canary))


def test_min_capacity_above_max_is_refused(config_dir):
    def invert(realtime: dict) -> None:
        realtime["autoscaling"].update(min_capacity=3, max_capacity=2)

    assert "min_capacity" in _problem(config_dir, _broken(_staging(config_dir), "realtime", invert))


def test_deployment_timeout_must_exceed_the_waits(config_dir):
    def squeeze(realtime: dict) -> None:
        realtime["deployment"].update(
            wait_interval_seconds=600, termination_wait_seconds=600, maximum_execution_timeout_seconds=1000
        )

    assert "maximum_execution_timeout_seconds" in _problem(
        config_dir, _broken(_staging(config_dir), "realtime", squeeze)
    )


def test_unordered_latency_thresholds_are_refused(config_dir):
    document = _staging(config_dir)
    document["tests"]["stress"].update(p50_ms=500, p95_ms=100)
    assert "p50_ms <= p95_ms" in _problem(config_dir, document)


def test_a_configuration_in_the_wrong_folder_is_refused(config_dir):
    document = _staging(config_dir)
    document["stage"] = "prod"
    assert "does not match" in _problem(config_dir, document)


def test_a_configuration_needs_realtime_or_batch(config_dir):
    document = {key: value for key, value in _staging(config_dir).items() if key not in ("realtime", "batch", "api")}
    assert _problem(config_dir, document)


def test_invalid_json_names_the_line(config_dir):
    assert "not valid JSON" in _problem(config_dir, '{"stage": "staging",\n  oops}')


def test_missing_file(config_dir):
    (config_dir / "staging" / "inference_config.json").unlink()
    with pytest.raises(DeployError, match="file not found"):
        inference_config.load("staging", config_dir)


def test_command_line_prints_one_line_and_exits_1(capsys):
    def failing() -> int:
        raise DeployError("inference_config/staging/inference_config.json: realtime.instance_type: 'x' is wrong")

    assert run_cli(failing) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: ")


def test_command_line_validates_every_stage(capsys):
    assert run_cli(lambda: inference_config.main(CONFIG_DIR)) == 0
    assert capsys.readouterr().out.count("valid") == len(naming.STAGES)


@pytest.mark.parametrize("stage", naming.STAGES)
def test_a_stage_account_is_entered_through_the_role_stage_access_yaml_creates(stage, settings):
    config = inference_config.load(stage, CONFIG_DIR)
    if "account" not in config:
        pytest.skip("staging and prod share the pipeline's account")
    role = naming.iam_role(settings.project_id, stacks.DEPLOY_ROLE_PURPOSE)
    assert config["account"]["deploy_role_arn"] == f"arn:aws:iam::{config['account']['id']}:role/{role}"
