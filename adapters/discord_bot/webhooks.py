"""Answering an interaction without its Interaction object, and the channel once its token has expired.

Jobs outlive the interaction that started them (and the process: a job's origin is stored), so
everything after the first acknowledgement goes through the interaction webhook rebuilt from the
origin's ``handle`` (application id + token). Invariants: the token is not used past
:data:`TOKEN_USABLE` seconds after the interaction (Discord keeps it 15 minutes); a 401/50027 or
unknown-webhook/interaction answer marks it expired too; then results and errors are posted to the
channel, mentioning the user and only them.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import discord

from adapters.discord_bot.translate import ORIGINAL
from core.actions import OutputImage
from core.events import Origin
from core.i18n import cut

TOKEN_USABLE = 14 * 60
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
CONTENT_MAX = 2000
ORIGINAL_MESSAGE = "@original"
# 401 Invalid Webhook Token, 404 Unknown Webhook / Unknown Interaction: the token is no use anymore.
_TOKEN_GONE = {(401, 50027), (404, 10015), (404, 10062)}
# 404 Unknown Message: the user deleted (or dismissed) the response; the token itself may still work.
_MESSAGE_GONE = (404, 10008)
_REMEMBERED = 4096


class TokenExpired(Exception):
    """The interaction's response can no longer be edited (token expired, or the message was deleted);
    answer in the channel instead."""


def split(text: str, limit: int = CONTENT_MAX) -> list[str]:
    """``text`` in messages of at most ``limit`` characters, broken between lines (a long line is cut)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = cut(line, limit)
        joined = f"{current}\n{line}" if current else line
        if len(joined) <= limit:
            current = joined
            continue
        pieces.append(current)
        current = line
    pieces.append(current)
    return pieces


@dataclass(frozen=True, slots=True)
class Reply:
    """Where the answers to one interaction go, rebuilt from an origin."""

    application_id: int
    token: str
    created: float
    channel_id: int
    user_id: int
    upload_limit: int
    mode: str

    @classmethod
    def of(cls, origin: Origin) -> Reply:
        """The reply target of an origin made by :func:`adapters.discord_bot.translate.origin_of`."""
        handle = origin.handle
        return cls(
            application_id=int(handle.application_id or 0),
            token=handle.token or "",
            created=handle.created or 0.0,
            channel_id=int(origin.chat.chat_id),
            user_id=int(origin.user.user_id),
            upload_limit=handle.upload_limit or DEFAULT_UPLOAD_LIMIT,
            mode=handle.mode or ORIGINAL,
        )

    def stale(self, now: float | None = None) -> bool:
        """Whether the token is (about to be) too old to use."""
        return not self.token or (now if now is not None else time.time()) - self.created > TOKEN_USABLE


def to_files(images: Sequence[OutputImage]) -> list[discord.File]:
    """Fresh upload objects (a :class:`discord.File` is consumed by one request)."""
    return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in images]


class Responder:
    """Interaction-webhook calls by app id + token, with the channel as the fallback."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._expired: OrderedDict[str, None] = OrderedDict()

    def _webhook(self, reply: Reply) -> discord.Webhook:
        if reply.stale() or reply.token in self._expired:
            raise TokenExpired()
        # What ``Interaction.followup`` builds: an application webhook bound to the client's state,
        # so it may send ephemeral messages and views with buttons.
        data: Any = {"id": reply.application_id, "type": 3, "token": reply.token}
        return discord.Webhook.from_state(data, self._client._connection)

    def _check(self, reply: Reply, exc: discord.HTTPException) -> None:
        if (exc.status, exc.code) == _MESSAGE_GONE:
            raise TokenExpired() from exc
        if (exc.status, exc.code) in _TOKEN_GONE:
            self._expired[reply.token] = None
            while len(self._expired) > _REMEMBERED:
                self._expired.popitem(last=False)
            raise TokenExpired() from exc

    async def edit_original(
        self,
        reply: Reply,
        content: str,
        *,
        images: Sequence[OutputImage] | None = None,
        view: discord.ui.View | None = None,
        clear_view: bool = False,
    ) -> discord.WebhookMessage:
        """Edit the interaction's response; ``images`` replace its files, ``view`` its buttons."""
        kwargs: dict[str, Any] = {"content": cut(content, CONTENT_MAX)}
        if images is not None:
            kwargs["attachments"] = to_files(images)
        if view is not None or clear_view:
            kwargs["view"] = view
        try:
            # The webhook route takes "@original" where a message id goes.
            return await self._webhook(reply).edit_message(cast(int, ORIGINAL_MESSAGE), **kwargs)
        except discord.HTTPException as exc:
            self._check(reply, exc)
            raise

    async def respond(
        self,
        response: discord.InteractionResponse[Any],
        content: str,
        *,
        images: Sequence[OutputImage] = (),
        view: discord.ui.View | None = None,
    ) -> None:
        """Answer an interaction not acknowledged yet, privately: the message is its response."""
        kwargs: dict[str, Any] = {"content": cut(content, CONTENT_MAX), "ephemeral": True}
        if images:
            kwargs["files"] = to_files(images)
        if view is not None:
            kwargs["view"] = view
        await response.send_message(**kwargs)

    async def followup(
        self,
        reply: Reply,
        content: str,
        *,
        images: Sequence[OutputImage] = (),
        view: discord.ui.View | None = None,
        ephemeral: bool = False,
    ) -> discord.WebhookMessage:
        """A new message answering the interaction (the first one after a defer fills its placeholder)."""
        kwargs: dict[str, Any] = {"content": cut(content, CONTENT_MAX), "ephemeral": ephemeral, "wait": True}
        if images:
            kwargs["files"] = to_files(images)
        if view is not None:
            kwargs["view"] = view
        try:
            message: discord.WebhookMessage = await self._webhook(reply).send(**kwargs)
        except discord.HTTPException as exc:
            self._check(reply, exc)
            raise
        return message

    async def delete_original(self, reply: Reply) -> None:
        """Remove the interaction's response (e.g. a public "thinking…" placeholder)."""
        try:
            await self._webhook(reply).delete_message(cast(int, ORIGINAL_MESSAGE))
        except discord.NotFound:
            pass  # already gone: what we wanted
        except discord.HTTPException as exc:
            self._check(reply, exc)
            raise

    async def to_channel(
        self,
        reply: Reply,
        text: str,
        *,
        images: Sequence[OutputImage] = (),
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        """Post in the interaction's channel, mentioning the user (nobody else may be pinged)."""
        channel = self._client.get_partial_messageable(reply.channel_id)
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, replied_user=False, users=[discord.Object(reply.user_id)]
        )
        kwargs: dict[str, Any] = {"allowed_mentions": mentions}
        if images:
            kwargs["files"] = to_files(images)
        if view is not None:
            kwargs["view"] = view
        return await channel.send(cut(text, CONTENT_MAX), **kwargs)
