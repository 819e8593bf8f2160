"""Database fixtures: every storage test runs on a fresh SQLite file and on a fresh PostgreSQL schema.

PostgreSQL comes from ``EDITBOT_TEST_POSTGRES_URL`` (default: the local ``test`` database). That
server is shared by every test run on the machine and keeps whatever earlier runs left, so each
test gets a schema of its own with a random name, created before the test and dropped after it.
When the variable is set (CI sets it) an unreachable server fails the tests; when it is not set,
the PostgreSQL variants are skipped with the reason.

Databases are migrated with the shipped Alembic migrations, never ``metadata.create_all``, so the
migrations are what every storage test exercises.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.events import EditOptions
from core.identity import Platform
from core.refs import ImageRef
from core.storage.db import create_engine, create_sessionmaker, normalize_url, quote_identifier
from core.storage.migrate import upgrade_engine
from core.storage.protocol import Job, QuotaScope
from core.storage.sql_store import SqlStore

POSTGRES_ENV = "EDITBOT_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "editbot_test_"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""Parameters of every database fixture; ``-m 'not postgres'`` deselects the PostgreSQL runs."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TestDatabase:
    """A fresh database: its URL (plus ``schema`` on PostgreSQL) and an engine on it."""

    __test__ = False  # not a test class, whatever its name says

    backend: str
    url: str
    schema: str | None
    engine: AsyncEngine

    def new_engine(self, **kw: Any) -> AsyncEngine:
        """Another engine on the same database (the caller disposes it)."""
        return create_engine(self.url, schema=self.schema, **kw)


def run_in_thread(function: Callable[[], _T]) -> _T:
    """Run blocking code that starts its own event loop, away from the test's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def _probe_postgres(url: str) -> str | None:
    async def probe() -> None:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool, connect_args={"timeout": 5})
        try:
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        run_in_thread(lambda: asyncio.run(probe()))
    except Exception as exc:  # any failure means "no usable server"; the message says which
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server's URL, after checking it answers (fail if CI asked for it, else skip)."""
    explicit = os.environ.get(POSTGRES_ENV)
    url = explicit or DEFAULT_POSTGRES_URL
    problem = _probe_postgres(url)
    if problem is not None:
        if explicit:
            pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL not reachable at {DEFAULT_POSTGRES_URL} ({problem}); set {POSTGRES_ENV}")
    return url


@asynccontextmanager
async def postgres_schema(url: str) -> AsyncIterator[str]:
    """A new empty schema with a random name, dropped (with everything in it) on exit."""
    schema = SCHEMA_PREFIX + uuid.uuid4().hex[:16]
    admin = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f"CREATE SCHEMA {quote_identifier(schema)}"))
        yield schema
    finally:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {quote_identifier(schema)} CASCADE"))
        await admin.dispose()


@asynccontextmanager
async def fresh_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A fresh empty database on ``backend`` (``sqlite`` or ``postgres``), removed on exit."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'editbot.db'}"
        engine = create_engine(url)
        try:
            yield TestDatabase("sqlite", url, None, engine)
        finally:
            await engine.dispose()
        return
    # Looked up here, not declared, so that SQLite runs do not depend on PostgreSQL being up.
    url = request.getfixturevalue("postgres_url")
    async with postgres_schema(url) as schema:
        engine = create_engine(url, schema=schema)
        try:
            yield TestDatabase("postgres", url, schema, engine)
        finally:
            await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh database nothing has been done to, on each backend."""
    async with fresh_database(request.param, request, tmp_path) as database:
        yield database


@pytest.fixture
async def sqlite_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh empty SQLite database (for SQLite-only behaviour)."""
    async with fresh_database("sqlite", request, tmp_path) as database:
        yield database


@pytest.fixture
async def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh empty PostgreSQL schema (for PostgreSQL-only behaviour; mark the test ``postgres``)."""
    async with fresh_database("postgres", request, tmp_path) as database:
        yield database


@pytest.fixture
async def database(empty_database: TestDatabase) -> TestDatabase:
    """A fresh database migrated to head with the shipped migrations."""
    await upgrade_engine(empty_database.engine)
    return empty_database


@pytest.fixture
def sessionmaker(database: TestDatabase) -> async_sessionmaker[AsyncSession]:
    """Sessions on a fresh migrated database."""
    return create_sessionmaker(database.engine)


@pytest.fixture
def store(sessionmaker: async_sessionmaker[AsyncSession]) -> SqlStore:
    """A :class:`SqlStore` on a fresh migrated database, with the real clock."""
    return SqlStore(sessionmaker)


class FakeClock:
    """A clock tests move by hand; starts at a fixed aware UTC time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


PERIOD = datetime(2025, 3, 1, tzinfo=UTC)
"""The quota period most tests charge."""


def image(file_id: str = "photo-1", **kw: Any) -> ImageRef:
    """An image reference with every optional field set unless overridden."""
    fields: dict[str, Any] = {
        "platform": Platform.TELEGRAM,
        "file_id": file_id,
        "url": f"https://files.example/{file_id}",
        "filename": f"{file_id}.png",
        "size": 12345,
        "mime": "image/png",
        "width": 1024,
        "height": 768,
        "as_document": True,
    }
    fields.update(kw)
    return ImageRef(**fields)


def make_job(
    key: str, *, credits: int = 1, user_id: str = "u1", community_id: str | None = "g1", **kw: Any
) -> Job:
    """A queued job with a fresh id and the idempotency key ``key``."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "idempotency_key": key,
        "platform": "telegram",
        "chat_id": "c1",
        "user_id": user_id,
        "community_id": community_id,
        "origin": {"event_id": key, "locale": "zh-CN", "handle": {"token": "t", "n": [1, 2]}},
        "images": (image("in-1"), image("in-2", url=None, as_document=False)),
        "mask": image("mask-1", mime=None),
        "prompt": "make it blue — 蓝色",
        "model": "gpt-image-1",
        "options": EditOptions(size="1024x1024", n=1),
        "credits": credits,
        "period_start": PERIOD,
    }
    fields.update(kw)
    return Job(**fields)


def scopes(*, user: int = 10, community: int | None = 100, user_id: str = "u1") -> tuple[QuotaScope, ...]:
    """The user's scope and, unless ``community`` is None, the community ``g1``'s."""
    found = [QuotaScope("user", f"telegram:{user_id}", user)]
    if community is not None:
        found.append(QuotaScope("community", "telegram:g1", community))
    return tuple(found)
