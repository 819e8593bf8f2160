"""Owner alerts on Discord: the owner gets one DM when the key is rejected, one when edits work again."""

from __future__ import annotations

from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.edit_api import sample_png


async def test_rejected_key_dms_the_owner_once(dc: DiscordHarness) -> None:
    owner = dc.fake.add_user("owner")
    await dc.restart(admins=f"discord:{owner.id}")
    dc.api.fail_next(401, times=3)
    for attempt in range(3):
        hit = await dc.edit(dc.photo(sample_png(64, 64)), f"try {attempt}")
        await hit.wait_for_original(lambda m: "rejected the bot's key" in m.content, timeout=20)
        await dc.idle()
    hit = await dc.edit(dc.photo(sample_png(64, 64)), "works again")
    await dc.result(hit)
    await dc.idle()
    assert dc.core is not None
    await dc.core.alerts.close()

    dm = [m.content for m in dc.fake.dm_channel(owner).messages if not m.deleted]
    assert len(dm) == 2, dm
    assert "Owner alert" in dm[0] and "rejected the bot's key" in dm[0] and "HTTP 401" in dm[0]
    assert dm[1].startswith("✅ Edits work again")
