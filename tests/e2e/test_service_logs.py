"""`editbot run`'s logs as an operator's log pipeline sees them: JSON lines, one per job, no secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram

PROMPT = "paint the zebra ultramarine"


def _env(tmp: Path, tg: FakeTelegram, api: FakeEditAPI, **extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")} | {
        "EDITBOT_API_BASE_URL": api.base_url,
        "EDITBOT_API_KEY": api.api_key,
        "EDITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "EDITBOT_TELEGRAM_TOKEN": tg.token,
        "EDITBOT_TELEGRAM_API_URL": tg.api_url,
        "EDITBOT_TELEGRAM_FILE_URL": tg.file_url,
        **extra,
    }


async def _serve_one_edit(tmp: Path, tg: FakeTelegram, api: FakeEditAPI, **extra: str) -> str:
    """Run `editbot run`, have a user edit one photo (then one refused by the API), stop; the log."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        cwd=tmp,
        env=_env(tmp, tg, api, **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    # Drained while the bot runs: a DEBUG log outgrows the pipe's buffer and would block the bot.
    assert proc.stdout is not None
    reading = asyncio.create_task(proc.stdout.read())
    try:
        user = tg.user()
        chat = tg.private_chat(user)
        sent = tg.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await tg.wait_for_message(
            chat, lambda m: m.photo is not None and bool(m.button_texts), after=sent, timeout=60
        )
        api.fail_next(401)
        sent = tg.send_photo(chat, user, sample_png(64, 64), caption=PROMPT + " again")
        await tg.wait_for_message(
            chat, lambda m: "rejected the bot's key" in (m.content or ""), after=sent, timeout=60
        )
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = await reading
    assert proc.returncode == 0, output.decode()[-3000:]
    return output.decode()


async def test_json_logs_one_line_per_job_and_no_secrets(
    tmp_path: Path, fake_telegram: FakeTelegram, fake_discord: FakeDiscord, edit_api: FakeEditAPI
) -> None:
    """Both bots run, so both tokens are in play; the edits come through Telegram."""
    log = await _serve_one_edit(
        tmp_path,
        fake_telegram,
        edit_api,
        EDITBOT_LOG_FORMAT="json",
        EDITBOT_DISCORD_TOKEN=fake_discord.token,
        EDITBOT_DISCORD_API_URL=fake_discord.api_url,
        EDITBOT_DISCORD_GATEWAY_URL=fake_discord.gateway_url,
    )
    entries: list[dict[str, Any]] = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    jobs = [e for e in entries if e["logger"] == "editbot.jobs"]
    assert [j["outcome"] for j in jobs] == ["delivered", "api_auth"], jobs
    done, failed = jobs
    assert done["level"] == "INFO" and done["platform"] == "telegram" and done["credits"] == 1
    assert done["model"] == "gpt-image-2.5-flare" and done["size"] == edit_api.requests[0].value("size")
    assert done["editing_s"] > 0 and done["total_s"] >= done["editing_s"] + done["preparing_s"]
    assert {"queued_s", "sending_s", "job_id"} <= set(done)
    assert failed["credits"] == 0
    assert any("Discord bot" in e["msg"] and "ready" in e["msg"] for e in entries)
    for secret in (edit_api.api_key, fake_telegram.token, fake_discord.token, PROMPT, "zebra"):
        assert secret not in log, secret


async def test_text_logs_at_debug_show_prompts_but_never_secrets(
    tmp_path: Path, fake_telegram: FakeTelegram, edit_api: FakeEditAPI
) -> None:
    log = await _serve_one_edit(tmp_path, fake_telegram, edit_api, EDITBOT_LOG_LEVEL="debug")
    assert "DEBUG" in log and PROMPT in log
    assert " INFO editbot.jobs: job " in log and "delivered: telegram gpt-image-2.5-flare" in log
    # httpx logs every Bot API URL (which embeds the token) at DEBUG: scrubbed.
    assert "/bot***/" in log
    assert edit_api.api_key not in log and fake_telegram.token not in log
