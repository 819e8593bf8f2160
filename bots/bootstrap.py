"""The one place that wires the product: settings -> database, edit client, runner, engine.

Nothing is created at import time; ``open_core`` builds everything and tears it down in reverse.
Adapters attach their outbox and file fetcher to ``core.runner`` (and register how to stop their
intake) and then enter ``core.running()``, so notices about jobs a crashed process left behind
reach their users. Enter it after the bots: on the way out it stops first — intake, then running
edits (grace period, then handed back or refunded) — while the bots can still send.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.metrics import Health, PrometheusSink
from bots.settings import Settings
from core.actions import Outbox
from core.alerts import AlertMonitor
from core.catalogue import ModelCatalogue
from core.editapi import EditClient, make_http_client
from core.engine import ConversationEngine, EngineConfig
from core.errors import ConfigError
from core.identity import Platform
from core.jobs import JobConfig, JobRunner
from core.ordering import ConversationGuard
from core.painter import DrawingFetcher, PainterService, Signer
from core.queue import QueueRunner, Role
from core.quotas.limits import LimitResolver
from core.ratelimit import SharedBudget
from core.ratelimit.redis_budget import RedisBudget, open_redis
from core.refs import FileFetcher
from core.storage.alerts import SqlAlertLedger
from core.storage.db import create_engine, create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.painter import SqlPainterStore
from core.storage.sql_budget import SqlBudget
from core.storage.sql_ordering import SqlConversationGuard
from core.storage.sql_queue import SqlQueue
from core.storage.sql_store import SqlStore
from core.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Core:
    """The running core: what adapters need (it is the :class:`adapters.host.Host` the runners take)."""

    settings: Settings
    store: SqlStore
    runner: JobRunner
    engine: ConversationEngine
    telemetry: Telemetry
    database: AsyncEngine
    metrics: PrometheusSink
    health: Health
    alerts: AlertMonitor
    intake: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    painter: PainterService | None = None  # issue 15: only when EDITBOT_WEB_URL is set
    # PostgreSQL (issue 14): a conversation's updates apply in order across processes.
    guard: ConversationGuard | None = None
    # Several processes (issue 14): platform rate budgets shared by them (PostgreSQL or Redis).
    budget: SharedBudget | None = None

    def attach(self, platform: Platform, outbox: Outbox, fetcher: FileFetcher) -> None:
        """A platform's sender and fetcher for jobs and the painter; jobs also read painter drawings."""
        if self.painter is not None:
            self.painter.attach(platform, outbox, fetcher)
            fetcher = DrawingFetcher(fetcher, self.painter.store)
        self.runner.attach(platform, outbox, fetcher)

    async def database_ok(self) -> bool:
        """True when the database answers a trivial query (``/readyz``)."""
        try:
            async with self.database.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            log.warning("the database does not answer", exc_info=True)
            return False
        return True

    def on_stop_intake(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Register how an adapter stops taking new updates (polling, webhook) on a graceful stop."""
        self.intake.append(stop)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run jobs (after adapters attached themselves); on exit, stop gracefully.

        The order is the point: first no new updates (each adapter's intake, whose handlers in
        flight finish), then running edits get the grace period and the rest are handed back (or
        refunded and their users told), all while the bots can still send; the bots close after.
        """
        await self.runner.start()
        try:
            yield
        finally:
            for stop in reversed(self.intake):
                try:
                    await stop()
                except Exception:
                    log.exception("stopping an adapter's intake failed")
            await self.runner.stop()


def require_api_key(settings: Settings) -> str:
    """The edit-API key, or a clear error naming the variable."""
    if settings.api_key is None or not settings.api_key.get_secret_value().strip():
        raise ConfigError(
            "EDITBOT_API_KEY is not set: the bot cannot edit images without a key for the edit API"
        )
    return settings.api_key.get_secret_value().strip()


def warn_retired(settings: Settings, catalogue: ModelCatalogue) -> list[str]:
    """Log (and return) one warning per configured model that is retired, naming its replacement."""
    warnings = [
        f"model {spec.name} was retired on {spec.retired}; use {spec.replacement or 'a current model'} "
        "(set EDITBOT_MODEL / EDITBOT_ALLOWED_MODELS, or mark the model `retired = false` in "
        "EDITBOT_MODELS if your relay still serves it)"
        for spec in catalogue.retired(settings.offered_models)
    ]
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


@asynccontextmanager
async def open_core(
    settings: Settings, *, db_schema: str | None = None, role: Role = Role.ALL
) -> AsyncIterator[Core]:
    """Migrate the database and build the core; stops jobs and closes everything on exit.

    ``db_schema`` puts everything in one PostgreSQL schema (tests run several processes' cores
    on one fresh schema; ``EDITBOT_DATABASE_SCHEMA`` otherwise). ``role`` other than ``all``
    puts jobs through the shared queue on PostgreSQL (:mod:`core.queue`).
    """
    api_key = require_api_key(settings)
    catalogue = settings.model_catalogue()
    warn_retired(settings, catalogue)
    db = create_engine(settings.database_url, schema=db_schema or settings.database_schema)
    if role is not Role.ALL and db.dialect.name != "postgresql":
        await db.dispose()
        raise ConfigError(
            f"editbot run --role {role}: gateways and workers share one PostgreSQL database "
            "(set EDITBOT_DATABASE_URL=postgresql://...); on SQLite run one process with --role all"
        )
    # A worker's HTTP pool follows its job concurrency (EDITBOT_WORKER_CONCURRENCY).
    concurrency = (settings.worker_concurrency if role is Role.WORKER else None) or settings.api_concurrency
    http = make_http_client(settings.api_timeout, concurrency)
    runner: JobRunner | None = None
    redis: Any = None
    try:
        await upgrade_engine(db)
        sessions = create_sessionmaker(db)
        store = SqlStore(sessions)
        client = EditClient(
            http,
            settings.api_base_url,
            api_key,
            catalogue=catalogue,
            total_timeout=settings.api_timeout,
            partial_images=max(1, settings.preview_images),
        )
        policy = settings.quota_policy()
        telemetry = Telemetry()
        metrics = PrometheusSink()
        telemetry.add_sink(metrics)
        health = Health()
        alerts = AlertMonitor(
            SqlAlertLedger(sessions),
            settings.admins,
            outage_after=timedelta(minutes=settings.alert_after_minutes),
        )
        telemetry.add_listener(alerts)
        queue_options: dict[str, Any] = {}
        if role is not Role.ALL:
            queue_options = {
                "queue": SqlQueue(db, sessions),
                "role": role,
                "concurrency": concurrency,
                "poll_interval": settings.queue_poll_interval,
            }
        runner = (QueueRunner if queue_options else JobRunner)(
            store,
            telemetry.editor(client),
            policy,
            **queue_options,
            config=JobConfig(
                max_input_bytes=settings.max_input_bytes,
                api_concurrency=concurrency if queue_options else settings.api_concurrency,
                stale_after=settings.job_stale_after,
                heartbeat_interval=min(20.0, max(0.1, settings.job_stale_after / 4)),
                pseudonym_secret=settings.secret_for_pseudonyms(),
                resume=settings.resume_interrupted,
                shutdown_grace=settings.shutdown_grace,
                preview_images=settings.preview_images,
                full_size_hours=settings.full_size_hours,
            ),
            credits=settings.credit_table(catalogue),
            limits=LimitResolver(store, policy),
            catalogue=catalogue,
            telemetry=telemetry,
        )
        signer = Signer(settings.painter_secret()) if settings.web_url else None
        engine = ConversationEngine(
            store,
            runner,
            EngineConfig(
                default_model=settings.model,
                allowed_models=settings.offered_models,
                catalogue=catalogue,
                conversation_timeout=settings.conversation_timeout,
                max_input_bytes=settings.max_input_bytes,
                owners=settings.admins,
            ),
            painter=signer,
        )
        painter = (
            PainterService(
                engine, SqlPainterStore(sessions), signer, max_input_bytes=settings.max_input_bytes
            )
            if signer is not None
            else None
        )
        core = Core(settings, store, runner, engine, telemetry, db, metrics, health, alerts, painter=painter)
        if db.dialect.name == "postgresql":
            core.guard = SqlConversationGuard(db, sessions, patience=2 * settings.job_stale_after)
        if settings.redis_url is not None:
            redis = await open_redis(settings.redis_url.get_secret_value())
            core.budget = RedisBudget(redis)
        elif role is not Role.ALL:
            core.budget = SqlBudget(sessions)
        health.add("database", core.database_ok)
        try:
            yield core
        finally:
            await alerts.close()
    finally:
        if runner is not None:
            await runner.stop()
        await http.aclose()
        if redis is not None:
            await redis.aclose()
        await db.dispose()
