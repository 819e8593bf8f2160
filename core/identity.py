"""Who and where: platform ids as plain values, so the core never sees an SDK object."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    """A chat platform the bots run on (``console`` is the local `editbot chat`)."""

    TELEGRAM = "telegram"
    DISCORD = "discord"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class UserKey:
    """A user on one platform."""

    platform: Platform
    user_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @classmethod
    def parse(cls, text: str) -> UserKey:
        """Parse ``platform:id`` as written in EDITBOT_ADMINS."""
        platform, sep, user_id = text.strip().partition(":")
        if not sep or not user_id.strip():
            raise ValueError(f"expected platform:id, got {text.strip()!r}")
        return cls(Platform(platform.strip().lower()), user_id.strip())

    def pseudonym(self, secret: bytes) -> str:
        """A stable id for the edit API's ``user`` field that reveals nothing of the platform id."""
        digest = hmac.new(secret, str(self).encode(), hashlib.sha256).hexdigest()
        return f"eb-{digest[:32]}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat (Telegram chat, Discord channel); ``thread_id`` for forum topics and threads."""

    platform: Platform
    chat_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class Community:
    """A Telegram group/supergroup or a Discord guild. Private chats belong to none."""

    platform: Platform
    id: str
