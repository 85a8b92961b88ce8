"""Shared test set-up: offline AWS settings and no bytecode written into the template payload."""

import os
import sys
from pathlib import Path

# Tests import modules straight from the template payload; bytecode written there would be
# baked into every generated repository.
sys.dont_write_bytecode = True
os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")

# No test may reach AWS: fake credentials, a fixed region, no instance metadata look-ups.
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}.items():
    os.environ.setdefault(key, value)

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
