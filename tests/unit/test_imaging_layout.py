"""Geometry rules: size validation, aspect-ratio choices, layouts and their shrinking."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.catalogue import DALLE2, GPT_IMAGE_1, GPT_IMAGE_2
from core.errors import InvalidOption
from core.imaging.layout import ceiling, closest_by_aspect, fit_within, plan, refit, requested_size, shrink

sizes = st.tuples(st.integers(1, 20_000), st.integers(1, 20_000))


def test_requested_size_validation() -> None:
    assert requested_size(GPT_IMAGE_1, None) is None
    assert requested_size(GPT_IMAGE_1, "auto") == "auto"
    assert requested_size(DALLE2, "auto") is None
    assert requested_size(DALLE2, "512x512") == "512x512"
    with pytest.raises(InvalidOption) as err:
        requested_size(DALLE2, "1536x1024")
    assert err.value.details == {
        "option": "size",
        "value": "1536x1024",
        "model": "dall-e-2",
        "choices": "256x256, 512x512, 1024x1024",
    }


def test_closest_by_aspect_prefers_the_larger_size_on_ties() -> None:
    candidates = [(1024, 1024), (1536, 1024), (1024, 1536)]
    assert closest_by_aspect((4000, 3000), candidates) == (1536, 1024)
    assert closest_by_aspect((500, 500), [*candidates, (512, 512)]) == (1024, 1024)


@given(source=sizes)
def test_gpt_layouts_keep_the_aspect_ratio_within_the_largest_size(source: tuple[int, int]) -> None:
    layout = plan(GPT_IMAGE_1, source, None)
    w, h = layout.content
    assert layout.canvas == layout.content and layout.offset == (0, 0) and layout.size == "auto"
    assert w <= source[0] and h <= source[1]  # never upscaled
    assert (w <= 1536 and h <= 1024) or (w <= 1024 and h <= 1536)
    # Rounding to whole pixels moves each side by at most half a pixel (sides are at least 1).
    assert abs(w * source[1] - h * source[0]) <= (source[0] + source[1]) / 2 + max(source)


@given(source=sizes, requested=st.sampled_from([None, "256x256", "512x512", "1024x1024"]))
def test_dalle2_layouts_are_centred_on_an_allowed_square(
    source: tuple[int, int], requested: str | None
) -> None:
    layout = plan(DALLE2, source, requested)
    side = layout.canvas[0]
    assert layout.canvas == (side, side) and side in (256, 512, 1024)
    assert max(layout.content) == side  # fills the square along the long side
    ox, oy = layout.offset
    assert ox >= 0 and oy >= 0
    assert ox + layout.content[0] <= side and oy + layout.content[1] <= side
    assert abs(2 * ox + layout.content[0] - side) <= 1 and abs(2 * oy + layout.content[1] - side) <= 1
    if requested is None:
        # the smallest allowed side that holds the photo without upscaling, or the largest
        assert side == next((s for s in (256, 512, 1024) if s >= max(source)), 1024)
    else:
        assert layout.size == requested


@given(source=sizes)
def test_shrinking_always_ends(source: tuple[int, int]) -> None:
    for spec in (DALLE2, GPT_IMAGE_1):
        layout = plan(spec, source, None)
        steps = 0
        while (smaller := shrink(layout, spec, source)) is not None:
            assert smaller.content[0] * smaller.content[1] < layout.content[0] * layout.content[1] or (
                smaller.canvas[0] < layout.canvas[0]
            )
            assert smaller.size == layout.size
            layout, steps = smaller, steps + 1
        assert steps <= 12


def test_relay_models_without_sizes_pass_through() -> None:
    bare = replace(GPT_IMAGE_1, sizes=("auto",))
    layout = plan(bare, (5000, 4000), None)
    assert layout.content == (5000, 4000) and layout.size == "auto"


def test_fit_within() -> None:
    assert fit_within((4000, 3000), (1536, 1024)) == (1365, 1024)
    assert fit_within((100, 50), (1536, 1024)) == (100, 50)
    assert fit_within((100, 50), (1024, 1024), upscale=True) == (1024, 512)
    assert fit_within((10_000, 1), (100, 100)) == (100, 1)


@given(sizes, st.sampled_from([None, "1k", "2k", "4k", "1024x1024", "1536x864"]))
def test_the_ceiling_is_never_below_the_plan_nor_above_the_photo(
    source: tuple[int, int], requested: str | None
) -> None:
    # An upload anywhere between the two is as good for the edit (the pipeline keeps such sizes).
    content = plan(GPT_IMAGE_2, source, requested).content
    top = ceiling(GPT_IMAGE_2, source)
    assert top[0] <= source[0] and top[1] <= source[1]
    if max(source) / min(source) <= 3:  # within the shapes a free-size model makes
        assert top[0] >= content[0] - 16 and top[1] >= content[1] - 16  # its sizes are multiples of 16


def test_the_ceiling_of_preset_models_is_the_plan() -> None:
    assert ceiling(GPT_IMAGE_1, (4000, 3000)) == plan(GPT_IMAGE_1, (4000, 3000), None).content == (1365, 1024)
    assert ceiling(GPT_IMAGE_2, (4000, 3000)) == (3307, 2480)  # in its largest 4:3 output (8.3 MP)
    assert ceiling(GPT_IMAGE_2, (2560, 1920)) == (2560, 1920)  # a Telegram photo fits as it is


def test_refit_keeps_the_size_asked_for() -> None:
    layout = plan(GPT_IMAGE_2, (4000, 3000), None)
    kept = refit(layout, (2000, 1500))
    assert (kept.content, kept.canvas, kept.offset, kept.size) == (
        (2000, 1500),
        (2000, 1500),
        (0, 0),
        layout.size,
    )
    with pytest.raises(ValueError):
        refit(plan(DALLE2, (400, 300), None), (400, 300))
