"""Telegram's call budget in two lanes: what a user waits for first, progress last.

Telegram allows a bot about 30 calls a second overall and 20 a minute per group. Under a burst
that budget decides how soon each user hears from the bot, so it is spent in this order:

- first, replies: command replies, errors, refusals — every call not marked otherwise. They are
  few and short, and a user who just asked something should not wait behind a crowd's edits;
- then first feedback (``rate_limit_args=FEEDBACK``): a job's new status message;
- then results (``rate_limit_args=RESULT``), so that under a burst a user who has not heard from
  the bot yet is answered before another user's finished edit is shown;
- last, progress (``rate_limit_args=PROGRESS``): status edits, live previews and removals. They
  wait while any other call waits for the same budget; the core sends only the newest state of
  each job (:class:`core.progress.ProgressReporter`) and drops it once the result is ready, so a
  short budget merges or drops them.

Invariants: calls take budget in priority order, FIFO within a lane; a group call takes its
group's budget before the overall one (so it never holds overall budget while it waits for its
group); a ``RetryAfter`` from Telegram pauses every call for the time asked, then the call is
retried up to ``max_retries`` times (as PTB's ``AIORateLimiter`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

PROGRESS = "progress"
"""``rate_limit_args`` of a call that may wait behind everything else (status edits, previews)."""
RESULT = "result"
"""``rate_limit_args`` of a result: after first feedback and replies (a user who has not heard from
the bot yet comes first), before progress."""
PREVIEW = "preview"
"""``rate_limit_args`` of a live preview: progress that is dropped, not queued, when the budget has
no room at once (a burst spends it on feedback and results; the result replaces the preview)."""
FEEDBACK = "feedback"
"""``rate_limit_args`` of a job's first feedback: after replies, before results."""

Result = bool | dict[str, Any] | list[dict[str, Any]]
LAST = 3
"""The progress lane's number (lanes are served lowest first)."""
_LANES = {FEEDBACK: 1, RESULT: 2, PROGRESS: LAST, PREVIEW: LAST}  # anything else: 0, replies
_MAX_GROUPS = 512


class Budget:
    """A token bucket (``rate`` calls a second, bursts up to ``burst``) served in priority order."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._pump: asyncio.Task[None] | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def idle(self) -> bool:
        """Full and nobody waiting (safe to forget)."""
        self._refill()
        return not self._waiters and self._tokens >= self.burst

    @property
    def has_room(self) -> bool:
        """A call could go at once: budget left, nobody waiting, no pause."""
        self._refill()
        return not self._waiters and self._tokens >= 1 and time.monotonic() >= self._paused_until

    def pause(self, seconds: float) -> None:
        """Take no calls for ``seconds`` (Telegram said RetryAfter)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._tokens = 0.0

    async def take(self, lane: int) -> None:
        """Wait for one call's worth of budget, behind waiters of a lower ``lane`` number."""
        self._refill()
        if not self._waiters and self._tokens >= 1 and time.monotonic() >= self._paused_until:
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (lane, next(self._seq), future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve(), name="telegram-budget")
        await future

    async def _serve(self) -> None:
        while self._waiters:
            self._refill()
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                continue
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # a cancelled caller gives its turn away
                self._tokens -= 1
                future.set_result(None)

    async def close(self) -> None:
        """Stop serving (shutdown)."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


class LaneRateLimiter(BaseRateLimiter[str]):
    """PTB rate limiter with a first lane and a progress lane over Telegram's budgets."""

    def __init__(self, rate: float = 30.0, group_per_minute: float = 20.0, *, max_retries: int = 3) -> None:
        self._overall = Budget(rate, burst=rate)
        self._group_rate = group_per_minute / 60.0
        self._group_burst = group_per_minute
        self._groups: dict[int | str, Budget] = {}
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Stop the budgets' schedulers."""
        for budget in (self._overall, *self._groups.values()):
            await budget.close()

    def _group(self, chat_id: int | str) -> Budget:
        if len(self._groups) > _MAX_GROUPS:
            # Forget groups whose budget is full again; they start over full, which is the same.
            for key, budget in list(self._groups.items()):
                if key != chat_id and budget.idle:
                    del self._groups[key]
        known = self._groups.get(chat_id)
        if known is None:
            known = self._groups[chat_id] = Budget(self._group_rate, burst=self._group_burst)
        return known

    def has_room(self, chat_id: object) -> bool:
        """Whether a call to ``chat_id`` would go at once (a preview is worth making)."""
        group = _group_id(chat_id)
        return self._overall.has_room and (group is None or self._group(group).has_room)

    async def admit(self, endpoint: str, data: dict[str, Any], lane: int) -> bool:
        """Whether the call goes ahead at all (False: skipped as if sent; subclasses decide)."""
        return True

    def waited(self, endpoint: str, seconds: float) -> None:
        """How long the call waited for its budget (subclasses report it)."""

    def failed(self, endpoint: str) -> None:
        """The call ended in a Telegram error (subclasses report it)."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> Result:
        """Take the call's budget in its lane, then run it; retry after ``RetryAfter``.

        The one place PTB's arguments are handled: subclasses hook :meth:`admit`,
        :meth:`waited` and :meth:`failed`.
        """
        lane = _LANES.get(rate_limit_args or "", 0)
        chat_id = data.get("chat_id")
        if rate_limit_args == PREVIEW and not self.has_room(chat_id):
            return True  # dropped as if sent: the next preview or the result shows more
        if not await self.admit(endpoint, data, lane):
            return True
        group = _group_id(chat_id)
        asked = time.monotonic()
        in_calls = 0.0  # time spent in earlier attempts (a 429 retried) is not waiting
        waited = 0.0
        try:
            for attempt in range(self._max_retries + 1):
                if group is not None:
                    await self._group(group).take(lane)
                if chat_id is not None:
                    # Calls without a chat (getFile, getUpdates) do not count against the send limits.
                    await self._overall.take(lane)
                started = time.monotonic()
                waited = started - asked - in_calls
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    if attempt == self._max_retries:
                        raise
                    wait = exc.retry_after
                    seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                    log.info("Telegram asked to wait %.1f s (%s); retrying", seconds, endpoint)
                    self._overall.pause(seconds + 0.1)
                finally:
                    in_calls += time.monotonic() - started
            raise AssertionError("unreachable")
        except TelegramError:
            self.failed(endpoint)
            raise
        finally:
            self.waited(endpoint, max(0.0, waited))


def _group_id(chat_id: object) -> int | str | None:
    """Groups and channels have negative ids (or @names); private chats have their own budget."""
    if isinstance(chat_id, str):
        with contextlib.suppress(ValueError):
            chat_id = int(chat_id)
    if isinstance(chat_id, int):
        return chat_id if chat_id < 0 else None
    return chat_id if isinstance(chat_id, str) else None
