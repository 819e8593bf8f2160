"""The progress reporter before a result: a status edit stuck behind a busy platform budget is
dropped (the result replaces the status anyway); the status message's creation is waited for."""

from __future__ import annotations

import asyncio

from core.actions import Action, Delivered, Phase, SendProgress, Text
from core.events import ChatRef, Origin
from core.identity import Platform, UserKey
from core.progress import ProgressReporter

ORIGIN = Origin(user=UserKey(Platform.CONSOLE, "u"), chat=ChatRef(Platform.CONSOLE, "c"), event_id="e")


class SlowPlatform:
    """Creates status messages at once; edits wait until ``budget`` is set (a busy lane)."""

    def __init__(self) -> None:
        self.budget = asyncio.Event()
        self.waiting = asyncio.Event()
        self.calls: list[str] = []

    async def send(self, action: Action) -> Delivered | None:
        assert isinstance(action, SendProgress)
        if action.phase is Phase.DONE:
            self.calls.append("removed")
            return None
        if action.message_id is None:
            self.calls.append("create")
            await asyncio.sleep(0.01)  # a real round trip: settle must wait for it
            return Delivered(message_id="status")
        self.calls.append("edit waits")
        self.waiting.set()
        await self.budget.wait()
        self.calls.append("edited")
        return Delivered(message_id=action.message_id)


async def test_a_waiting_status_edit_is_dropped_when_the_result_is_ready() -> None:
    platform = SlowPlatform()
    stored: list[str | None] = []

    async def remember(message_id: str | None) -> None:
        stored.append(message_id)

    progress = ProgressReporter(platform, ORIGIN, "job", remember=remember)  # type: ignore[arg-type]
    progress.update(Phase.QUEUED, Text("progress_queued"))
    await progress.shown()
    progress.update(Phase.EDITING, Text("progress_editing"))
    await platform.waiting.wait()
    await asyncio.wait_for(progress.settle(), timeout=5)  # the result does not wait for the budget
    assert platform.calls == ["create", "edit waits"]
    assert progress.message_id == "status" and stored == ["status"]  # the result can replace it
    await progress.close()  # the reporter still works: the removal goes out
    assert platform.calls == ["create", "edit waits", "removed"]


async def test_the_status_message_being_created_is_waited_for() -> None:
    platform = SlowPlatform()
    progress = ProgressReporter(platform, ORIGIN, "job")  # type: ignore[arg-type]
    progress.update(Phase.QUEUED, Text("progress_queued"))
    await asyncio.sleep(0)  # the creation is on its way
    await progress.settle()
    assert progress.message_id == "status"  # known, so the result replaces it: nothing left behind
