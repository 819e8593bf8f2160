"""Logging for the ``editbot`` processes: level and format from the settings, secrets scrubbed.

``EDITBOT_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``, ``msg``,
then the record's extra fields, ``exc`` for a traceback) for log pipelines; ``text`` writes lines
for people. Whatever the format and level, every configured secret (API key, bot tokens, webhook
secret) is replaced by ``***`` in the finished line: libraries log URLs that embed the Telegram
token (``.../bot<token>/sendMessage``), and a line cannot be un-sent once a log shipper has it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from core.settings import CoreSettings, LogFormat

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Libraries whose INFO lines are per-request noise (and carry URLs); WARNING and above still show.
_CHATTY = ("httpx", "httpcore", "aiohttp.access", "tornado.access")


class _Scrubbing(logging.Formatter):
    """Replaces every secret in the formatted line."""

    def __init__(self, secrets: tuple[str, ...], fmt: str | None = None) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, line: str) -> str:
        """``line`` without any secret."""
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(self.render(record))

    def render(self, record: logging.LogRecord) -> str:
        """The line before scrubbing."""
        return super().format(record)


class TextFormatter(_Scrubbing):
    """``2026-11-30 12:00:00,000 INFO editbot.jobs: job 1a2b3c4d delivered: ...``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")


class JsonFormatter(_Scrubbing):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc."""

    def render(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(
    settings: CoreSettings, level: str | None = None, *, default: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send every log line to ``stream`` (stderr) in the configured format and level.

    ``level`` (a command-line option) wins; otherwise EDITBOT_LOG_LEVEL when it is set, else
    ``default`` (``editbot chat`` keeps a terminal quiet with WARNING).
    """
    chosen = (level or (settings.log_level if "log_level" in settings.model_fields_set else default)).upper()
    formatter: logging.Formatter = (
        JsonFormatter(settings.secrets)
        if settings.log_format is LogFormat.JSON
        else TextFormatter(settings.secrets)
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(chosen)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if chosen == "DEBUG" else logging.WARNING)
