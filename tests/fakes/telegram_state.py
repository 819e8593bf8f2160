"""The fake Telegram world and its test-side API: users and chats, what they do, and what they see.

Invariants: everything runs on the test's event loop and mutates state synchronously, so no locks are
needed; every change fires ``changed`` so waiters re-check at once instead of sleeping; user actions
enqueue updates for exactly one bot (``bot=`` picks which), filtered by privacy mode and allowed_updates.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import mimetypes
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .telegram_entities import auto_entities
from .telegram_flood import FloodControl
from .telegram_model import (
    JSON,
    BotAccount,
    BotCall,
    CallbackQueryHandle,
    ChatMessage,
    FakeChat,
    FakeUser,
    FileStore,
    StoredMessage,
    snapshot,
)

T = TypeVar("T")
MessageLike = ChatMessage | StoredMessage | int
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class Signal:
    """A broadcast wake-up: ``fire`` releases everyone currently waiting."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> bool:
        """Wait for the next ``fire``; False when ``timeout`` passed first."""
        event = self._event
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True


class TelegramState:
    """Users, chats, bots, files and the record of bot calls, plus helpers tests drive them with."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.bots: dict[str, BotAccount] = {}
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files = FileStore()
        self.flood = FloodControl()
        self.bot_calls: list[BotCall] = []
        self.callback_queries: dict[str, CallbackQueryHandle] = {}
        self.changed = Signal()
        self.update_signals: dict[str, Signal] = {}
        self._seq = itertools.count(1)
        self.bot = self.add_bot()

    def next_seq(self) -> int:
        """A fresh number for ids that only need to be unique (media groups, callback queries)."""
        return next(self._seq)

    # ----------------------------------------------------------------- accounts and chats

    def add_bot(
        self,
        token: str | None = None,
        *,
        username: str = "editbot_test_bot",
        first_name: str = "EditBot",
        privacy_mode: bool = True,
    ) -> BotAccount:
        """Serve another bot token (``token`` defaults to a well-formed deterministic one)."""
        n = len(self.bots) + 1
        bot_id = 7_000_000_000 + n
        token = token or f"{bot_id}:AAH{hashlib.sha256(str(n).encode()).hexdigest()[:32]}"
        if n > 1 and username == "editbot_test_bot":
            username = f"editbot{n}_test_bot"
        bot = BotAccount(int(token.partition(":")[0] or bot_id), token, username, first_name, privacy_mode)
        self.bots[token] = bot
        self.update_signals[token] = Signal()
        return bot

    def user(
        self,
        id: int | None = None,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        """A human user (ids default to 1001, 1002, ...)."""
        id = id if id is not None else 1000 + len(self.users) + 1
        user = FakeUser(id, first_name or f"User{id}", last_name, username, language_code)
        self.users[id] = user
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The user's private chat with the bot (chat id == user id, as in Telegram)."""
        if user.id not in self.chats:
            self.chats[user.id] = FakeChat(user.id, "private", user=user, members={user.id: user})
        return self.chats[user.id]

    def group(
        self,
        title: str,
        *members: FakeUser,
        admins: Sequence[FakeUser] = (),
        owner: FakeUser | None = None,
        supergroup: bool = True,
        forum: bool = False,
        bot_is_admin: bool = False,
        username: str | None = None,
        id: int | None = None,
    ) -> FakeChat:
        """A (super)group; ``owner`` defaults to the first admin, admins are members too."""
        n = next(self._seq)
        chat_id = id if id is not None else (-1_001_000_000_000 - n if supergroup else -4_000_000_000 - n)
        chat = FakeChat(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=forum,
            bot_is_admin=bot_is_admin,
        )
        for member in (*members, *admins, *([owner] if owner else [])):
            chat.members[member.id] = member
        self.chats[chat_id] = chat
        self.set_admins(chat, admins, owner=owner)
        return chat

    def set_admins(
        self, chat: FakeChat, admins: Sequence[FakeUser], *, owner: FakeUser | None = None
    ) -> None:
        """Replace the chat's administrator list (what getChatAdministrators/getChatMember report)."""
        owner = owner or (admins[0] if admins else None)
        chat.owner_id = owner.id if owner else None
        chat.admins = [a.id for a in admins if owner is None or a.id != owner.id]
        for user in (*admins, *([owner] if owner else [])):
            chat.members[user.id] = user
        self.changed.fire()

    def block_bot(self, user: FakeUser, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to their private chat then fail with 403."""
        user.blocked_bot = blocked

    def kick_bot(self, chat: FakeChat, kicked: bool = True) -> None:
        """Remove the bot from a group: sends there then fail with 403."""
        chat.bot_kicked = kicked

    def find_chat(self, chat_id: int | str) -> FakeChat | None:
        """Resolve a chat_id parameter (numeric id or @username of a public chat)."""
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            return next((c for c in self.chats.values() if (c.username or "").lower() == name), None)
        return self.chats.get(chat_id)

    # ----------------------------------------------------------------- updates

    def enqueue_update(self, kind: str, payload: JSON, *, bot: BotAccount | None = None) -> JSON | None:
        """Queue an update of type ``kind`` for ``bot``; None when its allowed_updates filter drops it."""
        bot = bot or self.bot
        allowed = bot.allowed_updates
        if (kind in DEFAULT_EXCLUDED_UPDATES) if not allowed else (kind not in allowed):
            return None
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.pending.append(update)
        self.update_signals[bot.token].fire()
        self.changed.fire()
        return update

    def confirm_updates(self, bot: BotAccount, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last ``-offset`` updates."""
        if offset < 0:
            bot.pending = bot.pending[offset:]
        elif offset > 0:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]

    # ----------------------------------------------------------------- messages

    def new_message(
        self,
        chat: FakeChat,
        content: JSON,
        *,
        bot: BotAccount | None = None,
        user: FakeUser | None = None,
        reply_to: StoredMessage | None = None,
        thread_id: int | None = None,
    ) -> StoredMessage:
        """Create the next message in ``chat`` from a bot or a user, with Telegram's common fields."""
        sender = bot.to_dict() if bot is not None else user.to_dict() if user is not None else None
        raw: JSON = {"message_id": chat.next_message_id}
        if sender is not None:
            raw["from"] = sender
        raw.update(chat=chat.to_dict(), date=int(self.clock()))
        if thread_id:
            raw.update(message_thread_id=thread_id, is_topic_message=True)
        if reply_to is not None:
            nested = copy.deepcopy(reply_to.raw)
            nested.pop("reply_to_message", None)
            raw["reply_to_message"] = nested
        raw.update(content)
        chat.next_message_id += 1
        message = StoredMessage(raw, chat, bot)
        chat.messages[message.message_id] = message
        self.changed.fire()
        return message

    def _stored(self, chat: FakeChat, message: MessageLike) -> StoredMessage:
        message_id = message if isinstance(message, int) else message.message_id
        try:
            return chat.messages[message_id]
        except KeyError:
            raise ValueError(f"no message {message_id} in chat {chat.id}") from None

    def _bot_sees(self, bot: BotAccount, chat: FakeChat, raw: JSON) -> bool:
        """Privacy mode: in groups a non-admin bot only gets commands, mentions and replies to itself."""
        if chat.is_private or not bot.privacy_mode or chat.bot_is_admin:
            return True
        text = raw.get("text") or raw.get("caption") or ""
        if text.startswith("/"):
            target = text.split(maxsplit=1)[0].partition("@")[2]
            return not target or target.lower() == bot.username.lower()
        if f"@{bot.username}".lower() in text.lower():
            return True
        return (raw.get("reply_to_message") or {}).get("from", {}).get("id") == bot.id

    def _user_message(
        self,
        chat: FakeChat,
        user: FakeUser,
        content: JSON,
        *,
        reply_to: MessageLike | None,
        thread_id: int | None,
        bot: BotAccount | None,
        kind: str = "message",
    ) -> ChatMessage:
        if chat.is_private and chat.user is not user:
            raise ValueError(
                f"{user.first_name} cannot write in {chat.user and chat.user.first_name}'s private chat"
            )
        chat.members.setdefault(user.id, user)
        target = self._stored(chat, reply_to) if reply_to is not None else None
        message = self.new_message(chat, content, user=user, reply_to=target, thread_id=thread_id)
        bot = bot or self.bot
        if self._bot_sees(bot, chat, message.raw):
            self.enqueue_update(kind, copy.deepcopy(message.raw), bot=bot)
        return snapshot(message, self.files)

    @staticmethod
    def _text_content(key: str, text: str) -> JSON:
        content: JSON = {key: text}
        if entities := auto_entities(text):
            content["entities" if key == "text" else "caption_entities"] = entities
        return content

    # ----------------------------------------------------------------- what users do

    def send_text(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        *,
        reply_to: MessageLike | None = None,
        thread_id: int | None = None,
        bot: BotAccount | None = None,
    ) -> ChatMessage:
        """The user sends a text message (commands and mentions get their entities)."""
        return self._user_message(
            chat, user, self._text_content("text", text), reply_to=reply_to, thread_id=thread_id, bot=bot
        )

    def reply(
        self,
        chat: FakeChat,
        user: FakeUser,
        to_message: MessageLike,
        text: str,
        *,
        bot: BotAccount | None = None,
    ) -> ChatMessage:
        """The user replies to a message with text."""
        return self.send_text(chat, user, text, reply_to=to_message, bot=bot)

    def send_photo(
        self,
        chat: FakeChat,
        user: FakeUser,
        image: bytes,
        caption: str | None = None,
        reply_to: MessageLike | None = None,
        *,
        thread_id: int | None = None,
        bot: BotAccount | None = None,
        media_group_id: str | None = None,
    ) -> ChatMessage:
        """The user sends a photo; Telegram stores downscaled JPEG sizes, the largest last."""
        content: JSON = {}
        if media_group_id:
            content["media_group_id"] = media_group_id
        content["photo"] = self.files.photo_sizes(image)
        if caption:
            content.update(self._text_content("caption", caption))
        return self._user_message(chat, user, content, reply_to=reply_to, thread_id=thread_id, bot=bot)

    def send_document(
        self,
        chat: FakeChat,
        user: FakeUser,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        caption: str | None = None,
        reply_to: MessageLike | None = None,
        *,
        file_size: int | None = None,
        thread_id: int | None = None,
        bot: BotAccount | None = None,
    ) -> ChatMessage:
        """The user sends a file as-is; ``file_size`` declares a bigger size without allocating it."""
        mime_type = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self.files.add(
            data, "document", file_name.rpartition(".")[2] or "bin", declared_size=file_size
        )
        document: JSON = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if mime_type.startswith("image/") and (thumb := self.files.thumbnail(data)):
            document["thumbnail"] = thumb
        stored.document = document
        content: JSON = {"document": document}
        if caption:
            content.update(self._text_content("caption", caption))
        return self._user_message(chat, user, content, reply_to=reply_to, thread_id=thread_id, bot=bot)

    def send_album(
        self,
        chat: FakeChat,
        user: FakeUser,
        images: Sequence[bytes],
        caption: str | None = None,
        *,
        reply_to: MessageLike | None = None,
        thread_id: int | None = None,
        bot: BotAccount | None = None,
    ) -> list[ChatMessage]:
        """The user sends 2-10 photos at once: one update each, sharing media_group_id, caption on the first."""
        if not 2 <= len(images) <= 10:
            raise ValueError("an album holds 2 to 10 items")
        group_id = str(13_000_000_000_000_000 + next(self._seq))
        return [
            self.send_photo(
                chat,
                user,
                image,
                caption if i == 0 else None,
                reply_to,
                thread_id=thread_id,
                bot=bot,
                media_group_id=group_id,
            )
            for i, image in enumerate(images)
        ]

    def edit_text(
        self,
        chat: FakeChat,
        user: FakeUser,
        message: MessageLike,
        text: str,
        *,
        bot: BotAccount | None = None,
    ) -> ChatMessage:
        """The user edits one of their text messages (an ``edited_message`` update)."""
        stored = self._stored(chat, message)
        raw = {k: v for k, v in stored.raw.items() if k != "entities"}
        raw.update(self._text_content("text", text), edit_date=int(self.clock()))
        stored.replace(raw)
        bot = bot or self.bot
        if self._bot_sees(bot, chat, raw):
            self.enqueue_update("edited_message", copy.deepcopy(raw), bot=bot)
        return snapshot(stored, self.files)

    def press_button(
        self,
        chat: FakeChat,
        user: FakeUser,
        message: MessageLike,
        callback_data: str | None = None,
        *,
        text: str | None = None,
        bot: BotAccount | None = None,
    ) -> CallbackQueryHandle:
        """The user taps an inline button (chosen by callback_data or by label) that the message shows now."""
        stored = self._stored(chat, message)
        if stored.deleted:
            raise ValueError(f"message {stored.message_id} was deleted; its buttons are gone")
        buttons = [
            b for row in (stored.raw.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
        ]
        chosen = next(
            (
                b
                for b in buttons
                if "callback_data" in b
                and (b["callback_data"] == callback_data if text is None else b["text"] == text)
            ),
            None,
        )
        if chosen is None:
            labels = [(b.get("text"), b.get("callback_data")) for b in buttons]
            raise ValueError(f"message {stored.message_id} has no such callback button; it shows {labels}")
        query_id = str(4_000_000_000_000_000_000 + next(self._seq))
        handle = CallbackQueryHandle(query_id, chosen["callback_data"], stored.message_id)
        self.callback_queries[query_id] = handle
        chat_instance = str(int(hashlib.sha256(str(chat.id).encode()).hexdigest()[:15], 16))
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(stored.raw),
            "chat_instance": chat_instance,
            "data": chosen["callback_data"],
        }
        self.enqueue_update("callback_query", payload, bot=bot)
        return handle

    # ----------------------------------------------------------------- what the test inspects

    def messages_in(
        self, chat: FakeChat, *, include_user_messages: bool = False, include_deleted: bool = False
    ) -> list[ChatMessage]:
        """The chat as the user sees it now: the bot's messages (current state after edits), oldest first."""
        return [
            snapshot(m, self.files)
            for m in chat.messages.values()
            if (include_user_messages or m.bot is not None) and (include_deleted or not m.deleted)
        ]

    def message(self, chat: FakeChat, message_id: int) -> ChatMessage:
        """One message's current state (deleted ones included, flagged)."""
        return snapshot(self._stored(chat, message_id), self.files)

    def chat_actions(self, chat: FakeChat) -> list[str]:
        """Every sendChatAction the bot made in the chat, in order."""
        return list(chat.actions)

    def calls(self, method: str | None = None, *, chat: FakeChat | None = None) -> list[BotCall]:
        """Recorded bot calls, optionally only one method (case-insensitive) and/or one chat."""
        return [
            c
            for c in self.bot_calls
            if (method is None or c.method.lower() == method.lower())
            and (chat is None or c.chat_id == chat.id)
        ]

    def commands(
        self, scope: JSON | None = None, language_code: str = "", *, bot: BotAccount | None = None
    ) -> list[JSON]:
        """The command list setMyCommands stored for a scope (default scope when None)."""
        bot = bot or self.bot
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return copy.deepcopy(bot.commands.get((key, language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file_id."""
        stored = self.files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.data

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,
        *,
        what: str | None = None,
        poll_interval: float = 0.05,
    ) -> T:
        """Re-check ``predicate`` on every change (and every ``poll_interval``) until truthy or deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if value := predicate():
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [f"{c.method}({c.error or 'ok'})" for c in self.bot_calls[-8:]]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what or predicate!r}; last bot calls: {recent}"
                )
            await self.changed.wait(min(remaining, poll_interval))

    async def wait_for_message(
        self,
        chat: FakeChat,
        pred: Callable[[ChatMessage], Any] | None = None,
        timeout: float = 5.0,
        *,
        after: MessageLike | None = None,
    ) -> ChatMessage:
        """The first bot message in ``chat`` (newer than ``after``) that satisfies ``pred``."""
        floor = 0 if after is None else after if isinstance(after, int) else after.message_id

        def find() -> ChatMessage | None:
            return next(
                (m for m in self.messages_in(chat) if m.message_id > floor and (pred is None or pred(m))),
                None,
            )

        return await self.wait_for(find, timeout, what=f"a bot message in chat {chat.id} after #{floor}")

    async def wait_for_call(
        self, method: str, pred: Callable[[BotCall], Any] | None = None, timeout: float = 5.0
    ) -> BotCall:
        """The first recorded call of ``method`` satisfying ``pred``."""
        return await self.wait_for(
            lambda: next((c for c in self.calls(method) if pred is None or pred(c)), None),
            timeout,
            what=f"a {method} call",
        )
