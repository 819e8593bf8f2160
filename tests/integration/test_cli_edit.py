"""``editbot edit`` as a user runs it: a subprocess against the fake edit API in this test's loop."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bots.commands.edit import _progress, describe, output_paths
from core.errors import BadResponse, ContentRefused, EditbotError, InvalidRequest, PromptTooLong
from tests.fakes.edit_api import FakeEditAPI, expected_edit, mask_png, same_pixels, sample_png

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


async def editbot(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m bots.cli edit ARGS`` in ``tmp_path`` (so no stray .env is read)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}
    clean["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "edit",
        *args,
        cwd=tmp_path,
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def api_env(api: FakeEditAPI, key: str | None = None) -> dict[str, str]:
    return {"EDITBOT_API_BASE_URL": api.base_url, "EDITBOT_API_KEY": key or api.api_key}


def load(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


async def test_edit_writes_the_fakes_deterministic_edit(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(300, 200))
    run = await editbot(
        tmp_path, "photo.png", "--prompt", "invert it", "-o", "out.png", env=api_env(edit_api)
    )
    assert run.code == 0, run.err
    (sent,) = edit_api.requests
    want = expected_edit(sent.images[0].data, None, sent.value("size"))
    assert same_pixels(load(tmp_path / "out.png"), want)
    inp, outp, total = edit_api.last_usage or (0, 0, 0)
    assert f"wrote out.png ({want.width}x{want.height} PNG" in run.out
    assert f"usage: {inp} input + {outp} output = {total} tokens" in run.out
    user = sent.value("safety_identifier") or ""
    assert user.startswith("eb-") and len(user) == 35


async def test_mask_extra_images_and_n(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(320, 240))
    (tmp_path / "more.png").write_bytes(sample_png(64, 64, seed=9))
    (tmp_path / "mask.png").write_bytes(mask_png(320, 240, (0, 0, 160, 240)))
    args = [
        "photo.png",
        "--image2",
        "more.png",
        "--mask",
        "mask.png",
        "-p",
        "x",
        "-n",
        "2",
        "--quality",
        "low",
    ]
    run = await editbot(tmp_path, *args, "--size", "1536x1024", "-o", "res/out.png", env=api_env(edit_api))
    assert run.code == 0, run.err
    (sent,) = edit_api.requests
    assert [f.name for f in sent.files] == ["image[]", "image[]", "mask"]
    assert sent.value("quality") == "low" and sent.value("size") == "1536x1024"
    assert sent.mask is not None
    want = expected_edit(sent.images[0].data, sent.mask.data, "1536x1024")
    for path in (tmp_path / "res/out.png", tmp_path / "res/out-2.png"):
        assert same_pixels(load(path), want)


async def test_jpeg_output_name_gets_jpeg_bytes(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(64, 64))
    run = await editbot(tmp_path, "photo.png", "-p", "x", "-o", "out.jpg", env=api_env(edit_api))
    assert run.code == 0, run.err
    with Image.open(tmp_path / "out.jpg") as img:
        assert img.format == "JPEG"


async def test_missing_key_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(8, 8))
    run = await editbot(tmp_path, "photo.png", "-p", "x", "-o", "out.png")
    assert run.code == 2
    assert "EDITBOT_API_KEY" in run.err and "Traceback" not in run.err


@pytest.mark.parametrize(
    ("status", "key", "words"),
    [(None, "sk-wrong-key-000000000", "rejected the bot's key"), (500, None, "internal error")],
)
async def test_failures_are_one_plain_line(
    edit_api: FakeEditAPI, tmp_path: Path, status: int | None, key: str | None, words: str
) -> None:
    if status is not None:
        edit_api.fail_next(status)
    (tmp_path / "photo.png").write_bytes(sample_png(32, 32))
    run = await editbot(tmp_path, "photo.png", "-p", "x", "-o", "out.png", env=api_env(edit_api, key))
    assert run.code == 1
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("editbot: ") and words in last
    assert "Traceback" not in run.err
    assert (key or edit_api.api_key) not in run.err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            ContentRefused("x", status=400, code="moderation_blocked"),
            "The image service's safety system refused this edit. Try rewording the request. "
            "Your edit was not charged. (HTTP 400, moderation_blocked)",
        ),
        (
            BadResponse("x", reason="not an image"),
            "The image service sent back something that wasn't an image.",
        ),
        (
            PromptTooLong("x", length=1200, limit=1000, model="dall-e-2"),
            "(1200 characters). dall-e-2 accepts at most 1000.",
        ),
        (
            InvalidRequest("HTTP 400: boom", status=400),
            "HTTP 400: boom (HTTP 400)",
        ),  # no reason: the message itself
    ],
)
def test_describe_uses_the_catalog(exc: EditbotError, line: str) -> None:
    assert line in describe(exc)
    assert "\n" not in describe(exc)


async def test_bad_input_file_is_a_plain_message(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not a picture")
    missing = await editbot(tmp_path, "nowhere.png", "-p", "x", "-o", "o.png", env=api_env(edit_api))
    broken = await editbot(tmp_path, "notes.png", "-p", "x", "-o", "o.png", env=api_env(edit_api))
    assert missing.code == 2 and "nowhere.png" in missing.err and "Traceback" not in missing.err
    assert broken.code == 1 and "Traceback" not in broken.err
    assert edit_api.requests == []


async def test_an_unwritable_output_is_refused_before_the_paid_call(
    edit_api: FakeEditAPI, tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(64, 64))
    (tmp_path / "taken").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        is_dir = await editbot(tmp_path, "photo.png", "-p", "x", "-o", "taken", env=api_env(edit_api))
        no_write = await editbot(
            tmp_path, "photo.png", "-p", "x", "-o", "locked/o.png", env=api_env(edit_api)
        )
    finally:
        locked.chmod(0o700)
    assert is_dir.code == 2 and "taken" in is_dir.err and "Traceback" not in is_dir.err
    if os.geteuid() == 0:  # root writes anywhere: only the directory case can be refused
        assert no_write.code == 0 and len(edit_api.requests) == 1
    else:
        assert no_write.code == 2 and "locked" in no_write.err and "Traceback" not in no_write.err
        assert edit_api.requests == [] and not list(locked.iterdir())


def test_output_paths() -> None:
    assert output_paths(Path("a/out.png"), 3) == [Path("a/out.png"), Path("a/out-2.png"), Path("a/out-3.png")]
    assert output_paths(Path("result"), 2) == [Path("result"), Path("result-2")]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


async def _until(predicate: Callable[[], bool], deadline_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not predicate():
        assert loop.time() < end, "condition not reached before the deadline"
        await asyncio.sleep(0.01)


async def test_progress_prints_lines_when_not_a_tty() -> None:
    stream = _Stream(tty=False)
    async with _progress(stream, every=0.05):
        await _until(lambda: stream.getvalue().count("\n") >= 1)
    assert "still waiting for the image service" in stream.getvalue()
    assert "\r" not in stream.getvalue()


async def test_progress_updates_in_place_on_a_tty() -> None:
    stream = _Stream(tty=True)
    async with _progress(stream):
        await _until(lambda: "\rwaiting" in stream.getvalue())
    assert stream.getvalue().endswith("\r\033[K") and "\n" not in stream.getvalue()


async def test_edit_warns_about_a_retired_model_and_explains_the_404(
    edit_api: FakeEditAPI, tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(300, 200))
    run = await editbot(
        tmp_path,
        "photo.png",
        "-p",
        "brighter",
        "-o",
        "out.png",
        "--model",
        "gpt-image-1",
        env=api_env(edit_api),
    )
    assert run.code == 1
    assert "gpt-image-1 was retired on 2026-10-23; use gpt-image-2.5-flare" in run.err
    assert "no longer available" in run.err and "HTTP 404" in run.err


async def test_edit_shows_the_relays_own_words_for_an_error_in_a_200(
    edit_api: FakeEditAPI, tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(300, 200))
    edit_api.respond_next(
        200, {"error": {"message": "channel 12: upstream timeout", "type": "one_api_error"}}
    )
    run = await editbot(tmp_path, "photo.png", "-p", "brighter", "-o", "out.png", env=api_env(edit_api))
    assert run.code == 1 and "channel 12: upstream timeout" in run.err


async def test_edit_cutout_saves_a_transparent_png(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(300, 200))
    run = await editbot(
        tmp_path, "photo.png", "-p", "cut it out", "-o", "out.png", "--cutout", env=api_env(edit_api)
    )
    assert run.code == 0, run.err
    (request,) = edit_api.requests
    assert request.value("background") == "transparent" and request.value("model") == "gpt-image-2.5-flare"
    with Image.open(tmp_path / "out.png") as img:
        assert img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 0


async def test_edit_preview_saves_partials_as_they_arrive(edit_api: FakeEditAPI, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(sample_png(300, 200))
    run = await editbot(
        tmp_path, "photo.png", "-p", "paint", "-o", "out.png", "--preview", "previews", env=api_env(edit_api)
    )
    assert run.code == 0, run.err
    assert edit_api.requests[0].value("stream") == "true"
    lines = [line for line in run.out.splitlines() if line.startswith("partial ")]
    assert len(lines) == 2 and "partial 1 after" in lines[0] and "previews/partial-2.png" in lines[1]
    assert load(tmp_path / "previews" / "partial-1.png").size == load(tmp_path / "out.png").size
