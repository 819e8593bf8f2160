"""Every admin command x member/admin/owner x community/private, on the in-memory store."""

from __future__ import annotations

import pytest

from tests.unit.admin_matrix import CASES, PLACES, ROLES, Case, new_world, run_case


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_permission_matrix(case: Case, role: str, place: str) -> None:
    async with new_world() as w:
        await run_case(w, case, role, place)


def test_matrix_covers_every_admin_command() -> None:
    from core.admin import ADMIN_COMMANDS

    assert {case.name for case in CASES} == ADMIN_COMMANDS
