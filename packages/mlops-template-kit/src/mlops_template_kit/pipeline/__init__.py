"""The training pipeline machinery of build-train repositories, behind `mlops-kit pipeline`.

The repository keeps the step graph (`ml_pipelines/training/ml-pipeline-training.py`), its
`input.json` and the schema of that file; the kit keeps the settings, the offline SDK plumbing,
the config loading, the code upload, the AWS calls and the command line.
"""
