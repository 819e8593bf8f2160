"""Account, update, webhook, command and chat-query methods of the fake Bot API.

Importing this module registers every handler (it imports ``telegram_messages`` for the message
methods); the server dispatches through ``METHODS``.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING

from . import telegram_messages  # noqa: F401  (registers the message methods)
from .telegram_messages import chat_of
from .telegram_model import JSON, BotAccount, FakeChat, WebhookConfig
from .telegram_wire import METHODS, ApiError, Described, Params, method

if TYPE_CHECKING:
    from .telegram_server import FakeTelegram

__all__ = ["METHODS"]


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.obj("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), p.text("language_code") or ""


def _member(tg: FakeTelegram, bot: BotAccount, chat: FakeChat, user_id: int) -> JSON:
    if user_id == bot.id:
        user: JSON = bot.to_dict()
        status = "administrator" if chat.bot_is_admin else "left" if chat.bot_kicked else "member"
    else:
        known = chat.members.get(user_id) or tg.users.get(user_id)
        if known is None:
            raise ApiError(400, "Bad Request: user not found")
        user = known.to_dict()
        status = (
            "creator"
            if user_id == chat.owner_id
            else "administrator"
            if user_id in chat.admins
            else "member"
            if user_id in chat.members
            else "left"
        )
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(
            (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_pin_messages",
                "can_manage_topics",
            ),
            True,
        )
        return {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_promote_members": False,
            **rights,
        }
    return {"status": status, "user": user}


@method("getMe")
async def get_me(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    return {
        **bot.to_dict(),
        "can_join_groups": True,
        "can_read_all_group_messages": not bot.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut")
@method("close")
async def log_out(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    return True


@method("getUpdates")
async def get_updates(tg: FakeTelegram, bot: BotAccount, p: Params) -> list[JSON]:
    if bot.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
        )
    offset, limit, timeout = p.integer("offset") or 0, p.integer("limit") or 100, p.number("timeout") or 0.0
    allowed = p.obj("allowed_updates")
    if allowed is not None:
        bot.allowed_updates = list(allowed)
    tg.confirm_updates(bot, offset)
    return await tg.long_poll(bot, max(1, min(limit, 100)), max(0.0, timeout))


@method("setWebhook")
async def set_webhook(tg: FakeTelegram, bot: BotAccount, p: Params) -> Described:
    url = p.text("url") or ""
    if not url:
        return _remove_webhook(tg, bot, p)
    if not re.match(r"https?://[^/\s]+", url):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.text("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    allowed = p.obj("allowed_updates")
    if allowed is not None:
        bot.allowed_updates = list(allowed)
    if p.flag("drop_pending_updates"):
        bot.pending.clear()
    same = bot.webhook is not None and bot.webhook.url == url
    bot.webhook = WebhookConfig(
        url,
        secret,
        p.integer("max_connections") or 40,
        allowed,
        p.text("ip_address"),
        "certificate" in p.files or bool(p.text("certificate")),
    )
    tg.webhook_changed(bot)
    return Described(True, "Webhook is already set" if same else "Webhook was set")


def _remove_webhook(tg: FakeTelegram, bot: BotAccount, p: Params) -> Described:
    if p.flag("drop_pending_updates"):
        bot.pending.clear()
    existed, bot.webhook = bot.webhook is not None, None
    tg.webhook_changed(bot)
    return Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")


@method("deleteWebhook")
async def delete_webhook(tg: FakeTelegram, bot: BotAccount, p: Params) -> Described:
    return _remove_webhook(tg, bot, p)


@method("getWebhookInfo")
async def get_webhook_info(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    hook = bot.webhook
    info: JSON = {
        "url": hook.url if hook else "",
        "has_custom_certificate": bool(hook and hook.has_custom_certificate),
        "pending_update_count": len(bot.pending),
    }
    if hook:
        info["max_connections"] = hook.max_connections
        for key in ("ip_address", "allowed_updates", "last_error_date", "last_error_message"):
            if (value := getattr(hook, key)) is not None:
                info[key] = value
    return info


@method("setMyCommands")
async def set_my_commands(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    commands = p.obj("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: can't parse commands JSON object")
    for command in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands[_commands_key(p)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


@method("getMyCommands")
async def get_my_commands(tg: FakeTelegram, bot: BotAccount, p: Params) -> list[JSON]:
    return copy.deepcopy(bot.commands.get(_commands_key(p), []))


@method("deleteMyCommands")
async def delete_my_commands(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    bot.commands.pop(_commands_key(p), None)
    return True


@method("getChat")
async def get_chat(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = chat_of(tg, p)
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
        False,
    )
    return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}


@method("getChatMember")
async def get_chat_member(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = chat_of(tg, p)
    user_id = p.integer("user_id")
    if user_id is None:
        raise ApiError(400, "Bad Request: user_id is empty")
    return _member(tg, bot, chat, user_id)


@method("getChatAdministrators")
async def get_chat_administrators(tg: FakeTelegram, bot: BotAccount, p: Params) -> list[JSON]:
    chat = chat_of(tg, p)
    if chat.is_private:
        raise ApiError(400, "Bad Request: there are no administrators in the private chat")
    ids = ([chat.owner_id] if chat.owner_id else []) + chat.admins + ([bot.id] if chat.bot_is_admin else [])
    return [_member(tg, bot, chat, user_id) for user_id in ids]


@method("getChatMemberCount")
async def get_chat_member_count(tg: FakeTelegram, bot: BotAccount, p: Params) -> int:
    chat = chat_of(tg, p)
    return len(chat.members) + (0 if chat.bot_kicked else 1)
