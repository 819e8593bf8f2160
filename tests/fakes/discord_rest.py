"""The fake Discord's route table and its bot-authenticated REST endpoints (commands, channels, guilds).

Invariants: literal path segments (``@me``) are registered before placeholders; anything unmatched answers
``404 {"message": "404: Not Found", "code": 0}``; the bot may only post where its permissions allow
(VIEW_CHANNEL, SEND_MESSAGES, ATTACH_FILES with files) and only DM users who accept DMs; the CDN ignores
signature query strings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes import discord_messages as messages
from tests.fakes.discord_http import (
    API,
    CANNOT_DM,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    DiscordError,
    form_error,
    json_response,
    make_middleware,
    read_body,
    to_int,
)
from tests.fakes.discord_models import ChannelType, FakeChannel, FakeGuild, FakeMessage, Perm, snowflake
from tests.fakes.discord_webhooks import WebhookApi

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def build_app(fake: FakeDiscord) -> web.Application:
    """The aiohttp application serving REST under ``/api/v10``, the gateway at ``/gateway`` and the CDN."""
    # The body may hold 10 files at the attachment limit; read_body enforces the per-file limit itself.
    app = web.Application(
        middlewares=[make_middleware(fake)], client_max_size=10 * fake.attachment_size_limit + 1024 * 1024
    )
    RestApi(fake).install(app)
    WebhookApi(fake).install(app, API)
    app.router.add_get("/gateway", fake.gateway.handle, allow_head=False)

    async def cdn(request: web.Request) -> web.Response:
        """Attachment bytes by URL path (``/media/...`` is the proxy form of the same file)."""
        file = fake.cdn.get(request.path.removeprefix("/media"))
        if file is None:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=file.data, content_type=file.content_type)

    app.router.add_get("/{cdn:(media/)?(ephemeral-)?attachments}/{path:.+}", cdn, allow_head=False)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _not_found(request: web.Request) -> web.Response:
    raise DiscordError(404, 0, "404: Not Found")


class RestApi:
    """Handlers for the bot-authenticated API routes."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def install(self, app: web.Application) -> None:
        """Register the routes."""
        r = app.router

        def get(path: str, handler: Any) -> None:
            r.add_get(API + path, handler, allow_head=False)

        get("/gateway", self.get_gateway)
        get("/gateway/bot", self.get_gateway_bot)
        get("/users/@me", self.get_me)
        r.add_post(f"{API}/users/@me/channels", self.create_dm)
        get("/users/{user_id}", self.get_user)
        get("/oauth2/applications/@me", self.get_application)
        get("/applications/@me", self.get_application)
        for path in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
            get(path, self.get_commands)
            r.add_put(API + path, self.put_commands)
            r.add_post(API + path, self.post_command)
        get("/channels/{channel_id}", self.get_channel)
        get("/channels/{channel_id}/messages", self.get_messages)
        r.add_post(f"{API}/channels/{{channel_id}}/messages", self.post_message)
        r.add_post(f"{API}/channels/{{channel_id}}/typing", self.post_typing)
        message = "/channels/{channel_id}/messages/{message_id}"
        get(message, self.get_message)
        r.add_patch(API + message, self.patch_message)
        r.add_delete(API + message, self.delete_message)
        get("/guilds/{guild_id}", self.get_guild)
        get("/guilds/{guild_id}/channels", self.get_guild_channels)
        get("/guilds/{guild_id}/members/{user_id}", self.get_member)

    async def _body(self, request: web.Request) -> tuple[Any, list[Any]]:
        return await read_body(request, self.fake.attachment_size_limit)

    # -- meta ------------------------------------------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        """``GET /gateway``."""
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """``GET /gateway/bot``."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response({"url": self.fake.gateway_url, "shards": 1, "session_start_limit": limit})

    async def get_me(self, request: web.Request) -> web.Response:
        """``GET /users/@me``."""
        return json_response(self.fake.bot_user.payload() | {"verified": True, "mfa_enabled": False})

    async def get_user(self, request: web.Request) -> web.Response:
        """``GET /users/{id}``."""
        user = self.fake.users.get(to_int(request.match_info["user_id"]))
        if user is None:
            raise DiscordError(*UNKNOWN_USER)
        return json_response(user.payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: open (or reuse) the DM channel with a user."""
        body, _ = await self._body(request)
        user = self.fake.users.get(to_int(body.get("recipient_id")))
        if user is None:
            raise DiscordError(*UNKNOWN_USER)
        return json_response(self.fake.dm_channel(user).payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """``GET /oauth2/applications/@me`` and ``GET /applications/@me``."""
        return json_response(self.fake.application_payload())

    # -- application commands --------------------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if to_int(request.match_info["app_id"]) != self.fake.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild_id" not in request.match_info:
            return None
        guild_id = to_int(request.match_info["guild_id"])
        if guild_id not in self.fake.guilds:
            raise DiscordError(*MISSING_ACCESS)
        return guild_id

    async def get_commands(self, request: web.Request) -> web.Response:
        """``GET .../commands``."""
        return json_response(self.fake.commands_synced.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        """``PUT .../commands``: bulk overwrite."""
        scope = self._scope(request)
        body, _ = await self._body(request)
        if not isinstance(body, list):
            raise form_error("_root", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        previous = {(c["name"], c["type"]): c for c in self.fake.commands_synced.get(scope, [])}
        stored: list[dict[str, Any]] = []
        for index, command in enumerate(body):
            new = self._command(command, scope, previous, index)
            if any((c["name"], c["type"]) == (new["name"], new["type"]) for c in stored):
                raise form_error(
                    str(index), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Command names must be unique"
                )
            stored.append(new)
        self.fake.commands_synced[scope] = stored
        self.fake.sync_count += 1
        self.fake._notify()
        return json_response(stored)

    async def post_command(self, request: web.Request) -> web.Response:
        """``POST .../commands``: create or replace one command."""
        scope = self._scope(request)
        body, _ = await self._body(request)
        current = self.fake.commands_synced.setdefault(scope, [])
        command = self._command(body, scope, {(c["name"], c["type"]): c for c in current}, 0)
        current[:] = [c for c in current if (c["name"], c["type"]) != (command["name"], command["type"])]
        current.append(command)
        self.fake._notify()
        return json_response(command, status=201)

    def _command(
        self, command: dict[str, Any], scope: int | None, previous: dict[tuple[str, int], Any], index: int
    ) -> dict[str, Any]:
        kind = int(command.get("type", 1))
        name = str(command.get("name", ""))
        description = command.get("description", "")
        if kind == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
            raise form_error(f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}")
        if kind == 1 and not 1 <= len(description) <= 100:
            raise form_error(f"{index}.description", "BASE_TYPE_BAD_LENGTH", "Must be 1 to 100 in length.")
        if kind != 1 and not 1 <= len(name) <= 32:
            raise form_error(f"{index}.name", "BASE_TYPE_BAD_LENGTH", "Must be 1 to 32 in length.")
        old = previous.get((name, kind))
        permissions = command.get("default_member_permissions")
        stored = dict(command)
        stored.update(
            id=old["id"] if old else str(snowflake()),
            application_id=str(self.fake.application_id),
            version=str(snowflake()),
            type=kind,
            name=name,
            description=description if kind == 1 else "",
            default_member_permissions=None if permissions is None else str(int(permissions)),
            nsfw=bool(command.get("nsfw", False)),
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    # -- channels --------------------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> FakeChannel:
        channel = self.fake.find_channel(to_int(request.match_info["channel_id"]))
        if channel is None:
            raise DiscordError(*UNKNOWN_CHANNEL)
        if channel.guild is not None and not self.fake.bot_permissions(channel) & Perm.VIEW_CHANNEL:
            raise DiscordError(*MISSING_ACCESS)
        return channel

    def _message(self, request: web.Request, channel: FakeChannel) -> FakeMessage:
        wanted = to_int(request.match_info["message_id"])
        found = [m for m in channel.messages if m.id == wanted and not m.deleted and not m.ephemeral]
        if not found:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return found[0]

    async def get_channel(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}``."""
        return json_response(self._channel(request).payload())

    async def get_messages(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages``: newest first; ``limit``, ``before``, ``after``."""
        listed = self.fake.messages_in(self._channel(request))
        if "before" in request.query:
            listed = [m for m in listed if m.id < to_int(request.query["before"])]
        if "after" in request.query:
            listed = [m for m in listed if m.id > to_int(request.query["after"])]
        limit = min(100, max(1, to_int(request.query.get("limit", "50"))))
        newest = sorted(listed, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([m.payload() for m in newest])

    async def get_message(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages/{id}``."""
        channel = self._channel(request)
        return json_response(self._message(request, channel).payload())

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages`` as the bot."""
        body, uploads = await self._body(request)
        channel = self._channel(request)
        if channel.type is ChannelType.DM:
            assert channel.recipient is not None
            if not channel.recipient.accepts_dms:
                raise DiscordError(*CANNOT_DM)
        else:
            needed = Perm.SEND_MESSAGES | (Perm.ATTACH_FILES if uploads else 0)
            if self.fake.bot_permissions(channel) & needed != needed:
                raise DiscordError(*MISSING_PERMISSIONS)
        message = FakeMessage(snowflake(), channel, self.fake.bot_user)
        if body.get("message_reference"):
            message.type = 19  # REPLY
            message.message_reference = {"channel_id": str(channel.id), **body["message_reference"]}
        messages.apply_body(self.fake, message, body, uploads, creating=True)
        await self.fake._publish(message, created=True)
        return json_response(message.payload())

    async def patch_message(self, request: web.Request) -> web.Response:
        """``PATCH /channels/{id}/messages/{id}`` (the bot's own messages only)."""
        body, uploads = await self._body(request)
        message = self._message(request, self._channel(request))
        if message.author is not self.fake.bot_user:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        await messages.edit(self.fake, message, body, uploads)
        return json_response(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        """``DELETE /channels/{id}/messages/{id}``."""
        channel = self._channel(request)
        message = self._message(request, channel)
        own = message.author is self.fake.bot_user
        if not own and not self.fake.bot_permissions(channel) & Perm.MANAGE_MESSAGES:
            raise DiscordError(*MISSING_PERMISSIONS)
        await self.fake._delete(message)
        return web.Response(status=204)

    async def post_typing(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/typing``."""
        self._channel(request)
        return web.Response(status=204)

    # -- guilds ----------------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> FakeGuild:
        guild = self.fake.guilds.get(to_int(request.match_info["guild_id"]))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}``."""
        return json_response(self._guild(request).partial_payload())

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/channels``."""
        return json_response([c.payload() for c in self._guild(request).channels])

    async def get_member(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/members/{user_id}``."""
        member = self._guild(request).members.get(to_int(request.match_info["user_id"]))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response(member.payload())
