"""Prometheus metrics and health endpoints: ``/metrics``, ``/healthz``, ``/readyz`` (EDITBOT_METRICS_PORT).

:class:`PrometheusSink` turns :mod:`core.telemetry` events into metrics in its own registry (no
process-global state, so several cores in one test process do not collide). :class:`Health` holds
named readiness checks (the database, each connected bot). :func:`serving` runs an aiohttp server
on its own port: PTB's webhook server (tornado, started inside ``Updater.start_webhook``) takes no
extra routes, so the endpoints cannot share the Telegram webhook's port without replacing it.

``/healthz`` answers 200 while the process runs (a liveness probe: restart when it stops
answering); ``/readyz`` answers 200 only when every check passes and 503 with the failing ones
otherwise (a readiness probe: send no traffic yet).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bots.settings import Settings
from core.errors import ConfigError
from core.telemetry import JobTrace

log = logging.getLogger(__name__)

# Edits take seconds to minutes; feedback should take well under a second.
_EDIT_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300)
_FAST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

Check = Callable[[], bool | Awaitable[bool]]


class PrometheusSink:
    """A :class:`core.telemetry.TelemetrySink` that keeps Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Counter("editbot_jobs", "Jobs ended, by outcome", ["platform", "outcome"], registry=r)
        self.credits = Counter(
            "editbot_credits_used", "Credits charged for delivered edits", ["platform"], registry=r
        )
        self.api_seconds = Histogram(
            "editbot_edit_api_seconds", "Edit-API call latency", ["model"], buckets=_EDIT_BUCKETS, registry=r
        )
        self.api_calls = Counter(
            "editbot_edit_api_calls",
            "Edit-API calls, by outcome (ok or an error kind)",
            ["model", "outcome"],
            registry=r,
        )
        self.feedback = Histogram(
            "editbot_first_feedback_seconds",
            "From a job's start to its first progress message reaching the user",
            ["platform"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.queued = Gauge("editbot_jobs_queued", "Jobs waiting for an edit-API slot", registry=r)
        self.in_flight = Gauge(
            "editbot_jobs_in_flight", "Jobs begun and not ended (queued included)", registry=r
        )
        self.refusals = Counter(
            "editbot_quota_refusals", "Edits refused for quota, by scope", ["scope"], registry=r
        )
        self.platform_errors = Counter(
            "editbot_platform_api_errors", "Failed platform API calls", ["platform", "method"], registry=r
        )
        self.rate_waits = Histogram(
            "editbot_rate_limiter_wait_seconds",
            "Time platform calls were held back by the rate limiter",
            ["platform"],
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )

    def job_finished(self, trace: JobTrace, outcome: str, credits: int) -> None:
        """Count the job and its credits."""
        self.jobs.labels(trace.platform, outcome).inc()
        if credits:
            self.credits.labels(trace.platform).inc(credits)

    def jobs_pending(self, queued: int, in_flight: int) -> None:
        """Set the queue gauges."""
        self.queued.set(queued)
        self.in_flight.set(in_flight)

    def api_call(self, model: str, seconds: float, outcome: str) -> None:
        """Observe one edit-API call."""
        self.api_seconds.labels(model).observe(seconds)
        self.api_calls.labels(model, outcome).inc()

    def first_feedback(self, platform: str, seconds: float) -> None:
        """Observe the time to a job's first visible progress."""
        self.feedback.labels(platform).observe(seconds)

    def quota_refused(self, scope: str) -> None:
        """Count a quota refusal."""
        self.refusals.labels(scope).inc()

    def platform_error(self, platform: str, method: str) -> None:
        """Count a failed platform call."""
        self.platform_errors.labels(platform, method).inc()

    def rate_limit_wait(self, platform: str, seconds: float) -> None:
        """Observe a rate-limiter wait."""
        self.rate_waits.labels(platform).observe(seconds)


class Health:
    """Named readiness checks; a check returns (or awaits to) True when its part is ready."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout

    def add(self, name: str, check: Check) -> None:
        """Require ``check`` for readiness."""
        self._checks[name] = check

    def remove(self, name: str) -> None:
        """Stop requiring ``name`` (a bot that is shutting down)."""
        self._checks.pop(name, None)

    async def results(self) -> dict[str, bool]:
        """Every check's result; a check that raises or outlasts the timeout counts as failed."""
        out: dict[str, bool] = {}
        for name, check in list(self._checks.items()):
            try:
                value = check()
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, timeout=self._timeout)
                out[name] = bool(value)
            except Exception:
                out[name] = False
        return out


def make_app(sink: PrometheusSink, health: Health, *, client_max_size: int = 1024**2) -> web.Application:
    """The aiohttp application serving the three endpoints (the painter may join it: bots/web.py)."""

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(sink.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await health.results()
        ready = bool(checks) and all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    app = web.Application(client_max_size=client_max_size)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def check_port(settings: Settings) -> None:
    """The metrics server cannot share the Telegram webhook's port (see the module docstring)."""
    if settings.webhook_holds(settings.metrics_port):
        raise ConfigError(
            "EDITBOT_METRICS_PORT and EDITBOT_TELEGRAM_WEBHOOK_PORT are the same port: "
            "the metrics endpoints need a port of their own"
        )


@asynccontextmanager
async def serving(sink: PrometheusSink, health: Health, host: str, port: int) -> AsyncIterator[int]:
    """Serve the endpoints on ``host:port`` until the context exits; yields the bound port."""
    runner = web.AppRunner(make_app(sink, health), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = int(runner.addresses[0][1])
        log.info("metrics and health endpoints on %s:%s", host, bound)
        yield bound
    finally:
        await runner.cleanup()
