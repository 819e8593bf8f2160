"""The ``editbot`` command's settings: the core's and every adapter's, read from one environment.

Each part declares its own ``EDITBOT_*`` names (``core.settings``, ``adapters/*/settings.py``);
this module only composes them, so ``settings.telegram_token`` and ``settings.model`` live on one
object here while core modules see only :class:`core.settings.CoreSettings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.discord_bot.settings import DiscordSettings
from adapters.telegram_bot.settings import TelegramSettings
from core.settings import load


class Settings(TelegramSettings, DiscordSettings):
    """Every EDITBOT_* setting."""

    def webhook_holds(self, port: int | None) -> bool:
        """Whether ``port`` is the Telegram webhook's, which PTB's own server holds when it runs."""
        return (
            port is not None
            and self.telegram_token is not None
            and bool(self.telegram_webhook_url)
            and port == self.telegram_webhook_port
        )

    def painter_secret(self) -> bytes:
        """Key for painter links: from the bot tokens, so every process of one bot shares it."""
        parts = [s.get_secret_value() for s in (self.telegram_token, self.discord_token, self.api_key) if s]
        return ("\n".join(parts) or "editbot").encode()


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read every setting; a :class:`core.errors.ConfigError` names each bad variable, never its value."""
    return load(Settings, env_file, **overrides)
