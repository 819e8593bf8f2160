"""The admin permission matrix: every admin command x role x place, shared by the fake and the SQL store.

A case is run through ``ConversationEngine.handle`` with an ``AdminCommand`` (the way adapters
call it). Allowed commands answer with text (and /stats with a chart); refused ones answer with a
private error naming the refusal and change nothing; every allowed change writes one audit row.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from core import i18n
from core.actions import Action, SendChart, SendError, SendText, Text
from core.events import AdminCommand, Role
from core.identity import Platform, UserKey
from tests.unit.engine_world import World

OWNER = UserKey(Platform.CONSOLE, "boss")
TARGET = UserKey(Platform.CONSOLE, "t1")

OK = "ok"
NOT_ALLOWED = "admin_not_allowed"
OWNER_ONLY = "admin_owner_only"
IN_COMMUNITY = "admin_use_in_community"


@dataclass(frozen=True, slots=True)
class Case:
    """One admin command and what admins and owners get (members are always refused)."""

    name: str
    args: str
    target: bool
    admin_here: str  # a community admin, in their community
    owner_here: str  # a bot owner, in a community
    owner_private: str  # a bot owner, in a private chat
    changes: bool  # an allowed run writes an audit row

    @property
    def id(self) -> str:
        return "-".join(
            filter(None, [self.name, self.args.replace(" ", "_"), "target" if self.target else ""])
        )


CASES = [
    Case("limits", "", False, OK, OK, OK, False),
    Case("limits", "", True, OK, OK, OK, False),
    Case("setlimit", "community 50", False, OK, OK, IN_COMMUNITY, True),
    Case("setlimit", "members 5", False, OK, OK, IN_COMMUNITY, True),
    Case("setlimit", "member 3", True, OK, OK, IN_COMMUNITY, True),
    Case("setlimit", "4", True, OK, OK, OK, True),  # a member here; a personal quota in private
    Case("setlimit", "user 4", True, OWNER_ONLY, OK, OK, True),
    Case("setlimit", "global 100", False, OWNER_ONLY, OK, OK, True),
    Case("setlimit", "community off", False, OK, OK, IN_COMMUNITY, True),
    Case("grant", "2", True, OK, OK, OK, True),
    Case("take", "1", True, OK, OK, OK, True),
    Case("resetusage", "", True, OK, OK, OK, True),
    Case("resetusage", "community", False, OK, OK, IN_COMMUNITY, True),
    Case("resetusage", "global", False, OWNER_ONLY, OK, OK, True),
    Case("block", "", True, OK, OK, OK, True),  # in private: everywhere
    Case("block", "everywhere", True, OWNER_ONLY, OK, OK, True),
    Case("unblock", "", True, OK, OK, OK, False),  # nobody was blocked: nothing changes
    Case("audit", "", False, OK, OK, OK, False),
    Case("audit", "5", False, OK, OK, OK, False),
    Case("stats", "", False, OK, OK, OK, False),
]

ROLES = ("member", "admin", "owner")
PLACES = ("community", "private")


def expected(case: Case, role: str, place: str) -> str:
    """The outcome the matrix promises."""
    if role == "member":
        return NOT_ALLOWED if place == "community" else IN_COMMUNITY
    if role == "admin":
        return case.admin_here if place == "community" else IN_COMMUNITY
    return case.owner_here if place == "community" else case.owner_private


def new_world(**kw: Any) -> World:
    """A world whose owner is :data:`OWNER`."""
    return World(owners=(OWNER,), **kw)


def origin_for(w: World, role: str, place: str, group: str = "g") -> Any:
    """The sender: a member, an admin (as the adapter says) or the owner; in a community or private."""
    community = group if place == "community" else None
    if role == "owner":
        return w.origin("boss", community=community, user_name="Boss")
    adapter_role = Role.ADMIN if role == "admin" else Role.MEMBER
    return w.origin(role, community=community, user_name=role.title(), role=adapter_role)


def assert_renders(actions: list[Action]) -> None:
    """Every text renders in every locale with all placeholders filled."""
    for action in actions:
        match action:
            case SendText(text=text):
                rendered = [i18n.render(loc, text) for loc in i18n.available()]
            case SendError(kind=kind, details=details):
                rendered = [i18n.render(loc, Text(kind, details)) for loc in i18n.available()]
            case SendChart(caption=caption):
                rendered = [i18n.render(loc, caption) for loc in i18n.available()]
            case _:
                continue
        for text in rendered:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
            assert not fields, f"unfilled {fields} in {text!r}"
            assert not text.startswith(("admin_", "limit", "audit_", "stats_", "user_")), text


async def snapshot(w: World, group: str = "g", target: UserKey = TARGET) -> Any:
    """Everything an admin command may change, to show that a refusal changed nothing."""
    store: Any = w.store
    if hasattr(store, "limits"):
        return (
            dict(store.limits),
            dict(store.bonuses),
            dict(store.counters),
            dict(store.blocks),
            len(store.audit),
        )
    start = w.runner.policy.period_start(w.now)
    return (
        await store.community_limits(f"console:{group}"),
        await store.blocks_of("console", target.user_id),
        await store.audit_log(limit=10_000),
        await store.get_limits([("global", "all"), ("user", f"console:{target.user_id}")]),
        await store.usage("member", f"console:{group}/{target.user_id}", start),
        await store.usage("user", f"console:{target.user_id}", start),
        await store.usage("community", f"console:{group}", start),
    )


async def run_case(
    w: World, case: Case, role: str, place: str, group: str = "g", target: UserKey = TARGET
) -> None:
    """Run one cell of the matrix and check its outcome (``group`` and ``target`` keep cells apart)."""
    want = expected(case, role, place)
    origin = origin_for(w, role, place, group)
    before = await snapshot(w, group, target)
    audit_before = len(await w.store.audit_log(limit=10_000))
    command = AdminCommand(
        case.name, case.args, target if case.target else None, "Tina" if case.target else None
    )
    actions = await w.engine.handle(origin, command)
    assert_renders(actions)
    if want == OK:
        assert not [a for a in actions if isinstance(a, SendError)], actions
        texts = [a for a in actions if isinstance(a, SendText)]
        assert len(texts) == 1 and not texts[0].private
        images = [a for a in actions if isinstance(a, SendChart)]
        assert len(images) == (1 if case.name == "stats" else 0)
        written = len(await w.store.audit_log(limit=10_000)) - audit_before
        assert written == (1 if case.changes else 0)
    else:
        (error,) = actions
        assert isinstance(error, SendError) and error.kind == want and error.private
        assert error.details["command"] == case.name
        assert await snapshot(w, group, target) == before
