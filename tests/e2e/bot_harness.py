"""What the Telegram and Discord harnesses share: a real core plus one bot, run like a process.

A subclass names its fake platform server, the settings that point the bot at it, and the bot's
runner. ``start`` enters the core, the bot, then the job runner, so a stop unwinds in reverse as
``editbot run`` does: no new updates, then running edits handed to the next start (the harness's
grace period is 0) with their users told, while the bot can still send.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from bots.bootstrap import Core, open_core
from bots.settings import Settings, load_settings
from tests.fakes.edit_api import FakeEditAPI


@dataclass
class BotHarness:
    """The fakes, the running bot, and start/stop/restart as a process would do them."""

    fake: Any
    api: FakeEditAPI
    tmp: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    core: Core | None = None
    running_bot: Any = None  # what the platform's runner yields (the PTB Application, the discord.py client)
    _stack: AsyncExitStack | None = None

    def platform_settings(self) -> dict[str, Any]:
        """The settings that point the bot at the fake platform."""
        raise NotImplementedError

    def bot(self, settings: Settings, core: Core) -> AbstractAsyncContextManager[Any]:
        """The bot's runner."""
        raise NotImplementedError

    def settings(self) -> Settings:
        """Settings pointing at the fakes (plus the test's overrides)."""
        values: dict[str, Any] = {
            "api_base_url": self.api.base_url,
            "api_key": self.api.api_key,
            "database_url": f"sqlite+aiosqlite:///{self.tmp / 'bot.db'}",
            "telegram_token": None,
            "discord_token": None,
            # A test's stop does not wait for edits it left hanging (they are handed back).
            "shutdown_grace": 0.0,
            **self.platform_settings(),
            **self.overrides,
        }
        return load_settings(env_file=None, **values)

    async def start(self, **overrides: Any) -> Self:
        """Start the bot (again) with the current overrides; returns once it is ready."""
        self.overrides.update(overrides)
        settings = self.settings()
        stack = AsyncExitStack()
        try:
            self.core = await stack.enter_async_context(open_core(settings))
            self.running_bot = await stack.enter_async_context(self.bot(settings, self.core))
            await stack.enter_async_context(self.core.running())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def stop(self) -> None:
        """Stop the bot as a graceful shutdown (SIGTERM) would."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def restart(self, **overrides: Any) -> None:
        """A process restart: same database, fresh everything else."""
        await self.stop()
        await self.start(**overrides)

    async def idle(self) -> None:
        """Wait until no edit is running."""
        assert self.core is not None
        await self.core.runner.wait_idle()
