"""`editbot chat` end to end: subprocess runs of the real stack against the fake edit API."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

from PIL import Image

from tests.fakes.edit_api import FakeEditAPI, expected_edit, same_pixels, sample_png
from tests.polling import eventually


def _bw_mask(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """Form (b): black everywhere, white where the edit may happen."""
    img = Image.new("L", (width, height), 0)
    img.paste(255, box)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _env(tmp: Path, api: FakeEditAPI | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}
    if api is not None:
        env |= {
            "EDITBOT_API_BASE_URL": api.base_url,
            "EDITBOT_API_KEY": api.api_key,
            "EDITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'chat.db'}",
        }
    return env | extra


async def _spawn(
    tmp: Path, env: dict[str, str], stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "chat",
        "--out",
        str(tmp / "out"),
        cwd=tmp,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
        stderr=stdout,
    )


async def _chat(tmp: Path, api: FakeEditAPI, script: str, **extra: str) -> tuple[int, str, str]:
    proc = await _spawn(tmp, _env(tmp, api, **extra))
    out, err = await asyncio.wait_for(proc.communicate(script.encode()), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_photo_mask_prompt_across_a_restart(tmp_path: Path, edit_api: FakeEditAPI) -> None:
    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    photo.write_bytes(sample_png(256, 256))
    mask.write_bytes(_bw_mask(256, 256, (64, 64, 192, 192)))

    code, out, err = await _chat(tmp_path, edit_api, f"/photo {photo}\n")
    assert code == 0, err
    assert "Got your photo" in out and "Traceback" not in err

    # A new process: the conversation continues from the database.
    code, out, err = await _chat(tmp_path, edit_api, f"/mask {mask}\nmake the middle purple\n")
    assert code == 0, err
    assert "Got the mask" in out and "result:" in out, out

    (request,) = edit_api.requests
    assert request.value("prompt") == "make the middle purple"
    sent_image, sent_mask = request.images[0], request.mask
    assert sent_mask is not None and (sent_mask.width, sent_mask.height) == (
        sent_image.width,
        sent_image.height,
    )
    # White in the black-and-white mask became the transparent (editable) area.
    with Image.open(io.BytesIO(sent_mask.data)) as m:
        alpha = m.convert("RGBA").getchannel("A")
        scale = sent_image.width / 256
        assert alpha.getpixel((int(128 * scale), int(128 * scale))) == 0
        assert alpha.getpixel((int(10 * scale), int(10 * scale))) == 255

    (result,) = (tmp_path / "out").iterdir()
    with Image.open(result) as got:
        want = expected_edit(sent_image.data, sent_mask.data, request.value("size"))
        assert same_pixels(got, want)


async def test_usage_and_quota_in_the_console(tmp_path: Path, edit_api: FakeEditAPI) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_png(64, 64))
    script = f"/photo {photo}\n/skip\nfirst\n/photo {photo}\n/skip\nsecond\n/usage\n"
    code, out, err = await _chat(tmp_path, edit_api, script, EDITBOT_USER_QUOTA="1")
    assert code == 0, err
    assert out.count("result:") == 1
    assert "You have no credits left (1/1 used)" in out
    assert "You've used 1 of 1 credits today — 0 left" in out
    assert len(edit_api.requests) == 1


async def test_api_failure_is_one_plain_line(tmp_path: Path, edit_api: FakeEditAPI) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_png(64, 64))
    edit_api.fail_next(
        401, {"error": {"message": "Incorrect API key provided: sk-***", "type": "invalid_request_error"}}
    )
    code, out, err = await _chat(
        tmp_path, edit_api, f"/photo {photo}\n/skip\nmake it blue\n/usage\n/photo nope.png\n"
    )
    assert code == 0
    assert "rejected the bot's key" in out and "Traceback" not in out + err
    assert "You've used 0 of 10" in out
    assert "no such file: nope.png" in err


async def test_missing_api_key_names_the_variable(tmp_path: Path) -> None:
    proc = await _spawn(tmp_path, _env(tmp_path, None))
    _, err = await asyncio.wait_for(proc.communicate(b""), timeout=60)
    assert proc.returncode == 2
    assert b"EDITBOT_API_KEY" in err and b"Traceback" not in err


async def test_killed_mid_edit_is_refunded_and_told_on_restart(tmp_path: Path, edit_api: FakeEditAPI) -> None:
    """A real crash: SIGKILL while the edit API is working; with EDITBOT_RESUME_INTERRUPTED=refund
    the next start refunds and tells the user (the retry default is drilled in test_crash_drills.py)."""
    photo = tmp_path / "photo.png"
    photo.write_bytes(sample_png(64, 64))
    edit_api.hang_next()
    proc = await _spawn(
        tmp_path,
        _env(tmp_path, edit_api, EDITBOT_JOB_STALE_AFTER="0.1", EDITBOT_RESUME_INTERRUPTED="refund"),
        asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(f"/photo {photo}\nmake it blue\n".encode())
    await proc.stdin.drain()
    await eventually(lambda: len(edit_api.requests) == 1, within=60)
    proc.kill()
    await proc.wait()

    code, out, err = await _chat(
        tmp_path, edit_api, "/usage\n", EDITBOT_JOB_STALE_AFTER="0.1", EDITBOT_RESUME_INTERRUPTED="refund"
    )
    assert code == 0, err
    assert "The bot restarted while working on your edit. It was not charged" in out
    assert "You've used 0 of 10" in out
