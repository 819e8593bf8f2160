"""People and helpers for the Discord admin tests: who is who in the test server, how to run an
admin command as one of them, and a snapshot of everything an admin command may change.

The crew: ``boss`` has Manage Server, ``mallory`` is a plain member, ``olga`` is a bot owner
(EDITBOT_ADMINS) without any server permission, ``bob`` and ``carol`` are the members acted on.
Commands are hidden from members without Manage Server (as Discord's client does); passing
``hidden=True`` invokes one anyway, as a server's Integrations override (or a stale client) would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.discord_bot import wording
from core import i18n
from core.identity import Community, Platform, UserKey
from core.quotas.limits import GLOBAL_KEY
from core.storage.protocol import community_scope_key, member_scope_key, user_scope_key
from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.discord_models import FakeChannel, FakeMessage, FakeUser


@dataclass(frozen=True)
class Crew:
    """The people of the admin tests."""

    admin: FakeUser
    member: FakeUser
    owner: FakeUser
    bob: FakeUser
    carol: FakeUser


async def hire_crew(dc: DiscordHarness) -> Crew:
    """Add the crew to the default server and restart the bot with ``olga`` as its owner."""
    guild = dc.fake.default_guild
    people = {name: dc.fake.add_user(name) for name in ("boss", "mallory", "olga", "bob", "carol")}
    guild.add_member(people["boss"], admin=True)
    for name in ("mallory", "olga", "bob", "carol"):
        guild.add_member(people[name])
    await dc.restart(admins=f"discord:{people['olga'].id}")
    return Crew(people["boss"], people["mallory"], people["olga"], people["bob"], people["carol"])


def said(key: str, locale: str = "en", **params: Any) -> str:
    """What the bot says for ``key`` on Discord (its rewording where there is one)."""
    return wording.render(i18n.pick_locale(locale), key, **params)


async def admin_reply(
    dc: DiscordHarness,
    name: str,
    options: dict[str, Any] | None = None,
    *,
    user: FakeUser,
    channel: FakeChannel | None = None,
    hidden: bool = False,
) -> FakeMessage:
    """Run ``/name`` as ``user`` and return the bot's (ephemeral) answer."""
    hit = await dc.fake.slash_command(
        name, options or {}, user=user, channel=channel, check_permissions=not hidden
    )
    reply = await dc.private_reply(hit)
    assert reply.ephemeral, f"/{name} answered publicly: {reply.content!r}"
    return reply


def server(dc: DiscordHarness) -> Community:
    """The default server as the core knows it."""
    return Community(Platform.DISCORD, str(dc.fake.default_guild.id))


def key_of(user: FakeUser) -> UserKey:
    """A fake user as the core knows them."""
    return UserKey(Platform.DISCORD, str(user.id))


async def used(dc: DiscordHarness, user: FakeUser) -> int:
    """Credits ``user`` has used in the default server this period (from the database)."""
    assert dc.core is not None
    runner = dc.core.runner
    start = runner.policy.period_start(runner.now())
    snap = await dc.core.store.usage("member", member_scope_key(server(dc), key_of(user)), start)
    return snap.used


async def snapshot(dc: DiscordHarness, *users: FakeUser) -> tuple[Any, ...]:
    """Everything an admin command could change for ``users`` and the server (to show a refusal didn't)."""
    assert dc.core is not None
    store, runner = dc.core.store, dc.core.runner
    start = runner.policy.period_start(runner.now())
    community = community_scope_key(server(dc))
    members = [member_scope_key(server(dc), key_of(u)) for u in users]
    return (
        await store.audit_log(limit=10_000),
        await store.community_limits(community),
        await store.get_limits(
            [("global", GLOBAL_KEY), *(("user", user_scope_key(key_of(u))) for u in users)]
        ),
        [await store.blocks_of("discord", str(u.id)) for u in users],
        [await store.usage("member", key, start) for key in members],
        await store.usage("community", community, start),
    )


async def audit_size(dc: DiscordHarness) -> int:
    """How many audit entries there are."""
    assert dc.core is not None
    return len(await dc.core.store.audit_log(limit=10_000))
