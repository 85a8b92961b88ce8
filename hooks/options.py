"""Per-template option rules kept as data: options that do not apply, and what each option removes.

An option that does not apply to the other answers is ignored, not refused: `effective()` gives
the answers a repo is generated with (the pre-generation check, the pruning, the recorded answers
`make update` renders again, the published variants, the bake matrix in the tests and the questions
`make new` asks all read them from here), so a new rule is one entry in IGNORED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Ignored:
    """Options that do not apply when every key of `when` has the listed value: whatever is
    answered for them, the repo is generated with the values in `effective`."""

    when: Mapping[str, str]
    effective: Mapping[str, str]
    reason: str

    def matches(self, answers: Mapping[str, object]) -> bool:
        return all(answers.get(key) == value for key, value in self.when.items())


IGNORED: dict[str, list[Ignored]] = {
    "build-train": [],
    "deploy": [
        Ignored(
            {"inference_mode": "batch"},
            {"api_gateway": "no", "deployment_strategy": "all-at-once"},
            "a batch-only repo has no real-time endpoint to put an API in front of or to shift traffic on",
        ),
        Ignored(
            {"multi_account": "no"},
            {"staging_account_id": "", "prod_account_id": ""},
            "staging and prod deploy into the tooling account, so no other account ids are used",
        ),
    ],
}

# The `ci` option: each CI system's files, kept only when chosen (build_spec.yml and the other
# CodeBuild specs stay in every repo: the Makefile targets the workflows call run their commands).
CI_FILES = {"github-actions": [".github"], "gitlab": [".gitlab-ci.yml"]}


def _ci_rules() -> dict[tuple[str, str], list[str]]:
    """ci=<system> removes every other system's files (codepipeline removes them all)."""
    return {
        ("ci", chosen): sorted(path for system, paths in CI_FILES.items() if system != chosen for path in paths)
        for chosen in ("codepipeline", *CI_FILES)
    }


# (option, value) -> paths (relative to the generated repo) that the option removes.
PRUNE: dict[str, dict[tuple[str, str], list[str]]] = {
    # Multi-branch is a run-time setting of the kit's `mlops-kit pipeline`; only the tests of the
    # multi-branch build spec go with it.
    "build-train": {
        ("multi_branch", "no"): ["ml_pipelines/training/test/test_feature_branches.py"],
        **_ci_rules(),
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
            "app_infra/monitoring",
            "tests/integration_test/test_endpoint.py",
            "tests/stress_test",
        ],
        ("api_gateway", "no"): [
            "app_infra/api_gateway",
            "app_infra/lambda",
            "tests/integration_test/test_api.py",
        ],
        **_ci_rules(),
    },
}

# Generated repos pin the kit in this file, at the template release they come from.
REQUIREMENTS_FILE = "requirements.txt"
KIT_DISTRIBUTION = "mlops-template-kit"

# Written into every generated repo: where it came from and with which answers (cruft's format).
RECORD_FILE = ".cruft.json"


def effective(template: str, answers: Mapping[str, object]) -> dict[str, object]:
    """The answers a repo is generated with: every option that does not apply set to its value
    in IGNORED, the others as given."""
    result = dict(answers)
    for rule in IGNORED.get(template, []):
        if rule.matches(answers):
            result.update(rule.effective)
    return result


def applies(template: str, key: str, answers: Mapping[str, object]) -> bool:
    """Whether the question `key` matters given the answers so far (`make new` skips it when not)."""
    return not any(rule.matches(answers) and key in rule.effective for rule in IGNORED.get(template, []))


def pruned_paths(template: str, answers: Mapping[str, object]) -> list[str]:
    """Paths the answers remove from a bake of `template`, in a stable order (an option that does
    not apply prunes as its effective value: a batch repo has no API whatever api_gateway says)."""
    answers = effective(template, answers)
    rules = PRUNE.get(template, {})
    return sorted({path for (key, value), paths in rules.items() if answers.get(key) == value for path in paths})
