"""One botocore data loader for the whole process (botocore only, no SDK).

Building a definition makes many sessions: the SDK creates clients when some of its modules are
imported (its AI registry module, for one), a boto3 session for the pipeline session, another for
each processing step's throwaway local session, and its image URI lookup makes a loader of its
own for the endpoints file. Each new loader parsed the multi-megabyte SageMaker service model
again: about a fifth of a build, and most of a process that builds many definitions (the
template's data-layout check). A test session makes a fresh session per test, one per moto, with
the same cost (mlops_template_kit.testing).

botocore's sessions look up `create_loader` in their own module when they first need a loader, the
SDK calls it through botocore.loaders, and a loader keeps what it has read
(botocore.loaders.instance_cache). Its contents are botocore's own data files, the same for every
session, so sharing one changes nothing but the time.
"""

from __future__ import annotations

import functools


def share_for_the_process() -> None:
    """From now on every botocore session of this process shares one loader (calling it again
    changes nothing)."""
    import botocore.loaders
    import botocore.session

    for module in (botocore.session, botocore.loaders):
        if not getattr(module.create_loader, "shared", False):
            module.create_loader = _shared_loader(module.create_loader)


@functools.cache
def _shared_loader(create_loader):
    """The caching stand-in for botocore's `create_loader` (the same one for both of its names)."""
    loaders = functools.cache(create_loader)

    def cached(search_path_string=None):  # botocore.session passes None, the SDK passes nothing
        return loaders(search_path_string)

    cached.shared = True
    return cached
