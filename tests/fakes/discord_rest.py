"""The fake Discord REST API (``/api/v10``) and CDN, as aiohttp handlers over :class:`FakeDiscord`'s state.

Invariants: every response under ``/api`` carries ``X-RateLimit-*`` headers that never run out (discord.py never
waits); errors use Discord's JSON shape ``{"message", "code"}`` (plus ``errors`` for form errors) so discord.py raises
the same exception types as in production; every request is recorded, with its status, in ``fake.requests``.
Interaction and webhook routes need no ``Authorization``; every other API route needs ``Bot <token>``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_models import (
    ChannelType,
    FakeChannel,
    FakeFile,
    FakeMessage,
    MessageFlag,
    Perm,
    iso_now,
    snowflake,
)

if TYPE_CHECKING:
    from tests.fakes.discord_interactions import FakeInteraction
    from tests.fakes.discord_server import FakeDiscord

API = "/api/v10"
MAX_FILES = 10
MAX_CONTENT = 2000
_FILE_FIELD = re.compile(r"^files?\[?(\d*)\]?$")
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response typed exactly ``application/json``: discord.py only parses that (no ``charset``)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return web.Response(body=data, status=status, headers={**(headers or {}), "Content-Type": "application/json"})


class DiscordError(Exception):
    """An API error rendered as Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        """The HTTP response for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return json_response(body, status=self.status)


def form_error(field_name: str, code: str, message: str) -> DiscordError:
    """A 400 Invalid Form Body error about one field."""
    return DiscordError(
        400, 50035, "Invalid Form Body", {field_name: {"_errors": [{"code": code, "message": message}]}}
    )


UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")
TOO_LARGE = (413, 40005, "Request entity too large")


@dataclass
class Upload:
    """One uploaded file part (``files[n]``)."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request the fake served: what came in, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: list[Upload] = field(default_factory=list)
    status: int = 0
    response: Any = None

    def __str__(self) -> str:
        error = ""
        if isinstance(self.response, dict) and "code" in self.response and self.status >= 400:
            error = f" {self.response.get('code')} {self.response.get('message')}"
        return f"{self.method} {self.path} -> {self.status}{error}"


RECORD = web.RequestKey("fake_discord_record", RecordedRequest)


@dataclass
class Fault:
    """A canned failure for the next ``times`` requests matching ``method`` and the ``path`` glob."""

    method: str
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


class RestApi:
    """Route table and handlers; owned by :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def install(self, app: web.Application) -> None:
        """Register every route on ``app`` (order matters: literal segments before placeholders)."""
        r = app.router
        get, post, put, patch, delete = r.add_get, r.add_post, r.add_put, r.add_patch, r.add_delete
        get(f"{API}/gateway", self.get_gateway, allow_head=False)
        get(f"{API}/gateway/bot", self.get_gateway_bot, allow_head=False)
        get(f"{API}/users/@me", self.get_me, allow_head=False)
        post(f"{API}/users/@me/channels", self.create_dm)
        get(f"{API}/users/{{user_id}}", self.get_user, allow_head=False)
        get(f"{API}/oauth2/applications/@me", self.get_application, allow_head=False)
        get(f"{API}/applications/@me", self.get_application, allow_head=False)
        for path in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
            get(API + path, self.get_commands, allow_head=False)
            put(API + path, self.put_commands)
            post(API + path, self.post_command)
        post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback", self.interaction_callback)
        post(f"{API}/webhooks/{{app_id}}/{{token}}", self.post_followup)
        webhook_message = f"{API}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}"
        get(webhook_message, self.get_webhook_message, allow_head=False)
        patch(webhook_message, self.patch_webhook_message)
        delete(webhook_message, self.delete_webhook_message)
        get(f"{API}/channels/{{channel_id}}", self.get_channel, allow_head=False)
        get(f"{API}/channels/{{channel_id}}/messages", self.get_channel_messages, allow_head=False)
        post(f"{API}/channels/{{channel_id}}/messages", self.post_channel_message)
        post(f"{API}/channels/{{channel_id}}/typing", self.post_typing)
        channel_message = f"{API}/channels/{{channel_id}}/messages/{{message_id}}"
        get(channel_message, self.get_channel_message, allow_head=False)
        patch(channel_message, self.patch_channel_message)
        delete(channel_message, self.delete_channel_message)
        get(f"{API}/guilds/{{guild_id}}", self.get_guild, allow_head=False)
        get(f"{API}/guilds/{{guild_id}}/channels", self.get_guild_channels, allow_head=False)
        get(f"{API}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member, allow_head=False)
        get("/gateway", self.fake.gateway.handle, allow_head=False)
        get("/{cdn:(media/)?(ephemeral-)?attachments}/{a}/{b}/{filename}", self.get_cdn_file)
        r.add_route("*", "/{tail:.*}", self.not_found)

    # -- plumbing ---------------------------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Record, authenticate, inject faults, map errors and add rate-limit headers."""
        path = request.path[len(API) :] if request.path.startswith(API + "/") else request.path
        record = RecordedRequest(request.method, path, dict(request.query))
        request[RECORD] = record
        is_api = request.path.startswith(API + "/")
        try:
            fault = self._take_fault(request.method, path) if is_api else None
            if fault is not None:
                response: web.StreamResponse = json_response(
                    fault.body, status=fault.status, headers=fault.headers
                )
            else:
                if is_api and not path.startswith(("/webhooks/", "/interactions/")):
                    if request.headers.get("Authorization") != f"Bot {self.fake.token}":
                        raise DiscordError(401, 0, "401: Unauthorized")
                response = await handler(request)
        except DiscordError as error:
            response = error.response()
        except web.HTTPMethodNotAllowed:
            response = DiscordError(405, 0, "405: Method Not Allowed").response()
        if is_api:
            self._ratelimit_headers(request, response)
        record.status = response.status
        if (
            isinstance(response, web.Response)
            and response.body is not None
            and response.content_type.endswith("json")
        ):
            record.response = json.loads(response.body)  # type: ignore[arg-type]
        if path != "/gateway":
            self.fake.requests.append(record)
            self.fake._notify()
        return response

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.fake.faults:
            if fault.times > 0 and fault.method in (method, "*") and fnmatch.fnmatchcase(path, fault.path):
                fault.times -= 1
                return fault
        return None

    @staticmethod
    def _ratelimit_headers(request: web.Request, response: web.StreamResponse) -> None:
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else request.path
        bucket = hashlib.sha1(f"{request.method} {canonical}".encode()).hexdigest()[:16]
        response.headers.setdefault("X-RateLimit-Limit", "50")
        response.headers.setdefault("X-RateLimit-Remaining", "49")
        response.headers.setdefault("X-RateLimit-Reset", f"{time.time() + 1:.3f}")
        response.headers.setdefault("X-RateLimit-Reset-After", "1.000")
        response.headers.setdefault("X-RateLimit-Bucket", bucket)

    async def _read_body(self, request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
        """JSON body or multipart (``payload_json`` + ``files[n]``); enforces the size and count limits."""
        record = request[RECORD]
        uploads: list[Upload] = []
        payload: dict[str, Any] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                name = part.name or ""  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                    continue
                match = _FILE_FIELD.match(name)
                if match is None:
                    continue
                data = await part.read()  # type: ignore[union-attr]
                index = int(match.group(1) or len(uploads))
                content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                uploads.append(Upload(index, part.filename or f"file{index}", content_type, bytes(data)))  # type: ignore[union-attr]
        elif request.can_read_body:
            text = await request.text()
            if text:
                try:
                    payload = json.loads(text)
                except ValueError as exc:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from exc
        record.json, record.files = payload, uploads
        if len(uploads) > MAX_FILES:
            raise form_error("files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
        if any(len(u.data) > self.fake.attachment_size_limit for u in uploads):
            raise DiscordError(*TOO_LARGE)
        return payload, uploads

    async def not_found(self, request: web.Request) -> web.Response:
        """Anything the fake does not serve."""
        raise DiscordError(404, 0, "404: Not Found")

    # -- meta ---------------------------------------------------------------------------------------------------

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
        user = self.fake.users.get(_int(request.match_info["user_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(user.payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: open (or reuse) a DM channel."""
        body, _ = await self._read_body(request)
        user = self.fake.users.get(_int(body.get("recipient_id")))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(self.fake.dm_channel(user).payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """``GET /oauth2/applications/@me`` and ``GET /applications/@me``."""
        return json_response(self.fake.application_payload())

    # -- application commands -----------------------------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if _int(request.match_info["app_id"]) != self.fake.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild_id" not in request.match_info:
            return None
        guild_id = _int(request.match_info["guild_id"])
        if guild_id not in self.fake.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        return guild_id

    async def get_commands(self, request: web.Request) -> web.Response:
        """``GET .../commands``."""
        scope = self._command_scope(request)
        return json_response(self.fake.commands_synced.get(scope, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        """``PUT .../commands``: bulk overwrite; ids stay stable for commands that keep their name and type."""
        scope = self._command_scope(request)
        body, _ = await self._read_body(request)
        if not isinstance(body, list):
            raise form_error("_root", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        previous = {(c["name"], c["type"]): c for c in self.fake.commands_synced.get(scope, [])}
        seen: set[tuple[str, int]] = set()
        stored = []
        for index, command in enumerate(body):
            stored.append(self._store_command(command, scope, previous, index))
            key = (stored[-1]["name"], stored[-1]["type"])
            if key in seen:
                raise form_error(
                    str(index),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add(key)
        self.fake.commands_synced[scope] = stored
        self.fake.sync_count += 1
        return json_response(stored)

    async def post_command(self, request: web.Request) -> web.Response:
        """``POST .../commands``: create or replace one command."""
        scope = self._command_scope(request)
        body, _ = await self._read_body(request)
        current = self.fake.commands_synced.setdefault(scope, [])
        previous = {(c["name"], c["type"]): c for c in current}
        command = self._store_command(body, scope, previous, 0)
        current[:] = [c for c in current if (c["name"], c["type"]) != (command["name"], command["type"])]
        current.append(command)
        return json_response(command, status=201)

    def _store_command(
        self, command: dict[str, Any], scope: int | None, previous: dict[tuple[str, int], Any], index: int
    ) -> dict[str, Any]:
        kind = int(command.get("type", 1))
        name = str(command.get("name", ""))
        description = command.get("description", "")
        if kind == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
            raise form_error(
                f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}"
            )
        if kind == 1 and not 1 <= len(description) <= 100:
            raise form_error(
                f"{index}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if kind != 1 and not 1 <= len(name) <= 32:
            raise form_error(f"{index}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        old = previous.get((name, kind))
        permissions = command.get("default_member_permissions")
        stored = dict(command)
        stored.update(
            {
                "id": old["id"] if old else str(snowflake()),
                "application_id": str(self.fake.application_id),
                "version": str(snowflake()),
                "type": kind,
                "name": name,
                "description": description if kind == 1 else "",
                "default_member_permissions": None if permissions is None else str(int(permissions)),
                "nsfw": bool(command.get("nsfw", False)),
            }
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    # -- interactions and their webhooks -------------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        """``POST /interactions/{id}/{token}/callback``."""
        interaction = self.fake._interactions.get(_int(request.match_info["interaction_id"]))
        body, uploads = await self._read_body(request)
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordError(*UNKNOWN_INTERACTION)
        if interaction.callback_expired:
            raise DiscordError(*UNKNOWN_INTERACTION)
        if interaction.acknowledged:
            raise DiscordError(*ALREADY_ACKNOWLEDGED)
        kind = body.get("type")
        allowed = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if interaction.type == 5 and interaction.source_message is None:
            allowed = {4, 5}
        if kind not in allowed:
            raise form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", f"Response type {kind} is not valid here"
            )
        data = body.get("data") or {}
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            message = self.fake._new_interaction_message(interaction, data, loading=kind == 5)
            if kind == 4:
                self._apply_message(message, data, uploads, creating=True)
            await self.fake._publish(message, created=True)
            interaction.original = message
            resource["message"] = message.payload()
        elif kind in (6, 7):
            message = interaction.source_message
            assert message is not None
            if kind == 7:
                await self._edit(message, data, uploads)
            interaction.original = message
            if kind == 7:
                resource["message"] = message.payload()
        elif kind == 9:
            self._check_modal(data)
            interaction.modal = data
        interaction.acknowledged = True
        interaction.response_type = kind
        interaction.callbacks.append(body)
        self.fake._notify()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        inner: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if interaction.original is not None and kind in (4, 5, 7):
            inner["response_message_id"] = str(interaction.original.id)
            inner["response_message_loading"] = interaction.original.loading
            inner["response_message_ephemeral"] = interaction.original.ephemeral
        return json_response({"interaction": inner, "resource": resource})

    @staticmethod
    def _check_modal(data: dict[str, Any]) -> None:
        if not data.get("custom_id") or not data.get("title"):
            raise form_error("data", "BASE_TYPE_REQUIRED", "A modal needs a custom_id and a title")
        components = data.get("components") or []
        if not 1 <= len(components) <= 5:
            raise form_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if len(data["title"]) > 45:
            raise form_error("data.title", "BASE_TYPE_MAX_LENGTH", "Must be 45 or fewer in length.")

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        if _int(request.match_info["app_id"]) != self.fake.application_id:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        interaction = self.fake._interactions_by_token.get(request.match_info["token"])
        if interaction is None or interaction.token_expired:
            raise DiscordError(*INVALID_WEBHOOK_TOKEN)
        return interaction

    def _webhook_message(self, request: web.Request, interaction: FakeInteraction) -> FakeMessage:
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            message = interaction.original
        else:
            candidates = [interaction.original, *interaction.followups]
            message = next((m for m in candidates if m is not None and str(m.id) == wanted), None)
        if message is None or message.deleted:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return message

    async def post_followup(self, request: web.Request) -> web.Response:
        """``POST /webhooks/{app}/{token}``: a followup (the first one after a defer fills the placeholder)."""
        body, uploads = await self._read_body(request)
        interaction = self._webhook_interaction(request)
        if not interaction.acknowledged:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            message = original
            await self._edit(message, body, uploads)
        else:
            message = self.fake._new_interaction_message(interaction, body, loading=False, followup=True)
            self._apply_message(message, body, uploads, creating=True)
            await self.fake._publish(message, created=True)
        interaction.followups.append(message)
        self.fake._notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message.payload())
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        """``GET /webhooks/{app}/{token}/messages/{id|@original}``."""
        interaction = self._webhook_interaction(request)
        return json_response(self._webhook_message(request, interaction).payload())

    async def patch_webhook_message(self, request: web.Request) -> web.Response:
        """``PATCH /webhooks/{app}/{token}/messages/{id|@original}``."""
        body, uploads = await self._read_body(request)
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        await self._edit(message, body, uploads)
        return json_response(message.payload())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        """``DELETE /webhooks/{app}/{token}/messages/{id|@original}``."""
        interaction = self._webhook_interaction(request)
        await self.fake._delete(self._webhook_message(request, interaction))
        return web.Response(status=204)

    # -- channels, guilds ----------------------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> FakeChannel:
        channel = self.fake.find_channel(_int(request.match_info["channel_id"]))
        if channel is None:
            raise DiscordError(*UNKNOWN_CHANNEL)
        if channel.guild is not None and not self.fake.bot_permissions(channel) & Perm.VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        return channel

    def _channel_message(self, request: web.Request, channel: FakeChannel) -> FakeMessage:
        wanted = _int(request.match_info["message_id"])
        message = next((m for m in channel.messages if m.id == wanted and not m.deleted), None)
        if message is None:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return message

    async def get_channel(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}``."""
        return json_response(self._channel(request).payload())

    async def get_channel_messages(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages`` (newest first; ``limit``, ``before``, ``after``)."""
        channel = self._channel(request)
        messages = [m for m in channel.messages if not m.deleted and not m.ephemeral]
        if "before" in request.query:
            messages = [m for m in messages if m.id < _int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > _int(request.query["after"])]
        limit = min(100, max(1, _int(request.query.get("limit", "50"))))
        newest_first = sorted(messages, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([m.payload() for m in newest_first])

    async def get_channel_message(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages/{id}``."""
        channel = self._channel(request)
        return json_response(self._channel_message(request, channel).payload())

    async def post_channel_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages`` as the bot."""
        body, uploads = await self._read_body(request)
        channel = self._channel(request)
        if channel.type is ChannelType.DM:
            assert channel.recipient is not None
            if not channel.recipient.accepts_dms:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
        else:
            granted = self.fake.bot_permissions(channel)
            needed = Perm.SEND_MESSAGES | (Perm.ATTACH_FILES if uploads else 0)
            if granted & needed != needed:
                raise DiscordError(*MISSING_PERMISSIONS)
        message = FakeMessage(snowflake(), channel, self.fake.bot_user)
        reference = body.get("message_reference")
        if reference:
            message.type = 19
            message.message_reference = {"channel_id": str(channel.id), **reference}
        self._apply_message(message, body, uploads, creating=True)
        await self.fake._publish(message, created=True)
        return json_response(message.payload())

    async def patch_channel_message(self, request: web.Request) -> web.Response:
        """``PATCH /channels/{id}/messages/{id}`` (only the bot's own messages)."""
        body, uploads = await self._read_body(request)
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        if message.author.id != self.fake.bot_user.id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        await self._edit(message, body, uploads)
        return json_response(message.payload())

    async def delete_channel_message(self, request: web.Request) -> web.Response:
        """``DELETE /channels/{id}/messages/{id}``."""
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        if (
            message.author.id != self.fake.bot_user.id
            and not self.fake.bot_permissions(channel) & Perm.MANAGE_MESSAGES
        ):
            raise DiscordError(*MISSING_PERMISSIONS)
        await self.fake._delete(message)
        return web.Response(status=204)

    async def post_typing(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/typing``."""
        self._channel(request)
        return web.Response(status=204)

    def _guild(self, request: web.Request) -> Any:
        guild = self.fake.guilds.get(_int(request.match_info["guild_id"]))
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
        member = self._guild(request).members.get(_int(request.match_info["user_id"]))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response(member.payload())

    async def get_cdn_file(self, request: web.Request) -> web.Response:
        """The CDN: attachment bytes by URL path (query strings such as ``ex``/``is``/``hm`` are ignored)."""
        path = request.path.removeprefix("/media")
        file = self.fake.cdn.get(path)
        if file is None:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=file.data, content_type=file.content_type)

    # -- message bodies ------------------------------------------------------------------------------------------

    async def _edit(self, message: FakeMessage, body: dict[str, Any], uploads: list[Upload]) -> None:
        before = message.snapshot()
        self._apply_message(message, body, uploads, creating=False)
        message.history.append(before)
        message.flags &= ~MessageFlag.LOADING
        message.edited_timestamp = iso_now()
        await self.fake._publish(message, created=False)

    def _apply_message(
        self, message: FakeMessage, body: dict[str, Any], uploads: list[Upload], *, creating: bool
    ) -> None:
        """Validate, then apply a create/edit body: content, embeds, components, flags and v10 ``attachments``."""
        content = body["content"] if "content" in body else message.content
        if content is not None and len(str(content)) > MAX_CONTENT:
            raise form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
        embeds = list(body.get("embeds") or []) if "embeds" in body else message.embeds
        if len(embeds) > 10:
            raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        flags = int(body.get("flags") or 0)
        components = list(body.get("components") or []) if "components" in body else message.components
        if "components" in body:
            _check_components(components, bool((flags | message.flags) & MessageFlag.IS_COMPONENTS_V2))
        by_index = {u.index: u for u in uploads}
        existing = {f.id: f for f in message.files}
        kept: list[FakeFile | Upload] = []
        if body.get("attachments") is not None:
            for item in body["attachments"]:
                wanted = _int(item.get("id"))
                if wanted in existing:
                    kept.append(existing[wanted])
                elif wanted in by_index:
                    upload = by_index[wanted]
                    name = item.get("filename") or upload.filename
                    kept.append(Upload(upload.index, name, upload.content_type, upload.data))
                else:
                    raise form_error("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment id {wanted}")
        else:
            kept = [*([] if creating else message.files), *uploads]
        if len(kept) > MAX_FILES:
            raise form_error(
                "attachments", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
            )
        placeholder = creating and message.loading
        if not (placeholder or content or embeds or kept or components):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        message.set_content(content)
        message.embeds, message.components = embeds, components
        message.files = [
            f if isinstance(f, FakeFile) else self.fake._store_file(message.channel, f.filename, f.data)
            for f in kept
        ]
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if creating:
            message.flags |= flags & (
                MessageFlag.EPHEMERAL | MessageFlag.SUPPRESS_EMBEDS | MessageFlag.IS_COMPONENTS_V2
            )
        elif "flags" in body:
            message.flags = (message.flags & ~MessageFlag.SUPPRESS_EMBEDS) | (
                flags & MessageFlag.SUPPRESS_EMBEDS
            )


def _check_components(components: list[dict[str, Any]], v2: bool) -> None:
    if not v2 and len(components) > 5:
        raise form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for index, row in enumerate(components):
        if not v2 and row.get("type") != 1:
            raise form_error(
                f"components.{index}", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level must be action rows"
            )
        children = row.get("components", [])
        if row.get("type") == 1 and not 1 <= len(children) <= 5:
            raise form_error(
                f"components.{index}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5"
            )
        for child in children:
            custom_id = child.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= 100:
                raise form_error(
                    f"components.{index}", "BASE_TYPE_BAD_LENGTH", "custom_id must be 1-100 characters"
                )
            if (
                child.get("type") == 2
                and child.get("style") != 5
                and child.get("style") != 6
                and not custom_id
            ):
                raise form_error(
                    f"components.{index}", "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "custom_id required"
                )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DiscordError(
            400, 50035, "Invalid Form Body", {"_errors": [{"code": "NUMBER_TYPE_COERCE"}]}
        ) from None
