"""Check an endpoint's captured traffic against its model's baseline, locally, in Model Monitor's formats.

    mlops-kit monitor [--capture build/capture] [--ground-truth DIR] [--baseline registry|DIR]
                      [--stage staging] [--train-repo DIR] [--data DIR] [--dry-run]

Reads the stage's inference_config.json (realtime.monitoring: thresholds, metric constraints,
which checks run; on_drift: what a violation starts), writes the reports into
build/monitor/<stage>/ (or --output) and, on a violation, retrains or notifies.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, chosen_repo_root

DEFAULT_CAPTURE = "build/capture"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_root_argument(parser)
    parser.add_argument(
        "--capture", default="", help=f"capture .jsonl file or folder (default: the repository's {DEFAULT_CAPTURE})"
    )
    parser.add_argument(
        "--ground-truth", default="", help="ground-truth .jsonl file or folder: adds the model-quality check"
    )
    parser.add_argument(
        "--baseline",
        default="registry",
        help="registry (the newest Approved model's) or a folder with statistics.json and constraints.json",
    )
    parser.add_argument("--stage", choices=naming.STAGES, default="staging")
    parser.add_argument("--output", default="", help="report folder (default: build/monitor/<stage>)")
    parser.add_argument(
        "--train-repo", default="", help="the build-train repository on_drift=retrain runs (default: beside this one)"
    )
    parser.add_argument("--data", default="", help="the newest data the retraining run reads (its DATA=)")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what a violation would start instead of starting it"
    )
    parser.add_argument(
        "--local-aws-port",
        type=int,
        default=None,
        metavar="PORT",
        help="without AWS_ENDPOINT_URL, read the registry of the local AWS services on this port when they run",
    )


def _baseline(choice: str, settings, port: int | None):
    from mlops_template_kit.monitor import run

    if choice != "registry":
        return run.read_baseline_folder(Path(choice))
    from mlops_template_kit.local_endpoint.run import use_local_services
    from mlops_template_kit.monitor.registry import registered_baseline

    use_local_services(port)
    return registered_baseline(settings.model_package_group, settings.region)


# The model-quality metrics the one-line report shows (all of them are in the statistics file).
HEADLINE_METRICS = ("auc", "accuracy", "f1", "rmse", "mae", "r2")


def _report(result, output: Path) -> None:
    print(f"monitor: {result.summary_line()}; reports in {output}")
    statistics = result.reports.get("model-quality/statistics.json")
    if statistics:
        metrics = next(value for key, value in statistics.items() if key.endswith("_metrics"))
        shown = [
            f"{name} {metrics[name]['value']:.3f}"
            for name in HEADLINE_METRICS
            if isinstance(metrics.get(name, {}).get("value"), float)
        ]
        print(f"  model quality of {statistics['dataset']['item_count']} labelled records: {', '.join(shown)}")
    for violation in result.violations:
        subject = violation.get("feature_name") or violation.get("metric_name")
        print(f"  {subject}: {violation['constraint_check_type']} ({violation['description']})")


def monitor(args: argparse.Namespace, repo_root: Path) -> int:
    """One run on the repository at `repo_root`; its exit code."""
    from mlops_template_kit.deploy import inference_config
    from mlops_template_kit.deploy.settings import Settings, build_dir, config_dir, problem_type
    from mlops_template_kit.monitor import run, trigger
    from mlops_template_kit.monitor.errors import MonitorError

    settings = Settings.from_env(repo_root)
    config = inference_config.load(args.stage, config_dir(repo_root))
    monitoring = (config.get("realtime") or {}).get("monitoring") or {}
    if monitoring.get("enabled") is False:
        print(f"monitor: monitoring is off for {args.stage} (inference_config.json realtime.monitoring.enabled)")
        return 0
    capture_location = Path(os.path.expanduser(args.capture)) if args.capture else repo_root / DEFAULT_CAPTURE
    if not capture_location.exists():
        raise MonitorError(
            f"capture {capture_location} does not exist: capture requests first (make serve-local or test-local "
            f"with CAPTURE={DEFAULT_CAPTURE}), or give CAPTURE=<capture folder or .jsonl file>"
        )
    ground_truth = Path(os.path.expanduser(args.ground_truth)) if args.ground_truth else None
    if ground_truth is not None and (monitoring.get("model_quality") or {}).get("enabled") is False:
        print(f"monitor: model quality is off for {args.stage}: the ground truth is not read")
    checks_data = (monitoring.get("data_quality") or {}).get("enabled", True)
    baseline = _baseline(args.baseline, settings, args.local_aws_port) if checks_data else None
    result = run.monitor(capture_location, baseline, problem_type(repo_root), monitoring, ground_truth)
    output = Path(args.output) if args.output else build_dir(repo_root) / "monitor" / args.stage
    run.write_reports(output, result.reports)
    _report(result, output)
    if not result.violations:
        return 0
    train_repo = (
        Path(args.train_repo) if args.train_repo else trigger.default_train_repo(repo_root, settings.project_name)
    )
    on_drift = config.get("on_drift", trigger.NOTIFY)
    # The retraining run works in the build-train repository: a local folder must not be read from there.
    data = args.data if not args.data or args.data.startswith("s3://") else str(Path(args.data).expanduser().resolve())
    return trigger.on_violation(on_drift, result.summary_line(), train_repo.resolve(), data or None, args.dry_run)


def run(args: argparse.Namespace) -> int:
    return run_cli(lambda: monitor(args, chosen_repo_root(args.repo_root)))
