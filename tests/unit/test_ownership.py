"""Who may press a result's buttons (the owner, in the job's chat), and redeliveries are never "busy"."""

from __future__ import annotations

import asyncio

import pytest

from core.actions import SendError, SendText
from core.events import ButtonPressed, ImageReceived
from core.storage.protocol import JobStatus
from tests.unit.engine_world import World

NOT_YOURS = "button_not_yours"


async def _finished_job(w: World, community: str | None = "g") -> str:
    w.fetcher.add("p1", w.image)
    await w.engine.handle(w.origin("alice", "c1", community), ImageReceived((w.ref("p1"),), "add stars"))
    await w.runner.wait_idle()
    (job,) = w.store.jobs.values()
    return job.id


@pytest.mark.parametrize("action", ["edit_again", "retry", "retry_confirm"])
@pytest.mark.parametrize(
    ("who", "chat", "community"),
    [
        ("bob", "c1", "g"),  # another member of the group
        ("alice", "c2", None),  # the owner, in another chat (a copied or forged id)
        ("carol", "c9", "h"),  # someone else in another community
    ],
)
async def test_only_the_owner_in_its_chat_may_press(
    action: str, who: str, chat: str, community: str | None
) -> None:
    async with World() as w:
        job_id = await _finished_job(w)
        actions = await w.engine.handle(w.origin(who, chat, community), ButtonPressed(action, job_id, "x"))
        await w.runner.wait_idle()
        assert [(type(a), a.text.key, a.private) for a in actions if isinstance(a, SendText)] == [
            (SendText, NOT_YOURS, True)
        ]
        assert len(w.store.jobs) == 1 and not w.store.conversations
        refusal = await w.engine.button_refusal(w.origin(who, chat, community), job_id)
        assert refusal is not None and refusal.text.key == NOT_YOURS


async def test_the_owner_may_press_and_unknown_jobs_are_gone() -> None:
    async with World() as w:
        job_id = await _finished_job(w)
        owner = w.origin("alice", "c1", "g")
        assert await w.engine.button_refusal(owner, job_id) is None
        actions = await w.engine.handle(owner, ButtonPressed("retry", job_id))
        assert [a.text.key for a in actions if isinstance(a, SendText)] == ["retry_confirm"]
        refusal = await w.engine.button_refusal(owner, "f" * 32)
        assert refusal is not None and refusal.text.key == "result_gone"


async def test_a_redelivery_while_the_edit_runs_is_not_busy() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        origin = w.origin(event_id="update-7")
        event = ImageReceived((w.ref("p1"),), "make it blue")
        assert (reply := await w.engine.handle(origin, event)).started and not reply.actions
        twice = await asyncio.gather(w.engine.handle(origin, event), w.engine.handle(origin, event))
        assert [(r.actions, r.started) for r in twice] == [((), False), ((), False)]
        assert not [a for a in w.outbox.sent if isinstance(a, SendError)]
        w.editor.gate.set()
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.SUCCEEDED and w.store.used() == 1 and len(w.editor.requests) == 1
