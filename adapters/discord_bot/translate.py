"""discord.py objects -> core values: who acted where, with which images; sent attachments -> refs.

An origin's ``handle`` carries what answering the interaction later needs (application id, token,
creation time, upload limit, and where the result goes), because after a restart there is no
:class:`discord.Interaction` object, only the job's stored origin.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import discord

from core.events import Origin, ReplyHandle, Role
from core.i18n import pick_locale
from core.identity import ChatRef, Community, Platform, UserKey
from core.refs import ImageRef

# Where a job started by an interaction shows its progress and result (``Origin.handle.mode``):
# ORIGINAL: the interaction's (public) response is the status message and becomes the result;
# FOLLOWUP: the response is a private status message; the result is posted as a new public message.
ORIGINAL = "original"
FOLLOWUP = "followup"

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})


def origin_of(interaction: discord.Interaction[Any], *, mode: str = ORIGINAL) -> Origin:
    """The core origin of an interaction; its id is the idempotency key of what it starts."""
    user = interaction.user
    guild_id = interaction.guild_id
    return Origin(
        user=UserKey(Platform.DISCORD, str(user.id)),
        chat=ChatRef(Platform.DISCORD, str(interaction.channel_id)),
        event_id=str(interaction.id),
        community=Community(Platform.DISCORD, str(guild_id)) if guild_id else None,
        locale=pick_locale(str(interaction.locale)),
        user_name=user.name,
        handle=ReplyHandle(
            application_id=str(interaction.application_id),
            token=interaction.token,
            created=interaction.created_at.timestamp(),
            upload_limit=interaction.filesize_limit,
            mode=mode,
        ),
        role=role_of(interaction),
    )


def role_of(interaction: discord.Interaction[Any]) -> Role:
    """``ADMIN`` for members with Manage Server where the interaction happened, else ``MEMBER``.

    Discord resolves the member's permissions into the interaction (roles, Administrator, server
    owner), so no REST call is needed. Bot owners are recognised by the core, not here.
    """
    if interaction.guild_id is not None and interaction.permissions.manage_guild:
        return Role.ADMIN
    return Role.MEMBER


def locale_of(interaction: discord.Interaction[Any]) -> str:
    """The catalog locale of the user behind an interaction."""
    return pick_locale(str(interaction.locale))


def attachment_ref(attachment: discord.Attachment) -> ImageRef:
    """An uploaded file as a core reference; size and type come from Discord, so checks need no download.

    The URL is a signed CDN link that Discord expires after about a day.
    """
    return ImageRef(
        Platform.DISCORD,
        str(attachment.id),
        url=attachment.url,
        filename=attachment.filename,
        size=attachment.size,
        mime=attachment.content_type,
        width=attachment.width,
        height=attachment.height,
    )


def refs_of(attachments: Iterable[discord.Attachment]) -> tuple[ImageRef, ...]:
    """References to the files of a sent message (what "edit again" fetches)."""
    return tuple(attachment_ref(a) for a in attachments)


def _looks_like_image(attachment: discord.Attachment) -> bool:
    if attachment.content_type is not None:
        return attachment.content_type.startswith("image/")
    return posixpath.splitext(attachment.filename.lower())[1] in IMAGE_SUFFIXES


def first_image(message: discord.Message) -> ImageRef | None:
    """The image "Edit image" works on: the first image attachment, else the first embed image."""
    for attachment in message.attachments:
        if _looks_like_image(attachment):
            return attachment_ref(attachment)
    for index, embed in enumerate(message.embeds):
        for media in (embed.image, embed.thumbnail):
            # Discord's media proxy first: it serves what the embed shows, without us fetching a
            # URL a user chose.
            url = media.proxy_url or media.url
            if url:
                name = posixpath.basename(urlsplit(url).path) or "image"
                return ImageRef(
                    Platform.DISCORD,
                    f"{message.id}:embed:{index}",
                    url=url,
                    filename=name,
                    width=media.width,
                    height=media.height,
                )
    return None
