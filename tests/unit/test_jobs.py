"""The job lifecycle: reserve, run, deliver, commit — or refund at every failure point."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from core import errors
from core.actions import Phase, SendError, SendImage, SendProgress, SendText
from core.events import (
    ButtonPressed,
    Command,
    EditOptions,
    EditSubmitted,
    ImageReceived,
    Origin,
    TextReceived,
    origin_to_json,
)
from core.resume import ResumeMode
from core.storage.protocol import Job, JobStatus
from core.validation import EditSpec
from tests.polling import eventually
from tests.unit.engine_world import World


async def test_successful_edit_charges_once_and_delivers() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        origin = w.origin()
        assert (
            reply := await w.engine.handle(origin, ImageReceived((w.ref("p1"),), "make it blue"))
        ).started and not reply.actions
        await w.runner.wait_idle()

        (result,) = w.outbox.of(SendImage)
        assert result.caption == "make it blue" and result.images[0].data == w.editor.result
        assert [b.action for b in result.buttons] == ["edit_again", "retry"]
        phases = [p.phase for p in w.outbox.of(SendProgress)]
        # One status per phase and no ticking clock: the edit, then its removal (issue 11).
        assert phases == [Phase.EDITING, Phase.DONE]
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.SUCCEEDED and job.usage_tokens == 30
        assert job.result_refs and w.store.used() == 1
        (request,) = w.editor.requests
        assert request.prompt == "make it blue" and request.model == "gpt-image-1"
        assert request.user and "u1" not in request.user


@pytest.mark.parametrize(
    ("where", "exc", "kind"),
    [
        ("fetch", errors.ImageTooLarge(size=30 * 2**20, limit=20 * 2**20), "image_too_large"),
        ("fetch", OSError("network down"), "internal"),
        ("prepare", errors.MaskMismatch(reason="different shape"), "mask_mismatch"),
        ("prepare", errors.UnreadableImage(), "unreadable_image"),
        ("edit", errors.ContentRefused(), "content_refused"),
        ("edit", errors.APITimeout(), "api_timeout"),
        ("edit", errors.RateLimited(retry_after=7), "api_rate_limited"),
        ("edit", RuntimeError("boom"), "internal"),
        ("deliver", OSError("chat gone"), "delivery_failed"),
    ],
)
async def test_failure_at_each_phase_refunds(where: str, exc: Exception, kind: str) -> None:
    async def failing_prepare(*args: object) -> None:
        raise exc

    async with World(prepare=failing_prepare if where == "prepare" else None) as w:
        if where != "prepare":
            from tests.unit.engine_world import fake_prepare

            w.runner._prepare = fake_prepare
        w.fetcher.add("p1", w.image)
        if where == "fetch":
            w.fetcher.fail_with = exc
        elif where == "edit":
            w.editor.fail_with = exc
        elif where == "deliver":
            w.outbox.fail_images = exc
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()

        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.FAILED and job.error_kind == kind
        assert w.store.used() == 0
        (error,) = w.outbox.of(SendError)
        assert error.kind == kind
        assert w.outbox.of(SendProgress)[-1].phase is Phase.DONE


async def test_quota_exceeded_is_explained_and_nothing_runs() -> None:
    async with World(user_limit=1) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        await w.runner.wait_idle()
        actions = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "two"))
        (error,) = [a for a in actions if isinstance(a, SendError)]
        assert error.kind == "quota_exceeded" and error.details["limit"] == 1
        assert "2026-11-22 00:00" in error.details["reset"]
        assert len(w.store.jobs) == 1 and w.store.used() == 1


async def test_community_pool_limit_is_its_own_message() -> None:
    async with World(user_limit=5, community_limit=1) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin("a", community="g"), ImageReceived((w.ref("p1"),), "one"))
        await w.runner.wait_idle()
        actions = await w.engine.handle(w.origin("b", community="g"), ImageReceived((w.ref("p1"),), "two"))
        assert [a.kind for a in actions if isinstance(a, SendError)] == ["community_quota_exceeded"]


async def test_one_active_edit_per_user() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        actions = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "two"))
        assert [a.kind for a in actions if isinstance(a, SendError)] == ["busy"]
        other = await w.engine.handle(w.origin("u2"), ImageReceived((w.ref("p1"),), "other user"))
        assert not other
        w.editor.gate.set()
        await w.runner.wait_idle()
        assert w.store.used() == 2


async def test_redelivered_event_runs_and_charges_once() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        origin = w.origin(event_id="update-42")
        await w.engine.handle(origin, ImageReceived((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()
        await w.engine.handle(origin, ImageReceived((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()
        assert len(w.store.jobs) == 1 and w.store.used() == 1 and len(w.editor.requests) == 1


async def test_double_tapped_retry_runs_once() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()
        (first,) = w.store.jobs
        for _ in range(2):
            await w.engine.handle(w.origin(), ButtonPressed("retry_confirm", first))
            await w.runner.wait_idle()
        assert len(w.store.jobs) == 2 and w.store.used() == 2


async def test_cancel_while_editing_refunds() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
        await asyncio.wait_for(w.editor.started.wait(), 5)
        actions = await w.engine.handle(w.origin(), Command("cancel"))
        assert [a.text.key for a in actions if isinstance(a, SendText)] == ["cancelled"]
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.CANCELLED and w.store.used() == 0
        assert not w.outbox.of(SendImage) and not w.outbox.of(SendError)


async def test_shutdown_with_refund_mode_refunds_and_tells_user() -> None:
    w = World(resume=ResumeMode.REFUND)
    w.fetcher.add("p1", w.image)
    w.editor.gate = asyncio.Event()
    await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
    await asyncio.wait_for(w.editor.started.wait(), 5)
    await w.runner.stop()
    (job,) = w.store.jobs.values()
    assert job.status is JobStatus.FAILED and job.error_kind == "interrupted" and w.store.used() == 0
    assert [e.kind for e in w.outbox.of(SendError)] == ["interrupted"]


async def test_crash_recovery_with_refund_mode_refunds_stale_jobs_and_notifies() -> None:
    async with World(resume=ResumeMode.REFUND) as w:
        origin = w.origin()
        await _dead_workers_job(w, origin)
        assert w.store.used() == 1

        assert await w.runner.recover() == 0  # the worker beat just now: still alive
        w.now += timedelta(seconds=w.runner.config.stale_after + 1)
        assert await w.runner.recover() == 1
        assert w.store.jobs["j1"].status is JobStatus.FAILED and w.store.used() == 0
        (notice,) = w.outbox.of(SendError)
        assert notice.kind == "interrupted" and notice.origin == origin
        assert await w.runner.recover() == 0


async def _dead_workers_job(w: World, origin: Origin, **stage: Any) -> Job:
    """What a crashed process leaves: a reserved job owned by a worker that no longer beats."""
    spec = EditSpec((w.ref("p1"),), None, "make it blue", "gpt-image-1", EditOptions(n=1))
    w.fetcher.add("p1", w.image)
    job = Job(
        id="j1",
        idempotency_key="k1",
        platform="console",
        chat_id="c1",
        user_id="u1",
        community_id=None,
        origin=origin_to_json(origin),
        images=spec.images,
        mask=None,
        prompt=spec.prompt,
        model=spec.model,
        options=spec.options,
        credits=1,
        period_start=w.runner.policy.period_start(w.now),
    )
    await w.store.create_job(job, w.runner.policy.scopes(origin))
    await w.store.mark_running("j1", "w-dead")
    w.store.jobs["j1"] = replace(w.store.jobs["j1"], **stage)
    return w.store.jobs["j1"]


async def test_queue_positions_are_reported() -> None:
    async with World(concurrency=1) as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        await w.engine.handle(w.origin("a"), ImageReceived((w.ref("p1"),), "first"))
        await asyncio.wait_for(w.editor.started.wait(), 5)
        await w.engine.handle(w.origin("b"), ImageReceived((w.ref("p1"),), "second"))
        await w.engine.handle(w.origin("c"), ImageReceived((w.ref("p1"),), "third"))
        await eventually(lambda: len([p for p in w.outbox.of(SendProgress) if p.phase is Phase.QUEUED]) >= 2)
        queued = {
            p.origin.user.user_id: p.text.params["position"]
            for p in w.outbox.of(SendProgress)
            if p.phase is Phase.QUEUED
        }
        assert queued == {"b": 1, "c": 2}
        w.editor.gate.set()
        await w.runner.wait_idle()
        assert len(w.outbox.of(SendImage)) == 3


async def test_validation_errors_cost_nothing() -> None:
    async with World(models=("dall-e-2",)) as w:
        w.fetcher.add("p1", w.image)
        actions = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "x" * 1001))
        assert [a.kind for a in actions if isinstance(a, SendError)] == ["prompt_too_long"]
        big = w.fetcher.add(
            "big",
            b"x",
        )

        actions = await w.engine.handle(
            w.origin(), ImageReceived((replace(big, size=30 * 1024 * 1024),), "hi")
        )
        assert [a.kind for a in actions if isinstance(a, SendError)] == ["image_too_large"]
        png_ref = replace(w.ref("p1"), mime="image/png")
        actions = await w.engine.handle(
            w.origin(), EditSubmitted((png_ref,), "hi", options=EditOptions(size="999x1"))
        )
        (err,) = [a for a in actions if isinstance(a, SendError)]
        assert err.kind == "invalid_option" and err.details["option"] == "size"
        actions = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "an opaque photo, no mask"))
        assert [a.kind for a in actions if isinstance(a, SendError)] == ["mask_required"]
        assert w.store.jobs == {} and w.store.used() == 0


async def test_album_over_model_limit_uses_first_and_says_so() -> None:
    async with World(models=("dall-e-2",)) as w:
        for name in ("p1", "p2"):
            w.fetcher.add(name, w.image)
        pngs = tuple(replace(w.ref(n), mime="image/png") for n in ("p1", "p2"))
        actions = await w.engine.handle(w.origin(), ImageReceived(pngs, "hi"))
        assert [a.text.key for a in actions if isinstance(a, SendText)] == ["using_first_images"]
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.images == pngs[:1]


async def test_stale_conversation_is_dropped_with_notice() -> None:
    async with World(timeout=60) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),)))
        w.now += timedelta(seconds=61)
        actions = await w.engine.handle(w.origin(), TextReceived("make it blue"))
        assert [a.text.key for a in actions] == ["conversation_expired", "send_photo_first"]
        assert w.store.jobs == {}


async def test_usage_counts_personal_and_community() -> None:
    async with World(user_limit=3, community_limit=9) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(community="g"), ImageReceived((w.ref("p1"),), "x"))
        await w.runner.wait_idle()
        texts = await w.engine.usage(w.origin(community="g"))
        assert [(t.key, t.params["used"], t.params["left"]) for t in texts] == [
            ("usage", 1, 2),
            ("usage_community", 1, 8),
        ]
        (personal,) = await w.engine.usage(w.origin())
        assert personal.params["used"] == 0


async def test_pricier_edit_than_credits_left_says_what_it_needs() -> None:
    async with World(user_limit=2) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        await w.runner.wait_idle()
        actions = await w.engine.handle(
            w.origin(), EditSubmitted((w.ref("p1"),), "two, better", options=EditOptions(quality="high"))
        )
        (error,) = [a for a in actions if isinstance(a, SendError)]
        assert error.kind == "quota_insufficient"
        assert (error.details["needed"], error.details["left"]) == (2, 1)
        assert w.store.used() == 1


async def test_next_edit_right_after_a_result_is_not_busy() -> None:
    """The user sees the result a moment before the job commits; answering at once must just work."""
    async with World() as w:
        w.fetcher.add("p1", w.image)
        shown = asyncio.Event()
        hold = asyncio.Event()
        original_send = w.outbox.send

        async def slow_delivery(action):  # type: ignore[no-untyped-def]
            result = await original_send(action)
            if isinstance(action, SendImage) and not shown.is_set():
                shown.set()
                await hold.wait()  # e.g. the full-resolution file is still uploading
            return result

        w.outbox.send = slow_delivery  # type: ignore[method-assign]
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        await asyncio.wait_for(shown.wait(), 5)
        answer = asyncio.create_task(w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "two")))
        await asyncio.sleep(0)
        hold.set()
        actions = await answer
        assert not [a for a in actions if isinstance(a, SendError)]
        await w.runner.wait_idle()
        assert len(w.outbox.of(SendImage)) == 2 and w.store.used() == 2
