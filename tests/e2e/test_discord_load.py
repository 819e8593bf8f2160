"""Discord under load (issue 11): more edits at once than API slots all succeed, queued users see
a true place in line, and each response is edited at most once per phase before the result."""

from __future__ import annotations

import asyncio
import sqlite3

from adapters.discord_bot.handlers import ACK_WITHIN, BURST_AT
from core.ratelimit.budget import Rate
from tests.e2e.discord_harness import DiscordHarness, history
from tests.fakes.edit_api import sample_png

CONCURRENCY = 2


async def test_three_times_the_api_concurrency_all_succeed(dc: DiscordHarness) -> None:
    await dc.restart(api_concurrency=CONCURRENCY)
    dc.api.latency = 0.3
    people = [dc.fake.add_user(f"user{i}") for i in range(3 * CONCURRENCY)]
    hits = await asyncio.gather(
        *(
            dc.edit(dc.photo(sample_png(40, 40, seed=i)), f"edit {i}", user=user)
            for i, user in enumerate(people)
        )
    )
    results = [await dc.result(hit, within=60) for hit in hits]
    await dc.idle()

    assert sorted(r.content for r in results) == sorted(f"edit {i}" for i in range(len(people)))
    assert len(dc.api.requests) == len(people) and dc.api.max_in_flight == CONCURRENCY
    waited = []
    for result in results:
        shown = history(result)
        # The deferred placeholder, then each phase once (a place in line only when it changed).
        assert shown[-1] == result.content and "🎨 Editing your image…" in shown
        assert len(shown[1:-1]) == len(set(shown[1:-1])), shown
        waited += [s for s in shown if s.startswith("⏳")]
    places = {int(s.rsplit(" ", 1)[-1].rstrip(".")) for s in waited}
    assert waited and places <= set(range(1, len(people) - CONCURRENCY + 1)), waited


async def test_a_burst_is_acknowledged_before_its_jobs_are_stored(dc: DiscordHarness) -> None:
    """More edits at once than are stored at once: the later ones are acknowledged at once, while
    the database is still busy (well before the slow-store safeguard), and every edit is stored
    and delivered once it is free."""
    await dc.restart(preview_images=0)
    people = [dc.fake.add_user(f"user{i}") for i in range(BURST_AT + 3)]
    busy = sqlite3.connect(dc.tmp / "bot.db", timeout=30, check_same_thread=False)
    try:
        busy.execute("BEGIN IMMEDIATE")  # the write lock, as other edits' storing would hold it
        hits = await asyncio.gather(
            *(
                dc.fake.slash_command(
                    "edit", {"image": dc.photo(sample_png(40, 40)), "prompt": f"e{i}"}, user=u
                )
                for i, u in enumerate(people)
            )
        )
        await dc.fake.wait_for(
            lambda: sum(h.deferred for h in hits) >= 3, ACK_WITHIN * 0.75, "the burst's acknowledgements"
        )
        (stored,) = busy.execute("SELECT count(*) FROM jobs").fetchone()
        assert stored == 0  # acknowledged before their jobs could be stored
    finally:
        busy.rollback()
        busy.close()
    results = [await dc.result(hit, within=30) for hit in hits]
    await dc.idle()
    assert sorted(r.content for r in results) == sorted(f"e{i}" for i in range(len(people)))
    assert all(h.deferred and not h.original.ephemeral for h in hits if h.original is not None)


async def test_live_previews_are_dropped_when_many_edits_paint_at_once(dc: DiscordHarness) -> None:
    """Previews are the first thing to go under a burst (each is an upload the bot makes); every
    result still arrives, and it replaces whatever preview was shown."""
    dc.running_bot.outbox._previews = Rate(per_second=0.01, burst=2)  # a budget a burst outruns
    people = [dc.fake.add_user(f"user{i}") for i in range(4)]
    hits = await asyncio.gather(
        *(dc.edit(dc.photo(sample_png(40, 40, seed=i)), f"e{i}", user=u) for i, u in enumerate(people))
    )
    results = [await dc.result(hit, within=30) for hit in hits]
    await dc.idle()
    assert sorted(r.content for r in results) == [f"e{i}" for i in range(4)]
    shown = [h for r in results for h in r.history if h["attachments"] and str(h["content"]).startswith("🖌")]
    assert len(dc.api.requests) == 4 and len(shown) <= 2  # of 8 partial images streamed


async def test_a_spent_preview_budget_asks_for_no_previews(dc: DiscordHarness) -> None:
    """An edit started while the preview budget is spent is asked without partial images (they
    would be dropped unseen, yet billed and read); its result arrives as ever."""
    dc.running_bot.outbox._previews = Rate(per_second=0.01, burst=1)  # one preview, then none for long
    first = await dc.result(await dc.edit(dc.photo(sample_png(40, 40)), "first"), within=30)
    second = await dc.result(await dc.edit(dc.photo(sample_png(40, 40, seed=1)), "second"), within=30)
    await dc.idle()
    streamed, plain = dc.api.requests
    assert (streamed.value("stream"), streamed.value("partial_images")) == ("true", "2")
    assert any(str(h["content"]).startswith("🖌") for h in first.history)  # its preview spent the budget
    assert plain.value("stream") is None and plain.value("partial_images") is None
    assert second.content == "second" and second.files
