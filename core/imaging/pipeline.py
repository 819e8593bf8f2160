"""The input pipeline: user photos (+ optional mask) in, the files one edit request uploads out.

Per photo: check limits, decode (at reduced JPEG scale where possible), orient, scale to the model's
layout, pad for square-only models, encode under the model's byte limit. The mask goes through the
same layout as the first photo, so both stay aligned pixel for pixel.

What goes out, by input: a JPEG with no mask, upright and no larger than the model's largest output
goes as it came, less its metadata (:mod:`core.imaging.verbatim`); other JPEGs and WEBPs are
re-encoded as JPEG (those without a mask at the size the JPEG decoder's cheap DCT scaling gives,
when that lies between the plan's and the model's largest output); PNG and GIF sources, anything
transparent, and models that take no JPEG (dall-e-2) get PNG. Masks and markup are always PNG.

Invariants (those of :class:`core.media.PreparedInputs`, plus): the first image and the mask have the
same dimensions; dall-e-2 gets one square RGBA PNG under its byte limit whose padding is opaque (for
dall-e-2 transparent pixels mean "edit here"); GPT-image inputs keep their aspect ratio, are only
ever scaled down and never below the plan's content; no file carries the user's metadata (EXIF,
GPS position); every file has a filename whose extension matches its content type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops

from core.catalogue import ModelSpec
from core.errors import ImageTooLarge, InputError, InvalidOption, TooManyImages
from core.imaging import decode, encode, layout, masks, verbatim
from core.imaging.layout import Layout
from core.media import PreparedInputs

# Formats whose pixels are exact: re-encoding those as JPEG would add artefacts to screenshots and
# drawings, so they stay PNG. Photos (JPEG/WEBP) go out as JPEG, far smaller and faster to encode.
_LOSSLESS = frozenset({"PNG", "GIF"})


def prepare_inputs(
    images: Sequence[bytes],
    mask: bytes | None,
    spec: ModelSpec,
    size: str | None = None,
    *,
    max_input_bytes: int = decode.DEFAULT_MAX_BYTES,
) -> PreparedInputs:
    """Turn the user's photos (the mask applies to the first) into what ``spec``'s model accepts.

    ``size`` is the output size asked for (None or "auto": choose). CPU bound: call it from a worker
    thread, e.g. through :func:`prepare_inputs_async`. Raises the :class:`core.errors.InputError`
    family: ImageTooLarge, UnsupportedImage, UnreadableImage, MaskMismatch, TooManyImages,
    InvalidOption.
    """
    if not images:
        raise InputError("no image to edit")
    if len(images) > spec.max_images:
        raise TooManyImages(
            f"{len(images)} images, {spec.name} takes {spec.max_images}",
            model=spec.name,
            limit=spec.max_images,
            count=len(images),
        )
    if mask is not None and not spec.supports_mask:
        raise InvalidOption(
            f"{spec.name} takes no mask", option="mask", value="mask", model=spec.name, choices="-"
        )
    requested = layout.requested_size(spec, size)
    limits = decode.Limits(max_bytes=max_input_bytes)
    first, guide, chosen = _prepare_one(images[0], mask, spec, requested, limits)
    others = tuple(_prepare_one(data, None, spec, requested, limits)[0] for data in images[1:])
    named = tuple(
        encoded.named(f"image-{number}") for number, encoded in enumerate((first, *others), start=1)
    )
    if guide is not None and guide.markup:
        return PreparedInputs(images=named, mask=None, size=chosen, markup=guide.encoded.named("markup"))
    mask_file = guide.encoded.named("mask") if guide is not None else None
    return PreparedInputs(images=named, mask=mask_file, size=chosen)


async def prepare_inputs_async(
    images: Sequence[bytes],
    mask: bytes | None,
    spec: ModelSpec,
    size: str | None = None,
    *,
    max_input_bytes: int = decode.DEFAULT_MAX_BYTES,
) -> PreparedInputs:
    """:func:`prepare_inputs` in a worker thread, so the event loop never runs Pillow."""
    return await asyncio.to_thread(prepare_inputs, images, mask, spec, size, max_input_bytes=max_input_bytes)


def _prepare_one(
    data: bytes, mask: bytes | None, spec: ModelSpec, requested: str | None, limits: decode.Limits
) -> tuple[encode.Encoded, _Guide | None, str]:
    """One photo (and the mask that applies to it): encoded image, encoded mask or markup, size to request."""
    src = decode.open_source(data, limits)
    # A JPEG without a mask may go at any size between the plan's and the model's largest output
    # (see layout.ceiling): as it came, or as the JPEG decoder's cheap DCT scaling gives it. A mask
    # (and its markup) must match the plan pixel for pixel; lossless sources stay PNG, whose cost
    # grows with every pixel kept; square canvases have one size.
    loose = mask is None and not spec.square_only and src.format == "JPEG"
    if loose and (as_is := _as_it_came(data, src, spec)) is not None:
        return as_is, None, layout.plan(spec, src.size, requested).size
    photo = decode.load(
        src,
        lambda upright: layout.plan(spec, upright, requested).content,
        most=(lambda upright: layout.ceiling(spec, upright)) if loose else None,
    )
    # Planned again now that the orientation is certain (a PNG may state it after its pixels).
    plan = layout.plan(spec, src.size, requested)
    if photo.size != plan.content:  # kept at the size it decoded to
        plan = layout.refit(plan, photo.size)
    area = masks.edit_area(mask, photo, src.size, limits) if mask is not None else None
    # A drawing goes to models that read markup as what it is; to the others it says where to edit.
    strokes = area.strokes if area is not None and spec.markup else None
    region = area.image if area is not None and strokes is None else None
    # With a mask the photo can still go as JPEG (only the mask needs alpha): 5-7x smaller uploads.
    want_png = (
        spec.square_only
        or photo.mode == "RGBA"
        or src.format in _LOSSLESS
        or "JPEG" not in spec.input_formats
    )
    while (encoded := _encode(_compose(photo, plan, spec), png=want_png, limit=spec.max_image_bytes)) is None:
        smaller = layout.shrink(plan, spec, src.size)
        if smaller is None:
            raise _over_limit(spec)
        plan = smaller
        photo = decode.resize(photo, plan.content)
        if region is not None:
            region = region.resize(plan.content, Image.Resampling.NEAREST)
        if strokes is not None:
            strokes = strokes.resize(plan.content, Image.Resampling.NEAREST)
    if strokes is not None:
        return encoded, _Guide(_markup_png(strokes, plan), markup=True), plan.size
    if region is not None:
        return encoded, _Guide(_mask_png(region, plan), markup=False), plan.size
    return encoded, None, plan.size


def _as_it_came(data: bytes, src: decode.Source, spec: ModelSpec) -> encode.Encoded | None:
    """The user's JPEG byte for byte (less its metadata), when the model takes it as it is: a
    format it accepts, upright (whether the API would honour EXIF orientation is not ours to bet
    on), plain YCbCr, within the byte limit, and no larger than the model's largest output."""
    if (
        "JPEG" not in spec.input_formats
        or src.orientation != 1
        or src.image.mode != "RGB"
        or layout.ceiling(spec, src.size) != src.size
    ):
        return None
    copy = verbatim.without_metadata(data)
    if copy is None or len(copy) >= spec.max_image_bytes:
        return None
    width, height = src.size
    return encode.Encoded(copy, encode.CONTENT_TYPES["JPEG"], encode.EXTENSIONS["JPEG"], width, height)


@dataclass(frozen=True, slots=True)
class _Guide:
    """The encoded mask, or the markup when the model follows drawings."""

    encoded: encode.Encoded
    markup: bool


def _compose(photo: Image.Image, plan: Layout, spec: ModelSpec) -> Image.Image:
    """The photo on its canvas: as-is, or centred on an opaque square filled with its edge colour.

    Opaque because a transparent border would be read by dall-e-2 as "edit here"; the edge colour
    because a neutral continuation of the picture disturbs the model less than black or white.
    Square-only models (dall-e-2) always get RGBA, the mode their API insists on.
    """
    if not plan.padded:
        return photo.convert("RGBA") if spec.square_only and photo.mode != "RGBA" else photo
    canvas = Image.new("RGBA", plan.canvas, (*_edge_colour(photo, plan), 255))
    # Pasting without a mask copies alpha too: the photo's own transparent pixels stay transparent
    # (for dall-e-2 without a mask they *are* the area to edit).
    canvas.paste(photo.convert("RGBA"), plan.offset)
    return canvas


def _edge_colour(photo: Image.Image, plan: Layout) -> tuple[int, int, int]:
    """The mean colour of the two photo edges that touch the padding."""
    w, h = photo.size
    if plan.canvas[1] > h:  # padding above and below
        edges = [photo.crop((0, 0, w, 1)), photo.crop((0, h - 1, w, h))]
    else:  # padding left and right
        edges = [photo.crop((0, 0, 1, h)), photo.crop((w - 1, 0, w, h))]
    means = [edge.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)) for edge in edges]
    colours = [m for m in means if isinstance(m, tuple)]
    return (
        sum(c[0] for c in colours) // len(colours),
        sum(c[1] for c in colours) // len(colours),
        sum(c[2] for c in colours) // len(colours),
    )


def _encode(image: Image.Image, *, png: bool, limit: int) -> encode.Encoded | None:
    """``image`` encoded strictly under ``limit`` bytes, or None when even the smallest try is over."""
    if not png:
        out = encode.jpeg(image)
        return out if len(out.data) < limit else None
    out = encode.png(image)
    if len(out.data) < limit:
        return out
    out = encode.png(image, level=encode.PNG_SMALL)
    return out if len(out.data) < limit else None


def _mask_png(area: Image.Image, plan: Layout) -> encode.Encoded:
    """The API's mask: black RGBA on the canvas, alpha 0 where ``area`` says edit, 255 elsewhere.

    The padding is 255 (keep): the model must not paint into the border we added.
    """
    alpha = Image.new("L", plan.canvas, 255)
    alpha.paste(ImageChops.invert(area), plan.offset)
    rgba = Image.new("RGBA", plan.canvas, (0, 0, 0, 255))
    rgba.putalpha(alpha)
    return encode.png(rgba, level=encode.PNG_DEFAULT)


def _markup_png(strokes: Image.Image, plan: Layout) -> encode.Encoded:
    """The API's markup: the strokes on a transparent canvas the size of the uploaded image."""
    canvas = Image.new("RGBA", plan.canvas, (0, 0, 0, 0))
    canvas.paste(strokes, plan.offset)
    return encode.png(canvas, level=encode.PNG_DEFAULT)


def _over_limit(spec: ModelSpec) -> ImageTooLarge:
    limit = spec.max_image_bytes
    return ImageTooLarge(f"cannot encode under {limit} bytes for {spec.name}", size=limit, limit=limit)
