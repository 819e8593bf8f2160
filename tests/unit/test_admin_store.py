"""The in-memory FakeStore and SqlStore both implement every method of the Store protocol, alike."""

from __future__ import annotations

import inspect

import pytest

from core.storage.protocol import Store
from core.storage.sql_store import SqlStore
from tests.unit.fakes import FakeStore

METHODS = sorted(
    name
    for name, member in vars(Store).items()
    if inspect.iscoroutinefunction(member) and not name.startswith("_")
)


def _parameters(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("implementation", [FakeStore, SqlStore], ids=["fake", "sql"])
def test_implements_the_protocol_method(implementation: type, name: str) -> None:
    method = getattr(implementation, name)
    assert inspect.iscoroutinefunction(method)
    assert _parameters(method) == _parameters(getattr(Store, name))


def test_the_admin_methods_are_part_of_the_protocol() -> None:
    assert {
        "get_limits",
        "community_limits",
        "set_limit",
        "blocks_of",
        "set_block",
        "add_bonus",
        "reset_usage",
        "audit_log",
        "job_activity",
    } <= set(METHODS)
