"""The `processing` monitoring engine's job: the kit's monitor over the endpoint's last window of
captured data in S3, run in a SageMaker processing step (app_infra/monitoring/monitoring.yaml,
Engine=processing) instead of a Model Monitor schedule.

    python -m mlops_template_kit.monitor.processing --capture-uri s3://<bucket>/datacapture/<endpoint>/<variant> \
        --baseline-statistics-uri s3://... --baseline-constraints-uri s3://... --reports-uri s3://<bucket>/monitoring \
        --namespace <ns> --endpoint <endpoint> --schedule-prefix <project-id>-<stage> [--ground-truth-uri s3://...]

Why: Model Monitor is closed to new customers ("Amazon SageMaker Model Monitor is no longer open to
new customers", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-availability-change.html),
so a new account cannot create a monitoring schedule. This job reads what SageMaker's data capture
writes, <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html), for the
`--window-hours` whole hours before the run, writes Model Monitor's report files under
<reports-uri>/<data-quality|model-quality>/yyyy/mm/dd/hh/ (the window's last hour) and publishes the
metrics the stack's alarms watch, in Model Monitor's names (feature_baseline_drift_<feature>, and
each model-quality metric by name) with the dimensions Endpoint and MonitoringSchedule, under the
stack's own namespace: PutMetricData refuses namespaces that start with "AWS/" and the role may only
publish to this one (cloudwatch:namespace condition,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).

Reports are uploaded only once every check has run, and metrics only once the reports are in S3: a
bad capture stops the job with one line and nothing written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mlops_template_kit import s3_uri
from mlops_template_kit.monitor import capture, data_quality, model_quality, run
from mlops_template_kit.monitor.errors import MonitorError

# The processing engine runs this module on the scikit-learn image's Python 3.10, which has no
# datetime.UTC (3.11): timezone.utc is the same object.
UTC = timezone.utc  # noqa: UP017

# PutMetricData takes at most this many datums per call in the oldest documented limit (newer
# limits are larger); small batches keep every request valid.
METRICS_PER_CALL = 20
# Model Monitor's problem type names (the stack's ProblemType) -> the kit's.
PROBLEM_TYPES = {"Regression": model_quality.REGRESSION, "BinaryClassification": model_quality.BINARY}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key without a trailing slash); MonitorError for anything else."""
    bucket, key = s3_uri.split(uri, MonitorError, key_required=True)
    return bucket, key.rstrip("/")


def window_hours(now: datetime, hours: int) -> list[str]:
    """The yyyy/mm/dd/hh folders of the `hours` whole hours before `now`, oldest first."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [(top - timedelta(hours=back)).strftime("%Y/%m/%d/%H") for back in range(hours, 0, -1)]


def download_window(s3: Any, uri: str, hours: list[str], into: Path) -> int:
    """Download every .jsonl object of the hour folders under `uri` into `into`; how many."""
    bucket, prefix = split_s3_uri(uri)
    count = 0
    for hour in hours:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{hour}/")
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith(".jsonl"):
                    continue
                target = into / item["Key"][len(prefix) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
                count += 1
    return count


def read_json_object(s3: Any, uri: str, what: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ValueError:
        raise MonitorError(f"{what} {uri} is not JSON") from None
    if not isinstance(document, dict):
        raise MonitorError(f"{what} {uri} is not a JSON object")
    return document


def read_baseline(s3: Any, statistics_uri: str, constraints_uri: str) -> run.Baseline:
    documents = [read_json_object(s3, uri, "baseline") for uri in (statistics_uri, constraints_uri)]
    for uri, document in zip((statistics_uri, constraints_uri), documents, strict=True):
        if not isinstance(document.get("features"), list):
            raise MonitorError(f"baseline {uri} has no features list (Model Monitor's format)")
    return run.Baseline(*documents)


def read_quality_constraints(s3: Any, uri: str, problem_type: str) -> dict[str, Any]:
    """metric -> {threshold, comparison_operator} of the model-quality constraints.json the build
    wrote (stacks.model_quality_constraints); {} without one."""
    if not uri:
        return {}
    document = read_json_object(s3, uri, "model-quality constraints")
    rules = document.get(model_quality.CONSTRAINTS_KEY[problem_type])
    if not isinstance(rules, dict):
        raise MonitorError(f"model-quality constraints {uri} has no {model_quality.CONSTRAINTS_KEY[problem_type]}")
    return rules


def metric(name: str, value: float, endpoint: str, schedule: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}],
        "Value": float(value),
        "Unit": "None",
    }


def metrics_of(result: run.Result, distances: dict[str, float], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One datum per monitored feature (its drift distance) and per model-quality metric."""
    data_schedule, quality_schedule = f"{args.schedule_prefix}-data-quality", f"{args.schedule_prefix}-model-quality"
    datums = [
        metric(f"feature_baseline_drift_{name}", distance, args.endpoint, data_schedule)
        for name, distance in sorted(distances.items())
    ]
    statistics = result.reports.get(f"{run.MODEL_QUALITY}/{run.STATISTICS}", {})
    for name, entry in sorted(statistics.get(model_quality.METRICS_KEY[args.problem_type], {}).items()):
        value = entry.get("value") if isinstance(entry, dict) else None
        # CloudWatch refuses NaN and infinities (PutMetricData, MetricDatum.Value).
        if isinstance(value, int | float) and math.isfinite(value):
            datums.append(metric(name, value, args.endpoint, quality_schedule))
    return datums


def publish(cloudwatch: Any, namespace: str, datums: list[dict[str, Any]]) -> None:
    for start in range(0, len(datums), METRICS_PER_CALL):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[start : start + METRICS_PER_CALL])


def upload_reports(s3: Any, reports_uri: str, hour: str, reports: dict[str, dict[str, Any]]) -> list[str]:
    """Put every report under <reports-uri>/<monitoring type>/<hour>/; the keys written."""
    bucket, prefix = split_s3_uri(reports_uri)
    written = []
    for name, document in sorted(reports.items()):
        kind, _, file_name = name.rpartition("/")
        key = "/".join(part for part in (prefix, kind, hour, file_name) if part)
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=(json.dumps(document, indent=2) + "\n").encode("utf-8"),
            ContentType="application/json",
        )
        written.append(f"s3://{bucket}/{key}")
    return written


def monitor_window(args: argparse.Namespace, s3: Any, cloudwatch: Any, now: datetime) -> run.Result:
    """Download the window, run the checks, upload the reports, publish the metrics."""
    hours = window_hours(now, args.window_hours)
    checks_data = args.data_quality == "true"
    baseline = read_baseline(s3, args.baseline_statistics_uri, args.baseline_constraints_uri) if checks_data else None
    quality_rules = read_quality_constraints(s3, args.quality_constraints_uri, args.problem_type)
    with tempfile.TemporaryDirectory() as scratch:
        captured, truth = Path(scratch, "capture"), Path(scratch, "ground-truth")
        captured.mkdir()
        if not download_window(s3, args.capture_uri, hours, captured):
            # No traffic is not drift: no report, no metric (the alarms treat missing data as fine).
            print(f"no captured data under {args.capture_uri} for {hours[0]}..{hours[-1]}: nothing to check")
            return run.Result(records=0)
        has_truth = bool(args.ground_truth_uri) and download_window(s3, args.ground_truth_uri, hours, truth) > 0
        settings = {
            "data_quality": {"enabled": checks_data, "drift_threshold": args.drift_threshold},
            "model_quality": {"enabled": has_truth, "constraints": quality_rules},
        }
        result = run.monitor(captured, baseline, args.problem_type, settings, truth if has_truth else None)
        distances = {}
        if baseline is not None:
            table = run.captured_table(capture.read(captured), baseline.feature_names)
            distances = data_quality.drift_distances(table, baseline.statistics)
    for uri in upload_reports(s3, args.reports_uri, hours[-1], result.reports):
        print(f"wrote {uri}")
    publish(cloudwatch, args.namespace, metrics_of(result, distances, args))
    print(result.summary_line())
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mlops_template_kit.monitor.processing", description=__doc__)
    parser.add_argument("--capture-uri", required=True, help="s3://<bucket>/<capture prefix>/<endpoint>/<variant>")
    parser.add_argument("--ground-truth-uri", default="", help="s3://<bucket>/<ground-truth prefix> ('' for none)")
    parser.add_argument("--data-quality", choices=("true", "false"), default="true")
    parser.add_argument("--baseline-statistics-uri", default="", help="'' without data quality")
    parser.add_argument("--baseline-constraints-uri", default="", help="'' without data quality")
    parser.add_argument("--reports-uri", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--schedule-prefix", required=True, help="<project-id>-<stage>, as the alarms' dimension")
    parser.add_argument("--problem-type", choices=sorted(PROBLEM_TYPES), default="BinaryClassification")
    parser.add_argument("--quality-constraints-uri", default="", help="the build's model-quality constraints.json")
    parser.add_argument("--drift-threshold", type=float, default=None)
    parser.add_argument("--window-hours", type=int, default=1)
    args = parser.parse_args(argv)
    if args.window_hours < 1:
        parser.error("--window-hours must be 1 or more")
    if args.data_quality == "true" and not (args.baseline_statistics_uri and args.baseline_constraints_uri):
        parser.error("data quality compares against the baseline: give both --baseline-*-uri")
    args.problem_type = PROBLEM_TYPES[args.problem_type]
    return args


def main(argv: list[str] | None = None, session: Any = None, now: datetime | None = None) -> int:
    args = parse_args(argv)
    import boto3  # in the scikit-learn processing image; imported late so --help needs no AWS SDK
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or boto3.Session()
    try:
        monitor_window(args, session.client("s3"), session.client("cloudwatch"), now or datetime.now(UTC))
    except MonitorError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as problem:
        print(f"error: AWS call failed: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
