"""The Telegram bot's settings (``EDITBOT_TELEGRAM_*``) on top of the core's; names are a public interface."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from core.settings import CoreSettings, http_url


class TelegramSettings(CoreSettings):
    """What the Telegram bot reads: its token, Bot API endpoints, webhook and call budget."""

    telegram_token: SecretStr | None = None  # the Telegram bot runs when set
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)

    # load (issue 11): Telegram's call budget, spent first on feedback and results
    telegram_rate: float = Field(default=30.0, gt=0)
    telegram_group_rate: float = Field(default=20.0, gt=0)

    @field_validator("telegram_api_url", "telegram_file_url")
    @classmethod
    def _check_telegram_url(cls, value: str) -> str:
        return http_url(value)
