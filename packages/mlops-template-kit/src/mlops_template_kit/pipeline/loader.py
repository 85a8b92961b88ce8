"""One botocore data loader for every session a definition build makes (botocore only, no SDK)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator


@contextlib.contextmanager
def one_service_model_loader() -> Iterator[None]:
    """Every botocore session made in the block shares one data loader, so each service model is
    parsed once. Building a definition makes many sessions: the SDK creates clients when some of
    its modules are imported (its AI registry module, for one), a boto3 session for the pipeline
    session, and another for each processing step's throwaway local session; each new session
    parsed the multi-megabyte SageMaker service model again, about a fifth of a build. botocore's
    Session looks up `create_loader` in its own module when it first needs a loader, and a loader
    keeps the models it has read (botocore.loaders.instance_cache), here for the whole process."""
    import botocore.loaders
    import botocore.session

    # The SDK's image URI lookup makes a loader of its own for the endpoints file, through
    # botocore.loaders: both names of the one function are replaced.
    modules = (botocore.session, botocore.loaders)
    originals = [module.create_loader for module in modules]
    for module, original in zip(modules, originals, strict=True):
        module.create_loader = _shared_loader(original)
    try:
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            module.create_loader = original


def share_for_the_process() -> None:
    """From now on every botocore session of this process shares the one loader (a test session:
    mlops_template_kit.testing). Nothing is restored: meant for processes that only test."""
    import botocore.loaders
    import botocore.session

    for module in (botocore.session, botocore.loaders):
        if not getattr(module.create_loader, "shared", False):
            module.create_loader = _shared_loader(module.create_loader)


@functools.cache
def _shared_loader(create_loader):
    """One caching `create_loader` per process: a process that builds many definitions (the
    template's data-layout check builds every combination) parses each service model once, not
    once a build. The loader holds only botocore's data files, the same for every build."""

    loaders = functools.cache(create_loader)

    def cached(search_path_string=None):  # botocore.session passes None, the SDK passes nothing
        return loaders(search_path_string)

    cached.shared = True
    return cached
