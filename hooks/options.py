"""Per-template option rules kept as data: unsupported combinations and what each option removes.

Tests generate the bake matrix from the templates' own `cookiecutter.json` and filter it with
`unsupported()`, so a new option or rule is covered without touching the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Answers that cannot be combined: matches when every key has the listed value."""

    when: Mapping[str, str]
    reason: str

    def matches(self, answers: Mapping[str, object]) -> bool:
        return all(answers.get(key) == value for key, value in self.when.items())


UNSUPPORTED: dict[str, list[Rule]] = {
    "build-train": [],
    "deploy": [
        Rule(
            {"inference_mode": "batch", "api_gateway": "yes"},
            "api_gateway=yes fronts a real-time endpoint: use inference_mode realtime or both",
        ),
        Rule(
            {"inference_mode": "batch", "deployment_strategy": "canary"},
            "deployment_strategy canary shifts endpoint traffic: use all-at-once with inference_mode batch",
        ),
        Rule(
            {"inference_mode": "batch", "deployment_strategy": "linear"},
            "deployment_strategy linear shifts endpoint traffic: use all-at-once with inference_mode batch",
        ),
    ],
}

# (option, value) -> paths (relative to the generated repo) that the option removes.
PRUNE: dict[str, dict[tuple[str, str], list[str]]] = {
    # Multi-branch is a run-time setting of the kit's `mlops-kit pipeline`; only the tests of the
    # multi-branch build spec go with it.
    "build-train": {
        ("multi_branch", "no"): ["ml_pipelines/training/test/test_feature_branches.py"],
    },
    "deploy": {
        ("inference_mode", "realtime"): [
            "app_infra/batch_inference",
            "app_infra/event_bridge/batch_schedule.yaml",
            "app_infra/event_bridge/test/test_batch_schedule.py",
            "tests/integration_test/test_batch_inference.py",
        ],
        ("inference_mode", "batch"): [
            "app_infra/endpoint",
            "tests/integration_test/test_endpoint.py",
            "tests/stress_test",
        ],
        ("api_gateway", "no"): [
            "app_infra/api_gateway",
            "app_infra/lambda",
            "tests/integration_test/test_api.py",
        ],
    },
}

# Generated repos pin the kit in this file, at the template release they come from.
REQUIREMENTS_FILE = "requirements.txt"
KIT_DISTRIBUTION = "mlops-template-kit"

# Written into every generated repo: where it came from and with which answers (cruft's format).
RECORD_FILE = ".cruft.json"


def unsupported(template: str, answers: Mapping[str, object]) -> Rule | None:
    """The first rule the answers break, or None when the combination is supported."""
    return next((rule for rule in UNSUPPORTED.get(template, []) if rule.matches(answers)), None)


def pruned_paths(template: str, answers: Mapping[str, object]) -> list[str]:
    """Paths the answers remove from a bake of `template`, in a stable order."""
    rules = PRUNE.get(template, {})
    return sorted({path for (key, value), paths in rules.items() if answers.get(key) == value for path in paths})
