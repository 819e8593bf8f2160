"""A fake Discord (REST, gateway, CDN) on 127.0.0.1 for driving the real discord.py client in tests.

Usage::

    async def test_edit(fake_discord):
        photo = fake_discord.add_attachment(png_bytes, "cat.png")
        async with running_client(make_bot(), fake_discord):
            hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "make it blue"})
            await hit.wait_for_response()
            assert hit.deferred
            result = await hit.wait_for_original(lambda m: m.files)

Invariants: all state lives on one :class:`FakeDiscord` per test; waiting never sleeps a fixed time — every
change wakes :meth:`FakeDiscord.wait_for`, which gives up at its deadline listing the recent requests. The
default world (see :class:`DiscordWorld`) has ``default_user`` as a plain member of ``default_guild`` and
``default_channel``.
"""

# ASYNC109: ``timeout`` here is the deadline of a test-facing wait, not a cancel scope the caller should own.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import base64
import fnmatch
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import pytest
from aiohttp import web

from tests.fakes.discord_gateway import Gateway, GatewaySession
from tests.fakes.discord_http import Fault, RecordedRequest
from tests.fakes.discord_interactions import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    attachment_payload,
    build_command_options,
)
from tests.fakes.discord_models import (
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeUser,
    Intent,
    Perm,
    snowflake,
)
from tests.fakes.discord_rest import build_app
from tests.fakes.discord_sdk import preserved_discord_py_endpoints
from tests.fakes.discord_world import DiscordWorld

__all__ = ["FakeDiscord", "FakeInteraction", "FakeMessage", "Perm", "fake_discord"]

MiB = 1024 * 1024
POLL_INTERVAL = 0.02  # seconds between re-checks of predicates over state outside the fake (e.g. the bot's)
T = TypeVar("T")


@dataclass(eq=False, slots=True)
class _Waiter:
    """One :meth:`FakeDiscord.wait_for` in progress: what it waits for, and where the answer goes."""

    predicate: Callable[[], Any]
    future: asyncio.Future[Any]


class FakeDiscord(DiscordWorld):
    """The fake server and the test-side API: build a world, act as users, inspect what the bot did."""

    def __init__(
        self,
        *,
        token: str | None = None,
        application_id: int | None = None,
        bot_name: str = "editbot",
        token_lifetime: float = 15 * 60,
        initial_response_deadline: float | None = 3.0,
        attachment_size_limit: int = 10 * MiB,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        super().__init__(application_id=application_id, bot_name=bot_name)
        prefix = base64.urlsafe_b64encode(str(self.application_id).encode()).decode().rstrip("=")
        self.token = token or f"{prefix}.fake.{secrets.token_urlsafe(27)}"
        self.token_lifetime = token_lifetime
        self.initial_response_deadline = initial_response_deadline
        self.attachment_size_limit = attachment_size_limit
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.internal_errors: list[Exception] = []
        self.interactions: list[FakeInteraction] = []
        self.resume_count = 0
        self.gateway = Gateway(self)
        self._interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._waiters: set[_Waiter] = set()
        self._check_pending = False
        self._poll: asyncio.TimerHandle | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1."""
        self._runner = web.AppRunner(build_app(self), shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        """Close gateway connections and stop listening."""
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        """The REST base ``http://127.0.0.1:PORT/api/v10`` (what ``EDITBOT_DISCORD_API_URL`` would be)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway ``ws://127.0.0.1:PORT/gateway`` (what ``EDITBOT_DISCORD_GATEWAY_URL`` would be)."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    # -- users acting ----------------------------------------------------------------------------------

    async def post_message(
        self,
        author: FakeUser,
        content: str = "",
        *,
        channel: FakeChannel | None = None,
        attachments: Iterable[Any] = (),
        embeds: Iterable[dict[str, Any]] = (),
    ) -> FakeMessage:
        """A user posts a message; MESSAGE_CREATE reaches the bot as its intents allow."""
        channel = channel or self.default_channel
        if channel.guild is not None and author.id not in channel.guild.members:
            channel.guild.add_member(author)
        message = FakeMessage(snowflake(), channel, author, embeds=list(embeds))
        message.set_content(content)
        message.files = [self.file(attachment_payload(a)) for a in attachments]
        await self._publish(message, created=True)
        return message

    async def slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        *,
        user: FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        locale: str | None = None,
        resolved: dict[str, Any] | None = None,
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user runs ``/name`` (``"group sub"`` for subcommands), giving ``options`` by name.

        Values: ``str``, ``int``, ``float``, ``bool``; a :class:`FakeUser`, channel or role; an attachment
        from :meth:`add_attachment` (it lands in ``data.resolved.attachments``). A list passes raw option
        dicts through, with ``resolved`` as given. The command must have been synced where the user is, as on
        Discord.
        """
        user, channel = self._who_where(user, guild, channel)
        root, *path = name.split()
        command, scope = self.find_command(root, 1, user, channel, check_permissions=check_permissions)
        data: dict[str, Any] = {"id": command["id"], "name": root, "type": 1}
        if isinstance(options, list):
            data["options"], found = options, resolved or {}
        else:
            data["options"], found = build_command_options(command, path, options or {}, channel.guild)
        if found:
            data["resolved"] = found
        return await self._command(data, scope, user, channel, locale)

    async def message_command(
        self,
        name: str,
        target_message: FakeMessage,
        *,
        user: FakeUser | None = None,
        locale: str | None = None,
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user picks Apps > ``name`` on ``target_message`` (it lands in ``data.resolved.messages``)."""
        user, channel = self._who_where(user, None, target_message.channel)
        command, scope = self.find_command(name, 3, user, channel, check_permissions=check_permissions)
        data = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": str(target_message.id),
            "resolved": {"messages": {str(target_message.id): target_message.payload()}},
        }
        return await self._command(data, scope, user, channel, locale)

    async def user_command(
        self,
        name: str,
        target: FakeUser,
        *,
        user: FakeUser | None = None,
        channel: FakeChannel | None = None,
        locale: str | None = None,
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user picks Apps > ``name`` on another user."""
        user, channel = self._who_where(user, None, channel)
        command, scope = self.find_command(name, 2, user, channel, check_permissions=check_permissions)
        resolved: dict[str, Any] = {"users": {str(target.id): target.payload()}}
        member = channel.guild.members.get(target.id) if channel.guild is not None else None
        if member is not None:
            resolved["members"] = {str(target.id): member.payload(with_user=False, with_permissions=True)}
        data = {
            "id": command["id"],
            "name": name,
            "type": 2,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        return await self._command(data, scope, user, channel, locale)

    async def button_press(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        locale: str | None = None,
        values: list[str] | None = None,
        forge: str | None = None,
    ) -> FakeInteraction:
        """A user clicks the component ``custom_id`` on ``message`` (``values`` for a select menu).

        ``forge`` sends another custom id than the component's, as a modified client could try.
        """
        component = next((c for c in message.walk_components() if c.get("custom_id") == custom_id), None)
        if component is None:
            raise LookupError(
                f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise RuntimeError(f"component {custom_id!r} is disabled; Discord's client cannot press it")
        user, channel = self._who_where(user, None, message.channel)
        data: dict[str, Any] = {"custom_id": forge or custom_id, "component_type": component["type"]}
        if component.get("id") is not None:
            data["id"] = component["id"]
        if values is not None:
            data["values"] = list(values)
        return await self._dispatch(MESSAGE_COMPONENT, data, user, channel, locale, message=message)

    async def modal_submit(
        self,
        custom_id: str,
        components: list[dict[str, Any]],
        *,
        user: FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        message: FakeMessage | None = None,
        attachments: Iterable[Any] = (),
        locale: str | None = None,
    ) -> FakeInteraction:
        """Submit a modal with raw ``components`` (:meth:`FakeInteraction.submit_modal` builds them)."""
        user, channel = self._who_where(user, guild, channel)
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        files = [attachment_payload(a) for a in attachments]
        if files:
            data["resolved"] = {"attachments": {a["id"]: a for a in files}}
        return await self._dispatch(MODAL_SUBMIT, data, user, channel, locale, message=message)

    def _who_where(
        self, user: FakeUser | None, guild: FakeGuild | None, channel: FakeChannel | None
    ) -> tuple[FakeUser, FakeChannel]:
        user = user or self.default_user
        channel = channel or (guild.default_channel if guild is not None else self.default_channel)
        if channel.guild is not None and user.id not in channel.guild.members:
            channel.guild.add_member(user)
        return user, channel

    async def _command(
        self,
        data: dict[str, Any],
        scope: int | None,
        user: FakeUser,
        channel: FakeChannel,
        locale: str | None,
    ) -> FakeInteraction:
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._dispatch(APPLICATION_COMMAND, data, user, channel, locale)

    async def _dispatch(
        self,
        kind: int,
        data: dict[str, Any],
        user: FakeUser,
        channel: FakeChannel,
        locale: str | None,
        *,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        guild_id = channel.guild.id if channel.guild is not None else None
        session = await self.wait_for(
            lambda: self.gateway.current(guild_id), 10.0, "the bot to identify on the guild's shard"
        )
        interaction_id = snowflake()
        secret = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}"
        token = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
        guild = channel.guild
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "locale": locale or user.locale,
            "app_permissions": str(self.bot_permissions(channel)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "context": 0 if guild is not None else 1,  # GUILD / BOT_DM
            "authorizing_integration_owners": {"0": str(guild.id) if guild is not None else "0"},
        }
        if guild is not None:
            member = guild.member(user)
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": guild.locale, "features": []}
            payload["guild_locale"] = guild.locale
            payload["member"] = member.payload(with_permissions=True)
            payload["channel"]["permissions"] = str(member.permissions)
        else:
            payload["user"] = user.payload()
        if message is not None:
            payload["message"] = message.payload()
        handle = FakeInteraction(
            self, interaction_id, token, kind, payload, user, channel, self._now(), source_message=message
        )
        self.interactions.append(handle)
        self._interactions[interaction_id] = handle
        self._interactions_by_token[token] = handle
        await session.dispatch("INTERACTION_CREATE", payload)
        self._notify()
        return handle

    async def deliver_again(self, hit: FakeInteraction, *, everywhere: bool = False) -> None:
        """Dispatch the same interaction (same id and token) once more, as a duplicate delivery:
        to the current session, or ``everywhere`` (every live session: several bot processes)."""
        sessions = (
            [s for s in self.gateway.sessions if s.live] if everywhere else [await self.wait_until_ready()]
        )
        for session in sessions:
            await session.dispatch("INTERACTION_CREATE", hit.payload)
        self._notify()

    # -- inspection and waiting ------------------------------------------------------------------------

    def requests_to(self, method: str, path_glob: str) -> list[RecordedRequest]:
        """Recorded requests like ``("PATCH", "/webhooks/*/messages/@original")`` (no ``/api/v10``)."""
        return [r for r in self.requests if r.method == method and fnmatch.fnmatchcase(r.path, path_glob)]

    async def wait_for_message(
        self,
        predicate: Callable[[FakeMessage], Any] | None = None,
        *,
        channel: FakeChannel | None = None,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """The newest message in ``channel`` (ephemeral too) matching ``predicate`` (default: the bot's)."""
        check = predicate or (lambda m: m.author is self.bot_user)

        def found() -> FakeMessage | None:
            matching = [m for m in self.messages_in(channel, include_ephemeral=True) if check(m)]
            return matching[-1] if matching else None

        where = (channel or self.default_channel).name or "a DM"
        return await self.wait_for(found, timeout, f"a matching message in {where}")

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Re-check ``predicate`` on each change in the fake, and every 20 ms, until truthy (or TimeoutError).

        Predicates may look at the bot's own state too (the poll interval covers what the fake cannot see).
        Waiters do not poll one by one: each change (and one shared 20 ms timer) checks every waiting
        predicate once, so a few hundred waiters cost a predicate call each, not a task each.
        """
        self.raise_internal_errors()
        result = predicate()
        if result:
            return result
        waiter = _Waiter(predicate, asyncio.get_running_loop().create_future())
        self._waiters.add(waiter)
        self._schedule_poll()
        try:
            async with asyncio.timeout(timeout):
                found: T = await waiter.future
                return found
        except TimeoutError:
            recent = "\n  ".join(str(r) for r in self.requests[-12:]) or "(none)"
            raise TimeoutError(
                f"gave up after {timeout}s waiting for {what}; recent requests:\n  {recent}"
            ) from None
        finally:
            self._waiters.discard(waiter)

    def _check_waiters(self) -> None:
        """Resolve every waiter whose predicate now holds (or raises, or the fake failed)."""
        self._check_pending = False
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            try:
                self.raise_internal_errors()
                result = waiter.predicate()
            except Exception as exc:
                waiter.future.set_exception(exc)
                continue
            if result:
                waiter.future.set_result(result)

    def _schedule_poll(self) -> None:
        """Keep one timer re-checking the waiters every ``POLL_INTERVAL`` while any waits."""
        if self._poll is None and self._waiters:
            self._poll = asyncio.get_running_loop().call_later(POLL_INTERVAL, self._on_poll)

    def _on_poll(self) -> None:
        self._poll = None
        self._check_waiters()
        self._schedule_poll()

    def raise_internal_errors(self) -> None:
        """Re-raise the first exception a handler of the fake hit (a bug in the fake, not in the bot)."""
        if self.internal_errors:
            raise RuntimeError("the fake Discord failed while handling a request") from self.internal_errors[
                0
            ]

    def _notify(self) -> None:
        """Something changed: check the waiters once, soon (many changes in one go: one check)."""
        if self._waiters and not self._check_pending:
            self._check_pending = True
            asyncio.get_running_loop().call_soon(self._check_waiters)

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    # -- tokens, faults, the gateway -------------------------------------------------------------------

    def expire_token(self, target: FakeInteraction | str) -> None:
        """Expire an interaction's token now: webhook calls get 401/50027 and the callback 404/10062."""
        interaction = target if isinstance(target, FakeInteraction) else self._interactions_by_token[target]
        interaction.expire()
        self._notify()

    def fail_next(
        self,
        method: str,
        path_glob: str,
        status: int = 500,
        body: dict[str, Any] | None = None,
        *,
        times: int = 1,
        retry_after: float = 0.01,
    ) -> None:
        """Answer the next ``times`` matching API requests with ``status`` (429: a real rate-limit body)."""
        headers: dict[str, str] = {}
        if status == 429:
            body = body or {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": False,
            }
            body.setdefault("code", 0)
            headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after)))}
            headers["X-RateLimit-Scope"] = "user"
        body = body or {"message": f"{status}: Fake failure", "code": 0}
        self.faults.append(Fault(method.upper(), path_glob, status, body, headers, times))

    @property
    def session_count(self) -> int:
        """How many gateway sessions have identified so far."""
        return len(self.gateway.sessions)

    @property
    def is_bot_connected(self) -> bool:
        """Whether an identified gateway session is live."""
        return self.gateway.current() is not None

    async def wait_until_ready(self, timeout: float = 10.0, *, after: int = 0) -> GatewaySession:
        """Wait for a live session, numbered above ``after``, that got READY and every GUILD_CREATE."""

        def ready() -> GatewaySession | None:
            session = self.gateway.current()
            return session if session is not None and session.number > after else None

        return await self.wait_for(ready, timeout, "the bot to identify on the gateway")

    async def disconnect_bot(self, code: int = 4000, *, invalidate_session: bool = False) -> None:
        """Close the bot's gateway connection from the server (discord.py then RESUMEs or re-IDENTIFYs)."""
        await self.gateway.disconnect(code, invalidate=invalidate_session)

    # -- message events (used by the REST handlers) ----------------------------------------------------

    async def _publish(self, message: FakeMessage, *, created: bool) -> None:
        """Store a new message (or note an edit); send MESSAGE_CREATE/UPDATE as the intents allow."""
        if created:
            message.channel.messages.append(message)
        self._notify()
        event = self._message_event(message)
        if event is not None:
            session, data = event
            await session.dispatch("MESSAGE_CREATE" if created else "MESSAGE_UPDATE", data)

    async def _delete(self, message: FakeMessage) -> None:
        message.deleted = True
        self._notify()
        event = self._message_event(message)
        if event is not None:
            session, _ = event
            data = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            await session.dispatch("MESSAGE_DELETE", data)

    def _message_event(self, message: FakeMessage) -> tuple[GatewaySession, dict[str, Any]] | None:
        session = self.gateway.current()
        if session is None or message.ephemeral:
            return None
        guild = message.channel.guild
        if not session.intents & (Intent.GUILD_MESSAGES if guild is not None else Intent.DIRECT_MESSAGES):
            return None
        data = message.payload()
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(message.author.id)
            if member is not None:
                data["member"] = member.payload(with_user=False)
        # Without MESSAGE_CONTENT, guild messages arrive empty unless they are the bot's or mention it
        exempt = guild is None or message.author is self.bot_user or self.bot_user.id in message.mentions
        if not session.intents & Intent.MESSAGE_CONTENT and not exempt:
            data.update(content="", embeds=[], attachments=[], components=[])
        return session, data


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord`; discord.py's REST base and default gateway are restored afterwards."""
    with preserved_discord_py_endpoints():
        async with FakeDiscord() as fake:
            yield fake
            fake.raise_internal_errors()
