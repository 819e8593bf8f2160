"""Telegram objects -> core values: who sent what, where, and whether the bot was addressed.

In groups the bot acts only when addressed: a command (``/edit``, ``/edit@bot``), a mention of
the bot, or a reply to one of the bot's own messages. That also works with privacy mode on,
where Telegram delivers exactly those messages to bots.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Chat, Message, MessageEntity, User

from core.events import Origin
from core.i18n import pick_locale
from core.identity import ChatRef, Community, Platform, UserKey
from core.refs import ImageRef

GROUP_TYPES = (Chat.GROUP, Chat.SUPERGROUP)


def origin_of(message: Message, user: User, event_id: str) -> Origin:
    """The core origin of a message (or of a button under it, pressed by ``user``)."""
    chat = message.chat
    thread = (
        str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
    )
    return Origin(
        user=UserKey(Platform.TELEGRAM, str(user.id)),
        chat=ChatRef(Platform.TELEGRAM, str(chat.id), thread),
        event_id=event_id,
        community=Community(Platform.TELEGRAM, str(chat.id)) if chat.type in GROUP_TYPES else None,
        locale=pick_locale(user.language_code),
        reply_to=str(message.message_id),
        user_name=user.username or user.first_name,
    )


def message_event_id(message: Message) -> str:
    """Stable across redeliveries of the same update: chat and message id."""
    return f"{message.chat.id}:{message.message_id}"


def photo_ref(message: Message) -> ImageRef | None:
    """The largest size of the message's photo (Telegram lists sizes smallest first)."""
    if not message.photo:
        return None
    best = message.photo[-1]
    return ImageRef(
        Platform.TELEGRAM,
        best.file_id,
        filename="photo.jpg",
        size=best.file_size,
        mime="image/jpeg",
        width=best.width,
        height=best.height,
    )


def images_of(message: Message | None) -> tuple[ImageRef, ...]:
    """The image a message carries: the largest photo size, or a document (maybe not an image)."""
    if message is None:
        return ()
    photo = photo_ref(message)
    if photo is not None:
        return (photo,)
    doc = message.document
    if doc is not None:
        return (
            ImageRef(
                Platform.TELEGRAM,
                doc.file_id,
                filename=doc.file_name,
                size=doc.file_size,
                mime=doc.mime_type,
                as_document=True,
            ),
        )
    return ()


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message's text split into an optional leading command and the rest."""

    command: str | None
    rest: str
    mentions_bot: bool


def parse_text(message: Message, bot_username: str) -> Parsed:
    """Find a leading ``/command[@bot]`` and mentions of the bot in the text or caption.

    A command addressed to another bot (``/edit@other_bot``) counts as no command for us.
    """
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    parsed_entities = message.parse_entities() if message.text else message.parse_caption_entities()
    me = "@" + bot_username.lower()
    command: str | None = None
    cut: list[tuple[int, int]] = []
    mentions = False
    for entity in entities:
        value = parsed_entities.get(entity, "")
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, _, target = value[1:].partition("@")
            if target and target.lower() != bot_username.lower():
                return Parsed(None, "", False)
            command = name.lower()
            cut.append((0, len(value)))
        elif entity.type == MessageEntity.MENTION and value.lower() == me:
            mentions = True
            cut.append((text.find(value), len(value)))
    rest = text
    for start, length in sorted(cut, reverse=True):
        if start >= 0:
            rest = rest[:start] + rest[start + length :]
    return Parsed(command, rest.strip(), mentions)


def is_reply_to_bot(message: Message, bot_id: int) -> bool:
    """True when the message answers one of the bot's own messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)
