"""Admin commands in Telegram: who is asking (getChatMember) and about whom (the replied-to member).

The core decides what each role may do; this module only tells it the sender's role in the chat
and which member a command is about. Chat administrators and the creator are admins; bot owners
(EDITBOT_ADMINS) are recognised by the core. Telegram cannot look a user up by @username, so
the target is the author of the message the command replies to, or a mention of a user without
a username (a "text mention", which carries the user).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Bot, ChatMember, Message, MessageEntity, User
from telegram.error import TelegramError

from adapters.telegram_bot.translate import GROUP_TYPES
from core.events import AdminCommand, Origin, Role
from core.identity import Platform, UserKey

log = logging.getLogger(__name__)

ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def role_in_chat(bot: Bot, message: Message, user: User) -> Role:
    """ADMIN for a group's creator or administrators (asked with getChatMember), else MEMBER."""
    if message.chat.type not in GROUP_TYPES:
        return Role.MEMBER
    try:
        member = await bot.get_chat_member(message.chat.id, user.id)
    except TelegramError:
        log.warning("getChatMember failed for chat %s; treating the sender as a member", message.chat.id)
        return Role.MEMBER
    return Role.ADMIN if member.status in ADMIN_STATUSES else Role.MEMBER


def target_of(message: Message) -> tuple[UserKey | None, str | None]:
    """The member a command is about: the replied-to author, or a text mention's user."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return _key(replied.from_user), _name(replied.from_user)
    for entity in message.entities or ():
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            return _key(entity.user), _name(entity.user)
    return None, None


async def admin_command(
    bot: Bot, message: Message, user: User, origin: Origin, name: str, args: str
) -> tuple[Origin, AdminCommand]:
    """The origin with the sender's role, and the command with its target."""
    role = await role_in_chat(bot, message, user)
    target, target_name = target_of(message)
    return replace(origin, role=role), AdminCommand(name, args, target, target_name)


def _key(user: User) -> UserKey:
    return UserKey(Platform.TELEGRAM, str(user.id))


def _name(user: User) -> str:
    return f"@{user.username}" if user.username else user.full_name
