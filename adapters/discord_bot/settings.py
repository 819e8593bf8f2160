"""The Discord bot's settings (``EDITBOT_DISCORD_*``) on top of the core's; names are a public interface."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from core.settings import CoreSettings, http_url


class DiscordSettings(CoreSettings):
    """What the Discord bot reads: its token, REST and gateway endpoints, test guild and shards."""

    discord_token: SecretStr | None = None  # the Discord bot runs when set
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_dev_guild: int | None = None

    # scale-out (issue 14)
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = ()

    @field_validator("discord_api_url")
    @classmethod
    def _check_discord_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("discord_gateway_url")
    @classmethod
    def _check_ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value
