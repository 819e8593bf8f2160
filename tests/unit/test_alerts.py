"""Owner alerts' decisions: what alerts at once, what only after a while, what never; once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import errors
from core.actions import Text
from core.alerts import AlertMonitor, MemoryAlertLedger
from core.identity import Platform, UserKey

OWNERS = (UserKey(Platform.TELEGRAM, "1"), UserKey(Platform.DISCORD, "2"), UserKey(Platform.TELEGRAM, "3"))


class Inbox:
    def __init__(self) -> None:
        self.got: list[tuple[UserKey, Text]] = []

    async def direct(self, user: UserKey, text: Text) -> None:
        self.got.append((user, text))

    def keys(self) -> list[str]:
        return [t.key for u, t in self.got if u == OWNERS[0]]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def _monitor(clock: Clock) -> tuple[AlertMonitor, Inbox]:
    inbox = Inbox()
    monitor = AlertMonitor(MemoryAlertLedger(), OWNERS, outage_after=timedelta(minutes=10), clock=clock)
    monitor.attach(Platform.TELEGRAM, inbox)  # no Discord bot in this process: that owner is skipped
    return monitor, inbox


async def test_balance_alerts_at_once_and_recovers_once() -> None:
    clock = Clock()
    monitor, inbox = _monitor(clock)
    for _ in range(5):
        await monitor.observe("m", errors.BalanceExhausted(status=429, code="insufficient_quota"))
    assert inbox.keys() == ["alert_balance"]
    assert {u for u, _ in inbox.got} == {OWNERS[0], OWNERS[2]}
    await monitor.observe("m", None)
    await monitor.observe("m", None)
    assert inbox.keys() == ["alert_balance", "alert_recovered"]


async def test_outage_needs_failures_for_the_whole_period() -> None:
    clock = Clock()
    monitor, inbox = _monitor(clock)
    await monitor.observe("m", errors.ServerError(status=500))
    clock.advance(minutes=9)
    await monitor.observe("m", errors.APITimeout())
    assert inbox.keys() == []
    # A success restarts the count.
    await monitor.observe("m", None)
    clock.advance(minutes=2)
    await monitor.observe("m", errors.APIConnectionError())
    clock.advance(minutes=9)
    await monitor.observe("m", errors.ServerError(status=502))
    assert inbox.keys() == []
    clock.advance(minutes=1)
    await monitor.observe("m", errors.ServerError(status=502))
    clock.advance(minutes=5)
    await monitor.observe("m", errors.ServerError(status=502))
    assert inbox.keys() == ["alert_outage"]
    assert inbox.got[0][1].params == {"minutes": 10, "error": "api_server_error"}


async def test_users_mistakes_are_not_the_apis_trouble() -> None:
    clock = Clock()
    monitor, inbox = _monitor(clock)
    await monitor.observe("m", errors.ServerError(status=500))
    clock.advance(minutes=11)
    await monitor.observe("m", errors.ContentRefused(code="moderation_blocked"))
    await monitor.observe("m", errors.InvalidRequest(status=400))
    assert inbox.keys() == []
    await monitor.observe("m", None)
    assert inbox.keys() == []  # nothing was open: no "working again" either


async def test_cooldown_keeps_a_flapping_api_from_paging_again() -> None:
    clock = Clock()
    monitor, inbox = _monitor(clock)
    await monitor.observe("m", errors.AuthenticationFailed(status=401))
    await monitor.observe("m", None)
    clock.advance(minutes=5)
    await monitor.observe("m", errors.AuthenticationFailed(status=401))
    await monitor.observe("m", None)
    assert inbox.keys() == ["alert_key", "alert_recovered"]
    clock.advance(hours=1)
    await monitor.observe("m", errors.AuthenticationFailed(status=401))
    assert inbox.keys() == ["alert_key", "alert_recovered", "alert_key"]


async def test_retired_model_and_no_owners() -> None:
    clock = Clock()
    monitor, inbox = _monitor(clock)
    await monitor.observe("dall-e-2", errors.ModelUnavailable(status=404, code="model_not_found"))
    assert inbox.got[0][1] == Text("alert_model", {"model": "dall-e-2", "status": 404})
    lonely = AlertMonitor(MemoryAlertLedger(), ())
    lonely.api_result("m", errors.AuthenticationFailed())  # no owners: nothing scheduled, nothing raised
    await lonely.close()
