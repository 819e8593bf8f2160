"""`editbot run` tells the operator at start when a configured model is retired, and still serves."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.crash_drill import Drill
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_server import FakeTelegram


async def test_run_warns_about_a_retired_model_naming_the_replacement(
    tmp_path: Path, fake_telegram: FakeTelegram, edit_api: FakeEditAPI
) -> None:
    env = {"EDITBOT_MODEL": "gpt-image-1", "EDITBOT_ALLOWED_MODELS": "dall-e-2,gpt-image-2.5-sunburst"}
    drill = Drill(fake_telegram, edit_api, tmp_path, env=env)
    process = await drill.start()
    await drill.terminate(process)
    log = process.output
    assert "model gpt-image-1 was retired on 2026-10-23; use gpt-image-2.5-flare" in log
    assert "model dall-e-2 was retired on 2026-05-12; use gpt-image-2.5-flare" in log
    assert "gpt-image-2.5-sunburst was retired" not in log and "Traceback" not in log
