"""Simulated people: users, their chats and groups, and what they do (text, photos, stickers, albums,
buttons).

Invariants: each action creates the message in the chat (everyone sees it) and enqueues an update for
exactly one bot (``bot=`` picks which, default the first), unless the bot's privacy mode or
allowed_updates would hide it from that bot, as on Telegram.
"""

from __future__ import annotations

import copy
import hashlib
import mimetypes
from collections.abc import Sequence

from .telegram_entities import auto_entities
from .telegram_model import JSON, BotAccount, CallbackQueryHandle, ChatMessage, FakeChat, FakeUser, snapshot
from .telegram_state import MessageLike, TelegramState


class TelegramPeople(TelegramState):
    """The test-side API for acting as Telegram users."""

    # ----------------------------------------------------------------- users and chats

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
        n = self.next_seq()
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
        return bool((raw.get("reply_to_message") or {}).get("from", {}).get("id") == bot.id)

    def _user_message(
        self,
        chat: FakeChat,
        user: FakeUser,
        content: JSON,
        *,
        reply_to: MessageLike | None,
        thread_id: int | None,
        bot: BotAccount | None,
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
            self.enqueue_update("message", copy.deepcopy(message.raw), bot=bot)
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

    def send_sticker(
        self,
        chat: FakeChat,
        user: FakeUser,
        image: bytes,
        emoji: str = "👍",
        *,
        thread_id: int | None = None,
        bot: BotAccount | None = None,
    ) -> ChatMessage:
        """The user sends a static sticker: ``image`` is a WebP or PNG whose longer side is 512 px."""
        content: JSON = {"sticker": self.files.sticker(image, emoji)}
        return self._user_message(chat, user, content, reply_to=None, thread_id=thread_id, bot=bot)

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
        """The user sends 2-10 photos at once: an update each, one media_group_id, caption on the first."""
        if not 2 <= len(images) <= 10:
            raise ValueError("an album holds 2 to 10 items")
        group_id = str(13_000_000_000_000_000 + self.next_seq())
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
        if stored.bot is not None or stored.raw.get("from", {}).get("id") != user.id:
            raise ValueError(f"{user.first_name} can only edit their own messages")
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
        forge: str | None = None,
    ) -> CallbackQueryHandle:
        """The user taps an inline button (chosen by callback_data or by label) that the message shows now.

        ``forge`` sends other callback data than the button's, as a modified client can.
        """
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
        query_id = str(4_000_000_000_000_000_000 + self.next_seq())
        data = chosen["callback_data"] if forge is None else forge
        handle = CallbackQueryHandle(query_id, data, stored.message_id)
        self.callback_queries[query_id] = handle
        chat_instance = str(int(hashlib.sha256(str(chat.id).encode()).hexdigest()[:15], 16))
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(stored.raw),
            "chat_instance": chat_instance,
            "data": data,
        }
        self.enqueue_update("callback_query", payload, bot=bot)
        return handle
