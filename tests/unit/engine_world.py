"""A small world for engine tests: engine + runner wired to in-memory fakes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from core.catalogue import ModelSpec
from core.engine import ConversationEngine, EngineConfig
from core.events import Origin
from core.identity import ChatRef, Community, Platform, UserKey
from core.jobs import JobConfig, JobRunner
from core.media import PreparedImage, PreparedInputs
from core.quotas.credits import CreditTable
from core.quotas.rules import QuotaPolicy
from core.refs import ImageRef
from core.resume import ResumeMode
from tests.unit.fakes import FakeEditor, FakeFetcher, FakeOutbox, FakeStore, png


async def fake_prepare(
    images: Sequence[bytes], mask: bytes | None, spec: ModelSpec, size: str | None
) -> PreparedInputs:
    """Pass-through preparation: the engine's logic, not Pillow's, is under test here."""
    parts = tuple(PreparedImage(b, f"image-{i}.png", "image/png", 64, 48) for i, b in enumerate(images))
    m = PreparedImage(mask, "mask.png", "image/png", 64, 48) if mask is not None else None
    return PreparedInputs(parts, m, size or "auto")


class World:
    """Engine, runner and fakes; ``async with World() as w`` stops the runner afterwards."""

    def __init__(
        self,
        *,
        user_limit: int = 10,
        community_limit: int = 100,
        concurrency: int = 4,
        models: tuple[str, ...] = ("gpt-image-1", "dall-e-2"),
        timeout: float = 900.0,
        prepare: Any = fake_prepare,
        store_factory: Any = None,
        global_limit: int | None = None,
        owners: tuple[UserKey, ...] = (),
        credits: CreditTable | None = None,
        period: str = "day",
        timezone: str = "UTC",
        resume: ResumeMode = ResumeMode.RETRY,
    ) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        self.store = (store_factory or FakeStore)(clock=lambda: self.now)
        self.editor = FakeEditor()
        self.fetcher = FakeFetcher()
        self.outbox = FakeOutbox()
        self.image = png()
        self.runner = JobRunner(
            self.store,
            self.editor,
            QuotaPolicy(user_limit, community_limit, period, timezone, global_limit),
            config=JobConfig(
                api_concurrency=concurrency,
                progress_interval=0.05,
                pseudonym_secret=b"s",
                resume=resume,
                shutdown_grace=0.0,
            ),
            prepare=prepare,
            clock=lambda: self.now,
            worker_id="w-test",
            credits=credits,
        )
        self.runner.attach(Platform.CONSOLE, self.outbox, self.fetcher)
        self.engine = ConversationEngine(
            self.store,
            self.runner,
            EngineConfig(
                default_model=models[0], allowed_models=models, conversation_timeout=timeout, owners=owners
            ),
        )
        self._ids = itertools.count(1)

    def ref(self, file_id: str) -> ImageRef:
        """A reference to a file the fetcher holds (or will hold)."""
        return ImageRef(Platform.CONSOLE, file_id)

    def origin(self, user: str = "u1", chat: str = "c1", community: str | None = None, **kw: Any) -> Origin:
        """A fresh event origin (a new event id each call)."""
        return Origin(
            user=UserKey(Platform.CONSOLE, user),
            chat=ChatRef(Platform.CONSOLE, chat),
            event_id=kw.pop("event_id", f"e{next(self._ids)}"),
            community=Community(Platform.CONSOLE, community) if community else None,
            **kw,
        )

    async def __aenter__(self) -> World:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.runner.stop()
