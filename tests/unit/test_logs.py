"""Log lines: JSON objects with the record's extra fields, secrets scrubbed from any format and level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bots.logs import configure_logging
from bots.settings import load_settings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _configured(**settings: object) -> io.StringIO:
    stream = io.StringIO()
    values = {"api_key": "sk-verysecret", "telegram_token": "123:tokentoken", **settings}
    configure_logging(load_settings(env_file=None, **values), stream=stream)
    return stream


def test_json_lines_carry_extras_and_tracebacks() -> None:
    stream = _configured(log_format="json")
    log = logging.getLogger("editbot.test")
    log.info("job %s done", "ab12", extra={"job_id": "ab12", "credits": 2})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "msg", "job_id", "credits")} == {
        "level": "INFO",
        "logger": "editbot.test",
        "msg": "job ab12 done",
        "job_id": "ab12",
        "credits": 2,
    }
    assert first["ts"].endswith("+00:00") and "ValueError: boom" in second["exc"]


def test_secrets_are_scrubbed_and_levels_apply() -> None:
    stream = _configured(log_level="warning")
    log = logging.getLogger("editbot.test")
    log.info("hidden by the level")
    log.warning("calling https://api.telegram.org/bot123:tokentoken/getMe with sk-verysecret")
    out = stream.getvalue()
    assert "hidden" not in out
    assert "bot***/getMe with ***" in out and "tokentoken" not in out and "verysecret" not in out


def test_invalid_level_names_the_variable() -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="EDITBOT_LOG_LEVEL"):
        load_settings(env_file=None, log_level="chatty")
