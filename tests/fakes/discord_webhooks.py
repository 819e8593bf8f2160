"""The fake Discord's interaction endpoints: the callback and the interaction webhook (original, followups).

Invariants: a callback is accepted once per interaction and only while the interaction is fresh (404 10062
otherwise; 400 40060 the second time); the callback types accepted depend on the interaction type, as on
Discord; webhook calls need an unexpired token (401 50027 otherwise); the first followup after a deferred
response fills the "thinking" placeholder instead of creating a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes import discord_messages as messages
from tests.fakes.discord_http import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordError,
    form_error,
    json_response,
    read_body,
    to_int,
)

if TYPE_CHECKING:
    from tests.fakes.discord_interactions import FakeInteraction
    from tests.fakes.discord_models import FakeMessage
    from tests.fakes.discord_server import FakeDiscord

# Callback types each interaction type accepts: ping -> pong; commands -> message, defer, modal; components ->
# also deferred update and update; autocomplete -> choices; modal submits -> no modal (6/7 from a message).
_ALLOWED = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


class WebhookApi:
    """Handlers for ``/interactions/...`` and ``/webhooks/...``; owned by the fake's REST routes."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def install(self, app: web.Application, api: str) -> None:
        """Register the routes under ``api``."""
        r = app.router
        r.add_post(f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self.callback)
        r.add_post(f"{api}/webhooks/{{app_id}}/{{token}}", self.post_followup)
        message = f"{api}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}"
        r.add_get(message, self.get_message, allow_head=False)
        r.add_patch(message, self.patch_message)
        r.add_delete(message, self.delete_message)

    async def callback(self, request: web.Request) -> web.Response:
        """``POST /interactions/{id}/{token}/callback`` (``?with_response=true``: returns the callback)."""
        body, uploads = await read_body(request, self.fake.attachment_size_limit)
        interaction = self.fake._interactions.get(to_int(request.match_info["interaction_id"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordError(*UNKNOWN_INTERACTION)
        if interaction.callback_expired:
            raise DiscordError(*UNKNOWN_INTERACTION)
        if interaction.acknowledged:
            raise DiscordError(*ALREADY_ACKNOWLEDGED)
        kind = body.get("type")
        allowed = _ALLOWED[interaction.type]
        if interaction.type == 5 and interaction.source_message is None:
            allowed = {4, 5}
        if kind not in allowed:
            raise form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", f"Callback type {kind} is not valid here"
            )
        data = body.get("data") or {}
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            message = messages.interaction_message(self.fake, interaction, data, loading=kind == 5)
            if kind == 4:
                messages.apply_body(self.fake, message, data, uploads, creating=True)
            await self.fake._publish(message, created=True)
            interaction.original = message
            resource["message"] = message.payload()
        elif kind in (6, 7):
            assert interaction.source_message is not None
            interaction.original = interaction.source_message
            if kind == 7:
                await messages.edit(self.fake, interaction.original, data, uploads)
                resource["message"] = interaction.original.payload()
        elif kind == 9:
            _check_modal(data)
            interaction.modal = data
        interaction.acknowledged = True
        interaction.response_type = kind
        interaction.callbacks.append(body)
        self.fake._notify()
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        answer: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if interaction.original is not None and kind in (4, 5, 7):
            answer["response_message_id"] = str(interaction.original.id)
            answer["response_message_loading"] = interaction.original.loading
            answer["response_message_ephemeral"] = interaction.original.ephemeral
        return json_response({"interaction": answer, "resource": resource})

    def _interaction(self, request: web.Request) -> FakeInteraction:
        if to_int(request.match_info["app_id"]) != self.fake.application_id:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        interaction = self.fake._interactions_by_token.get(request.match_info["token"])
        if interaction is None or interaction.token_expired:
            raise DiscordError(*INVALID_WEBHOOK_TOKEN)
        return interaction

    def _message(self, request: web.Request, interaction: FakeInteraction) -> FakeMessage:
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
        """``POST /webhooks/{app}/{token}`` (``?wait=true`` returns the message)."""
        body, uploads = await read_body(request, self.fake.attachment_size_limit)
        interaction = self._interaction(request)
        if not interaction.acknowledged:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            message = original
            await messages.edit(self.fake, message, body, uploads)
        else:
            message = messages.interaction_message(self.fake, interaction, body, loading=False, followup=True)
            messages.apply_body(self.fake, message, body, uploads, creating=True)
            await self.fake._publish(message, created=True)
        interaction.followups.append(message)
        self.fake._notify()
        if _truthy(request.query.get("wait")):
            return json_response(message.payload())
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.Response:
        """``GET /webhooks/{app}/{token}/messages/{id|@original}``."""
        return json_response(self._message(request, self._interaction(request)).payload())

    async def patch_message(self, request: web.Request) -> web.Response:
        """``PATCH /webhooks/{app}/{token}/messages/{id|@original}``."""
        body, uploads = await read_body(request, self.fake.attachment_size_limit)
        message = self._message(request, self._interaction(request))
        await messages.edit(self.fake, message, body, uploads)
        return json_response(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        """``DELETE /webhooks/{app}/{token}/messages/{id|@original}``."""
        await self.fake._delete(self._message(request, self._interaction(request)))
        return web.Response(status=204)


def _check_modal(data: dict[str, Any]) -> None:
    if not data.get("custom_id") or not data.get("title"):
        raise form_error("data", "BASE_TYPE_REQUIRED", "A modal needs a custom_id and a title")
    if len(data["title"]) > 45:
        raise form_error("data.title", "BASE_TYPE_MAX_LENGTH", "Must be 45 or fewer in length.")
    if not 1 <= len(data.get("components") or []) <= 5:
        raise form_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
