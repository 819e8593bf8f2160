"""Credits (the price table and its setting), estimated dollars, and refunds of multi-credit edits."""

from __future__ import annotations

import pytest

from bots.settings import load_settings
from core import errors
from core.actions import SendError
from core.catalogue import BUILTIN_CATALOGUE
from core.editapi import Usage
from core.events import EditOptions, EditSubmitted
from core.quotas.costs import estimate_cost
from core.quotas.credits import DEFAULT_RULES, CreditRule, CreditTable, parse_rules
from core.storage.protocol import JobStatus
from tests.unit.engine_world import World, fake_prepare

DEFAULTS = CreditTable()


@pytest.mark.parametrize(
    ("model", "quality", "size", "credits"),
    [
        ("gpt-image-1", None, None, 1),
        ("gpt-image-1", "auto", "auto", 1),
        ("gpt-image-1", "low", "1024x1024", 1),
        ("gpt-image-1", "medium", "1024x1024", 1),
        ("gpt-image-1", "high", "1024x1024", 2),
        ("gpt-image-1", "medium", "1536x1024", 2),
        ("gpt-image-1", "low", "1024x1536", 2),
        ("gpt-image-1", "high", "1536x1024", 3),
        ("gpt-image-1", "high", "1024x1536", 3),
        ("dall-e-2", "standard", "256x256", 1),
        ("dall-e-2", None, "1024x1024", 1),
        ("some-relay-model", "HIGH", None, 2),
    ],
)
def test_default_prices_per_image(model: str, quality: str | None, size: str | None, credits: int) -> None:
    assert DEFAULTS.per_image(model, quality, size) == credits


def test_an_edit_costs_the_price_times_n_and_results_never_cost_more() -> None:
    options = EditOptions(quality="high", size="1536x1024", n=4)
    assert DEFAULTS.for_edit("gpt-image-1", options) == 12
    assert DEFAULTS.for_edit("gpt-image-1", EditOptions()) == 1  # n unset means one image
    # Two of four images came back: two are charged; never more than was reserved.
    assert DEFAULTS.for_result("gpt-image-1", options, images=2, reserved=12) == 6
    assert DEFAULTS.for_result("gpt-image-1", options, images=9, reserved=12) == 12


def test_operator_rules_parse_and_win_ties_and_specificity_decides() -> None:
    table = CreditTable.from_setting("gpt-image-1:high=5, dall-e-2=0, gpt-image-*=4, *@1024x1024=1")
    assert table.per_image("gpt-image-1", "high", "1024x1024") == 5  # model+quality beats the size rule
    assert table.per_image("gpt-image-1", "high", "1536x1024") == 5  # ties the default high@large: later wins
    assert table.per_image("gpt-image-1", "low", "auto") == 4  # the glob names the model (1) > "*" (0)
    assert table.per_image("gpt-image-1.5", "medium", "1024x1024") == 1  # named size (2) beats the glob (1)
    assert table.per_image("dall-e-2", None, "512x512") == 0  # free
    assert table.per_image("other", None, None) == 1  # built-in "*=1"


def test_rule_syntax() -> None:
    assert parse_rules(" gpt-image-1 : high @ 1536x1024 = 7 ,, ") == (
        CreditRule("gpt-image-1", "high", "1536x1024", 7),
    )
    assert parse_rules("") == ()
    assert len(parse_rules(DEFAULT_RULES)) == 16
    for bad in ("gpt-image-1", "x=-1", "x=1.5", "x:=1", "=3", "a@b@c=1", "x=1234567"):
        with pytest.raises(ValueError, match="MODEL"):
            parse_rules(bad)


def test_setting_is_validated_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITBOT_CREDITS", "gpt-image-1:high=3,dall-e-2=1")
    monkeypatch.setenv("EDITBOT_GLOBAL_QUOTA", "500")
    settings = load_settings(env_file=None)
    assert settings.credit_table().per_image("gpt-image-1", "high", None) == 3
    assert settings.quota_policy().global_limit == 500
    monkeypatch.setenv("EDITBOT_GLOBAL_QUOTA", "")
    assert load_settings(env_file=None).quota_policy().global_limit is None
    monkeypatch.setenv("EDITBOT_CREDITS", "gpt-image-1:high=lots")
    with pytest.raises(errors.ConfigError, match="EDITBOT_CREDITS"):
        load_settings(env_file=None)


GPT1 = BUILTIN_CATALOGUE.spec("gpt-image-1")

# -- estimated dollars -----------------------------------------------------------------------


def test_cost_from_reported_tokens() -> None:
    usage = Usage(input_tokens=1000, output_tokens=4160, total_tokens=5160)
    # 1000 input tokens at $10/M + 4160 output tokens at $40/M
    assert estimate_cost(GPT1, "high", [(1024, 1024)], usage) == pytest.approx(0.1764)


def test_cost_from_total_tokens_only_estimates_the_output_share() -> None:
    usage = Usage(total_tokens=1056 + 500)
    # medium 1024x1024 makes 1056 output tokens; the other 500 count as input.
    expected = 500 * 10e-6 + 1056 * 40e-6
    assert estimate_cost(GPT1, "medium", [(1024, 1024)], usage) == pytest.approx(expected)
    # A total smaller than the estimated output is all output.
    assert estimate_cost(GPT1, "high", [(1024, 1024)], Usage(total_tokens=100)) == pytest.approx(100 * 40e-6)


@pytest.mark.parametrize(
    ("model", "quality", "sizes", "dollars"),
    [
        # Without usage: the estimated output tokens at $40/M (272/1056/4160 per 1024², scaled by pixels).
        ("gpt-image-1", "low", [(1024, 1024)], 0.01088),
        ("gpt-image-1", None, [(1024, 1024)], 0.04224),  # auto priced as medium
        ("gpt-image-1", "high", [(1024, 1024)], 0.1664),
        ("gpt-image-1", "low", [(1536, 1024)], 0.01632),
        ("gpt-image-1", "medium", [(1024, 1536), (1024, 1536)], 0.12672),
        ("gpt-image-1", "high", [(1536, 1024)], 0.2496),
        ("dall-e-2", None, [(1024, 1024)], 0.020),
        ("dall-e-2", None, [(512, 512)], 0.018),
        ("dall-e-2", None, [(256, 256), (256, 256)], 0.032),
    ],
)
def test_cost_from_the_price_table(
    model: str, quality: str | None, sizes: list[tuple[int, int]], dollars: float
) -> None:
    assert estimate_cost(BUILTIN_CATALOGUE.spec(model), quality, sizes, None) == pytest.approx(dollars)


def test_no_images_no_cost() -> None:
    assert estimate_cost(GPT1, "high", [], Usage(1, 2, 3)) is None


# -- the runner reserves the price and records the cost ---------------------------------------


async def test_job_reserves_the_price_and_records_tokens_and_dollars() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        options = EditOptions(quality="high", n=2)
        await w.engine.handle(w.origin(), EditSubmitted((w.ref("p1"),), "make it blue", options=options))
        (job,) = w.store.jobs.values()
        assert job.credits == 4  # reserved: 2 per high-quality image, two images
        await w.runner.wait_idle()
        job = w.store.jobs[job.id]
        assert job.status is JobStatus.SUCCEEDED and job.credits == 4 and w.store.used() == 4
        assert job.usage_tokens == 30  # FakeEditor reports Usage(10, 20, 30)
        assert job.estimated_cost == pytest.approx(10 * 10e-6 + 20 * 40e-6)


async def test_fewer_images_than_asked_are_charged_less() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        real_edit = w.editor.edit

        async def one_image(request: object, on_partial: object = None) -> object:
            result = await real_edit(request)  # type: ignore[arg-type]
            return type(result)(images=result.images[:1], model=result.model, usage=None)

        w.editor.edit = one_image  # type: ignore[method-assign]
        await w.engine.handle(w.origin(), EditSubmitted((w.ref("p1"),), "x", options=EditOptions(n=3)))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.credits == 1 and w.store.used() == 1 and w.store.total("global") == 1
        # No usage: medium's 1056 output tokens per 1024², scaled to the 32x32 result (1 token at $40/M).
        assert job.estimated_cost == pytest.approx(1 * 40e-6)


@pytest.mark.parametrize(
    ("where", "exc"),
    [
        ("fetch", OSError("network down")),
        ("prepare", errors.UnreadableImage()),
        ("edit", errors.ContentRefused()),
        ("edit", errors.APITimeout()),
        ("edit", RuntimeError("boom")),
        ("deliver", OSError("chat gone")),
    ],
)
async def test_every_failure_refunds_a_multi_credit_edit_in_every_scope(where: str, exc: Exception) -> None:
    async def failing_prepare(*args: object) -> None:
        raise exc

    async with World(prepare=failing_prepare if where == "prepare" else fake_prepare, global_limit=50) as w:
        w.fetcher.add("p1", w.image)
        if where == "fetch":
            w.fetcher.fail_with = exc
        elif where == "edit":
            w.editor.fail_with = exc  # type: ignore[assignment]
        elif where == "deliver":
            w.outbox.fail_images = exc
        options = EditOptions(quality="high", size="1536x1024", n=3)
        await w.engine.handle(
            w.origin(community="g"), EditSubmitted((w.ref("p1"),), "make it blue", options=options)
        )
        (job,) = w.store.jobs.values()
        assert job.credits == 9
        assert (w.store.total("member"), w.store.total("community"), w.store.total("global")) == (9, 9, 9)
        await w.runner.wait_idle()
        assert w.store.jobs[job.id].status is JobStatus.FAILED
        assert (w.store.total("member"), w.store.total("community"), w.store.total("global")) == (0, 0, 0)
        assert len(w.outbox.of(SendError)) == 1


async def test_cancel_refunds_a_multi_credit_edit() -> None:
    import asyncio

    from core.events import Command

    async with World() as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        await w.engine.handle(w.origin(), EditSubmitted((w.ref("p1"),), "x", options=EditOptions(n=5)))
        await w.editor.started.wait()
        assert w.store.used() == 5
        await w.engine.handle(w.origin(), Command("cancel"))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.CANCELLED and w.store.used() == 0 and w.store.total("global") == 0


async def test_a_price_over_the_limit_is_refused_before_anything_runs() -> None:
    async with World(user_limit=2) as w:
        w.fetcher.add("p1", w.image)
        actions = await w.engine.handle(
            w.origin(), EditSubmitted((w.ref("p1"),), "x", options=EditOptions(quality="high", n=2))
        )
        (error,) = [a for a in actions if isinstance(a, SendError)]
        assert error.kind == "quota_insufficient" and error.details["limit"] == 2
        assert (error.details["needed"], error.details["left"]) == (4, 2)
        assert w.store.jobs == {} and w.editor.requests == []
