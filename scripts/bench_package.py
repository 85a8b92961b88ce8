"""Benchmark of `make package`: wall time of a whole packaging run (every variant baked and
zipped, products composed, manifest written) and the size of the release it produces.

`python -m scripts.bench_package` prints the figures; `bench_packaging()` returns them for
`make bench`. Set BENCH_RUNS to change the run count. Target: at most 30 s on 2 cores.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from scripts import catalog, package
from scripts.timing import Figure, repeat, time_command

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BENCH_VERSION = "0.0.0-bench"


def bench_packaging() -> list[Figure]:
    """Median wall time of `python -m scripts.package` and the release's total size in MB."""
    with tempfile.TemporaryDirectory() as scratch:
        dist = Path(scratch)
        command = [sys.executable, "-m", "scripts.package", "--version", BENCH_VERSION, "--dist", str(dist)]
        timing = repeat(
            f"package all {len(catalog.all_variants())} variants + {len(catalog.products())} products",
            lambda: time_command(command, catalog.REPO_ROOT),
            RUNS,
        )
        manifest = package.load_manifest(dist / BENCH_VERSION)
        total = sum(record["size"] for record in manifest["artifacts"]) / 1e6
    return [timing, Figure(f"release size ({len(manifest['artifacts'])} artifacts)", [total], unit="MB")]


def main() -> int:
    """Print the packaging figures."""
    for figure in bench_packaging():
        print(figure.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
