"""The progress reporter before a result: a status edit stuck behind a busy platform budget is
dropped (the result replaces the status anyway); the status message's creation is waited for."""

from __future__ import annotations

import asyncio
import base64

import pytest

from core.actions import Action, Delivered, Phase, SendProgress, Text
from core.editapi.stream import PartialImage
from core.errors import BadResponse
from core.events import ChatRef, Origin
from core.identity import Platform, UserKey
from core.progress import ProgressReporter
from tests.fakes.edit_api import sample_png
from tests.unit.fakes import FakeOutbox

ORIGIN = Origin(user=UserKey(Platform.CONSOLE, "u"), chat=ChatRef(Platform.CONSOLE, "c"), event_id="e")


class SlowPlatform:
    """Creates status messages at once; edits wait until ``budget`` is set (a busy lane)."""

    def __init__(self) -> None:
        self.budget = asyncio.Event()
        self.waiting = asyncio.Event()
        self.calls: list[str] = []

    def has_room_for_preview(self, origin: Origin) -> bool:
        return True

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


async def test_a_preview_the_budget_would_drop_is_not_even_decoded() -> None:
    outbox = FakeOutbox()
    progress = ProgressReporter(outbox, ORIGIN, "job")
    outbox.room_for_previews = False
    await progress.preview(PartialImage(0, "not base64 at all: never looked at"))
    assert outbox.sent == []
    outbox.room_for_previews = True
    picture = sample_png(32, 24)
    await progress.preview(PartialImage(1, base64.b64encode(picture).decode()))
    await progress.flush()
    shown = [a for a in outbox.sent if isinstance(a, SendProgress) and a.image is not None]
    assert len(shown) == 1 and shown[0].image is not None
    assert (shown[0].image.data, shown[0].image.width, shown[0].image.height) == (picture, 32, 24)
    with pytest.raises(BadResponse):  # with room, a broken preview breaks the stream, as before
        await progress.preview(PartialImage(2, "not base64"))
    await progress.close()
