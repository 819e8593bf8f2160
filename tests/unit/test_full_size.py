"""Full-size results (issue 11) in the core: the runner offers to keep a result's originals, a
press sends them for free, a repeated or late press gets a plain word, the sweep purges them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.actions import SendFiles, SendImage, SendText
from core.events import ButtonPressed, ImageReceived
from core.results import FULL_SIZE
from tests.polling import eventually
from tests.unit.engine_world import World


async def _edit(w: World) -> SendImage:
    w.fetcher.add("p1", w.image)
    await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "blue"))
    await w.runner.wait_idle()
    (result,) = w.outbox.of(SendImage)
    return result


async def test_a_result_carries_the_offer_and_keeping_stores_the_api_bytes() -> None:
    async with World() as w:
        result = await _edit(w)
        offer = result.full_size
        assert offer is not None and offer.button.action == FULL_SIZE and offer.button.job_id == result.job_id
        assert [b.action for b in result.buttons] == ["edit_again", "retry"]  # the adapter adds it
        assert w.store.full_size == {}  # nothing kept unless the platform's photo loses something
        await offer.keep()
        files, expires, _ = w.store.full_size[result.job_id]
        assert files == (w.editor.result,) and expires == w.now + timedelta(hours=24)


async def test_no_offer_when_switched_off_or_when_the_user_asked_for_a_file() -> None:
    async with World() as w:
        w.runner.config = replace(w.runner.config, full_size_hours=0)
        assert (await _edit(w)).full_size is None
    async with World() as w:
        w.fetcher.add("f1", w.image)
        file = replace(w.ref("f1"), as_document=True)
        await w.engine.handle(w.origin(), ImageReceived((file,), "blue"))
        await w.runner.wait_idle()
        (result,) = w.outbox.of(SendImage)
        assert result.as_document and result.full_size is None


async def test_a_press_sends_the_originals_free_once_then_says_so() -> None:
    async with World() as w:
        result = await _edit(w)
        assert result.full_size is not None
        await result.full_size.keep()
        used = w.store.used()

        (files,) = await w.engine.handle(w.origin(), ButtonPressed(FULL_SIZE, result.job_id))
        assert isinstance(files, SendFiles)
        assert [i.data for i in files.images] == [w.editor.result]
        assert files.images[0].filename == result.images[0].filename
        (again,) = await w.engine.handle(w.origin(), ButtonPressed(FULL_SIZE, result.job_id))
        assert isinstance(again, SendText) and again.private and again.text.key == "full_size_just_sent"
        assert w.store.used() == used  # free

        # Someone else's press is refused like any button's.
        (other,) = await w.engine.handle(w.origin(user="u2"), ButtonPressed(FULL_SIZE, result.job_id))
        assert isinstance(other, SendText) and other.text.key == "button_not_yours"

        w.now += timedelta(hours=25)
        (gone,) = await w.engine.handle(w.origin(), ButtonPressed(FULL_SIZE, result.job_id))
        assert isinstance(gone, SendText) and gone.private and gone.text.key == "full_size_gone"


async def test_the_sweep_purges_expired_originals() -> None:
    async with World() as w:
        await w.store.keep_full_size("old", [b"png"], w.now - timedelta(seconds=1))
        await w.store.keep_full_size("new", [b"png"], w.now + timedelta(hours=1))
        w.runner.config = replace(w.runner.config, heartbeat_interval=0.01)
        await w.runner.start()
        await eventually(lambda: "old" not in w.store.full_size)
        assert "new" in w.store.full_size
