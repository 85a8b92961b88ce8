"""Run a SageMaker pipeline definition on this machine: no AWS account, no Docker.

`mlops-kit local-run` executes the JSON that `Pipeline.definition()` produces. Each
step runs in a subprocess with its container paths (`/opt/ml/...`) mapped into a sandbox under
`.local-run/`; S3 and the SageMaker model registry are whatever boto3 reaches through
`AWS_ENDPOINT_URL` (a local emulator the command starts when none is set).
"""
