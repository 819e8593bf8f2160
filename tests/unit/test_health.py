"""/readyz says which part is not ready; /healthz only that the process answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bots.metrics import Health, PrometheusSink, check_port, serving
from bots.settings import load_settings
from core.errors import ConfigError


async def test_readiness_lists_failing_checks() -> None:
    health = Health(timeout=0.2)

    async def slow_database() -> bool:
        await asyncio.sleep(5)  # past the limit: counts as down
        return True

    def broken() -> bool:
        raise RuntimeError("no gateway")

    health.add("telegram", lambda: True)
    async with serving(PrometheusSink(), health, "127.0.0.1", 0) as port, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        ready = await http.get(f"{base}/readyz")
        assert (ready.status_code, ready.json()) == (200, {"ready": True, "checks": {"telegram": True}})
        health.add("discord", broken)
        ready = await http.get(f"{base}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"] == {"telegram": True, "discord": False}
        health.remove("discord")
        health.add("database", slow_database)
        health_timeout = (await http.get(f"{base}/readyz")).json()
        assert health_timeout == {"ready": False, "checks": {"telegram": True, "database": False}}
        assert (await http.get(f"{base}/healthz")).json() == {"status": "alive"}


def test_metrics_port_must_differ_from_the_webhook_port() -> None:
    shared = {"telegram_token": "1:x", "telegram_webhook_url": "https://bot.example/tg", "metrics_port": 8443}
    with pytest.raises(ConfigError, match="EDITBOT_METRICS_PORT and EDITBOT_TELEGRAM_WEBHOOK_PORT"):
        check_port(load_settings(env_file=None, **shared))
    check_port(load_settings(env_file=None, **{**shared, "metrics_port": 9100}))
    check_port(load_settings(env_file=None, **{**shared, "telegram_webhook_url": None}))  # polling


async def test_nothing_to_check_is_not_ready() -> None:
    async with serving(PrometheusSink(), Health(), "127.0.0.1", 0) as port, httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 503
