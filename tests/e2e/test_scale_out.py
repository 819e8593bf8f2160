"""Scale-out (issue 14): real ``editbot run --role gateway|worker`` processes on one PostgreSQL schema.

- a gateway takes the update, answers at once with the user's place in line and enqueues the
  job; it never calls the edit API. A worker, a separate process, runs it and delivers the photo;
- a worker SIGKILLed during the paid call: another worker takes the job over when its lease runs
  out and runs it once more (the documented retry): one photo, one charge;
- a worker SIGKILLed after the API answered: another worker delivers the stored result, with no
  second call and one charge;
- fairness: with one slot, a second group's edit goes before the first group's backlog, and the
  positions users are shown agree with the order jobs run in;
- webhook behind a load balancer: one conversation's updates spread over two gateways apply in
  order, and an album whose parts reached different gateways becomes one edit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.storage.db import create_engine
from tests.e2e.scale_cluster import Cluster
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_model import FakeChat
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.db_fixtures import postgres_schema
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
async def cluster(
    fake_telegram: FakeTelegram, edit_api: FakeEditAPI, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    async with postgres_schema(postgres_url) as schema:
        engine = create_engine(postgres_url, schema=schema)
        cluster = Cluster(fake_telegram, edit_api, tmp_path, postgres_url, schema, engine)
        try:
            yield cluster
        finally:
            await cluster.stop_all()
            await engine.dispose()


def photos(fake: FakeTelegram, chat: FakeChat) -> list[str]:
    """Captions of the result photos the bot shows in ``chat``."""
    return [
        m.caption or ""
        for m in fake.messages_in(chat, include_deleted=True)
        if m.from_bot and m.photo is not None and not m.deleted
    ]


def statuses(fake: FakeTelegram, chat: FakeChat) -> list[str]:
    """Texts the bot's status messages in ``chat`` ever showed."""
    shown = []
    for m in fake.messages_in(chat, include_deleted=True):
        if m.from_bot and m.photo is None and m.document is None:
            shown += [str(v.get("text") or "") for v in m.history] + [m.text or ""]
    return shown


async def settled(cluster: Cluster, chats: list[FakeChat], results: int) -> None:
    def shown() -> int:
        return sum(len(photos(cluster.fake, c)) for c in chats)

    async def done() -> bool:
        return shown() >= results and not await cluster.open_jobs()

    try:
        await eventually(done, 60)
    except AssertionError:
        jobs = await cluster.query("SELECT status, stage, attempts, worker_id FROM jobs")
        output = cluster.processes[-1].output[-3000:]
        raise AssertionError(f"{shown()} results, jobs {jobs}\n{output}") from None


async def charged(cluster: Cluster, user_id: int) -> int:
    rows = await cluster.query(
        "SELECT COALESCE(SUM(used), 0) FROM usage WHERE scope_kind = 'user' AND scope_key = :key",
        key=f"telegram:{user_id}",
    )
    return int(rows[0][0])


async def test_a_gateway_enqueues_and_a_worker_delivers(cluster: Cluster) -> None:
    fake, api = cluster.fake, cluster.api
    user = fake.user()
    chat = fake.private_chat(user)
    gateway = await cluster.start("gateway")
    fake.send_photo(chat, user, sample_png(64, 64), caption="from the gateway to a worker")
    # The gateway answers at once with the user's place in line, and runs nothing itself.
    await eventually(lambda: any("position 1" in s for s in statuses(fake, chat)), 30)
    assert await cluster.query("SELECT status, worker_id FROM jobs") == [("queued", None)]
    assert not api.requests
    worker = await cluster.start("worker", worker_concurrency="2")
    await settled(cluster, [chat], 1)
    assert photos(fake, chat) == ["from the gateway to a worker"]
    assert len(api.requests) == 1 and await charged(cluster, user.id) == 1
    [(worker_id,)] = await cluster.query("SELECT worker_id FROM jobs")
    assert worker_id and worker_id in worker.output and worker_id not in gateway.output
    assert "Telegram sender ready" in worker.output and "getUpdates" not in worker.output


@pytest.mark.parametrize("phase", ["during_api", "after_api"])
async def test_a_killed_worker_s_job_is_finished_by_another_once(cluster: Cluster, phase: str) -> None:
    fake, api = cluster.fake, cluster.api
    user = fake.user()
    chat = fake.private_chat(user)
    await cluster.start("gateway")
    first = await cluster.start("worker")
    hold = None
    if phase == "during_api":
        api.hang_next()
    else:
        # The status message turned into the result, not a live preview ("🖌 Painting…").
        hold = fake.hold("editMessageMedia", lambda p: "🖌" not in str(p.obj("media") or ""))
    fake.send_photo(chat, user, sample_png(64, 64), caption="survives its worker")
    if hold is None:
        await eventually(lambda: len(api.requests) == 1, 30)
    else:
        await eventually(hold.reached.is_set, 30)
        assert await cluster.query("SELECT stage FROM jobs") == [("answered",)]
    await cluster.kill(first)
    if hold is not None:
        hold.release()
    second = await cluster.start("worker")
    await settled(cluster, [chat], 1)
    assert photos(fake, chat) == ["survives its worker"]
    # A cut-off call is made once more (core.resume); a stored answer is delivered, never paid again.
    assert len(api.requests) == (2 if phase == "during_api" else 1)
    assert await charged(cluster, user.id) == 1
    assert await cluster.query("SELECT status FROM jobs") == [("succeeded",)]
    [(worker_id,)] = await cluster.query("SELECT worker_id FROM jobs")
    assert worker_id in second.output and "left unfinished" in second.output


async def test_a_busy_group_does_not_starve_another(cluster: Cluster) -> None:
    fake, api = cluster.fake, cluster.api
    crowd = [fake.user(first_name=f"Crowd{i}") for i in range(3)]
    busy = fake.group("Busy club", *crowd)
    newcomer = fake.user(first_name="New")
    quiet = fake.group("Quiet club", newcomer)
    await cluster.start("gateway")
    for i, member in enumerate(crowd):
        fake.send_photo(busy, member, sample_png(64, 64), caption=f"/edit busy {i}")
        await eventually(lambda n=i + 1: len(statuses(fake, busy)) >= n, 30)  # type: ignore[misc]
    fake.send_photo(quiet, newcomer, sample_png(64, 64), caption="/edit quiet 0")
    await eventually(lambda: any("position" in s for s in statuses(fake, quiet)), 30)
    # The quiet group's first edit takes the second turn, ahead of the busy group's backlog.
    assert any("position 2" in s for s in statuses(fake, quiet)), statuses(fake, quiet)
    await cluster.start("worker", worker_concurrency="1")
    await settled(cluster, [busy, quiet], 4)
    assert [r.value("prompt") for r in api.requests] == ["busy 0", "quiet 0", "busy 1", "busy 2"]


async def test_webhook_updates_of_one_conversation_over_two_gateways_apply_in_order(
    cluster: Cluster,
) -> None:
    fake = cluster.fake
    user, other = fake.user(), fake.user()
    chat, other_chat = fake.private_chat(user), fake.private_chat(other)
    balancer = await cluster.start_webhook_gateways(2)
    try:
        await cluster.start("worker")
        # The first gateway's answer to the photo is held: the /skip at the second gateway must
        # wait for it, although that gateway is free.
        hold = fake.hold("sendMessage", lambda p: "Got your photo" in (p.text("text") or ""))
        fake.send_photo(chat, user, sample_png(64, 64))
        await eventually(hold.reached.is_set, 30)
        fake.send_text(chat, user, "/skip")
        fake.send_text(chat, user, "make it sepia")
        # Another user's message at the second gateway is answered meanwhile (it is not blocked).
        fake.send_text(other_chat, other, "/help")
        await eventually(lambda: len(balancer.routes) == 4, 30)
        await eventually(lambda: any(m.from_bot for m in fake.messages_in(other_chat)), 30)
        assert len({backend for _, backend in balancer.routes[:3]}) == 2  # spread over both
        assert not [m for m in fake.messages_in(chat) if m.from_bot]
        hold.release()
        await settled(cluster, [chat], 1)
        replies = [m.content or "" for m in fake.messages_in(chat) if m.from_bot and m.photo is None]
        asks = [r for r in replies if r.startswith(("Got your photo", "No mask then"))]
        assert [a[:14] for a in asks] == ["Got your photo", "No mask then —"]
        assert photos(fake, chat) == ["make it sepia"]
    finally:
        await balancer.stop()


async def test_an_album_spread_over_two_gateways_is_one_edit(cluster: Cluster) -> None:
    fake, api = cluster.fake, cluster.api
    user = fake.user()
    chat = fake.private_chat(user)
    balancer = await cluster.start_webhook_gateways(2)
    try:
        await cluster.start("worker")
        parts = fake.send_album(chat, user, [sample_png(64, 64, seed=s) for s in (1, 2, 3)], "blend these")
        await settled(cluster, [chat], 1)
        assert len({backend for _, backend in balancer.routes[: len(parts)]}) == 2
        (request,) = api.requests
        assert len(request.images) == 3 and request.value("prompt") == "blend these"
        assert not await cluster.query("SELECT update_id FROM inbox WHERE handled_at IS NULL")
    finally:
        await balancer.stop()
