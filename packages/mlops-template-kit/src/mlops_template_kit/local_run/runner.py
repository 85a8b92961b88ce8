"""Execute a checked definition: steps in dependency order, one at a time, until one fails.

A branch step runs only when its condition step chose its branch; a step whose dependency did
not run does not run either. The first failure stops the run; what finished stays in S3 and in
the sandboxes under `.local-run/runs/<execution id>/` for inspection.
"""

from __future__ import annotations

import secrets
import shutil
import string
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import model_card
from ..definition import Definition, Step
from ..definition.expressions import Scope
from . import card, steps
from .cache import StepCache
from .context import Job, Run
from .errors import USER_ERRORS, StepFailed
from .report import StepResult, Summary, flatten_metrics

KEPT_RUNS = 5
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_execution_id() -> str:
    """Twelve lower-case letters and digits, like SageMaker's pipeline execution ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def prune_old_runs(run: Run) -> None:
    """Keep the sandboxes of the latest runs only."""
    runs = run.workdir / "runs"
    if runs.is_dir():
        older = sorted((path for path in runs.iterdir() if path.is_dir()), key=lambda path: path.stat().st_mtime)
        for path in older[: max(0, len(older) - (KEPT_RUNS - 1))]:
            shutil.rmtree(path, ignore_errors=True)


class Runner:
    """Runs one execution of a definition."""

    def __init__(self, definition: Definition, parameters: dict[str, Any], run: Run, debug: bool = False) -> None:
        self.definition = definition
        self.run = run
        self.debug = debug
        region, account, name = run.clients.region, run.clients.account, run.pipeline_name
        pipeline_arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{name.lower()}"
        self.scope = Scope(
            parameters=parameters,
            execution={
                "PipelineName": name,
                "PipelineArn": pipeline_arn,
                "PipelineExecutionId": run.execution_id,
                "PipelineExecutionArn": f"{pipeline_arn}/execution/{run.execution_id}",
                "StartDateTime": datetime.now(UTC).isoformat(),
            },
            steps={},
            read_json=run.storage.read_json,
            experiment=definition.experiment,
        )
        self.cache = StepCache(run.workdir / "cache" / name, enabled=run.options.use_cache)
        self.results = {name: StepResult(name, definition.steps[name].type) for name in definition.order}

    def execute(self) -> Summary:
        """Run every step that should run; stop at the first failure."""
        prune_old_runs(self.run)
        summary = Summary(list(self.results.values()))
        for name in self.definition.order:
            step = self.definition.steps[name]
            reason = self._reason_not_to_run(step)
            if reason:
                self.results[name].status, self.results[name].detail = "skipped", reason
                continue
            try:
                self._run_step(step)
            except StepFailed as error:
                summary.failure, summary.stderr_tail = f"step {name}: {error}", error.stderr_tail
                break
        summary.metrics = self._metrics()
        summary.packages = [
            props for name, props in self.scope.steps.items() if self.results[name].type == "RegisterModel"
        ]
        if summary.succeeded:
            self._model_cards(summary)
        return summary

    def _model_cards(self, summary: Summary) -> None:
        """Write the registered models' cards; a card the schema refuses fails the run, naming the field."""
        try:
            summary.model_cards = card.write_cards(self.definition, self.scope, self.run)
        except (model_card.ModelCardError, *USER_ERRORS) as error:
            summary.failure = f"model card: {error}"

    def _reason_not_to_run(self, step: Step) -> str | None:
        if step.gate:
            condition, wanted = step.gate
            outcome = self.scope.steps.get(condition, {}).get("Outcome")
            if outcome is not None and outcome != str(wanted):
                return f"{condition} chose the {'if' if outcome == 'True' else 'else'} branch"
        missing = sorted(name for name in self.definition.dependencies[step.name] if name not in self.scope.steps)
        return f"needs {', '.join(missing)}, which did not run" if missing else None

    def _run_step(self, step: Step) -> None:
        result = self.results[step.name]
        self.run.console.step_started(result)
        started = time.monotonic()
        try:
            result.status, properties = self._properties(step)
            result.detail = _detail(step, properties)
        except StepFailed as error:
            result.status, result.detail = "failed", _shorten(str(error))
            raise
        finally:
            result.seconds = time.monotonic() - started
            if result.status != "not run":  # interrupted: no status to report
                self.run.console.step_finished(result)
        self.scope.steps[step.name] = properties

    def _properties(self, step: Step) -> tuple[str, dict[str, Any]]:
        """Resolve the step, then reuse a cached run or execute it; errors become StepFailed."""
        try:
            job = self._job(step)
            key = self.cache.key(job)
            cached = self.cache.lookup(job, key) if key else None
            if cached is not None:
                return "cached", cached
            self.run.storage.written = []
            properties = steps.execute(job)
            if key:
                self.cache.store(job, key, properties, self.run.storage.written)
            return "succeeded", properties
        except StepFailed:
            raise
        except USER_ERRORS as error:
            raise StepFailed(str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise StepFailed(f"AWS call failed: {error}") from None
        except Exception as error:
            if self.debug:
                raise
            raise StepFailed(
                f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)"
            ) from None

    def _job(self, step: Step) -> Job:
        job_name = self.run.job_name(step.name)
        execution = dict(self.scope.execution)
        execution.update(
            CurrentDateTime=datetime.now(UTC).isoformat(), TrainingJobName=job_name, ProcessingJobName=job_name
        )
        self.scope.execution = execution
        return Job(step, self.scope.resolve(step.expression_fields()), self.run, job_name)

    def _metrics(self) -> list[tuple[str, dict[str, Any]]]:
        """The numbers in every property file of the steps that ran."""
        found = []
        for name, properties in self.scope.steps.items():
            for file_name, uri in (properties.get("PropertyFiles") or {}).items():
                try:
                    metrics = flatten_metrics(self.run.storage.read_json(uri))
                except USER_ERRORS:
                    continue
                if metrics:
                    found.append((f"{name} (property file {file_name})", metrics))
        return found


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _detail(step: Step, properties: dict[str, Any]) -> str:
    if step.type == "Condition":
        return f"outcome {properties.get('Outcome')}"
    if step.type == "RegisterModel":
        return f"version {properties.get('ModelPackageVersion')} ({properties.get('ModelApprovalStatus')})"
    if step.type == "Tuning":
        best = properties.get("BestTrainingJob") or {}
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        return f"best {objective.get('MetricName')}={objective.get('Value')}"
    return ""
