"""Every product evaluated at every parameter combination into one ledger, and the denials of one
product: the shape shared by the launch-role tests of Create/Delete project
(test_authz_products.py) and of Update project (test_authz_update.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from authz.check import Ledger

Evaluation = tuple[Ledger, dict[str, int]]


def evaluated_fixture(check: Callable[[Ledger], dict[str, int]]):
    """A module-scoped fixture evaluating every product once with `check` (which returns the
    number of parameter combinations per product key); distinct questions are decided once."""

    @pytest.fixture(scope="module")
    def evaluated() -> Evaluation:
        ledger = Ledger()
        return ledger, check(ledger)

    return evaluated


def product_denials(evaluation: Evaluation, key: str) -> list[str]:
    """The denial lines of product `key`, once it is known to be evaluated at several combinations
    (one combination would mean the parameters were not varied at all)."""
    ledger, combinations = evaluation
    assert combinations[key] > 1, f"{key} was evaluated at {combinations[key]} combination(s)"
    return [denial.line() for denial in ledger.denials() if any(p.startswith(f"{key} ") for p in denial.where)]
