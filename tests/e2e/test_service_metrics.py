"""`editbot run` with EDITBOT_METRICS_PORT: Prometheus scrapes /metrics, probes hit /healthz and /readyz.

A real process against the fake Bot API and fake edit API; the test scrapes while an edit runs
and after a few edits (delivered, refused by the API, slowed by a flood wait, refused for quota).
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.crash_drill import Drill, discord_environment
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram
from tests.polling import eventually

MODEL = "gpt-image-2.5-flare"  # the default model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_health_and_readiness_of_a_running_bot(
    tmp_path: Path, fake_telegram: FakeTelegram, fake_discord: FakeDiscord, edit_api: FakeEditAPI
) -> None:
    """Both bots run (readiness covers each); the edits come through Telegram."""
    port = _free_port()
    env = {
        "EDITBOT_METRICS_PORT": str(port),
        "EDITBOT_METRICS_LISTEN": "127.0.0.1",
        "EDITBOT_USER_QUOTA": "2",
        "EDITBOT_API_CONCURRENCY": "1",
        **discord_environment(fake_discord),
    }
    base = f"http://127.0.0.1:{port}"
    tg = fake_telegram
    async with Drill(tg, edit_api, tmp_path, env=env, fast_takeover=False) as drill:
        process = await drill.start()
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:

            async def ok(path: str) -> bool:
                try:
                    return (await http.get(path)).status_code == 200
                except httpx.TransportError:
                    return False

            async def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
                response = await http.get("/metrics")
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain")
                return _samples(response.text)

            await eventually(lambda: ok("/healthz"), within=60)
            await eventually(lambda: ok("/readyz"), within=60)
            ready = (await http.get("/readyz")).json()
            assert ready == {"ready": True, "checks": {"database": True, "telegram": True, "discord": True}}

            user, other = tg.user(), tg.user()
            chat, other_chat = tg.private_chat(user), tg.private_chat(other)
            # 1: two users at once with one API slot: scraped while one edits and one waits.
            edit_api.latency = 1.0
            sent = tg.send_photo(chat, user, sample_png(64, 64), caption="first")
            other_sent = tg.send_photo(other_chat, other, sample_png(64, 64), caption="first too")

            async def one_waits() -> bool:
                s = await scrape()
                return _value(s, "editbot_jobs_in_flight") == 2 and _value(s, "editbot_jobs_queued") == 1

            await eventually(one_waits, within=30)
            await tg.wait_for_message(
                chat, lambda m: m.photo is not None and bool(m.button_texts), after=sent, timeout=60
            )
            await tg.wait_for_message(
                other_chat,
                lambda m: m.photo is not None and bool(m.button_texts),
                after=other_sent,
                timeout=60,
            )
            edit_api.latency = 0.0
            # 2: the API rejects the key (refunded).
            edit_api.fail_next(401)
            sent = tg.send_photo(chat, user, sample_png(64, 64), caption="second")
            await tg.wait_for_message(
                chat, lambda m: "rejected the bot's key" in (m.content or ""), after=sent, timeout=60
            )
            # 3: delivered after Telegram's flood control held the result back once.
            tg.flood.inject(1, retry_after=1, method="editMessageMedia", chat=chat)
            sent = tg.send_photo(chat, user, sample_png(64, 64), caption="third")
            await tg.wait_for_message(
                chat, lambda m: m.photo is not None and bool(m.button_texts), after=sent, timeout=60
            )
            # 4: no credits left.
            sent = tg.send_photo(chat, user, sample_png(64, 64), caption="fourth")
            await tg.wait_for_message(chat, lambda m: "no credits left" in (m.content or ""), after=sent)
            # 5: a reply Telegram keeps refusing past PTB's retries: a platform error.
            tg.flood.inject(4, retry_after=0.2, method="sendMessage", chat=chat)
            tg.send_text(chat, user, "/help")

            async def settled(method: str = "sendMessage") -> bool:
                s = await scrape()
                return (
                    _value(s, "editbot_jobs_total", platform="telegram", outcome="delivered") == 3
                    and _value(s, "editbot_jobs_in_flight") == 0
                    and _value(s, "editbot_platform_api_errors_total", platform="telegram", method=method)
                    == 1
                )

            await eventually(settled, within=30)
            s = await scrape()
            assert _value(s, "editbot_jobs_total", platform="telegram", outcome="api_auth") == 1
            assert _value(s, "editbot_credits_used_total", platform="telegram") == 3
            assert _value(s, "editbot_edit_api_seconds_count", model=MODEL) == 4
            assert _value(s, "editbot_edit_api_seconds_sum", model=MODEL) >= 2.0
            assert (
                _value(s, "editbot_edit_api_seconds_bucket", model=MODEL, le="1.0") == 2
            )  # the two fast calls; the 1 s ones land above
            assert _value(s, "editbot_edit_api_calls_total", model=MODEL, outcome="ok") == 3
            assert _value(s, "editbot_edit_api_calls_total", model=MODEL, outcome="api_auth") == 1
            assert _value(s, "editbot_first_feedback_seconds_count", platform="telegram") == 4
            assert _value(s, "editbot_jobs_queued") == 0
            assert _value(s, "editbot_quota_refusals_total", scope="user") == 1
            assert _value(s, "editbot_rate_limiter_wait_seconds_sum", platform="telegram") >= 1.0
        await drill.terminate(process)  # exits 0
