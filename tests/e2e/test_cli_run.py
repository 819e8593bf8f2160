"""`editbot run` as an operator starts it: clear words when something is missing, never a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.crash_drill import Drill, clean_environment, editbot_run
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram


async def _run(tmp: Path, **env: str) -> tuple[int, str]:
    proc = await editbot_run(tmp, clean_environment() | env)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_no_token_says_what_to_set(tmp_path: Path) -> None:
    code, text = await _run(tmp_path, EDITBOT_API_KEY="sk-x")
    assert code == 2
    assert "EDITBOT_TELEGRAM_TOKEN" in text and "EDITBOT_DISCORD_TOKEN" in text and "Traceback" not in text


async def test_missing_api_key_is_named(tmp_path: Path) -> None:
    code, text = await _run(tmp_path, EDITBOT_TELEGRAM_TOKEN="123:abc")
    assert code == 2
    assert "EDITBOT_API_KEY" in text and "Traceback" not in text and "123:abc" not in text


async def test_invalid_setting_names_the_variable_only(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EDITBOT_QUOTA_PERIOD=fortnight\nEDITBOT_TELEGRAM_TOKEN=123:secret\n")
    code, text = await _run(tmp_path)
    assert code == 2
    assert "EDITBOT_QUOTA_PERIOD" in text and "fortnight" not in text and "secret" not in text


async def test_editbot_run_serves_telegram_and_stops_on_sigterm(
    tmp_path: Path, fake_telegram: FakeTelegram, edit_api: FakeEditAPI
) -> None:
    """The operator's path: `editbot run` in its own process, a user's edit, then SIGTERM mid-edit."""
    grace = {"EDITBOT_SHUTDOWN_GRACE": "0.5"}
    async with Drill(fake_telegram, edit_api, tmp_path, env=grace, fast_takeover=False) as drill:
        process = await drill.start()
        user = fake_telegram.user()
        chat = fake_telegram.private_chat(user)
        sent = fake_telegram.send_photo(chat, user, sample_png(64, 64), caption="from a real process")
        await fake_telegram.wait_for_message(
            chat, lambda m: m.photo is not None and bool(m.button_texts), after=sent, timeout=60
        )

        edit_api.hang_next()
        second = fake_telegram.send_photo(chat, user, sample_png(64, 64), caption="interrupted")
        await fake_telegram.wait_for(lambda: len(edit_api.requests) == 2, 30)
        await drill.terminate(process)  # exits 0
    told = fake_telegram.messages_in(chat)
    # The edit was handed back for the next process (EDITBOT_RESUME_INTERRUPTED=retry), and the
    # user can see that; the crash drills (test_crash_drills.py) cover what the next process does.
    assert any("The bot is restarting" in (m.content or "") for m in told if m.message_id > second.message_id)
    log = process.output
    assert "Traceback" not in log and fake_telegram.token not in log and edit_api.api_key not in log
