"""`editbot run` tells the operator at start when a configured model is retired, and still serves."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_server import FakeTelegram


async def test_run_warns_about_a_retired_model_naming_the_replacement(
    tmp_path: Path, fake_telegram: FakeTelegram, edit_api: FakeEditAPI
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")} | {
        "EDITBOT_API_BASE_URL": edit_api.base_url,
        "EDITBOT_API_KEY": edit_api.api_key,
        "EDITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "EDITBOT_TELEGRAM_TOKEN": fake_telegram.token,
        "EDITBOT_TELEGRAM_API_URL": fake_telegram.api_url,
        "EDITBOT_TELEGRAM_FILE_URL": fake_telegram.file_url,
        "EDITBOT_MODEL": "gpt-image-1",
        "EDITBOT_ALLOWED_MODELS": "dall-e-2,gpt-image-2.5-sunburst",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await fake_telegram.wait_for(
            lambda: fake_telegram.calls("deleteWebhook") or None, 60, what="polling to start"
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = output.decode()
    assert proc.returncode == 0, log[-3000:]
    assert "model gpt-image-1 was retired on 2026-10-23; use gpt-image-2.5-flare" in log
    assert "model dall-e-2 was retired on 2026-05-12; use gpt-image-2.5-flare" in log
    assert "gpt-image-2.5-sunburst was retired" not in log and "Traceback" not in log
