"""Crash drills: ``editbot run`` killed (SIGKILL) or stopped (SIGTERM) at each phase of an edit,
then started again; the invariants of :class:`tests.e2e.crash_drill.Drill` hold after every one.

Phases, and how each is reached without timing:
- ``received``: the update is stored but not handled (the same user's earlier /settings waits on
  a held sendMessage, so the photo's handler waits behind it in the per-user order);
- ``before_api``: the job is reserved, its input download (getFile) is held;
- ``during_api``: the edit API holds the call; the next process retries it (the one documented
  second call);
- ``after_api``: the API's images are stored, the status message's turn into the result
  (editMessageMedia) is held;
- ``photo_sent``: the photo is shown and recorded, the full-size file (sendDocument) is held (the
  user sent a file, so the result comes as a file too);
- ``document_uploading``: the file's upload has reached Telegram but is not stored yet;
- ``committed``: everything is done and committed.

With SIGTERM, held calls of the delivery phases are released once the process says it is stopping
(a delivery is never cut off: that process finishes it), while the phases before the result keep
theirs until it exited, so the grace period (1 s here) runs out and the edit is handed on — its
user sees "the bot is restarting" at once, and the next process replaces that status.
"""

from __future__ import annotations

import base64
import os
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.crash_drill import Drill
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram

PHASES = (
    "received",
    "before_api",
    "during_api",
    "after_api",
    "photo_sent",
    "document_uploading",
    "committed",
)
PROMPT = "drill: make it blue"


@pytest.fixture
async def drill(fake_telegram: FakeTelegram, edit_api: FakeEditAPI, tmp_path: Path) -> AsyncIterator[Drill]:
    """A drill on the fakes; every process it started is stopped afterwards."""
    drill = Drill(fake_telegram, edit_api, tmp_path)
    try:
        yield drill
    finally:
        await drill.stop_all()


async def run_drill(drill: Drill, phase: str, how: str, *, webhook: bool = False) -> None:
    """One drill: cut the first process off at ``phase`` with ``how`` (kill/term), restart, check.

    ``webhook``: the bot gets its updates by webhook instead of long polling.
    """
    fake, api = drill.fake, drill.api
    if webhook:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        drill.env |= {
            "EDITBOT_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram-hook",
            "EDITBOT_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "EDITBOT_TELEGRAM_WEBHOOK_PORT": str(port),
        }
    user = fake.user()
    chat = fake.private_chat(user)
    first = await drill.start()
    holds = []
    prompts = [PROMPT]
    api_calls = 1
    files = 0  # full-size files expected with the result: only for a user who sent a file

    # Held calls the stopping process may finish (delivery is never cut off; the /settings
    # handler must return for PTB to stop); the others stay held until it exited, so the grace
    # period runs out and the edit is handed to the next process.
    on_stop = []
    if phase == "received":
        menu = fake.hold("sendMessage", lambda p: "Your defaults" in (p.text("text") or ""))
        on_stop.append(menu)
        holds.append(fake.hold("getFile"))
        fake.send_text(chat, user, "/settings")
        await fake.wait_for(menu.reached.is_set, 30, what="the /settings menu to be held")
        fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await fake.wait_for(lambda: drill.stored_updates() == 2, 30, what="the photo to be stored")
        assert not drill.query("SELECT id FROM jobs")
    elif phase == "before_api":
        hold = fake.hold("getFile")
        holds.append(hold)
        fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await fake.wait_for(hold.reached.is_set, 30, what="the input download to be held")
        # The status message goes out while the input downloads; cut the process off once it
        # is recorded (a cut in the instant between Telegram's answer and the record is the
        # documented window that leaves a second status message).
        await fake.wait_for(
            lambda: drill.query("SELECT status_message FROM jobs") not in ([], [(None,)]),
            30,
            what="the status message recorded",
        )
    elif phase == "during_api":
        api.hang_next()
        fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await fake.wait_for(lambda: len(api.requests) == 1, 30, what="the edit to reach the API")
        api_calls = 2  # the cut-off call is made again by the next process (SIGTERM: after the grace)
    elif phase == "after_api":
        # The result (the status message turned into it), not a live preview ("🖌 Painting…").
        hold = fake.hold("editMessageMedia", lambda p: "🖌" not in str(p.obj("media") or ""))
        on_stop.append(hold)
        fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await fake.wait_for(hold.reached.is_set, 30, what="the result photo to be held")
        assert drill.query("SELECT stage FROM jobs") == [("answered",)]
    elif phase in ("photo_sent", "document_uploading"):
        hold = fake.hold("sendDocument")
        on_stop.append(hold)
        files = 1
        fake.send_document(chat, user, sample_png(64, 64), "in.png", "image/png", caption=PROMPT)
        if phase == "photo_sent":
            await fake.wait_for(
                lambda: drill.query("SELECT stage FROM jobs") == [("delivering",)],
                30,
                what="the photo recorded",
            )
        await fake.wait_for(hold.reached.is_set, 30, what="the full-size file's upload to be held")
    elif phase == "committed":
        fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
        await fake.wait_for(
            lambda: drill.query("SELECT status FROM jobs") == [("succeeded",)], 30, what="the job committed"
        )
    else:  # pragma: no cover - the parameters are the phases above
        raise AssertionError(phase)

    if how == "kill":
        await drill.kill(first)
    else:
        await drill.terminate(first, *(hold.release for hold in on_stop))
    for hold in holds + on_stop:
        hold.release()  # the first process's held call is gone with it; later ones go through
    await drill.start()
    await drill.settled(chat, results=1)
    await drill.stop_all()
    drill.check(chat, user, prompts=prompts, api_calls=api_calls, files=files)
    menus = [m for m in drill.bot_messages(chat) if "Your defaults" in (m.text or "")]
    assert len(menus) == (1 if phase == "received" else 0), "the /settings request answered once"
    assert all(p.said("webhook listening") == webhook for p in drill.processes)
    paused = [
        m
        for m in drill.bot_messages(chat)
        if any(str(v.get("text") or "").startswith("⏸") for v in [*m.history, {"text": m.text}])
    ]
    # A stop that hands an edit on tells its user at once (the next process removes that status).
    assert len(paused) == (1 if how == "term" and phase in ("received", "before_api", "during_api") else 0)
    if how == "term" and phase in ("after_api", "photo_sent", "document_uploading"):
        assert "handed back" not in drill.processes[0].output  # delivery is never cut off


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
@pytest.mark.parametrize("phase", PHASES)
async def test_crash_drill(drill: Drill, phase: str, how: str) -> None:
    await run_drill(drill, phase, how)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
@pytest.mark.parametrize("phase", ["received", "during_api"])
async def test_crash_drill_with_a_webhook(drill: Drill, phase: str, how: str) -> None:
    await run_drill(drill, phase, how, webhook=True)


@pytest.mark.long_drills
@pytest.mark.skipif(
    not os.environ.get("EDITBOT_LONG_DRILLS"), reason="set EDITBOT_LONG_DRILLS=N to run N drills"
)
async def test_random_crash_drills(
    fake_telegram: FakeTelegram, edit_api: FakeEditAPI, tmp_path: Path
) -> None:
    """N drills at random phases and signals, each on a fresh database (seed printed on failure)."""
    seed = int(os.environ.get("EDITBOT_DRILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    for n in range(int(os.environ["EDITBOT_LONG_DRILLS"])):
        phase, how = rng.choice(PHASES), rng.choice(["kill", "term"])
        folder = tmp_path / f"drill-{n}"
        folder.mkdir()
        drill = Drill(fake_telegram, edit_api, folder)
        edit_api.requests.clear()
        try:
            await run_drill(drill, phase, how)
        except BaseException as exc:
            raise AssertionError(f"drill {n} ({phase}, {how}) failed; EDITBOT_DRILL_SEED={seed}") from exc
        finally:
            await drill.stop_all()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
async def test_crash_drill_with_a_full_size_button(drill: Drill, how: str) -> None:
    """A result whose photo loses something (a relay's PNG), cut off as it is shown: the next
    process shows it once with its "Full size" button and no file, the original is kept once
    (apart from the job's own result rows, which go with the job), and the button sends it."""
    fake, api = drill.fake, drill.api
    user = fake.user()
    chat = fake.private_chat(user)
    first = await drill.start()
    original = sample_png(300, 200, seed=7)
    api.respond_next(body={"created": 1, "data": [{"b64_json": base64.b64encode(original).decode()}]})
    hold = fake.hold("editMessageMedia", lambda p: "🖌" not in str(p.obj("media") or ""))
    fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
    await fake.wait_for(hold.reached.is_set, 30, what="the result photo to be held")
    if how == "kill":
        await drill.kill(first)
    else:
        await drill.terminate(first, hold.release)
    hold.release()
    await drill.start()
    await drill.settled(chat, results=1)
    (photo,) = [m for m in drill.bot_messages(chat) if m.photo is not None]
    assert photo.button_texts == ["✏️ Edit again", "🔁 Retry", "🖼 Full size"]
    assert drill.query("SELECT idx FROM full_size_results") == [(0,)]

    press = fake.press_button(chat, user, photo, text="🖼 Full size")
    doc = await fake.wait_for_message(
        chat, lambda m: m.document is not None, after=photo.message_id, timeout=30
    )
    await fake.wait_for(lambda: press.answered, 10, what="the press answered")
    await drill.stop_all()
    assert doc.document == original and doc.reply_to_message_id == photo.message_id
    drill.check(chat, user, prompts=[PROMPT], api_calls=1, files=1)  # the one file the press sent


@pytest.mark.slow
async def test_sigterm_lets_a_running_edit_finish_within_the_grace(drill: Drill) -> None:
    """Within EDITBOT_SHUTDOWN_GRACE the stopping process finishes the edit itself: one call, one result."""
    drill.env["EDITBOT_SHUTDOWN_GRACE"] = "30"
    drill.api.latency = 1.0
    user = drill.fake.user()
    chat = drill.fake.private_chat(user)
    first = await drill.start()
    drill.fake.send_photo(chat, user, sample_png(64, 64), caption=PROMPT)
    await drill.fake.wait_for(lambda: len(drill.api.requests) == 1, 30, what="the edit to reach the API")
    await drill.terminate(first)
    assert drill.query("SELECT status FROM jobs") == [("succeeded",)]
    await drill.start()  # nothing left for the next process
    await drill.settled(chat, results=1)
    await drill.stop_all()
    drill.check(chat, user, prompts=[PROMPT], api_calls=1)
