"""Geometry: which size to ask the API for, and where the scaled photo sits on the uploaded canvas.

Invariants: a :class:`Layout`'s content fits inside its canvas at ``offset``; content keeps the
photo's aspect ratio (to within rounding); the canvas is square for square-only models (dall-e-2)
and equal to the content otherwise. The same layout is applied to the image and to its mask, which
is what keeps the two aligned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.catalogue import TIERS, ModelSpec
from core.errors import InvalidOption

Size = tuple[int, int]

AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Layout:
    """The scaled photo's size, the canvas it is pasted on, its offset there, and the size to request."""

    content: Size
    canvas: Size
    offset: Size
    size: str

    @property
    def padded(self) -> bool:
        """Whether the canvas has a border around the content."""
        return self.content != self.canvas


def requested_size(spec: ModelSpec, size: str | None) -> str | None:
    """``size`` validated against ``spec``: None means "choose for me" (as does "auto" where unsupported).

    A resolution tier (``1k``/``2k``/``4k``) is kept: the photo's shape decides the ``WxH``.
    Raises InvalidOption for a size the model does not accept.
    """
    if size is None or (size == AUTO and AUTO not in spec.sizes):
        return None
    if not spec.accepts_size(size):
        raise InvalidOption(
            f"size {size!r} not accepted by {spec.name}",
            option="size",
            value=size,
            model=spec.name,
            choices=", ".join(spec.size_choices()),
        )
    return size


def parse(size: str) -> Size:
    """``"1536x1024"`` -> ``(1536, 1024)``."""
    w, h = size.split("x")
    return int(w), int(h)


def fit_within(size: Size, box: Size, *, upscale: bool = False) -> Size:
    """The largest size with ``size``'s aspect ratio inside ``box`` (never larger than ``size`` unless
    ``upscale``); each side at least 1 pixel."""
    scale = min(box[0] / size[0], box[1] / size[1])
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def aspect_distance(a: Size, b: Size) -> float:
    """How far apart two aspect ratios are, symmetric in both arguments (|log ratio|)."""
    return abs(math.log((a[0] / a[1]) / (b[0] / b[1])))


def closest_by_aspect(size: Size, candidates: Sequence[Size]) -> Size:
    """The candidate whose aspect ratio is closest to ``size``'s; ties go to the larger one."""
    return min(candidates, key=lambda c: (round(aspect_distance(size, c), 9), -c[0] * c[1]))


def _roomiest(size: Size, candidates: Sequence[Size]) -> Size:
    """The candidate box in which a picture of ``size`` keeps the most pixels."""

    def kept(box: Size) -> float:
        scale = min(box[0] / size[0], box[1] / size[1])
        return size[0] * size[1] * scale * scale

    return max(candidates, key=lambda box: (kept(box), -box[0] * box[1]))


def plan(spec: ModelSpec, source: Size, requested: str | None) -> Layout:
    """The layout for a photo of upright size ``source`` (``requested`` already validated)."""
    if spec.square_only:
        return _square_plan(spec, source, requested)
    return _aspect_plan(spec, source, requested)


def _square_plan(spec: ModelSpec, source: Size, requested: str | None) -> Layout:
    """dall-e-2: a square canvas of an allowed side; the photo is scaled to fill it and padded, never
    cropped (cropping would silently cut off part of what the user wants edited)."""
    sides = sorted({min(s) for s in spec.pixel_sizes()})
    if requested is not None:
        side = min(parse(requested))
    else:
        needed = max(source)
        side = next((s for s in sides if s >= needed), sides[-1])
    return _square_layout(source, side, requested or f"{side}x{side}")


def _square_layout(source: Size, side: int, size: str) -> Layout:
    content = fit_within(source, (side, side), upscale=True)
    offset = ((side - content[0]) // 2, (side - content[1]) // 2)
    return Layout(content=content, canvas=(side, side), offset=offset, size=size)


def _aspect_plan(spec: ModelSpec, source: Size, requested: str | None) -> Layout:
    """GPT-image: keep the aspect ratio; only ever downscale, into the supported size that keeps the
    most pixels (1536x1024 for landscape, 1024x1536 for portrait)."""
    if spec.free_sizes is not None and (requested is None or requested in TIERS):
        return _photo_shape_plan(spec, source, TIERS[requested or "1k"])
    sizes = spec.pixel_sizes()
    if requested is not None:
        size = requested
    elif AUTO in spec.sizes or not sizes:
        size = AUTO
    else:
        w, h = closest_by_aspect(source, sizes)
        size = f"{w}x{h}"
    if spec.free_sizes is not None and requested not in (None, AUTO):
        box = parse(size)  # a free WxH: the upload needs no more pixels than the result
    else:
        box = _roomiest(source, sizes) if sizes else source
    content = fit_within(source, box)
    return Layout(content=content, canvas=content, offset=(0, 0), size=size)


def _photo_shape_plan(spec: ModelSpec, source: Size, long_edge: int) -> Layout:
    """Free-size models: ask for the photo's own shape (the nearest valid ``WxH``) at the tier's long
    edge, and upload the photo no larger than that."""
    assert spec.free_sizes is not None
    w, h = spec.free_sizes.nearest(source[0] / source[1], long_edge)
    content = fit_within(source, (w, h))
    return Layout(content=content, canvas=content, offset=(0, 0), size=f"{w}x{h}")


def ceiling(spec: ModelSpec, source: Size) -> Size:
    """The most of a photo of upright size ``source`` the model can use: its largest output in the
    photo's shape (never more than ``source``).

    An upload between a plan's content and this is as good for the edit: the API scales inputs
    itself. Only free-size models leave room; for the others it is the plan's content.
    """
    free = spec.free_sizes
    if free is None:
        return plan(spec, source, None).content
    return fit_within(source, free.nearest(source[0] / source[1], free.max_edge))


def refit(layout: Layout, content: Size) -> Layout:
    """``layout`` for content of another size (an unpadded upload kept at the size it decoded to)."""
    if layout.padded:
        raise ValueError("a padded layout keeps its canvas")
    return Layout(content=content, canvas=content, offset=(0, 0), size=layout.size)


def shrink(layout: Layout, spec: ModelSpec, source: Size) -> Layout | None:
    """A smaller layout for a photo of upright size ``source`` whose encoding is over the byte limit,
    or None at the floor.

    Square canvases step down through the model's sides; other layouts lose a fifth of each side
    until the longer one would drop below 256 pixels.
    """
    if spec.square_only:
        smaller = [s for s in sorted({min(p) for p in spec.pixel_sizes()}) if s < layout.canvas[0]]
        if not smaller:
            return None
        return _square_layout(source, smaller[-1], layout.size)
    if max(layout.content) * 0.8 < 256:
        return None
    content = fit_within(source, (round(layout.content[0] * 0.8), round(layout.content[1] * 0.8)))
    return Layout(content=content, canvas=content, offset=(0, 0), size=layout.size)
