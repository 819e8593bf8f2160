"""Discord scaled out (issue 14): two gateway processes holding one shard each, one worker.

Each interaction reaches exactly one gateway (the one holding its guild's shard), which
acknowledges it and enqueues the job; the worker, which never connects to the gateway, runs the
edit and fills the interaction's response through its webhook.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.storage.db import create_engine
from tests.e2e.scale_cluster import Cluster
from tests.fakes.discord_models import FakeGuild
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.db_fixtures import postgres_schema
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
async def cluster(
    fake_telegram: FakeTelegram,
    fake_discord: FakeDiscord,
    edit_api: FakeEditAPI,
    postgres_url: str,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    async with postgres_schema(postgres_url) as schema:
        engine = create_engine(postgres_url, schema=schema)
        cluster = Cluster(fake_telegram, edit_api, tmp_path, postgres_url, schema, engine)
        cluster.env |= {
            "EDITBOT_TELEGRAM_TOKEN": "",  # Discord only
            "EDITBOT_DISCORD_TOKEN": fake_discord.token,
            "EDITBOT_DISCORD_API_URL": fake_discord.api_url,
            "EDITBOT_DISCORD_GATEWAY_URL": fake_discord.gateway_url,
        }
        try:
            yield cluster
        finally:
            await cluster.stop_all()
            await engine.dispose()


def guild_on_shard(fake: FakeDiscord, shard: int, count: int) -> FakeGuild:
    """A new guild whose events Discord routes to ``shard`` of ``count``."""
    while True:
        guild = fake.add_guild(f"Club {len(fake.guilds)}")
        if (guild.id >> 22) % count == shard:
            return guild


async def test_two_shards_in_two_gateways_and_a_worker_delivers(
    cluster: Cluster, fake_discord: FakeDiscord
) -> None:
    fake, api = fake_discord, cluster.api
    guilds = [guild_on_shard(fake, 0, 2), guild_on_shard(fake, 1, 2)]
    for shard in (0, 1):
        await cluster.start("gateway", discord_shard_count="2", discord_shard_ids=str(shard))
    worker = await cluster.start("worker")
    sessions = [s for s in fake.gateway.sessions if s.live]
    assert sorted(s.shard for s in sessions) == [(0, 2), (1, 2)]
    assert "Discord sender ready" in worker.output
    hits = []
    for n, guild in enumerate(guilds):
        photo = fake.add_attachment(sample_png(48, 48), f"p{n}.png")
        # One user each: a user's second edit while the first runs would be refused as busy.
        owner = fake.users[guild.owner_id]
        options = {"image": photo, "prompt": f"shard {n}"}
        hits.append(await fake.slash_command("edit", options, user=owner, guild=guild))
    try:
        results = [
            await hit.wait_for_original(
                lambda m: m.files and not m.deleted and not m.content.startswith("🖌"), timeout=60
            )
            for hit in hits
        ]
    except TimeoutError:
        jobs = await cluster.query("SELECT prompt, status, stage, claims, worker_id, error_kind FROM jobs")
        shown = [(h.original.content if h.original else None) for h in hits]
        logs = "\n".join(p.output[-2000:] for p in cluster.processes)
        raise AssertionError(f"responses {shown}, jobs {jobs}\n{logs}") from None
    assert [r.content for r in results] == ["shard 0", "shard 1"]
    assert sorted(r.value("prompt") for r in api.requests) == ["shard 0", "shard 1"]

    async def finished() -> bool:
        return not await cluster.open_jobs()

    await eventually(finished, 30)
    jobs = await cluster.query("SELECT status, worker_id FROM jobs")
    assert [s for s, _ in jobs] == ["succeeded", "succeeded"]
    assert all(w in worker.output for _, w in jobs)
