"""Estimated dollars per edit from the catalogue's prices: per token, per call, or estimated tokens."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.catalogue import BUILTIN_CATALOGUE, Price
from core.editapi import Usage
from core.quotas.costs import estimate_cost, output_tokens


def test_token_prices_with_usage() -> None:
    spec = BUILTIN_CATALOGUE.spec("gpt-image-1.5")  # $8/M in, $32/M out
    cost = estimate_cost(spec, "medium", [(1024, 1024)], Usage(1000, 1056, 2056))
    assert cost == pytest.approx(1000 * 8e-6 + 1056 * 32e-6)


def test_per_call_price_ignores_tokens() -> None:
    spec = replace(BUILTIN_CATALOGUE.spec("gpt-image-2-vip"), price=Price(per_call=0.04))
    assert estimate_cost(spec, "high", [(1536, 864), (1536, 864)], Usage(10, 10, 20)) == 0.04


def test_without_usage_output_tokens_are_estimated_by_pixels_and_quality() -> None:
    flare = BUILTIN_CATALOGUE.spec("gpt-image-2.5-flare")
    assert output_tokens(flare, "high", (1024, 1024)) == 4160
    assert output_tokens(flare, "max", (2048, 2048)) == 4 * 8320
    assert estimate_cost(flare, None, [(1024, 1024)], None) == pytest.approx(1056 * 20e-6)


def test_total_tokens_only_splits_input_and_output() -> None:
    flare = BUILTIN_CATALOGUE.spec("gpt-image-2.5-flare")
    cost = estimate_cost(flare, "low", [(1024, 1024)], Usage(total_tokens=1272))
    assert cost == pytest.approx(1000 * 5e-6 + 272 * 20e-6)


def test_no_images_no_cost() -> None:
    assert estimate_cost(BUILTIN_CATALOGUE.spec("gpt-image-2"), None, [], None) is None
