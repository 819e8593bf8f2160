"""A fake Discord (REST + gateway + CDN) on 127.0.0.1 for driving the real discord.py client in tests.

Usage::

    async def test_edit(fake_discord):
        photo = fake_discord.add_attachment(png_bytes, "cat.png")
        async with running_client(make_bot(), fake_discord):
            hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "make it blue"})
            await hit.wait_for_response()
            assert hit.deferred
            result = await hit.wait_for_original(lambda m: m.files)

Invariants: all state lives on the :class:`FakeDiscord` instance (one per test); waiting never sleeps a fixed time
— every state change wakes :meth:`FakeDiscord.wait_for`, which gives up at its deadline with the recent requests in
the error. A default world exists from the start: ``default_user`` (alice) is a plain member of ``default_guild``,
whose first channel is ``default_channel``; the bot is a member with :data:`BOT_PERMISSIONS`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Self, TypeVar

import pytest
from aiohttp import web

from tests.fakes.discord_gateway import Gateway, GatewaySession
from tests.fakes.discord_interactions import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    attachment_payload,
    build_command_options,
)
from tests.fakes.discord_models import (
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    ChannelType,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Intent,
    MessageFlag,
    Perm,
    guess_content_type,
    image_size,
    snowflake,
)
from tests.fakes.discord_rest import Fault, RecordedRequest, RestApi
from tests.fakes.discord_sdk import preserved_discord_py_endpoints

__all__ = ["FakeDiscord", "FakeInteraction", "FakeMessage", "Perm", "fake_discord"]

MiB = 1024 * 1024
T = TypeVar("T")


class FakeDiscord:
    """The fake server and the test-side API to build a world, act as users, and inspect what the bot did."""

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
        self.application_id = application_id or snowflake()
        prefix = base64.urlsafe_b64encode(str(self.application_id).encode()).decode().rstrip("=")
        self.token = token or f"{prefix}.fake.{secrets.token_urlsafe(27)}"
        self.token_lifetime = token_lifetime
        self.initial_response_deadline = initial_response_deadline
        self.attachment_size_limit = attachment_size_limit
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.application_flags = 0
        self.base_url = ""
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.cdn: dict[str, FakeFile] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.commands_synced: dict[int | None, list[dict[str, Any]]] = {}
        self.sync_count = 0
        self.resume_count = 0
        self.interactions: list[FakeInteraction] = []
        self._interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._files: dict[int, FakeFile] = {}
        self._dms: dict[int, FakeChannel] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.gateway = Gateway(self)
        self.rest = RestApi(self)
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.users[self.bot_user.id] = self.bot_user
        self.app_owner = self.add_user("developer")
        self.default_user = self.add_user("alice")
        self.default_guild = self.add_guild("Test Server", owner=self.add_user("owner"))
        self.default_guild.add_member(self.default_user)
        self.default_channel = self.default_guild.default_channel

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a random port of 127.0.0.1."""
        app = web.Application(middlewares=[self.rest.middleware])
        self.rest.install(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        """Close gateway connections and stop listening."""
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
        """The REST base, e.g. ``http://127.0.0.1:PORT/api/v10`` (the value for ``EDITBOT_DISCORD_API_URL``)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway, e.g. ``ws://127.0.0.1:PORT/gateway`` (the value for ``EDITBOT_DISCORD_GATEWAY_URL``)."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    # -- world building -----------------------------------------------------------------------------------------

    def add_user(self, name: str, *, locale: str = "en-US", bot: bool = False) -> FakeUser:
        """Create a user; ``locale`` becomes the ``locale`` of their interactions."""
        user = FakeUser(snowflake(), name, locale=locale, bot=bot, global_name=name.title())
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser | None = None,
        locale: str = "en-US",
        channels: Iterable[str] = ("general",),
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> FakeGuild:
        """Create a guild the bot is in (a GUILD_CREATE goes to sessions that identify afterwards)."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = FakeGuild(snowflake(), name, owner.id, locale=locale)
        guild.roles.append(FakeRole(guild.id, "@everyone", int(EVERYONE_PERMISSIONS)))
        for channel_name in channels:
            guild.add_text_channel(channel_name)
        guild.add_member(owner)
        guild.add_member(self.bot_user, roles=[guild.add_role(self.bot_user.username, bot_permissions)])
        self.guilds[guild.id] = guild
        return guild

    def set_bot_permissions(self, guild: FakeGuild, permissions: int) -> None:
        """Replace the bot's permissions in ``guild`` (e.g. drop ATTACH_FILES to test a refusal)."""
        member = guild.member(self.bot_user)
        for role in member.roles:
            role.permissions = 0
        guild.everyone.permissions = 0
        member.roles[0].permissions = int(permissions)

    def bot_permissions(self, channel: FakeChannel) -> int:
        """The bot's permissions where ``channel`` is (everything a DM allows, for DMs)."""
        if channel.guild is None:
            return int(EVERYONE_PERMISSIONS)
        return channel.guild.member(self.bot_user).permissions

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        if user.id not in self._dms:
            self._dms[user.id] = FakeChannel(snowflake(), ChannelType.DM, recipient=user)
        return self._dms[user.id]

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        """A guild or DM channel by id."""
        for channel in self._dms.values():
            if channel.id == channel_id:
                return channel
        for guild in self.guilds.values():
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel
        return None

    def add_attachment(
        self,
        data: bytes,
        filename: str,
        content_type: str | None = None,
        *,
        channel: FakeChannel | None = None,
    ) -> dict[str, Any]:
        """Put a user's upload on the fake CDN; returns the attachment object (id, size, url, proxy_url, ...)."""
        return self._store_file(
            channel, filename, data, content_type=content_type, ephemeral=channel is None
        ).attachment

    def _store_file(
        self,
        channel: FakeChannel | None,
        filename: str,
        data: bytes,
        description: str | None = None,
        *,
        content_type: str | None = None,
        ephemeral: bool = False,
    ) -> FakeFile:
        if not self.base_url:
            raise RuntimeError("start the fake before adding files (URLs need its port)")
        file_id = snowflake()
        safe = re.sub(r"[^\w.-]", "_", filename) or "unknown"
        kind = content_type or guess_content_type(safe, data)
        folder = (
            f"ephemeral-attachments/{self.application_id}"
            if ephemeral
            else f"attachments/{channel.id if channel else 0}"
        )
        path = f"/{folder}/{file_id}/{safe}"
        now = int(time.time())
        signature = f"?ex={now + 86400:x}&is={now:x}&hm={secrets.token_hex(32)}&"
        attachment: dict[str, Any] = {
            "id": str(file_id),
            "filename": safe,
            "size": len(data),
            "url": f"{self.base_url}{path}{signature}",
            "proxy_url": f"{self.base_url}/media{path}{signature}",
            "content_type": kind,
        }
        size = image_size(data, kind)
        if size is not None:
            attachment["width"], attachment["height"] = size
        if description:
            attachment["description"] = description
        if ephemeral:
            attachment["ephemeral"] = True
        file = FakeFile(safe, kind, data, attachment)
        self.cdn[path] = file
        self._files[file_id] = file
        return file

    def application_payload(self) -> dict[str, Any]:
        """The application object (``GET /oauth2/applications/@me``)."""
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.payload(),
            "owner": self.app_owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
        }

    # -- users acting -------------------------------------------------------------------------------------------

    async def post_message(
        self,
        author: FakeUser,
        content: str = "",
        *,
        channel: FakeChannel | None = None,
        attachments: Iterable[Any] = (),
        embeds: Iterable[dict[str, Any]] = (),
    ) -> FakeMessage:
        """A user posts a message (MESSAGE_CREATE goes to the bot as its intents allow)."""
        channel = channel or self.default_channel
        if channel.guild is not None and author.id not in channel.guild.members:
            channel.guild.add_member(author)
        message = FakeMessage(snowflake(), channel, author, embeds=list(embeds))
        message.set_content(content)
        message.files = [self._files[int(attachment_payload(a)["id"])] for a in attachments]
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
        """A user runs ``/name`` (``"group sub"`` for subcommands) with ``options`` by option name.

        Values: ``str``/``int``/``float``/``bool``; a :class:`FakeUser`, :class:`FakeChannel` or :class:`FakeRole`;
        an attachment from :meth:`add_attachment` (it lands in ``data.resolved.attachments``). A list passes raw
        option dicts through (with ``resolved`` as given). The command must have been synced, as on Discord.
        """
        user, channel = self._who_where(user, guild, channel)
        root, *path = name.split()
        command, scope = self._find_command(root, 1, user, channel, check_permissions)
        data: dict[str, Any] = {"id": command["id"], "name": root, "type": 1}
        if isinstance(options, list):
            data["options"] = options
            built_resolved = resolved or {}
        else:
            data["options"], built_resolved = build_command_options(
                command, path, options or {}, self, channel.guild
            )
        if built_resolved:
            data["resolved"] = built_resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._dispatch(APPLICATION_COMMAND, data, user=user, channel=channel, locale=locale)

    async def message_command(
        self,
        name: str,
        target_message: FakeMessage,
        *,
        user: FakeUser | None = None,
        locale: str | None = None,
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user picks Apps > ``name`` on ``target_message`` (the message lands in ``data.resolved.messages``)."""
        user, channel = self._who_where(user, None, target_message.channel)
        command, scope = self._find_command(name, 3, user, channel, check_permissions)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": str(target_message.id),
            "resolved": {"messages": {str(target_message.id): target_message.payload()}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._dispatch(APPLICATION_COMMAND, data, user=user, channel=channel, locale=locale)

    async def user_command(
        self,
        name: str,
        target: FakeUser,
        *,
        user: FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        locale: str | None = None,
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user picks Apps > ``name`` on another user."""
        user, channel = self._who_where(user, guild, channel)
        command, scope = self._find_command(name, 2, user, channel, check_permissions)
        resolved: dict[str, Any] = {"users": {str(target.id): target.payload()}}
        member = channel.guild.members.get(target.id) if channel.guild else None
        if member is not None:
            resolved["members"] = {str(target.id): member.payload(with_user=False, with_permissions=True)}
        data = {
            "id": command["id"],
            "name": name,
            "type": 2,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._dispatch(APPLICATION_COMMAND, data, user=user, channel=channel, locale=locale)

    async def button_press(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        locale: str | None = None,
        values: list[str] | None = None,
    ) -> FakeInteraction:
        """A user clicks the component ``custom_id`` on ``message`` (``values`` for select menus)."""
        component = next((c for c in message.walk_components() if c.get("custom_id") == custom_id), None)
        if component is None:
            raise LookupError(
                f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise RuntimeError(f"component {custom_id!r} is disabled; Discord's client cannot press it")
        user, channel = self._who_where(user, None, message.channel)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component.get("id") is not None:
            data["id"] = component["id"]
        if values is not None:
            data["values"] = list(values)
        return await self._dispatch(
            MESSAGE_COMPONENT, data, user=user, channel=channel, locale=locale, message=message
        )

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
        """Submit a modal with raw submission ``components`` (prefer :meth:`FakeInteraction.submit_modal`)."""
        user, channel = self._who_where(user, guild, channel)
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        files = [attachment_payload(a) for a in attachments]
        if files:
            data["resolved"] = {"attachments": {a["id"]: a for a in files}}
        return await self._dispatch(
            MODAL_SUBMIT, data, user=user, channel=channel, locale=locale, message=message
        )

    def _who_where(
        self, user: FakeUser | None, guild: FakeGuild | None, channel: FakeChannel | None
    ) -> tuple[FakeUser, FakeChannel]:
        user = user or self.default_user
        channel = channel or (guild.default_channel if guild is not None else self.default_channel)
        if channel.guild is not None and user.id not in channel.guild.members:
            channel.guild.add_member(user)
        return user, channel

    def _find_command(
        self, name: str, kind: int, user: FakeUser, channel: FakeChannel, check_permissions: bool
    ) -> tuple[dict[str, Any], int | None]:
        guild = channel.guild
        scopes: list[int | None] = [guild.id, None] if guild is not None else [None]
        for scope in scopes:
            for command in self.commands_synced.get(scope, []):
                if command["name"] == name and command["type"] == kind:
                    self._check_available(command, user, channel, check_permissions)
                    return command, scope
        synced = {scope: [c["name"] for c in commands] for scope, commands in self.commands_synced.items()}
        raise LookupError(f"no command {name!r} of type {kind} was synced for this channel; synced: {synced}")

    @staticmethod
    def _check_available(command: dict[str, Any], user: FakeUser, channel: FakeChannel, check: bool) -> None:
        contexts = command.get("contexts")
        if channel.guild is None:
            if (contexts is not None and 1 not in contexts) or command.get("dm_permission") is False:
                raise LookupError(f"command {command['name']!r} is not available in DMs")
            return
        if contexts is not None and 0 not in contexts:
            raise LookupError(f"command {command['name']!r} is not available in guilds")
        needed = command.get("default_member_permissions")
        if needed is None or not check:
            return
        granted = channel.guild.member(user).permissions
        if not granted & Perm.ADMINISTRATOR and (int(needed) == 0 or granted & int(needed) != int(needed)):
            raise PermissionError(
                f"{user.username} cannot see {command['name']!r} (needs permissions {needed})"
            )

    async def _dispatch(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user: FakeUser,
        channel: FakeChannel,
        locale: str | None,
        message: FakeMessage | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        session = await self.wait_until_ready(timeout)
        interaction_id = snowflake()
        raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}"
        token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
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
            "context": 0 if guild is not None else 1,
            "authorizing_integration_owners": {"0": str(guild.id) if guild is not None else "0"},
        }
        if guild is not None:
            member: FakeMember = guild.member(user)
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
            self,
            interaction_id,
            token,
            kind,
            payload,
            user,
            channel,
            self._loop_time(),
            source_message=message,
        )
        self.interactions.append(handle)
        self._interactions[interaction_id] = handle
        self._interactions_by_token[token] = handle
        await session.dispatch("INTERACTION_CREATE", payload)
        self._notify()
        return handle

    # -- inspection and waiting -----------------------------------------------------------------------------------

    def messages_in(
        self, channel: FakeChannel | None = None, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages in ``channel`` (default channel if omitted), oldest first, without deleted ones."""
        channel = channel or self.default_channel
        return [m for m in channel.messages if not m.deleted and (include_ephemeral or not m.ephemeral)]

    async def wait_for_message(
        self,
        predicate: Callable[[FakeMessage], Any] | None = None,
        *,
        channel: FakeChannel | None = None,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """The newest message in ``channel`` matching ``predicate`` (default: any message by the bot)."""
        check = predicate or (lambda m: m.author is self.bot_user)

        def ready() -> FakeMessage | None:
            found = [m for m in self.messages_in(channel, include_ephemeral=True) if check(m)]
            return found[-1] if found else None

        where = (channel or self.default_channel).name or "DM"
        return await self.wait_for(ready, timeout, f"a matching message in #{where}")

    def command(self, name: str, *, guild: FakeGuild | None = None, type: int = 1) -> dict[str, Any] | None:
        """A synced command as stored (``guild=None``: the global one)."""
        scope = None if guild is None else guild.id
        return next(
            (c for c in self.commands_synced.get(scope, []) if (c["name"], c["type"]) == (name, type)), None
        )

    def requests_to(self, method: str, path_glob: str) -> list[RecordedRequest]:
        """Recorded requests like ``("PATCH", "/webhooks/*/messages/@original")`` (paths without ``/api/v10``)."""
        import fnmatch

        return [r for r in self.requests if r.method == method and fnmatch.fnmatchcase(r.path, path_glob)]

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Re-check ``predicate`` after every change in the fake until it is truthy; TimeoutError at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(str(r) for r in self.requests[-12:]) or "(none)"
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}; recent requests:\n  {recent}"
                )
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    def _loop_time() -> float:
        return time.monotonic()

    # -- tokens, faults, gateway control --------------------------------------------------------------------------

    def expire_token(self, target: FakeInteraction | str) -> None:
        """Expire an interaction token now: webhooks answer 401/50027, the callback 404/10062."""
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
        """Answer the next ``times`` matching API requests with ``status`` (429 gets a real rate-limit body)."""
        headers: dict[str, str] = {}
        if status == 429:
            body = body or {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": False,
                "code": 0,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(retry_after))),
                "X-RateLimit-Scope": "user",
            }
        self.faults.append(
            Fault(
                method.upper(), path_glob, status, body or {"message": f"{status}", "code": 0}, headers, times
            )
        )

    @property
    def session_count(self) -> int:
        """How many sessions have identified so far."""
        return len(self.gateway.sessions)

    @property
    def is_bot_connected(self) -> bool:
        """Whether an identified gateway session is live."""
        return self.gateway.current() is not None

    async def wait_until_ready(self, timeout: float = 10.0, *, after: int = 0) -> GatewaySession:
        """Wait for a live identified session (numbered above ``after``) with READY and GUILD_CREATEs sent."""

        def ready() -> GatewaySession | None:
            session = self.gateway.current()
            return session if session is not None and session.number > after else None

        return await self.wait_for(ready, timeout, "the bot to identify on the gateway")

    async def disconnect_bot(self, code: int = 4000, *, invalidate_session: bool = False) -> None:
        """Close the bot's gateway connection from the server side (discord.py reconnects and RESUMEs)."""
        await self.gateway.disconnect(code, invalidate=invalidate_session)

    # -- helpers for the REST side ------------------------------------------------------------------------------

    def _new_interaction_message(
        self, interaction: FakeInteraction, data: dict[str, Any], *, loading: bool, followup: bool = False
    ) -> FakeMessage:
        flags = int(data.get("flags") or 0) & MessageFlag.EPHEMERAL
        if loading:
            flags |= MessageFlag.LOADING
        kind = 0
        if interaction.type == APPLICATION_COMMAND and not followup:
            kind = 20 if interaction.data.get("type", 1) == 1 else 23
        metadata: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user.payload(),
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        if interaction.source_message is not None and interaction.type == MESSAGE_COMPONENT:
            metadata["interacted_message_id"] = str(interaction.source_message.id)
        if followup and interaction.original is not None:
            metadata["original_response_message_id"] = str(interaction.original.id)
        return FakeMessage(
            snowflake(),
            interaction.channel,
            self.bot_user,
            flags=flags,
            type=kind,
            webhook_id=self.application_id,
            application_id=self.application_id,
            interaction_metadata=metadata,
        )

    async def _publish(self, message: FakeMessage, *, created: bool) -> None:
        """Store a new message or note an edit, and send MESSAGE_CREATE/UPDATE as the session's intents allow."""
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
        needed = Intent.GUILD_MESSAGES if guild is not None else Intent.DIRECT_MESSAGES
        if not session.intents & needed:
            return None
        data = message.payload()
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(message.author.id)
            if member is not None:
                data["member"] = member.payload(with_user=False)
        privileged = session.intents & Intent.MESSAGE_CONTENT
        exempt = guild is None or message.author is self.bot_user or self.bot_user.id in message.mentions
        if not privileged and not exempt:
            data.update(content="", embeds=[], attachments=[], components=[])
        return session, data


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord`; discord.py's REST base and default gateway are restored afterwards."""
    with preserved_discord_py_endpoints():
        async with FakeDiscord() as fake:
            yield fake
