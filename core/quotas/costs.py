"""Estimated cost in US dollars of one edit, recorded on the job for operators' reports.

Prices come from the model's catalogue entry (:class:`core.catalogue.Price`), which an operator can
change in EDITBOT_MODELS:

- a per-call price (relays' ``-vip`` models): that, once per edit;
- token prices with the API's usage: input and output tokens at their rates (the usage the client
  parses does not split text from image input, so all input is priced as image input — a slight
  overestimate);
- only ``total_tokens`` (many relays): the output is estimated from the images' size and quality
  and the rest counts as input;
- no usage at all: the estimated output tokens alone.

dall-e-2 keeps its old list price per image.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.catalogue import Family, ModelSpec
from core.editapi import Usage

DALLE2_PRICES: dict[int, float] = {256: 0.016, 512: 0.018, 1024: 0.020}
_SQUARE_1K = 1024 * 1024


def _dalle2_side(size: tuple[int, int]) -> int:
    side = max(size)
    return 256 if side <= 256 else 512 if side <= 512 else 1024


def output_tokens(spec: ModelSpec, quality: str | None, size: tuple[int, int]) -> int:
    """Estimated output tokens of one image: the 1024² figure for the quality, scaled by pixels."""
    table = spec.price.output_tokens
    # "auto" (or unset) is priced as medium: the API does not say what it picked.
    per_square = table.get(quality or "medium", table.get("medium", 1056))
    return round(per_square * size[0] * size[1] / _SQUARE_1K)


def estimate_cost(
    spec: ModelSpec, quality: str | None, sizes: Sequence[tuple[int, int]], usage: Usage | None
) -> float | None:
    """US dollars for an edit that returned images of ``sizes`` (width, height); None if none came."""
    if not sizes:
        return None
    price = spec.price
    if price.per_call is not None:
        return round(price.per_call, 6)
    if spec.family is Family.DALLE2:
        return round(sum(DALLE2_PRICES[_dalle2_side(s)] for s in sizes), 6)
    per_in, per_out = price.input_per_million / 1e6, price.output_per_million / 1e6
    if usage is not None and (usage.input_tokens is not None or usage.output_tokens is not None):
        return round((usage.input_tokens or 0) * per_in + (usage.output_tokens or 0) * per_out, 6)
    estimated = sum(output_tokens(spec, quality, s) for s in sizes)
    if usage is not None and usage.total_tokens:
        output = min(usage.total_tokens, estimated)
        return round((usage.total_tokens - output) * per_in + output * per_out, 6)
    return round(estimated * per_out, 6)
