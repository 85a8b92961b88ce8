"""Tuning steps: a few local training trials, the best chosen by the objective metric.

Trials sample the parameter ranges deterministically (a Latin hypercube with a fixed seed, or
the tuning job's `RandomSeed`), whatever the job's Strategy: a local run checks the wiring of
tuning (ranges, static hyperparameters, objective regex, best-model references), not the search.
The trial count is the smaller of the job's MaxNumberOfTrainingJobs and `--tuning-trials`.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from typing import Any

from . import training
from .context import Job
from .errors import StepFailed


def run(job: Job) -> dict[str, Any]:
    """Run the trials of a tuning step; its properties follow DescribeHyperParameterTuningJob."""
    config = job.arguments.get("HyperParameterTuningJobConfig") or {}
    definition = job.arguments.get("TrainingJobDefinition")
    if not definition:
        raise StepFailed("only tuning jobs with one TrainingJobDefinition run locally")
    objective = config.get("HyperParameterTuningJobObjective") or {}
    limit = int((config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs", job.run.options.tuning_trials))
    count = max(1, min(limit, job.run.options.tuning_trials))
    candidates = sample(config.get("ParameterRanges") or {}, count, int(config.get("RandomSeed", 0)))
    name = tuning_job_name(job)
    summaries = [_trial(job, definition, objective, name, index, tuned) for index, tuned in enumerate(candidates, 1)]
    summaries.sort(
        key=lambda summary: _objective_value(summary), reverse=objective.get("Type", "Maximize") == "Maximize"
    )
    return {
        **job.arguments,
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": job.run.arn("hyper-parameter-tuning-job", name),
        "HyperParameterTuningJobStatus": "Completed",
        "BestTrainingJob": summaries[0],
        "TrainingJobSummaries": summaries,
        "TrainingJobStatusCounters": {
            "Completed": len(summaries),
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 0,
            "Stopped": 0,
        },
        "ObjectiveStatusCounters": {"Succeeded": len(summaries), "Pending": 0, "Failed": 0},
    }


def tuning_job_name(job: Job) -> str:
    """Tuning job names are at most 32 characters; trial jobs add `-NNN-xxxxxxxx`."""
    head = re.sub(r"[^a-zA-Z0-9-]+", "-", job.step.name)[:21].strip("-") or "tuning"
    return f"{head}-{job.job_name[-10:]}"


def trial_job_name(tuning_name: str, index: int) -> str:
    """The training job name of one trial, like SageMaker's `<tuning job>-NNN-<hash>`."""
    digest = hashlib.sha256(f"{tuning_name}/{index}".encode()).hexdigest()[:8]
    return f"{tuning_name}-{index:03d}-{digest}"


def _objective_value(summary: dict) -> float:
    return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def _trial(job: Job, definition: dict, objective: dict, tuning_name: str, index: int, tuned: dict) -> dict[str, Any]:
    trial_name = trial_job_name(tuning_name, index)
    request = {
        "AlgorithmSpecification": definition.get("AlgorithmSpecification") or {},
        # Tuning passes the objective's name to each training job it starts as `_tuning_objective_metric`
        # (see aws/sagemaker-xgboost-container#121); the step scripts accept it.
        "HyperParameters": {
            **(definition.get("StaticHyperParameters") or {}),
            **tuned,
            "_tuning_objective_metric": objective.get("MetricName"),
        },
        "InputDataConfig": definition.get("InputDataConfig") or [],
        "OutputDataConfig": definition.get("OutputDataConfig") or {},
        "ResourceConfig": definition.get("ResourceConfig") or {},
        "Environment": definition.get("Environment") or {},
    }
    job.run.console.say(f"{job.step.name} | trial {index}: {', '.join(f'{k}={v}' for k, v in tuned.items())}")
    outcome = training.train(job, request, trial_name, job.sandbox / trial_name, f"{job.step.name}#{index}")
    metric = objective.get("MetricName")
    values = [item["Value"] for item in outcome["FinalMetricDataList"] if item["MetricName"] == metric]
    if not values:
        raise StepFailed(
            f"trial {index} ({trial_name}) reported no value of the objective metric {metric!r}: "
            "check that a MetricDefinitions regex with that name matches what the training script prints"
        )
    return {
        "TrainingJobName": trial_name,
        "TrainingJobArn": outcome["TrainingJobArn"],
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": tuned,
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": objective.get("Type", "Maximize"),
            "MetricName": metric,
            "Value": values[-1],
        },
        "ObjectiveStatus": "Succeeded",
    }


def _strata(rng: random.Random, count: int) -> list[float]:
    """One point in each of `count` equal slices of [0, 1), in a shuffled order."""
    order = rng.sample(range(count), count)
    return [(slot + 0.5) / count for slot in order]


def _scale(low: float, high: float, fraction: float, scaling: str) -> float:
    if scaling == "Logarithmic":
        if low <= 0:
            raise StepFailed(f"a Logarithmic range needs a positive minimum, not {low}")
        return math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
    if scaling == "ReverseLogarithmic":
        if not 0 <= low < high < 1:
            raise StepFailed(f"a ReverseLogarithmic range must lie within [0, 1), not [{low}, {high}]")
        return 1 - math.exp(math.log(1 - high) + (1 - fraction) * (math.log(1 - low) - math.log(1 - high)))
    return low + fraction * (high - low)


def sample(ranges: dict[str, list[dict]], count: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` hyperparameter sets covering every range (values as the strings SageMaker passes)."""
    rng = random.Random(seed)
    trials: list[dict[str, str]] = [{} for _ in range(count)]
    for spec in ranges.get("IntegerParameterRanges") or []:
        low, high = int(spec["MinValue"]), int(spec["MaxValue"])
        for trial, fraction in zip(trials, _strata(rng, count), strict=True):
            value = round(_scale(low, high, fraction, spec.get("ScalingType", "Auto")))
            trial[spec["Name"]] = str(min(max(value, low), high))
    for spec in ranges.get("ContinuousParameterRanges") or []:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        for trial, fraction in zip(trials, _strata(rng, count), strict=True):
            trial[spec["Name"]] = f"{_scale(low, high, fraction, spec.get('ScalingType', 'Auto')):.6g}"
    for spec in ranges.get("CategoricalParameterRanges") or []:
        values = [str(value) for value in spec["Values"]]
        order = rng.sample(range(count), count)
        for trial, slot in zip(trials, order, strict=True):
            trial[spec["Name"]] = values[slot % len(values)]
    return trials
