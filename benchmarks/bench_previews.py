"""How soon a live preview reaches the chat: the first visible image against the final result.

One Telegram user edits a photo while the (fake) edit API streams its partial images spread over a
10-second edit (``--seconds``). Measured in the same run:

- when the first partial event left the edit API, and when the chat first showed a picture;
- when the completed event left the edit API, and when the result showed.

The baseline is the same edit with previews off: the first picture is then the result. Printed: the
preview's lag behind its event (target: within 0.3 s), and how much sooner the user saw something
than without previews (a ratio). Traffic stays on 127.0.0.1; the run stops by itself.

    .venv/bin/python -m benchmarks.bench_previews [--seconds 10] [--partials 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram


@dataclass(frozen=True)
class Timing:
    """Seconds from the photo being sent."""

    first_event: float | None
    first_picture: float
    completed_event: float
    result: float


async def one_edit(seconds: float, partials: int, previews: bool) -> Timing:
    """One streamed edit through the real Telegram bot; when things happened."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            harness = TelegramHarness(fake, api, Path(tmp))
            await harness.start(preview_images=partials if previews else 0)
            try:
                loop = asyncio.get_running_loop()
                # partials events and the completed one, evenly over the edit
                api.stream_interval = seconds / (partials + 1)
                api.latency = 0.0 if previews else seconds
                user = fake.user()
                chat = fake.private_chat(user)
                started = loop.time()
                sent = fake.send_photo(chat, user, sample_png(640, 480), caption="benchmark")
                await harness.reply(
                    chat, lambda m: m.photo is not None, after=sent.message_id, within=seconds + 60
                )
                first_picture = loop.time() - started
                await harness.reply(
                    chat,
                    lambda m: m.photo is not None and bool(m.button_texts),
                    after=sent.message_id,
                    within=seconds + 60,
                )
                result = loop.time() - started
                await harness.idle()
                events = {name: t - started for t, name in reversed(api.stream_events)}
                completed = events.get("image_edit.completed", result)
                return Timing(events.get("image_edit.partial_image"), first_picture, completed, result)
            finally:
                await harness.stop()


async def main(seconds: float, partials: int) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    baseline = await one_edit(seconds, partials, previews=False)
    live = await one_edit(seconds, partials, previews=True)
    assert live.first_event is not None, "the edit API sent no partial image"
    lag = live.first_picture - live.first_event
    print(f"one Telegram edit, {partials} partial image(s) spread over {seconds:.0f} s")
    print(f"{'':<34}{'previews off':>14}{'previews on':>14}")
    print(f"{'first picture in the chat (s)':<34}{baseline.first_picture:>14.2f}{live.first_picture:>14.2f}")
    print(f"{'final result in the chat (s)':<34}{baseline.result:>14.2f}{live.result:>14.2f}")
    print(f"first partial event -> shown: {lag:.3f} s (target <= 0.3 s)")
    print(f"result event -> shown: {live.result - live.completed_event:.3f} s")
    print(f"first picture, previews on / off: {live.first_picture / baseline.first_picture:.2f}x")


def cli() -> None:
    """``python -m benchmarks.bench_previews``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--partials", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.partials))


if __name__ == "__main__":
    cli()
