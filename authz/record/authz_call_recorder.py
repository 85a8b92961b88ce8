"""Append one JSON line per botocore API call to $AUTHZ_CALL_LOG/<role>-<pid>.jsonl.

Kept free of imports from the monorepo: it runs inside generated repositories, pipeline step
subprocesses and the lifecycle function's tests, where only this folder is on sys.path.

The hook is botocore's `before-parameter-build` event: it sees the operation model and the
caller's final parameters (after `provide-client-params` handlers) before serialization
(botocore/client.py, BaseClient._emit_api_params).
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
import sysconfig
import threading

ROLE_VARIABLE = "AUTHZ_ROLE"
LOG_VARIABLE = "AUTHZ_CALL_LOG"
HANDLER_ID = "authz-call-recorder"
# Parameter values kept in the log: those that name a resource; every other value is dropped.
# Compared case-insensitively: CodeBuild's parameters are camelCase (`projectName`, `ids`).
IDENTIFYING_SUFFIXES = ("name", "names", "arn", "arns", "id", "ids", "bucket", "key", "prefix", "status", "type")
MAX_VALUE = 512
MAX_FRAMES = 12
_LIBRARY_ROOTS = tuple(
    {
        os.path.realpath(path) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_path(key))
    }
)
_origin = threading.local()


def _is_library(filename: str) -> bool:
    if filename.startswith("<") or filename == __file__:
        return True
    real = os.path.realpath(filename)
    # The platform kit is product code wherever it is installed (a wheel lands in site-packages):
    # calls from it are attributed by its own paths (authz/calls.py ROLE_RULES).
    if f"{os.sep}mlops_template_kit{os.sep}" in real:
        return False
    return real.startswith(_LIBRARY_ROOTS) or f"{os.sep}site-packages{os.sep}" in real


def product_frames(frame=None) -> list[str]:
    """`path:line:function` of the non-library frames of the stack, innermost first."""
    frame = frame or sys._getframe(1)
    found = []
    while frame is not None and len(found) < MAX_FRAMES:
        code = frame.f_code
        if not _is_library(code.co_filename):
            found.append(f"{os.path.realpath(code.co_filename)}:{frame.f_lineno}:{code.co_name}")
        frame = frame.f_back
    # A worker thread (s3transfer's uploads) has no product frame: use its submitter's stack.
    return found or list(getattr(_origin, "frames", []))


def summarize(params: dict) -> dict:
    """Parameter names; values only for those that identify a resource, plus tags and deleted keys."""
    summary = {}
    for name, value in params.items():
        if name == "Tags" and isinstance(value, list):
            summary[name] = [
                {"Key": tag.get("Key"), "Value": tag.get("Value")} for tag in value if isinstance(tag, dict)
            ]
        elif name == "Delete" and isinstance(value, dict):
            objects = [item for item in value.get("Objects", []) if isinstance(item, dict)]
            summary[name] = {"Objects": [{k: item[k] for k in ("Key", "VersionId") if k in item} for item in objects]}
        elif name.lower().endswith(IDENTIFYING_SUFFIXES) and _short(value):
            summary[name] = value
        else:
            summary[name] = None
    return summary


def _short(value) -> bool:
    """A name or a list of names (not a document)."""
    if isinstance(value, list):
        return len(value) <= 100 and all(_short(item) for item in value if not isinstance(item, list))
    return isinstance(value, str) and len(value) <= MAX_VALUE


def record(params, model, context=None, **kwargs) -> None:
    """botocore handler: one JSON line for this call."""
    directory = os.environ.get(LOG_VARIABLE)
    role = os.environ.get(ROLE_VARIABLE)
    if not directory or not role:
        return
    frames = product_frames()
    line = {
        "role": role,
        "service": model.service_model.signing_name,
        "service_id": model.service_model.service_id.hyphenize(),
        "operation": model.name,
        "params": summarize(params),
        "region": (context or {}).get("client_region"),
        "source": frames[0] if frames else None,
        "stack": frames,
        "pid": os.getpid(),
    }
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{role}-{os.getpid()}.jsonl"), "a", encoding="utf-8") as log:
        log.write(json.dumps(line, sort_keys=True) + "\n")


def register(session) -> None:
    """Hook one botocore session (clients copy its handlers when they are created)."""
    session.register("before-parameter-build", record, unique_id=HANDLER_ID)


def _patch_botocore(module) -> None:
    original = module.Session.__init__
    if getattr(original, "_authz_recorder", False):
        return

    def __init__(self, *args, **kwargs):  # noqa: N807 - wraps Session.__init__
        original(self, *args, **kwargs)
        register(self)

    __init__._authz_recorder = True
    module.Session.__init__ = __init__


def _patch_executor(module) -> None:
    """Let a worker thread know which product code submitted its task (s3transfer uses these)."""
    original = module.ThreadPoolExecutor.submit
    if getattr(original, "_authz_recorder", False):
        return

    def submit(self, fn, /, *args, **kwargs):
        frames = product_frames()

        def run(*inner_args, **inner_kwargs):
            saved = getattr(_origin, "frames", [])
            _origin.frames = frames
            try:
                return fn(*inner_args, **inner_kwargs)
            finally:
                _origin.frames = saved

        return original(self, run, *args, **kwargs)

    submit._authz_recorder = True
    module.ThreadPoolExecutor.submit = submit


_PATCHES = {"botocore.session": _patch_botocore, "concurrent.futures.thread": _patch_executor}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a module right after its first import, so processes that never use boto pay nothing."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util

            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, patch = spec.loader, _PATCHES[fullname]
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


def install_on_import() -> None:
    """Patch now what is imported already, the rest when it is imported."""
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
