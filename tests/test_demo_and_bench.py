"""`make demo`'s plumbing and `make bench`'s report, without timing anything: failures end in one
line and a non-zero exit, the closing note says where everything is, rows carry target, before,
ratio and verdict, and fresh setups cannot see this environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scripts import bench_setup, demo, timing

# --- make demo -------------------------------------------------------------------------------------


def test_a_failing_command_of_a_stage_is_reported_in_one_line(tmp_path, capsys):
    with pytest.raises(demo.DemoFailed) as failure:
        demo.run(["sh", "-c", "echo partial output; echo why >&2; exit 3"], tmp_path, capture=True)
    assert "\n" not in str(failure.value) and "(exit 3)" in str(failure.value)
    assert "why" in capsys.readouterr().err  # what it printed is shown above the one line


def test_a_failed_stage_ends_the_demo_with_one_line_and_exit_1(monkeypatch, capsys):
    stopped = []
    monkeypatch.setattr(demo, "local_aws", lambda: type("Server", (), {"stop": lambda self: stopped.append(1)})())

    def failing_loop() -> str:
        raise demo.DemoFailed("`make local-run` failed in some-repo (exit 2)")

    monkeypatch.setattr(demo, "the_loop", failing_loop)
    assert demo.main() == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["demo failed: `make local-run` failed in some-repo (exit 2)"]
    assert "demo finished" not in captured.out and stopped == [1]


def test_no_registered_model_is_a_failure_not_a_crash(monkeypatch):
    client = type("Client", (), {"list_model_packages": lambda self, **_: {"ModelPackageSummaryList": []}})()
    monkeypatch.setattr(demo.boto3, "client", lambda name: client)
    with pytest.raises(demo.DemoFailed, match="registered no model in group-x"):
        demo.approve_newest_model("group-x")


def test_the_closing_note_says_where_things_are_and_how_to_repeat_each_stage():
    train, deploy = demo.DEMO_DIR / "p-build-train", demo.DEMO_DIR / "p-deploy"
    package = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"}
    note = demo.what_next(train, deploy, package, demo.DEMO_DIR / "model.tar.gz")
    assert note.startswith("What next")
    for expected in ("demo/p-build-train", "demo/p-deploy", ".local-run", package["ModelPackageArn"], "model.tar.gz"):
        assert expected in note
    for command in ("make local-run", "make pipeline", "make test-local MODEL=../model.tar.gz", "make validate"):
        assert command in note
    # the by-hand loop of issue 13: services that outlive a run, own data, the local approval
    for command in ("make local-aws-start", "make local-run DATA=", "make approve", "make local-aws-stop"):
        assert command in note


def test_the_closing_note_ends_at_the_mlflow_ui_with_the_measured_tracking_overhead(tmp_path, monkeypatch):
    train, deploy = demo.DEMO_DIR / "p-build-train", demo.DEMO_DIR / "p-deploy"
    package = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"}
    results = tmp_path / "results.json"
    monkeypatch.setattr(demo, "BENCH_RESULTS", results)
    note = demo.what_next(train, deploy, package, demo.DEMO_DIR / "model.tar.gz")
    assert "make mlflow-ui" in note.splitlines()[-1] and ".local-run/mlflow" in note
    assert "make bench measures the tracking overhead per run" in note  # no results yet
    results.write_text(json.dumps([{"name": "other", "median": 9.0}, {"name": demo.TRACKING_FIGURE, "median": 2.46}]))
    assert "tracking overhead per run: 2.5 s, measured by make bench" in demo.tracking_overhead_note(results)
    results.write_text("not json")
    assert demo.tracking_overhead_note(results) == "make bench measures the tracking overhead per run"


def test_the_demo_runs_no_unit_tests_and_names_an_existing_environment():
    """`make test` runs the generated repos' unit tests (tests/test_bake.py); the demo passes its
    environment as VENV=, which the generated Makefiles use without reinstalling."""
    source = Path(demo.__file__).read_text()
    assert 'make_command("test")' not in source
    assert demo.make_command("local-run")[-1] == f"VENV={demo.VENV}"


def test_a_local_run_that_saved_no_definition_fails_the_demo_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "make_command", lambda target, *variables: ["true"])
    (tmp_path / "train").mkdir()
    with pytest.raises(demo.DemoFailed, match="left no readable definition at .*definition.json") as failure:
        demo.train_and_prepare(tmp_path / "train", tmp_path)
    assert "\n" not in str(failure.value)


# --- make bench ------------------------------------------------------------------------------------


def test_a_figure_within_its_target_meets_it_and_one_above_misses():
    assert timing.Figure("x", [1.0, 2.0, 9.0], target=3.0).verdict == "meets"
    assert timing.Figure("x", [3.5, 4.0, 1.0], target=3.0).verdict == "misses"
    assert timing.Figure("x", [1.0]).verdict == "-"


def test_the_ratio_is_the_median_over_the_before_median_and_both_are_printed():
    figure = timing.Figure("setup", [40.0, 50.0, 45.0], target=60.0, before=timing.Figure("pip", [300.0, 200.0]))
    assert figure.ratio == pytest.approx(45.0 / 250.0)
    row = figure.row()
    for expected in ("45.000 s", "<= 60 s", "250.000 s", "0.18x", "meets"):
        assert expected in row
    assert json.loads(json.dumps(figure.record()))["before"]["median"] == 250.0


def test_a_skipped_figure_says_so_and_has_no_median():
    figure = timing.Figure("make test on a fresh clone", [], target=900.0, skipped=True)
    assert figure.median is None and figure.ratio is None and figure.verdict == "skipped"
    assert "skipped" in figure.row() and figure.record()["median"] is None


def test_new_and_old_ways_alternate_so_drift_hits_both():
    order = []
    figure = timing.against_before("x", lambda: order.append("new") or 1.0, lambda: order.append("old") or 2.0, 2)
    assert order == ["new", "old", "new", "old"] and figure.ratio == 0.5


def test_the_full_suite_row_is_skipped_when_asked(monkeypatch):
    monkeypatch.setenv("BENCH_FULL_TEST", "0")
    (figure,) = bench_setup.bench_full_test_suite()
    assert figure.skipped and figure.target == bench_setup.FULL_TEST_TARGET_S


def test_a_fresh_setup_sees_neither_this_environment_nor_a_warm_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/src")
    monkeypatch.setenv("KIT_FIND_LINKS", "/wheels")
    monkeypatch.setenv("UV_CACHE_DIR", "/warm")
    first, second = bench_setup.fresh_env(tmp_path), bench_setup.fresh_env(tmp_path)
    assert "PYTHONPATH" not in first and "KIT_FIND_LINKS" not in first
    assert first["UV_CACHE_DIR"].startswith(str(tmp_path)) and first["UV_CACHE_DIR"] != second["UV_CACHE_DIR"]
    assert not Path(first["UV_CACHE_DIR"]).exists()  # empty: uv creates it on its first download


def test_a_failing_timed_command_aborts_the_benchmark(tmp_path):
    with pytest.raises(RuntimeError, match="failed"):
        timing.time_command(["sh", "-c", "exit 1"], tmp_path, {"PATH": "/usr/bin:/bin"}, inherit=False)


# --- issue 14: the demo's monitoring stage and the monitor's bench figure ---------------------------


def test_the_demos_shifted_traffic_moves_only_the_named_features():
    traffic, labels = demo.demo_traffic("regression")
    unshifted, shifted = traffic["unshifted"], traffic["shifted"]
    assert len(labels) == len(unshifted) == len(shifted)
    assert list(unshifted.columns) == list(shifted.columns) and "progression" not in unshifted
    moved = [c for c in unshifted.columns if not unshifted[c].equals(shifted[c])]
    assert moved == list(demo.SHIFTS)


def test_the_bench_inputs_are_a_capture_the_monitor_reads_with_its_ground_truth(tmp_path):
    from mlops_template_kit.monitor import run
    from scripts import bench_local

    inputs = bench_local.write_monitor_inputs(
        tmp_path, records=442
    )  # the whole sample: every other feature matches its baseline exactly
    baseline = run.read_baseline_folder(inputs["baseline"])
    settings = {"model_quality": {"enabled": True, "constraints": {}}}
    result = run.monitor(inputs["capture"], baseline, "regression", settings, inputs["ground_truth"])
    assert result.records == 442 and [v["feature_name"] for v in result.data_violations] == ["bmi"]
    assert result.reports["model-quality/statistics.json"]["dataset"]["item_count"] == 442


def test_the_demos_ground_truth_has_a_label_per_record_of_each_request(tmp_path):
    from mlops_template_kit.monitor import model_quality

    truth = model_quality.read_ground_truth(demo.write_ground_truth(tmp_path / "gt.jsonl", list(range(120))))
    assert sorted(truth) == ["demo-0", "demo-100", "demo-50"]
    assert truth["demo-100"] == [float(label) for label in range(100, 120)]


def test_the_closing_note_shows_the_newest_model_card_and_fails_without_one(tmp_path):
    runs = tmp_path / ".local-run" / "runs"
    with pytest.raises(demo.DemoFailed, match="the local run wrote no model card"):
        demo.model_card_note(tmp_path)
    for name, text in (("old", "# Model card: old\n"), ("new", "# Model card: new\n| DI | 0.9 |\n")):
        (runs / name).mkdir(parents=True)
        (runs / name / "model_card.md").write_text(text)
        os.utime(runs / name / "model_card.md", (1 if name == "old" else 2,) * 2)
    note = demo.model_card_note(tmp_path)
    assert "# Model card: new" in note and "| DI | 0.9 |" in note and "old" not in note.split("\n", 1)[1]
