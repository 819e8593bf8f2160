"""`editbot run`'s logs as an operator's log pipeline sees them: JSON lines, one per job, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.crash_drill import Drill, discord_environment
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram

PROMPT = "paint the zebra ultramarine"


async def _serve_one_edit(tmp: Path, tg: FakeTelegram, api: FakeEditAPI, **extra: str) -> str:
    """Run `editbot run`, have a user edit one photo (then one refused by the API), stop; the log."""
    async with Drill(tg, api, tmp, env=extra, fast_takeover=False) as drill:
        process = await drill.start()
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
        await drill.terminate(process)  # exits 0
    return process.output


async def test_json_logs_one_line_per_job_and_no_secrets(
    tmp_path: Path, fake_telegram: FakeTelegram, fake_discord: FakeDiscord, edit_api: FakeEditAPI
) -> None:
    """Both bots run, so both tokens are in play; the edits come through Telegram."""
    log = await _serve_one_edit(
        tmp_path,
        fake_telegram,
        edit_api,
        EDITBOT_LOG_FORMAT="json",
        **discord_environment(fake_discord),
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
