"""`editbot run` as an operator starts it: clear words when something is missing, never a traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


async def _run(tmp: Path, **env: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")} | env
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        cwd=tmp,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, (out + err).decode()


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
