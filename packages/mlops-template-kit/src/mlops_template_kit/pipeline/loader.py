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
    keeps the models it has read (botocore.loaders.instance_cache)."""
    import botocore.session

    original = botocore.session.create_loader
    botocore.session.create_loader = functools.cache(original)
    try:
        yield
    finally:
        botocore.session.create_loader = original
