"""Every generated README describes the repository it sits in: each repo path it names in backticks
exists in that bake, each `make <target>` it names is a target of that bake's Makefile, and a
variant's README leaves out what the variant lacks. Runs on every supported combination, on the
run's shared bakes (tests/test_bake.py makes the same ones), so it adds no bake to `make test`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hooks import options
from tests import bakery

TEMPLATES = ("build-train", "deploy")
SUPPORTED = [
    pytest.param(name, combo, id=f"{name}:{bakery.combo_id(combo)}")
    for name in TEMPLATES
    for combo in bakery.supported(name)
]

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
MAKE_COMMAND = re.compile(r"(?:^|\s)make ([a-z][a-z0-9_-]*)")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9_-]+)\s*:(?!=)", re.MULTILINE)
INCLUDE = re.compile(r"^include\s+(\S+)", re.MULTILINE)
CD_SIBLING = re.compile(r"^\s*cd \.\./([^/\s]+)")
# A span that is a single path-like word: placeholders, globs, URIs and commands are not paths.
PATH_LIKE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")
EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")


def template_entries(name: str) -> set[str]:
    """Every file and folder the template can generate (any variant), relative to the repo root."""
    files = bakery.relative_files(bakery.payload_dir(name)) | {options.RECORD_FILE}
    return files | {parent.as_posix() for path in files for parent in Path(path).parents if parent != Path(".")}


def repo_entries(project: Path) -> set[str]:
    files = bakery.relative_files(project)
    return files | {parent.as_posix() for path in files for parent in Path(path).parents if parent != Path(".")}


def named_paths(text: str) -> list[str]:
    """Inline code spans outside fenced blocks that look like a path: with a slash or an extension."""
    spans = INLINE_CODE.findall(FENCE.sub("", text))
    return [span for span in spans if PATH_LIKE.match(span) and ("/" in span or EXTENSION.search(span))]


def make_targets_named(text: str, repo_name: str) -> set[str]:
    """`make <target>` in inline code and in fenced blocks (prose may say "make" as a word). In a
    block, the commands after `cd ../<another repo>` are that repo's, until `cd ../<this repo>`."""
    code = INLINE_CODE.findall(FENCE.sub("", text)) + [
        line for block in FENCE.findall(text) for line in lines_run_here(block, repo_name)
    ]
    return {target for snippet in code for target in MAKE_COMMAND.findall(snippet)}


def lines_run_here(block: str, repo_name: str) -> list[str]:
    here, kept = True, []
    for line in block.splitlines():
        moved = CD_SIBLING.match(line)
        if moved:
            here = moved.group(1) == repo_name
        elif here:
            kept.append(line)
    return kept


def makefile_targets(project: Path) -> set[str]:
    """Targets of the Makefile and of the files it includes."""
    found: set[str] = set()
    pending = [project / "Makefile"]
    while pending:
        text = pending.pop().read_text(encoding="utf-8")
        found |= set(MAKE_TARGET.findall(text))
        pending += [project / included for included in INCLUDE.findall(text)]
    return found


def names_a_missing_path(path: str, folder: Path, possible: set[str], present: set[str]) -> bool:
    """Whether `path`, named in a README in `folder`, is a path of the repo that this variant lacks."""
    candidates = [(folder / path).as_posix(), path] if folder != Path(".") else [path]
    if "/" not in path:  # a bare name: the repo's when some variant holds an entry of that name
        named = [entry for entry in possible if Path(entry).name == path]
        return bool(named) and not any(Path(entry).name == path for entry in present)
    # A path is the repo's when the template can generate it, or when it starts at one of the repo's
    # top-level entries (so a misspelt `ml_pipelines/...` counts; an output folder such as build/ or
    # a bundle's code/ does not); a repo path must exist in this variant.
    if not (path.split("/")[0] in possible or any(candidate in possible for candidate in candidates)):
        return False
    return not any(candidate in present for candidate in candidates)


def readme_problems(project: Path, readme: str, template: str) -> list[str]:
    """What `readme` (relative to the bake `project`) names that the bake does not hold."""
    text = (project / readme).read_text(encoding="utf-8")
    possible, present = template_entries(template), repo_entries(project)
    problems = [
        f"{readme} names `{span}`, which this repository does not hold"
        for span in named_paths(text)
        if names_a_missing_path(span.rstrip("/"), Path(readme).parent, possible, present)
    ]
    for target in sorted(make_targets_named(text, project.name) - makefile_targets(project)):
        problems.append(f"{readme} names `make {target}`, which the Makefile does not have")
    return problems


def readmes(project: Path) -> list[str]:
    return sorted(path for path in bakery.relative_files(project) if Path(path).name == "README.md")


def effective(combo: dict[str, str]) -> dict[str, bool]:
    """What a deploy variant holds: batch-only repositories have no endpoint, hence no API."""
    endpoint = combo["inference_mode"] != "batch"
    return {
        "endpoint": endpoint,
        "batch": combo["inference_mode"] != "realtime",
        "api": endpoint and combo["api_gateway"] == "yes",
    }


# Words a deploy README may use only when the variant holds the thing they describe.
ABSENT_WORDS = {
    "endpoint": ["stress", "blue/green", "canary", "autoscaling", "latency table", "data-capture"],
    "api": ["API Gateway", "REST API", "Lambda handler", "lambda/", "api_gateway/", "SigV4-signed"],
    "batch": ["batch inference", "batch pipeline", "batch_inference", "batch schedule", "batch bucket"],
}
# Rows about more than this repository: the answers it was generated with, the permissions table
# of the account-wide stage access (which creates every runtime role whatever the variant), and the
# `tests` section every stage configuration holds.
DESCRIBES_EVERY_VARIANT = re.compile(
    r"^\| (inference mode|REST API in front of the endpoint|`\.\.\.-\w[\w-]*`|`tests`) \|.*$", re.MULTILINE
)


def absent_words(project: Path, combo: dict[str, str]) -> list[str]:
    held = effective(combo)
    found = []
    for readme in readmes(project):
        text = DESCRIBES_EVERY_VARIANT.sub("", (project / readme).read_text(encoding="utf-8"))
        for part, words in ABSENT_WORDS.items():
            if held[part]:
                continue
            found += [f"{readme} mentions {word!r} without {part}" for word in words if word.lower() in text.lower()]
    return found


@pytest.mark.parametrize("name,combo", SUPPORTED)
def test_every_readme_names_only_paths_and_make_targets_the_repo_has(baked, name, combo):
    project = baked(name, bakery.answers_for(combo))
    problems = [problem for readme in readmes(project) for problem in readme_problems(project, readme, name)]
    assert problems == []


@pytest.mark.parametrize("name,combo", [param for param in SUPPORTED if param.values[0] == "deploy"])
def test_a_deploy_readme_leaves_out_what_the_variant_lacks(baked, name, combo):
    assert absent_words(baked(name, bakery.answers_for(combo)), combo) == []


def test_the_checker_finds_a_path_and_a_make_target_the_repo_lacks(baked, tmp_path):
    """A batch repository whose README still lists the endpoint and a target its Makefile lacks."""
    batch = {"inference_mode": "batch", "api_gateway": "no"}
    project = bakery.private_copy(baked("deploy", batch), tmp_path)
    readme = project / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8")
        + "\nThe model is served by `app_infra/endpoint/endpoint.yaml` (see `endpoint/`), tested by "
        "`make stress`; `build/model_package.json` and `code/inference.py` are outputs, not repo paths.\n",
        encoding="utf-8",
    )
    (project / "tests" / "README.md").write_text("Run `stress_test/` with `make test-local`.\n", encoding="utf-8")
    problems = readme_problems(project, "README.md", "deploy") + readme_problems(project, "tests/README.md", "deploy")
    assert problems == [
        "README.md names `app_infra/endpoint/endpoint.yaml`, which this repository does not hold",
        "README.md names `endpoint/`, which this repository does not hold",
        "README.md names `make stress`, which the Makefile does not have",
        "tests/README.md names `stress_test/`, which this repository does not hold",
    ]
    assert absent_words(project, batch) == [
        "README.md mentions 'stress' without endpoint",
        "tests/README.md mentions 'stress' without endpoint",
    ]


def test_the_checker_finds_a_misspelt_path_of_the_repo(baked, tmp_path):
    project = bakery.private_copy(baked("build-train", {}), tmp_path)
    (project / "README.md").write_text("Edit `ml_pipelines/training/inputs.json` and `input.json`.\n")
    assert readme_problems(project, "README.md", "build-train") == [
        "README.md names `ml_pipelines/training/inputs.json`, which this repository does not hold"
    ]
