"""Processing steps: inputs from S3 into the sandbox, the entrypoint in a subprocess, outputs back."""

from __future__ import annotations

from typing import Any

from . import athena, jobs
from .context import Job
from .errors import StepFailed


def run(job: Job) -> dict[str, Any]:
    """Run a processing job; its properties are the request plus the job's name and status."""
    arguments = job.arguments
    app = arguments.get("AppSpecification") or {}
    if not app.get("ContainerEntrypoint"):
        raise StepFailed(
            f"no ContainerEntrypoint: the image's own entrypoint ({app.get('ImageUri')}) needs its container"
        )
    stage_inputs(job, arguments.get("ProcessingInputs") or [])
    outputs = (arguments.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        jobs.local_path(_s3_output(output)["LocalPath"], job.sandbox).mkdir(parents=True, exist_ok=True)
    argv = jobs.command([*app["ContainerEntrypoint"], *(app.get("ContainerArguments") or [])], job.sandbox)
    finished = jobs.run(
        argv,
        cwd=job.sandbox,
        env=jobs.environment(arguments.get("Environment"), job.sandbox),
        label=job.step.name,
        console=job.run.console,
        log_dir=job.sandbox / "logs",
    )
    jobs.check(finished, "the processing script")
    for output in outputs:
        s3 = _s3_output(output)
        job.run.storage.upload_dir(jobs.local_path(s3["LocalPath"], job.sandbox), s3["S3Uri"])
    return {
        **arguments,
        "ProcessingJobName": job.job_name,
        "ProcessingJobArn": job.run.arn("processing-job", job.job_name),
        "ProcessingJobStatus": "Completed",
        "PropertyFiles": property_files(job, outputs),
    }


def stage_inputs(job: Job, inputs: list[dict]) -> None:
    """Download every S3 input into its container path; an input with no objects fails the step.

    An input that runs an Athena query gets the query's result from the local stand-in (athena.py).
    """
    for item in inputs:
        name = item.get("InputName")
        if athena.uses_athena(item):
            athena.stage(job, item)
            continue
        s3 = item.get("S3Input")
        if not s3:
            raise StepFailed(f"input {name}: only S3 inputs run locally (not {', '.join(sorted(item))})")
        if s3.get("S3DataType", "S3Prefix") != "S3Prefix" or s3.get("S3InputMode", "File") != "File":
            raise StepFailed(f"input {name}: only S3Prefix data in File mode runs locally")
        count = job.run.storage.download(s3["S3Uri"], jobs.local_path(s3["LocalPath"], job.sandbox))
        if count == 0:
            raise StepFailed(f"input {name}: no objects under {s3['S3Uri']}")


def _s3_output(output: dict) -> dict:
    s3 = output.get("S3Output")
    if not s3:
        raise StepFailed(f"output {output.get('OutputName')}: only S3 outputs run locally")
    return s3


def property_files(job: Job, outputs: list[dict]) -> dict[str, str]:
    """Property file name -> S3 URI of the file; a file the job did not write fails the step."""
    by_name = {output.get("OutputName"): _s3_output(output) for output in outputs}
    located = {}
    for declared in job.step.spec.get("PropertyFiles") or []:
        name, output_name, path = declared.get("PropertyFileName"), declared.get("OutputName"), declared.get("FilePath")
        s3 = by_name.get(output_name)
        if s3 is None:
            raise StepFailed(f"property file {name}: the step has no output {output_name!r}")
        folder = jobs.local_path(s3["LocalPath"], job.sandbox)
        if not (folder / str(path)).is_file():
            written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            raise StepFailed(
                f"property file {name}: {path!r} was not written to output {output_name!r} "
                f"(it holds: {', '.join(written) or 'nothing'})"
            )
        located[name] = f"{s3['S3Uri'].rstrip('/')}/{path}"
    return located
