"""The fake Telegram world: bots, chats, update queues, messages, and what tests inspect and wait for.

Invariants: everything runs on the test's event loop and mutates state synchronously, so no locks are
needed; every change fires ``changed`` so waiters re-check at once instead of sleeping; ``messages_in``
and friends hand out snapshots, never live objects.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

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

    async def wait(self, within: float | None) -> bool:
        """Wait for the next ``fire``; False when ``within`` seconds passed first."""
        event = self._event
        try:
            async with asyncio.timeout(within):
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

    def deliver_again(self, update: JSON, *, bot: BotAccount | None = None) -> None:
        """Queue an update once more with its own id (Telegram redelivering an unconfirmed one)."""
        bot = bot or self.bot
        bot.pending.append(copy.deepcopy(update))
        self.update_signals[bot.token].fire()
        self.changed.fire()

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
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiter *is* the deadline; callers pass a budget
        *,
        what: str | None = None,
        context: Callable[[], str] | None = None,
        poll_interval: float = 0.05,
    ) -> T:
        """Re-check ``predicate`` on every change (and every ``poll_interval``) until truthy or deadline.

        On timeout the AssertionError names ``what`` was awaited, the last bot calls and ``context()``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if value := predicate():
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [f"{c.method}({c.error or 'ok'})" for c in self.bot_calls[-8:]]
                detail = f"; {context()}" if context else ""
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what or predicate!r}; "
                    f"last bot calls: {recent}{detail}"
                )
            await self.changed.wait(min(remaining, poll_interval))

    async def wait_for_message(
        self,
        chat: FakeChat,
        pred: Callable[[ChatMessage], Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - see wait_for
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

        def shown() -> str:
            return "bot messages in the chat: " + repr(
                [
                    (m.message_id, (m.content or "")[:80], "photo" if m.photo else "")
                    for m in self.messages_in(chat)
                ]
            )

        return await self.wait_for(
            find, timeout, what=f"a bot message in chat {chat.id} after #{floor}", context=shown
        )

    async def wait_for_call(
        self,
        method: str,
        pred: Callable[[BotCall], Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - see wait_for
    ) -> BotCall:
        """The first recorded call of ``method`` satisfying ``pred``."""
        return await self.wait_for(
            lambda: next((c for c in self.calls(method) if pred is None or pred(c)), None),
            timeout,
            what=f"a {method} call",
        )
