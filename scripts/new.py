"""`make new`: create a repository from a template on this machine.

Asks the template's questions in its cookiecutter.json order (at a terminal), checks each answer
as it is typed with the pre-generation hook's own checks, and skips the questions that do not
apply to the answers before them (hooks/options.py). Then generates with cookiecutter's Python
API and no prompts of its own. Every refusal is one `error: ` line on stderr, a non-zero exit and
nothing written: cookiecutter's exceptions, its log and what its hooks print are caught here,
where the plain `cookiecutter` command shows them (README.md says what it prints).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import CookiecutterException
from cookiecutter.main import cookiecutter
from jinja2 import TemplateError

from hooks import options, pre_gen
from hooks.validation import InvalidAnswer

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = REPO_ROOT / "templates"
# Exit status of a refusal, and of an interrupted session (128 + SIGINT, as a shell reports it).
REFUSED = 1
INTERRUPTED = 130


class Refused(Exception):
    """Generation must not happen; the message (one line) says what is wrong and what is allowed."""


# --- the template's questions -------------------------------------------------------------------


def template_names() -> list[str]:
    """Templates this checkout holds (a folder under templates/ with a cookiecutter.json)."""
    return sorted(path.parent.name for path in TEMPLATES_DIR.glob("*/cookiecutter.json"))


def declared(template: str) -> dict:
    """A template's cookiecutter.json: questions in order, defaults, `__prompts__`."""
    if not template:
        raise Refused(f"no template chosen: set TEMPLATE to one of: {', '.join(template_names())}")
    if template not in template_names():
        raise Refused(f"template {template!r} does not exist; choose one of: {', '.join(template_names())}")
    return json.loads((TEMPLATES_DIR / template / "cookiecutter.json").read_text(encoding="utf-8"))


def questions(spec: Mapping[str, object]) -> list[str]:
    """The keys cookiecutter would ask, in its order (private `_` keys are never asked)."""
    return [key for key in spec if not key.startswith("_")]


def defaults(spec: Mapping[str, object]) -> dict[str, str]:
    """Each question's default: a choice's first value, else the declared text."""
    return {
        key: (value[0] if isinstance(value, list) else str(value))
        for key, value in spec.items()
        if key in questions(spec)
    }


def choices(spec: Mapping[str, object]) -> dict[str, list]:
    """The choice (list-valued) questions and their values."""
    return {key: value for key, value in spec.items() if key in questions(spec) and isinstance(value, list)}


def parse_answers(text: str, spec: Mapping[str, object], template: str) -> dict[str, str]:
    """ANSWERS="key=value ...": whitespace-separated pairs, each key one of the template's questions."""
    given = {}
    for item in text.split():
        key, sign, value = item.partition("=")
        if not sign or not key:
            raise Refused(f'answer {item!r} is not key=value; write ANSWERS="project_name=churn region=eu-west-1"')
        if key not in questions(spec):
            raise Refused(f"{template} has no option {key!r}; its options: {', '.join(questions(spec))}")
        given[key] = value
    return given


def check(template: str, key: str, value: str, answers: Mapping[str, str], spec: Mapping[str, object]) -> None:
    """The hook's check of one answer, as a refusal."""
    try:
        pre_gen.check_answer(template, key, value, answers, choices(spec))
    except InvalidAnswer as problem:
        raise Refused(str(problem)) from None


# --- asking at a terminal -----------------------------------------------------------------------


def ask(template: str, spec: Mapping, given: Mapping[str, str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> dict:
    """Ask every question not answered in `given` and applying to the answers before it; a bad
    answer is refused at once in one line and asked again. Returns the answers given or typed."""
    answers = dict(given)
    for key in questions(spec):
        if key in answers or not options.applies(template, key, answers):
            continue
        while True:
            value = read_answer(key, spec, stdin, stdout)
            try:
                check(template, key, value, answers | {key: value}, spec)
            except Refused as problem:
                print(f"error: {problem}", file=stderr, flush=True)
                continue
            answers[key] = value
            break
    return answers


def read_answer(key: str, spec: Mapping, stdin: TextIO, stdout: TextIO) -> str:
    """One typed answer; Enter takes the default, a number picks a choice."""
    prompt = spec.get("__prompts__", {}).get(key, key)
    default = defaults(spec)[key]
    values = spec[key] if isinstance(spec[key], list) else None
    if values:
        listed = "\n".join(f"  {number}) {value}" for number, value in enumerate(values, start=1))
        stdout.write(f"{key}: {prompt}\n{listed}\nChoose 1-{len(values)} [1]: ")
    else:
        stdout.write(f"{key}: {prompt}" + (f" [{default}]: " if default else ": "))
    stdout.flush()
    line = stdin.readline()
    if not line:
        raise Refused(f"input ended before {key} was answered; nothing was written")
    typed = line.strip()
    if not typed:
        return default
    if values and typed.isdigit() and 1 <= int(typed) <= len(values):
        return values[int(typed) - 1]
    return typed


# --- generating ---------------------------------------------------------------------------------


def project_folder(spec: Mapping, answers: Mapping[str, str], output: Path) -> Path:
    """Where cookiecutter will write the repo: its `__repo_dir`, rendered as cookiecutter does."""
    name = StrictEnvironment().from_string(str(spec["__repo_dir"])).render(cookiecutter=answers)
    return output / name


@contextmanager
def stderr_into(sink: BinaryIO) -> Iterator[None]:
    """Send file descriptor 2 into `sink`, so what cookiecutter's hook processes print is caught too."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def failure_line(problem: Exception, printed: str) -> str:
    """One line for a failed generation: the line our hook printed, else the last thing printed
    (a crashed hook's exception), else cookiecutter's own message."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    ours = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    if ours:
        return ours[0]
    first = (str(problem).strip().splitlines() or [type(problem).__name__])[0]
    return f"{first}: {lines[-1]}" if lines else first


def remove_partial(project: Path, made_output: Path | None) -> None:
    """Remove what a failed generation left (cookiecutter removes it only when a hook fails)."""
    shutil.rmtree(project, ignore_errors=True)
    if made_output is not None:
        shutil.rmtree(made_output, ignore_errors=True)


def generate(template: str, answers: Mapping[str, str], output: Path) -> Path:
    """Run cookiecutter without prompts; on any failure remove what it wrote and refuse."""
    spec = declared(template)
    target = project_folder(spec, answers, output)
    if target.exists():
        raise Refused(f"{target} already exists: choose another OUTPUT or project_name (nothing was written)")
    if output.exists() and not output.is_dir():
        raise Refused(f"OUTPUT {output} is a file: name a folder")
    # cookiecutter logs a failed hook (with a traceback) through logging's last-resort handler.
    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
    made_output = not output.exists()
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as printed:
        try:
            with stderr_into(printed):
                project = cookiecutter(
                    str(REPO_ROOT),
                    directory=f"templates/{template}",
                    no_input=True,
                    extra_context=dict(answers),
                    output_dir=str(output),
                    # No ~/.cookiecutterrc defaults, no replay file or clone left in the home folder.
                    default_config={"replay_dir": scratch, "cookiecutters_dir": scratch},
                )
        except (CookiecutterException, OSError, ValueError, TemplateError) as problem:
            remove_partial(target, output if made_output else None)
            printed.seek(0)
            raise Refused(failure_line(problem, printed.read().decode(errors="replace"))) from None
        except KeyboardInterrupt:
            remove_partial(target, output if made_output else None)
            raise
        printed.seek(0)
        sys.stderr.write(printed.read().decode(errors="replace"))
    return Path(project)


def collect(template: str, given_text: str, interactive: bool) -> dict[str, str]:
    """Every answer, checked: ANSWERS first, then (at a terminal) the questions still open."""
    spec = declared(template)
    given = parse_answers(given_text, spec, template)
    for key, value in given.items():
        check(template, key, value, defaults(spec) | given, spec)
    if interactive:
        given = ask(template, spec, given, sys.stdin, sys.stdout, sys.stderr)
    answers = options.effective(template, defaults(spec) | given)
    try:
        pre_gen.validate(template, answers, TEMPLATES_DIR / template, raw=given)
    except InvalidAnswer as problem:
        raise Refused(str(problem)) from None
    return {key: str(value) for key, value in answers.items()}


def next_steps(project: Path) -> str:
    """Where the repo is and the two commands to start with."""
    shown = os.path.relpath(project) if project.resolve().is_relative_to(Path.cwd()) else str(project)
    return f"created {shown}\nnext:\n  cd {shlex.quote(shown)} && make setup\n  make help"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error: ` line like every other refusal."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see python -m scripts.new --help\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m scripts.new", description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True, help="build-train or deploy")
    parser.add_argument("--output", default=".", help="folder to create the repo in (default: here)")
    parser.add_argument("--answers", default="", help='"key=value ..." answered up front')
    parser.add_argument("--no-input", action="store_true", help="ask nothing: defaults for what is not answered")
    args = parser.parse_args(argv)
    interactive = sys.stdin.isatty() and not args.no_input
    try:
        answers = collect(args.template, args.answers, interactive)
        project = generate(args.template, answers, Path(args.output))
    except Refused as problem:
        print(f"error: {problem}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        print(flush=True)  # end the prompt line the interrupt cut short
        print("error: interrupted; nothing was written", file=sys.stderr)
        return INTERRUPTED
    print(next_steps(project))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
