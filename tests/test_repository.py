"""The monorepo keeps its promises: registry tied to folders, pins in step, nothing generated."""

import json
import re
import subprocess

from tests import bakery

JUNK = re.compile(
    r"(^|/)(__pycache__|\.ipynb_checkpoints|\.venv|node_modules|\.pytest_cache|\.ruff_cache)/|\.pyc$|\.zip$|\.whl$"
)


# The one unpinned requirement: the monorepo installs its own kit editable from the checkout.
KIT_EDITABLE = "-e ./packages/mlops-template-kit"


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line != KIT_EDITABLE:
            name, _, version = line.partition("==")
            assert version, f"{path}: {line!r} is not pinned with =="
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_the_root_requirements_install_the_kit_from_the_checkout():
    lines = [line.strip() for line in (bakery.REPO_ROOT / "requirements.txt").read_text().splitlines()]
    assert KIT_EDITABLE in lines


def test_pins_refuse_an_unpinned_requirement(tmp_path):
    loose = tmp_path / "requirements.txt"
    loose.write_text("boto3==1.44.5\n-e ./somewhere-else\n")
    try:
        pins(loose)
    except AssertionError as refused:
        assert "not pinned" in str(refused)
    else:
        raise AssertionError("an unpinned line was accepted")


def test_template_menu_matches_the_template_folders():
    menu = json.loads((bakery.REPO_ROOT / "cookiecutter.json").read_text())["templates"]
    folders = {path.name for path in bakery.TEMPLATES.iterdir() if path.is_dir()}
    assert set(menu) == folders
    for name, entry in menu.items():
        assert entry["path"] == f"./templates/{name}"
        assert (bakery.template_dir(name) / "cookiecutter.json").is_file()
        assert (bakery.template_dir(name) / "hooks" / "pre_gen_project.py").is_file()


def test_generated_repos_pin_the_same_versions_as_the_monorepo():
    root = pins(bakery.REPO_ROOT / "requirements.txt")
    for name in json.loads((bakery.REPO_ROOT / "cookiecutter.json").read_text())["templates"]:
        generated = pins(bakery.payload_dir(name) / "requirements.txt")
        differing = {pkg: (version, root.get(pkg)) for pkg, version in generated.items() if root.get(pkg) != version}
        assert differing == {}, f"{name} pins differ from requirements.txt: {differing}"


def test_nothing_generated_or_vendored_is_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=bakery.REPO_ROOT, capture_output=True, text=True, check=True)
    assert [path for path in tracked.stdout.splitlines() if JUNK.search(path)] == []


def test_junk_pattern_catches_what_it_should():
    assert JUNK.search("templates/x/__pycache__/a.cpython-311.pyc")
    assert JUNK.search("dist/seed.zip")
    assert not JUNK.search("templates/build-train/hooks/pre_gen_project.py")


def test_readme_shows_the_two_commands_ci_runs():
    readme = (bakery.REPO_ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (bakery.REPO_ROOT / ".ci" / "run").read_text()


# One way to start a refusal, as argparse and git spell it: `error: ...` (or `<command>: error: ...`).
OTHER_ERROR_PREFIX = re.compile(r"""["'](ERROR|Error):""")


def error_prefix_problems(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if OTHER_ERROR_PREFIX.search(line)]


def test_every_refusal_starts_with_the_same_prefix():
    tracked = subprocess.run(["git", "ls-files"], cwd=bakery.REPO_ROOT, capture_output=True, text=True, check=True)
    sources = [
        path
        for path in tracked.stdout.splitlines()
        if path.endswith((".py", ".mk")) or path.rsplit("/", 1)[-1] == "Makefile"
    ]
    problems = {
        path: found
        for path in sources
        if (found := error_prefix_problems((bakery.REPO_ROOT / path).read_text(encoding="utf-8")))
    }
    assert not problems, f"use 'error: ' to start a refusal: {problems}"


def test_the_prefix_check_catches_the_other_spellings():
    shout, title = "ERROR", "Error"  # spelled apart so this file passes its own check
    sample = f'print(f"{shout}: {{x}}")\necho "{title}: no"\nprint("error: fine")\n'
    assert error_prefix_problems(sample) == [f'print(f"{shout}: {{x}}")', f'echo "{title}: no"']
