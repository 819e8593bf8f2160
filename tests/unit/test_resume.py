"""Interrupted jobs: resumed from where they stopped, retried once, refunded only without a result."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.actions import DeliveredPart, SendError, SendImage, SendProgress
from core.events import ImageReceived
from core.identity import Platform
from core.jobs import JobRunner
from core.refs import ImageRef
from core.resume import ResumeMode
from core.storage.protocol import JobStage, JobStatus
from tests.polling import eventually
from tests.unit.engine_world import World
from tests.unit.test_jobs import _dead_workers_job


async def _recover(w: World) -> None:
    w.now += timedelta(seconds=w.runner.config.stale_after + 1)
    assert await w.runner.recover() == 1
    await w.runner.wait_idle()


async def test_a_stored_result_is_delivered_without_a_second_call() -> None:
    async with World() as w:
        await _dead_workers_job(w, w.origin(), stage=JobStage.ANSWERED, attempts=1)
        w.store.results["j1"] = [w.editor.result]
        await _recover(w)
        job = w.store.jobs["j1"]
        assert job.status is JobStatus.SUCCEEDED and w.store.used() == 1 and not w.editor.requests
        (result,) = w.outbox.of(SendImage)
        assert result.images[0].data == w.editor.result and not w.outbox.of(SendError)


@pytest.mark.parametrize("mode", list(ResumeMode))
async def test_a_half_delivered_result_is_completed_never_refunded(mode: ResumeMode) -> None:
    async with World(resume=mode) as w:
        shown = DeliveredPart("photo", 0, "m7", (ImageRef(Platform.CONSOLE, "photo-1"),))
        await _dead_workers_job(w, w.origin(), stage=JobStage.DELIVERING, attempts=1, delivery=(shown,))
        w.store.results["j1"] = [w.editor.result]
        await _recover(w)
        assert w.store.jobs["j1"].status is JobStatus.SUCCEEDED and w.store.used() == 1
        (result,) = w.outbox.of(SendImage)
        assert result.delivered == (shown,) and not w.editor.requests


async def test_a_cut_off_call_is_retried_once_with_its_reservation() -> None:
    async with World() as w:
        await _dead_workers_job(w, w.origin(), stage=JobStage.CALLING, attempts=1)
        await _recover(w)
        job = w.store.jobs["j1"]
        assert job.status is JobStatus.SUCCEEDED and job.attempts == 2 and w.store.used() == 1
        assert len(w.editor.requests) == 1 and len(w.outbox.of(SendImage)) == 1


async def test_a_second_interruption_is_refunded_and_told() -> None:
    async with World() as w:
        await _dead_workers_job(w, w.origin(), stage=JobStage.CALLING, attempts=2, status_message="s9")
        await _recover(w)
        job = w.store.jobs["j1"]
        assert job.status is JobStatus.FAILED and job.error_kind == "interrupted" and w.store.used() == 0
        assert [e.kind for e in w.outbox.of(SendError)] == ["interrupted"] and not w.editor.requests
        # The status message the dead process left is removed.
        (done,) = w.outbox.of(SendProgress)
        assert done.message_id == "s9" and job.status_message is None


async def test_graceful_stop_hands_the_job_to_the_next_process() -> None:
    w = World()
    w.fetcher.add("p1", w.image)
    w.editor.gate = asyncio.Event()
    await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
    await asyncio.wait_for(w.editor.started.wait(), 5)
    await w.runner.stop()
    (job,) = w.store.jobs.values()
    assert job.status is JobStatus.RUNNING and job.worker_id is None and w.store.used() == 1
    assert not w.outbox.of(SendError)
    assert w.outbox.of(SendProgress)[-1].text.key == "progress_paused"

    w.editor.gate.set()
    nxt = JobRunner(w.store, w.editor, w.runner.policy, config=w.runner.config, clock=lambda: w.now)
    nxt.attach(Platform.CONSOLE, w.outbox, w.fetcher)
    assert await nxt.recover() == 1  # at once: a handed-back job needs no staleness wait
    await nxt.wait_idle()
    job = w.store.jobs[job.id]
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 2 and w.store.used() == 1
    assert len(w.outbox.of(SendImage)) == 1 and not w.outbox.of(SendError)
    await nxt.stop()


async def test_a_job_showing_its_result_is_not_cancelled() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        gate = asyncio.Event()
        send = w.outbox.send

        async def slow_send(action):  # type: ignore[no-untyped-def]
            if isinstance(action, SendImage):
                await gate.wait()
            return await send(action)

        w.outbox.send = slow_send  # type: ignore[method-assign]
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
        await asyncio.wait_for(w.editor.started.wait(), 5)
        await eventually(lambda: bool(w.runner._settling))
        assert w.runner.cancel_user(w.origin().user) == 0
        stopping = asyncio.create_task(w.runner.stop())
        gate.set()
        await stopping
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.SUCCEEDED and w.store.used() == 1 and not w.outbox.of(SendError)
