"""Discord's share of the metrics: its jobs, and its failed calls (an expired interaction token)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bots.metrics import serving
from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.edit_api import sample_png

EXPIRED = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"


async def test_jobs_and_failed_webhook_calls_are_counted(dc: DiscordHarness) -> None:
    assert dc.core is not None
    dc.api.latency = 1.0
    hit = await dc.edit(dc.photo(sample_png(64, 40)), "slow one")
    await hit.wait_for_original(lambda m: "Preparing" in m.content or "Editing" in m.content)
    dc.fake.expire_token(hit)  # the result goes to the channel after the webhook call fails
    await dc.fake.wait_for_message(lambda m: bool(m.files), timeout=20)
    await dc.idle()

    async with (
        serving(dc.core.metrics, dc.core.health, "127.0.0.1", 0) as port,
        httpx.AsyncClient() as http,
    ):
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("editbot_jobs_total", (("outcome", "delivered"), ("platform", "discord")))] == 1
    assert samples[("editbot_platform_api_errors_total", (("method", EXPIRED), ("platform", "discord")))] >= 1
    assert samples[("editbot_edit_api_seconds_count", (("model", "gpt-image-2.5-flare"),))] == 1
    assert hit.token not in text  # route templates, never an interaction token
