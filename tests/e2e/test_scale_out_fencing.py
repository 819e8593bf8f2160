"""Fencing and /cancel across processes (issue 14), with real ``editbot run`` processes.

- a worker stalled (SIGSTOP) during the paid call past its lease: another worker takes the job
  over and delivers it; when the stalled one wakes up (SIGCONT) with its own answer, its fencing
  token no longer holds, so it stops: one photo, one charge, no second message;
- ``/cancel`` at a gateway reaches a job waiting in the table (refunded, status message gone, the
  user told), and a job a worker is running: the worker stops at its next fenced write and
  shows nothing.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from tests.e2e.scale_cluster import Cluster
from tests.e2e.test_scale_out import charged, cluster, photos, settled, statuses  # noqa: F401
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import FakeChat
from tests.fakes.telegram_server import FakeTelegram
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def bot_messages(fake: FakeTelegram, chat: FakeChat) -> list[str]:
    """What the bot shows in ``chat`` now (deleted messages left out)."""
    return [m.caption or m.text or "" for m in fake.messages_in(chat) if m.from_bot]


@pytest.mark.parametrize("answer", ["streamed", "plain"])
async def test_a_stalled_worker_whose_job_was_taken_over_does_not_deliver_it(
    cluster: Cluster,  # noqa: F811
    answer: str,
) -> None:
    fake, api = cluster.fake, cluster.api
    # Slow enough for the takeover to happen while the first call is still out; "plain" answers
    # without partial images, so the stalled worker meets its first fenced write, not a preview.
    api.latency = 1.5
    api.stream_as_json = answer == "plain"
    user = fake.user()
    chat = fake.private_chat(user)
    await cluster.start("gateway")
    stalled = await cluster.start("worker", worker_concurrency="1")
    fake.send_photo(chat, user, sample_png(64, 64), caption="one result only")
    await eventually(lambda: len(api.requests) == 1, 30)
    os.kill(stalled.proc.pid, signal.SIGSTOP)
    try:
        taker = await cluster.start("worker", worker_concurrency="1")
        await settled(cluster, [chat], 1)
        assert "left unfinished" in taker.output
        shown = bot_messages(fake, chat)
    finally:
        os.kill(stalled.proc.pid, signal.SIGCONT)
    # The stalled worker now reads its own answer, and finds its lease gone.
    await eventually(lambda: stalled.said("lost"), 30)
    await eventually(lambda: stalled.said("stopping without delivering"), 30)
    assert photos(fake, chat) == ["one result only"]
    assert bot_messages(fake, chat) == shown
    assert len(api.requests) == 2  # the cut-off call, and the taker's one retry
    assert await charged(cluster, user.id) == 1
    assert await cluster.query("SELECT status, claims FROM jobs") == [("succeeded", 2)]
    [(worker_id,)] = await cluster.query("SELECT worker_id FROM jobs")
    assert worker_id in taker.output


async def test_cancel_at_a_gateway_reaches_a_job_waiting_in_the_queue(cluster: Cluster) -> None:  # noqa: F811
    fake, api = cluster.fake, cluster.api
    user = fake.user()
    chat = fake.private_chat(user)
    balancer = await cluster.start_webhook_gateways(2)
    try:
        fake.send_photo(chat, user, sample_png(64, 64), caption="never mind")
        await eventually(lambda: any("position 1" in s for s in statuses(fake, chat)), 30)
        assert await charged(cluster, user.id) == 1
        fake.send_text(chat, user, "/cancel")
        await eventually(lambda: any(t.startswith("Cancelled.") for t in bot_messages(fake, chat)), 30)
        # The two updates went to different gateways: the second one cancelled the first one's job.
        assert len({backend for _, backend in balancer.routes}) == 2
        assert await cluster.query("SELECT status, error_kind FROM jobs") == [("cancelled", "cancelled")]
        assert await charged(cluster, user.id) == 0
        # Its "position 1" status message is gone; a worker started now finds nothing to do.
        await eventually(lambda: not [t for t in bot_messages(fake, chat) if "position" in t], 30)
        await cluster.start("worker")
        fake.send_photo(chat, user, sample_png(64, 64), caption="this one")
        await settled(cluster, [chat], 1)
        assert [r.value("prompt") for r in api.requests] == ["this one"]
        assert photos(fake, chat) == ["this one"] and await charged(cluster, user.id) == 1
    finally:
        await balancer.stop()


async def test_cancel_at_a_gateway_stops_the_worker_running_the_job(cluster: Cluster) -> None:  # noqa: F811
    fake, api = cluster.fake, cluster.api
    api.latency = 3.0
    api.stream_as_json = True
    user = fake.user()
    chat = fake.private_chat(user)
    await cluster.start("gateway")
    worker = await cluster.start("worker")
    fake.send_photo(chat, user, sample_png(64, 64), caption="too slow")
    await eventually(lambda: len(api.requests) == 1, 30)
    fake.send_text(chat, user, "/cancel")
    await eventually(lambda: any(t.startswith("Cancelled.") for t in bot_messages(fake, chat)), 30)
    assert await cluster.query("SELECT status FROM jobs") == [("cancelled",)]
    assert await charged(cluster, user.id) == 0
    # The worker gets its answer, finds the job cancelled at its next write, and shows nothing.
    await eventually(lambda: worker.said("stopping without delivering"), 30)
    assert not photos(fake, chat)
    assert not [t for t in bot_messages(fake, chat) if "Editing" in t or "position" in t], bot_messages(
        fake, chat
    )
    assert await charged(cluster, user.id) == 0


def places_shown(fake: FakeTelegram, chat: FakeChat) -> list[int]:
    """Every place in line the bot's messages in ``chat`` showed, in the order shown."""
    shown = []
    for m in fake.messages_in(chat, include_deleted=True):
        if m.from_bot:
            for version in [*m.history, m.raw]:
                found = re.search(r"position (\d+)", str(version.get("text") or ""))
                if found:
                    shown.append(int(found.group(1)))
    return shown


async def test_places_in_line_follow_the_queue_across_workers(cluster: Cluster) -> None:  # noqa: F811
    fake, api = cluster.fake, cluster.api
    api.latency = 1.0
    users = [fake.user(first_name=f"U{i}") for i in range(5)]
    chats = [fake.private_chat(u) for u in users]
    await cluster.start("gateway")
    for i, (user, chat) in enumerate(zip(users, chats, strict=True)):
        fake.send_photo(chat, user, sample_png(64, 64), caption=f"in line {i}")
        await eventually(lambda c=chat, n=i + 1: places_shown(fake, c) == [n], 30)  # type: ignore[misc]
    # Two workers, one job at a time each: the line moves, and every waiting user sees it move.
    await cluster.start("worker", worker_concurrency="1")
    await cluster.start("worker", worker_concurrency="1")
    await settled(cluster, chats, 5)
    for i, chat in enumerate(chats):
        shown = places_shown(fake, chat)
        # Only changes are shown, newest last: the numbers only go down, each shown once.
        assert shown == sorted(set(shown), reverse=True) and shown[0] == i + 1, (i, shown)
        assert shown[-1] <= 2, (i, shown)  # two workers: a job starts from first or second place
    assert len(places_shown(fake, chats[-1])) >= 3, places_shown(fake, chats[-1])
    assert sorted(photos(fake, c)[0] for c in chats) == [f"in line {i}" for i in range(5)]
