"""Every template bakes for every distinct option combination, exactly as promised, and an option
that does not apply to the other answers is ignored: the bake is the one of its effective answers."""

import json
import tomllib

import pytest

from hooks import options
from tests import bakery

REGISTERED = json.loads((bakery.REPO_ROOT / "cookiecutter.json").read_text())["templates"]
PRESENT = [name for name in REGISTERED if (bakery.template_dir(name) / "cookiecutter.json").exists()]

SUPPORTED = [
    pytest.param(name, combo, id=f"{name}:{bakery.combo_id(combo)}")
    for name in PRESENT
    for combo in bakery.supported(name)
]


def ignored_rows(name: str) -> list[dict[str, str]]:
    """For each IGNORED rule, answers that meet its condition and set every option it ignores to
    something other than its effective value, all such values used across as few rows as possible
    (each row is a bake)."""
    defaults = {key: values[0] for key, values in bakery.choices(name).items()}
    rows = []
    for rule in options.IGNORED[name]:
        alternatives = {key: others(name, key, value) for key, value in rule.effective.items()}
        for index in range(max(len(values) for values in alternatives.values())):
            chosen = {key: values[index % len(values)] for key, values in alternatives.items()}
            rows.append(defaults | dict(rule.when) | chosen)
    return rows


def others(name: str, key: str, effective: str) -> list[str]:
    """Values of `key` other than its effective one: the other choices, or for a free-text answer
    a valid example (an account id, twelve digits)."""
    return [value for value in bakery.choices(name).get(key, ["123456789012"]) if value != effective]


IGNORED = [
    pytest.param(name, row, id=f"{name}:{bakery.combo_id(row)}") for name in PRESENT for row in ignored_rows(name)
]
# Tests of a generated repo that would redo, in every covering row, work this suite does once: the
# CloudFormation templates are copied verbatim (not rendered), and
# tests/test_deploy_template.py::test_cloudformation_templates_are_copied_verbatim_and_lint_clean
# lints the payload's files once and checks every copy's bytes.
REPEATED_HERE = {
    "deploy": ["app_infra/test/test_cloudformation.py::test_cfn_lint_reports_no_errors_or_warnings"],
}
COVERING = [
    pytest.param(name, combo, id=f"{name}:{bakery.combo_id(combo)}", marks=pytest.mark.slow)
    for name in PRESENT
    for combo in bakery.covering_subset(name)
]


@pytest.mark.parametrize("name,combo", SUPPORTED)
def test_supported_combination_bakes_exactly_the_expected_files_all_rendered_and_parseable(baked, name, combo):
    """The exact file set, no leftover Jinja, and every YAML/JSON/TOML/notebook parses. The bake
    is the run's shared one (`baked`): the lint, data-layout and slow tests reuse it."""
    project = baked(name, bakery.answers_for(combo))
    assert bakery.relative_files(project) == bakery.expected_files(name, combo)
    for relative in sorted(bakery.relative_files(project)):
        path = project / relative
        text = path.read_text(encoding="utf-8")
        if not bakery.copied_verbatim(name, relative):
            assert not bakery.LEFTOVER_JINJA.search(text), f"leftover Jinja in {relative}"
        if path.suffix in bakery.STRUCTURED_SUFFIXES:
            bakery.parse_structured(path)


@pytest.mark.parametrize("name,combo", SUPPORTED)
def test_supported_combination_is_lint_clean_and_formatted(baked, name, combo):
    """ruff with the generated repo's own settings, on every combination (about 0.1 s each);
    --no-cache keeps the shared bake unchanged."""
    project = baked(name, bakery.answers_for(combo))
    for command in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--no-cache", "--check", "."]):
        result = bakery.run(command, cwd=project)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize("name,answers", IGNORED)
def test_an_option_that_does_not_apply_bakes_the_repo_of_its_effective_answers(baked, name, answers):
    """Byte for byte, the record included: it holds the effective answers, so `make update`
    renders this repo again."""
    effective = {key: str(value) for key, value in options.effective(name, answers).items()}
    assert effective != answers, "the row must set an option to a value that does not apply"
    ignoring, reference = baked(name, answers), baked(name, bakery.answers_for(effective))
    assert bakery.relative_files(ignoring) == bakery.relative_files(reference)
    for relative in sorted(bakery.relative_files(reference)):
        assert (ignoring / relative).read_bytes() == (reference / relative).read_bytes(), relative
    record = json.loads((ignoring / options.RECORD_FILE).read_text())["context"]["cookiecutter"]
    assert {key: record[key] for key in answers} == {key: effective[key] for key in answers}


@pytest.mark.parametrize("name,combo", COVERING)
def test_generated_repos_own_tests_pass(baked, name, combo, tmp_path):
    """The generated repo's own test suite, on a pairwise-covering subset of combinations (ruff
    runs on every combination above). Its tests may write into the repo: a private copy."""
    project = bakery.private_copy(baked(name, bakery.answers_for(combo)), tmp_path)
    repeated = [argument for test in REPEATED_HERE.get(name, []) for argument in ("--deselect", test)]
    result = bakery.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *repeated], cwd=project)
    assert result.returncode == 0, f"pytest failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    summary = result.stdout.strip().splitlines()[-1]
    assert "warning" not in summary, f"a team's test run should not open on warnings:\n{result.stdout[-4000:]}"


@pytest.mark.parametrize("name", PRESENT)
def test_covering_subset_holds_the_defaults_and_every_supported_pair(name):
    subset = bakery.covering_subset(name)
    assert subset[0] == {key: values[0] for key, values in bakery.choices(name).items()}
    assert bakery.missing_pairs(name, subset) == set()
    assert len(subset) < len(bakery.supported(name))


@pytest.mark.parametrize("name", PRESENT)
def test_the_pair_checker_finds_the_pairs_only_a_removed_row_held(name):
    """Drop any one row and the checker must name exactly the pairs that row alone exercised; the
    greedy's last row was added for a pair still missing, so without it a pair is always missing."""
    subset = bakery.covering_subset(name)
    for index, row in enumerate(subset):
        others = subset[:index] + subset[index + 1 :]
        held_elsewhere = set().union(*(bakery.value_pairs(other) for other in others))
        missing = bakery.missing_pairs(name, others)
        assert missing == bakery.value_pairs(row) - held_elsewhere
    assert bakery.missing_pairs(name, subset[:-1]), "the checker must notice the last row's pairs are gone"


@pytest.mark.parametrize("name", PRESENT)
def test_no_covering_row_sets_an_option_that_does_not_apply_and_no_such_pair_is_required(name):
    subset = bakery.covering_subset(name)
    assert [row for row in subset if bakery.effective_choices(name, row) != row] == []
    required = bakery.supported_pairs(name)
    for rule in options.IGNORED[name]:
        for key, effective in rule.effective.items():
            for value in others(name, key, effective):
                for condition in rule.when.items():
                    assert tuple(sorted([condition, (key, value)])) not in required


def test_the_deploy_covering_array_stays_at_eight_rows():
    """Each deploy row runs a generated repo's suite (~60 s): ignoring options must not add rows."""
    assert len(bakery.covering_subset("deploy")) <= 8


def test_a_row_setting_an_ignored_option_counts_only_the_pairs_of_its_effective_answers():
    """Fed a batch row with api_gateway=yes, the checker must not count (batch, api_gateway=yes)
    or (api_gateway=yes, anything) as exercised: its bake has no API."""
    row = bakery.ignored("deploy")[0]
    effective = bakery.effective_choices("deploy", row)
    assert row != effective
    assert bakery.missing_pairs("deploy", [row]) == bakery.missing_pairs("deploy", [effective])
    assert bakery.value_pairs(row) - bakery.value_pairs(effective), "the row's own pairs differ"


def test_a_shared_bake_is_made_once_per_answer_set_and_a_half_made_one_is_redone(tmp_path):
    defaults = {key: values[0] for key, values in bakery.choices("deploy").items()}
    first = bakery.shared_bake(tmp_path, "deploy", {})
    made = (first / "README.md").stat().st_mtime_ns
    assert bakery.shared_bake(tmp_path, "deploy", defaults) == first  # spelled-out defaults: same bake
    assert (first / "README.md").stat().st_mtime_ns == made, "a second caller must not bake again"
    other = bakery.shared_bake(tmp_path, "deploy", {"inference_mode": "batch", "api_gateway": "no"})
    assert other != first and not (other / "app_infra" / "endpoint").exists()

    # A worker that died mid-bake leaves a folder without its marker: the next caller bakes afresh.
    (tmp_path / f"{other.parent.name}.done").unlink()
    (other / "left-over.txt").write_text("half a bake\n")
    again = bakery.shared_bake(tmp_path, "deploy", {"inference_mode": "batch", "api_gateway": "no"})
    assert again == other and not (again / "left-over.txt").exists()


def test_a_private_copy_is_byte_identical_and_independent(baked, tmp_path):
    shared = baked("deploy", {})
    copy = bakery.private_copy(shared, tmp_path)
    assert bakery.relative_files(copy) == bakery.relative_files(shared)
    (copy / "README.md").write_text("changed\n")
    assert (shared / "README.md").read_text() != "changed\n"


def test_every_test_left_out_of_a_covering_row_exists_in_the_payload():
    """A renamed test would make its --deselect a silent no-op."""
    for name, tests in REPEATED_HERE.items():
        for test in tests:
            path, _, function = test.partition("::")
            source = (bakery.payload_dir(name) / path).read_text(encoding="utf-8")
            assert f"def {function}(" in source, test


@pytest.mark.parametrize("name", PRESENT)
def test_the_generated_repos_test_runs_load_the_kits_plugin(baked, name):
    """mlops_template_kit.testing: one reader of botocore's data for the run (a deploy repo's
    suite took a quarter longer without it)."""
    project = baked(name, bakery.answers_for(bakery.covering_subset(name)[0]))
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-p mlops_template_kit.testing" in settings["addopts"]
