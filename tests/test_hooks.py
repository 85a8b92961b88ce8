"""Answer validation: hostile or invalid answers stop generation with one clear line."""

import json
import subprocess
import sys

import pytest
from cookiecutter.environment import StrictEnvironment

from hooks import options, pre_gen, validation
from tests import bakery

HOSTILE = {
    "33 characters": ("project_name", "a" * 33),
    "33 characters with hyphens": ("project_name", "a-" * 16 + "b"),
    "leading hyphen": ("project_name", "-abc"),
    "trailing hyphen": ("project_name", "abc-"),
    "underscore": ("project_name", "my_project"),
    "space": ("project_name", "my project"),
    "non-ASCII": ("project_name", "projét"),
    "jinja expression": ("project_name", "{{ 7*7 }}"),
    "path traversal": ("project_name", "../x"),
    "single quote": ("project_name", "a'b"),
    "double quote": ("project_name", 'a"b'),
    "newline": ("project_name", "a\nb"),
    "id with upper case": ("project_id", "P-ABC"),
    "id of 21 characters": ("project_id", "p-" + "x" * 19),
    "unknown region": ("region", "moon-west-1"),
    "triple quotes": ("project_name", "a'''b"),
}


def context(template: str, **answers: str) -> dict:
    values = {key: values[0] for key, values in bakery.choices(template).items()}
    base = json.loads((bakery.template_dir(template) / "cookiecutter.json").read_text())
    values.update({key: value for key, value in base.items() if isinstance(value, str) and not key.startswith("_")})
    values.update(answers)
    values["_repo_dir"] = str(bakery.template_dir(template))
    return values


@pytest.mark.parametrize("key,value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_answers_are_refused_with_a_clear_line(key, value, capsys):
    assert pre_gen.main(context("build-train", **{key: value}), "build-train") == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: ") and "\n" not in message
    assert key in message or "combination" in message


@pytest.mark.parametrize("key,value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_answers_leave_no_output(key, value, cookies):
    result = cookies.bake(extra_context={key: value}, template=str(bakery.template_dir("build-train")))
    assert result.exit_code != 0
    assert result.project_path is None
    output_root = cookies._output_factory  # the factory is pytest's tmpdir; bake folders live below it
    leftovers = [path for path in output_root("check").dirpath().listdir() if path.listdir()]
    assert [str(path) for path in leftovers if path.basename.startswith("bake")] == []


def test_worst_case_answers_are_accepted(capsys):
    answers = {"project_name": "a" * 32, "project_id": "p-" + "x" * 18}
    assert pre_gen.main(context("build-train", **answers), "build-train") == 0
    assert capsys.readouterr().err == ""


def test_an_unlisted_choice_is_refused():
    with pytest.raises(validation.InvalidAnswer, match="framework 'pytorch' is not allowed; choose one of"):
        validation.check_choices({"framework": "pytorch"}, {"framework": ["xgboost", "sklearn"]})


def test_account_ids_are_checked_when_multi_account_is_on():
    with pytest.raises(validation.InvalidAnswer, match="exactly 12 digits"):
        answers = context("build-train", multi_account="yes", staging_account_id="12", prod_account_id="1" * 12)
        pre_gen.validate("build-train", answers, bakery.template_dir("build-train"))


def test_region_list_only_names_regions_botocore_knows():
    import boto3

    known = set(boto3.session.Session().get_available_regions("sagemaker"))
    assert set(validation.REGIONS) <= known


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
@pytest.mark.parametrize("template", sorted(path.name for path in bakery.TEMPLATES.iterdir() if path.is_dir()))
def test_rendered_hooks_are_valid_python_that_receives_answers_as_data(template, hook, tmp_path):
    """Render the hook the way cookiecutter does, with an injection attempt in an answer, and
    check the answer arrives as data: the rendered file compiles and never executes it."""
    source = (bakery.template_dir(template) / "hooks" / hook).read_text()
    answers = context(template, project_name="x'''; import os; os._exit(0) #")
    raw = {key: value for key, value in answers.items() if not key.startswith("_")}
    rendered = StrictEnvironment().from_string(source).render(cookiecutter=answers, _cookiecutter=raw)
    compile(rendered, hook, "exec")
    if hook == "pre_gen_project.py":
        script = tmp_path / hook
        script.write_text(rendered)
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 1
        assert "project_name" in result.stderr and "is not allowed" in result.stderr


def test_tool_caches_copied_from_a_checkout_are_removed(tmp_path):
    from hooks import post_gen

    for cache in ("__pycache__", "algorithms/.ruff_cache/0.17", "x/.pytest_cache"):
        (tmp_path / cache).mkdir(parents=True)
        (tmp_path / cache / "blob").write_bytes(b"\x8e\x00")
    (tmp_path / "algorithms" / "kept.py").write_text("x = 1\n")
    post_gen.remove_caches(tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file()) == [
        "algorithms/kept.py"
    ]


def test_templates_copy_tool_caches_raw_so_binary_files_cannot_break_a_bake():
    for name in ("build-train", "deploy"):
        for relative in ("__pycache__/a.pyc", "algorithms/.ruff_cache/0.17/blob", ".pytest_cache/v/x"):
            assert bakery.copied_verbatim(name, relative), (name, relative)


# --- answers holding template syntax ----------------------------------------------------------

TEMPLATE_SYNTAX = {
    "expression": ("project_name", "x{{7*7}}"),
    "statement": ("project_name", "x{% if true %}y{% endif %}"),
    "comment": ("project_name", "x{# note #}"),
    "in the id": ("project_id", "p-{{ 1 }}"),
}


@pytest.mark.parametrize("template", ["build-train", "deploy"])
@pytest.mark.parametrize("key,value", TEMPLATE_SYNTAX.values(), ids=TEMPLATE_SYNTAX.keys())
def test_answers_holding_template_syntax_are_refused_before_anything_is_written(cookies, capfd, template, key, value):
    """cookiecutter renders extra-context answers before any hook runs (`x{{7*7}}` would bake as
    `x49`); the hook checks the answers as given and refuses them with the usual line."""
    result = cookies.bake(extra_context={key: value}, template=str(bakery.template_dir(template)))
    assert result.exit_code != 0 and result.project_path is None
    refused = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert refused == [
        f"error: {key} {value!r} is not allowed: answers are plain text, and template syntax "
        "('{{', '{%', '{#') would be evaluated by cookiecutter"
    ]
    leftovers = [path for path in cookies._output_factory("check").dirpath().listdir() if path.listdir()]
    assert [str(path) for path in leftovers if path.basename.startswith("bake")] == []


def test_the_template_syntax_check_reads_lists_and_leaves_private_keys_alone():
    validation.check_no_template_syntax({"__repo_dir": "{{ cookiecutter.project_name }}-x", "region": "us-east-1"})
    with pytest.raises(validation.InvalidAnswer, match="framework '{%raw%}' is not allowed"):
        validation.check_no_template_syntax({"framework": ["{%raw%}", "xgboost"]})
    with pytest.raises(validation.InvalidAnswer, match="staging_account_id"):
        validation.check_no_template_syntax({"staging_account_id": "{#"})


def test_an_update_refuses_recorded_answers_holding_template_syntax(tmp_path):
    from mlops_template_kit import update as template_update

    record = {"template": "https://example.com/t.git", "context": {"cookiecutter": {"project_name": "x{{7*7}}"}}}
    (tmp_path / template_update.RECORD).write_text(json.dumps(record))
    with pytest.raises(template_update.UpdateError, match=r"answer project_name 'x\{\{7\*7\}\}' holds template"):
        template_update.read_record(tmp_path)


# --- options that do not apply ------------------------------------------------------------------


def test_account_ids_are_accepted_empty_and_not_checked_when_multi_account_is_off():
    for ids in ("", "not-an-id"):
        answers = context("deploy", multi_account="no", staging_account_id=ids, prod_account_id=ids)
        pre_gen.validate("deploy", answers, bakery.template_dir("deploy"))
        assert options.effective("deploy", answers)["staging_account_id"] == ""


@pytest.mark.parametrize("key", pre_gen.ACCOUNT_KEYS)
def test_an_empty_account_id_is_refused_when_multi_account_is_on(key, cookies, capfd):
    given = {"multi_account": "yes", "staging_account_id": "111111111111", "prod_account_id": "222222222222"}
    result = cookies.bake(extra_context=given | {key: ""}, template=str(bakery.template_dir("deploy")))
    assert result.exit_code != 0 and result.project_path is None
    refused = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert refused == [f"error: {key} '' is not an AWS account id: use exactly 12 digits"]


def test_batch_with_the_default_api_gateway_is_accepted_and_generated_without_one():
    answers = context("deploy", inference_mode="batch")
    assert answers["api_gateway"] == "yes", "the default must be the case the issue hit"
    pre_gen.validate("deploy", answers, bakery.template_dir("deploy"))
    assert options.effective("deploy", answers)["api_gateway"] == "no"
    assert "app_infra/api_gateway" in options.pruned_paths("deploy", answers)


def test_an_option_that_does_not_apply_must_still_be_one_of_its_choices():
    """A typo stays a typo: batch ignores api_gateway's answer, not a value no template offers."""
    answers = context("deploy", inference_mode="batch", api_gateway="maybe")
    with pytest.raises(validation.InvalidAnswer, match="api_gateway 'maybe' is not allowed; choose one of: yes, no"):
        pre_gen.validate("deploy", answers, bakery.template_dir("deploy"))


def test_questions_apply_by_the_answers_before_them():
    assert not options.applies("deploy", "api_gateway", {"inference_mode": "batch"})
    assert options.applies("deploy", "api_gateway", {"inference_mode": "both"})
    assert not options.applies("deploy", "prod_account_id", {"multi_account": "no"})
    assert options.applies("deploy", "prod_account_id", {"multi_account": "yes"})
    assert options.applies("build-train", "framework", {})


@pytest.mark.parametrize("template", ["build-train", "deploy"])
def test_every_ignoring_rule_is_decided_by_questions_asked_before_the_ones_it_skips(template):
    """`make new` asks in cookiecutter.json order and skips a question that does not apply, so a
    rule's condition must be answered before any option it ignores."""
    assert ignoring_rules_out_of_order(template, options.IGNORED[template]) == []


def test_the_order_check_names_a_rule_that_depends_on_a_later_question():
    backwards = options.Ignored({"multi_account": "yes"}, {"problem_type": "regression"}, "made up")
    assert ignoring_rules_out_of_order("deploy", [backwards]) == [("multi_account", "problem_type")]


def ignoring_rules_out_of_order(template: str, rules: list) -> list[tuple[str, str]]:
    order = list(json.loads((bakery.template_dir(template) / "cookiecutter.json").read_text()))
    return [
        (condition, skipped)
        for rule in rules
        for condition in rule.when
        for skipped in rule.effective
        if order.index(condition) > order.index(skipped)
    ]
