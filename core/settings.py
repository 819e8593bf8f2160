"""The platform-neutral settings, from the environment and ``.env``. Names are a public interface
(DESIGN.md): keep them.

Each adapter declares its own platform's settings (``adapters/*/settings.py``) on top of
:class:`CoreSettings`, reading the same ``EDITBOT_*`` environment; ``bots.settings`` composes them
into the one ``Settings`` the ``editbot`` command uses. Core modules see only this neutral part.
Validation errors name the variable and never echo its value, so a mistyped token is not
printed to a log or terminal.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.catalogue import DEFAULT_MODEL, ModelCatalogue
from core.catalogue_file import load_catalogue
from core.errors import ConfigError
from core.identity import UserKey
from core.quotas.credits import CreditTable, parse_rules
from core.quotas.rules import QuotaPolicy
from core.resume import ResumeMode


class QuotaPeriod(StrEnum):
    """How often quotas reset."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class LogFormat(StrEnum):
    """How log lines are written: for people, or one JSON object per line for a log pipeline."""

    TEXT = "text"
    JSON = "json"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL, without a trailing slash (a Bot API base keeps its ``/bot``)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/") if not value.endswith("/bot") else value


class CoreSettings(BaseSettings):
    """Every platform-neutral EDITBOT_* setting."""

    model_config = SettingsConfigDict(
        env_prefix="EDITBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `VAR=` in .env (as .env.example ships them) means "not set", not "set to an empty string".
        env_ignore_empty=True,
    )

    api_base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    model: str = DEFAULT_MODEL
    models: Path | None = None  # EDITBOT_MODELS: the operator's model file (TOML)
    allowed_models: Annotated[tuple[str, ...], NoDecode] = ()
    database_url: str = "sqlite+aiosqlite:///editbot.db"

    user_quota: int = Field(default=10, ge=0)
    community_quota: int = Field(default=200, ge=0)
    quota_period: QuotaPeriod = QuotaPeriod.DAY
    quota_timezone: str = "UTC"
    global_quota: int | None = Field(default=None, ge=0)
    credits: str = ""
    admins: Annotated[tuple[UserKey, ...], NoDecode] = ()

    api_timeout: float = Field(default=180.0, gt=0)
    api_concurrency: int = Field(default=4, ge=1)
    preview_images: int = Field(default=2, ge=0, le=3)  # partial images per streamed edit; 0: no previews
    conversation_timeout: float = Field(default=900.0, gt=0)
    job_stale_after: float = Field(default=90.0, ge=0.1)
    max_input_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    pseudonym_secret: SecretStr | None = None

    # crash safety (issue 10)
    resume_interrupted: ResumeMode = ResumeMode.RETRY
    shutdown_grace: float = Field(default=25.0, ge=0)

    # load (issue 11): hours a result's original files stay behind its "Full size" button on a
    # platform whose photos lose something; 0: no button, the files go with the photo at once
    full_size_hours: float = Field(default=24.0, ge=0)

    # service operation (issue 13)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_listen: str = "0.0.0.0"
    alert_after_minutes: float = Field(default=10.0, gt=0)

    # painter (issue 15)
    web_url: str | None = None  # public HTTPS base of the painter page; the painter runs only when set
    web_listen: str = "0.0.0.0"
    web_port: int = Field(default=8080, ge=1, le=65535)

    @field_validator("web_url")
    @classmethod
    def _check_web_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (Telegram opens Mini Apps over HTTPS only)")
        return value.rstrip("/")

    # scale-out (issue 14)
    database_schema: str | None = None
    worker_concurrency: int | None = Field(default=None, ge=1)
    queue_poll_interval: float = Field(default=2.0, gt=0)
    redis_url: SecretStr | None = None

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
        return value.strip().upper()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value set (the platforms' too), so logs can be scrubbed of them."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return tuple(
            v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value().strip()
        )

    @field_validator("admins", mode="before")
    @classmethod
    def _parse_admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(UserKey.parse(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_models", mode="before")
    @classmethod
    def _parse_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("global_quota", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("credits")
    @classmethod
    def _check_credits(cls, value: str) -> str:
        parse_rules(value)  # raises ValueError naming the bad rule (not a secret)
        return value

    @field_validator("quota_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("api_base_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        return http_url(value)

    @property
    def offered_models(self) -> tuple[str, ...]:
        """Models users may pick; the default model is always among them."""
        return tuple(dict.fromkeys((self.model, *self.allowed_models)))

    def model_catalogue(self) -> ModelCatalogue:
        """The built-in models with the operator's EDITBOT_MODELS file on top (ConfigError if it is bad)."""
        return load_catalogue(self.models)

    def quota_policy(self) -> QuotaPolicy:
        """The quota defaults and period these settings describe."""
        return QuotaPolicy(
            self.user_quota,
            self.community_quota,
            self.quota_period.value,
            self.quota_timezone,
            self.global_quota,
        )

    def credit_table(self, catalogue: ModelCatalogue | None = None) -> CreditTable:
        """Credit prices: the built-in rules with EDITBOT_CREDITS on top, and the flat credits the
        model file gives its models."""
        flat = {s.name: s.credits for s in catalogue or () if s.credits is not None}
        return CreditTable.from_setting(self.credits, flat)

    def secret_for_pseudonyms(self) -> bytes:
        """Key for the edit API's ``user`` pseudonyms; derived from the API key when not set."""
        for secret in (self.pseudonym_secret, self.api_key):
            if secret is not None:
                return secret.get_secret_value().encode()
        return b"editbot"


AnySettings = TypeVar("AnySettings", bound=BaseSettings)


def load(kind: type[AnySettings], env_file: str | Path | None = ".env", **overrides: Any) -> AnySettings:
    """Read ``kind`` (core's, an adapter's or the composed settings), turning validation errors into
    one :class:`ConfigError` naming each variable (never its value)."""
    try:
        return kind(_env_file=env_file, **overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            name = "EDITBOT_" + str(err["loc"][0]).upper() if err["loc"] else "EDITBOT_?"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
