"""Every template bakes for every supported option combination, exactly as promised, and every
unsupported combination is refused by the pre-generation hook."""

import json

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
UNSUPPORTED = [
    pytest.param(name, combo, id=f"{name}:{bakery.combo_id(combo)}")
    for name in PRESENT
    for combo in bakery.unsupported(name)
]
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


@pytest.mark.parametrize("name,combo", UNSUPPORTED)
def test_unsupported_combination_fails_in_the_hook(cookies, name, combo, capfd):
    result = cookies.bake(extra_context=bakery.answers_for(combo), template=str(bakery.template_dir(name)))
    assert result.exit_code != 0 and result.project_path is None
    assert "unsupported option combination" in capfd.readouterr().err


@pytest.mark.parametrize("name,combo", COVERING)
def test_generated_repos_own_tests_pass(baked, name, combo, tmp_path):
    """The generated repo's own test suite, on a pairwise-covering subset of combinations (ruff
    runs on every combination above). Its tests may write into the repo: a private copy."""
    project = bakery.private_copy(baked(name, bakery.answers_for(combo)), tmp_path)
    result = bakery.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
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
def test_no_unsupported_combination_is_in_a_covering_array_or_counted_as_a_pair(name):
    subset = bakery.covering_subset(name)
    assert [row for row in subset if options.unsupported(name, row)] == []
    for rule in options.UNSUPPORTED[name]:
        if len(rule.when) == 2:  # a two-option rule forbids exactly one pair
            assert tuple(sorted(rule.when.items())) not in bakery.supported_pairs(name)


def test_an_unsupported_row_fed_to_the_checker_adds_no_pair():
    """Pairs are counted from supported combinations only: a forbidden row covers nothing new."""
    forbidden = bakery.unsupported("deploy")[0]
    assert bakery.missing_pairs("deploy", [forbidden]) == bakery.missing_pairs("deploy", []) - (
        bakery.value_pairs(forbidden) & bakery.supported_pairs("deploy")
    )
    rule = options.unsupported("deploy", forbidden)
    assert tuple(sorted(rule.when.items())) not in bakery.supported_pairs("deploy")


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
