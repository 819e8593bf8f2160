"""Masks: turn what a chat user can send into the area to edit, aligned with the scaled photo.

Four forms are recognised, tried in this order:

(a) overlay — a mostly transparent image holding coloured strokes that are not the photo (a drawing
    made on top of it): the strokes = edit;
(b) transparency — an image whose alpha channel is not opaque everywhere: transparent = edit;
(c) black and white — a near-binary grey image: white = edit;
(d) painted copy — the photo itself painted over in the chat app's editor (Telegram's brush), which
    arrives JPEG-recompressed and often rescaled: the pixels that changed = edit.

Drawn forms (overlay, painted copy) also carry the strokes in their colours, so a model that takes
``markup`` can be shown what the user drew instead of only where.

Invariants: the result is an ``L`` image exactly the size of the scaled photo, 255 = edit, 0 = keep,
and nothing in between; a mask whose shape does not match the photo, or a painted copy in which no
painting can be found, raises :class:`MaskMismatch` with a ``reason`` a user can act on (the catalog
shows it) and a stable ``reason_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageChops, ImageFilter, ImageStat

from core.errors import MaskMismatch
from core.imaging import decode
from core.imaging.layout import aspect_distance, fit_within

Size = tuple[int, int]

# Aspect ratios may differ by 2 % (plus a pixel of rounding on each side) before we refuse to stretch.
ASPECT_TOLERANCE = 0.02
# Painted copies are compared at no more than this many pixels on the long side: brush strokes are
# coarse, and the filters below cost time per pixel.
ANALYSIS_SIDE = 1024
# A mask is "black and white" when this share of its pixels is near black or near white...
BINARY_SHARE = 0.9
# ...and at most this share is coloured (channels more than 40 apart).
COLOURED_SHARE = 0.02
# In a painted copy at least a quarter of the pixels is untouched, so the 25th percentile of the
# change is recompression noise: 1-6 for JPEG quality 60-95 after rescaling and blurring, while two
# different pictures measure 30 and more there.
NOISE_MAX = 16
# A change counts as paint above max(MIN_THRESHOLD, 4 * noise + 12) (0-255, max over channels, after
# blurring): clear of the recompression noise's far tail, far below a brush stroke's contrast.
MIN_THRESHOLD = 28
# Dilation passes of a 5x5 max filter (+2 px each at analysis scale): soft brush edges, which fall
# under the threshold, belong to the stroke too.
DILATE_PASSES = 2

_EDIT_BELOW_HALF = [255] * 128 + [0] * 128  # alpha < 128 -> edit
_EDIT_ABOVE_HALF = [0] * 128 + [255] * 128  # grey >= 128 -> edit


# An overlay is at least this transparent, and its opaque pixels differ from the photo by more than
# this (mean of the largest channel difference): a hole cut into the photo itself is a mask instead.
OVERLAY_TRANSPARENT_SHARE = 0.5
OVERLAY_MIN_CHANGE = 40
# Opaque pixels of an overlay are coloured or varied; a flat black or white sheet with a hole is the
# classic API mask (form b).
OVERLAY_MIN_SPREAD = 24


class MaskForm(StrEnum):
    """Which of the mask forms a mask was read as."""

    OVERLAY = "overlay"
    ALPHA = "alpha"
    BLACK_WHITE = "black_white"
    PAINTED = "painted"


@dataclass(frozen=True, slots=True)
class EditArea:
    """The area to edit: an ``L`` image of the scaled photo's size (255 = edit), and the form it came from.

    ``strokes`` is, for drawn forms, an RGBA image of the same size: what was drawn, in its colours,
    transparent everywhere else.
    """

    image: Image.Image
    form: MaskForm
    strokes: Image.Image | None = None

    @property
    def drawn(self) -> bool:
        """True when the user drew on the photo (the input can become ``markup``)."""
        return self.strokes is not None


def check_aspect(mask: Size, photo: Size) -> None:
    """Refuse a mask whose shape differs from the photo's beyond rounding and a small tolerance."""
    slack = ASPECT_TOLERANCE + 1 / min(mask) + 1 / min(photo)
    if aspect_distance(mask, photo) > slack:
        raise MaskMismatch(
            f"mask {mask[0]}x{mask[1]} vs photo {photo[0]}x{photo[1]}",
            reason=(
                f"the mask is {mask[0]}x{mask[1]} ({mask[0] / mask[1]:.2f}:1) but the photo is "
                f"{photo[0]}x{photo[1]} ({photo[0] / photo[1]:.2f}:1)"
            ),
            reason_code="aspect_ratio",
        )


def edit_area(mask_data: bytes, photo: Image.Image, photo_source: Size, limits: decode.Limits) -> EditArea:
    """Read ``mask_data`` in whichever form it is and return the edit area at ``photo``'s size.

    ``photo`` is the scaled, upright photo; ``photo_source`` its upright size before scaling (the
    precise aspect ratio to check the mask against).
    """
    src = decode.open_source(mask_data, limits)

    def target(mask_size: Size) -> Size:
        check_aspect(mask_size, photo_source)
        return photo.size

    mask = decode.load(src, target)
    if mask.mode == "RGBA":
        alpha = mask.getchannel("A")
        opaque = alpha.point(_EDIT_ABOVE_HALF)
        if _is_overlay(mask, opaque, photo):
            strokes = Image.new("RGBA", mask.size, (0, 0, 0, 0))
            strokes.paste(mask, (0, 0), opaque)
            return EditArea(opaque, MaskForm.OVERLAY, strokes)
        return EditArea(alpha.point(_EDIT_BELOW_HALF), MaskForm.ALPHA)
    return _from_opaque(mask, photo)


def _is_overlay(mask: Image.Image, opaque: Image.Image, photo: Image.Image) -> bool:
    """Mostly transparent, and what is opaque is neither a flat grey sheet nor the photo itself."""
    hist = opaque.histogram()
    total = mask.width * mask.height
    if hist[255] == 0 or hist[0] < OVERLAY_TRANSPARENT_SHARE * total:
        return False
    rgb = mask.convert("RGB")
    stat = ImageStat.Stat(rgb, opaque)
    r, g, b = stat.mean
    coloured = max(abs(r - g), abs(g - b), abs(r - b)) >= OVERLAY_MIN_SPREAD
    if not coloured and max(stat.stddev) < OVERLAY_MIN_SPREAD:
        return False  # a black, white or grey sheet with a hole: the classic API mask
    change = ImageStat.Stat(_change(photo.convert("RGB"), rgb), opaque).mean[0]
    return change > OVERLAY_MIN_CHANGE


def _from_opaque(mask: Image.Image, photo: Image.Image) -> EditArea:
    """Form (b) or (c), told apart by how much of the mask still looks like the photo."""
    work = fit_within(photo.size, (ANALYSIS_SIDE, ANALYSIS_SIDE))
    mask_small = decode.resize(mask, work)
    photo_small = decode.resize(photo.convert("RGB"), work)
    change = _change(photo_small, mask_small)
    hist = change.histogram()
    noise = _percentile(hist, 0.25)
    threshold = max(MIN_THRESHOLD, 4 * noise + 12)
    unchanged = sum(hist[: threshold + 1]) / (work[0] * work[1])
    # A drawn black-and-white mask differs from the photo nearly everywhere; a black-and-white photo
    # painted over (mostly unchanged) is a painted copy instead.
    if (noise > NOISE_MAX or unchanged < 0.5) and _near_binary(mask_small):
        return EditArea(mask.convert("L").point(_EDIT_ABOVE_HALF), MaskForm.BLACK_WHITE)
    if noise > NOISE_MAX:
        raise MaskMismatch(
            f"mask differs from the photo almost everywhere (noise level {noise})",
            reason="the mask is neither black-and-white nor a painted copy of this photo",
            reason_code="unrecognised",
        )
    strokes_small = _strokes(change, threshold)
    painted = _dilated(strokes_small)
    if painted.getbbox() is None:
        raise MaskMismatch(
            "painted copy has no painted area",
            reason="no painted area found",
            reason_code="no_painted_area",
        )
    # Upscale smoothly, then cut at half: stroke outlines follow the stroke instead of showing the
    # analysis grid's stair steps.
    full = painted.resize(photo.size, Image.Resampling.BILINEAR).point(_EDIT_ABOVE_HALF)
    # The strokes themselves, undilated: markup shows the model what was drawn, not a margin around it.
    drawn = strokes_small.resize(photo.size, Image.Resampling.BILINEAR).point(_EDIT_ABOVE_HALF)
    strokes = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    strokes.paste(mask.convert("RGB"), (0, 0), drawn)
    return EditArea(full, MaskForm.PAINTED, strokes)


def _change(photo: Image.Image, copy: Image.Image) -> Image.Image:
    """Per pixel, the largest channel difference between the two images after a slight blur.

    The blur evens out JPEG block noise and a pixel of resampling misregistration before comparing.
    """
    blur = ImageFilter.GaussianBlur(1)
    diff = ImageChops.difference(photo.filter(blur), copy.filter(blur))
    r, g, b = diff.split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b)


def _percentile(hist: list[int], share: float) -> int:
    """The smallest value at or below which ``share`` of a 256-bin histogram's pixels lie."""
    goal = share * sum(hist)
    running = 0
    for value, count in enumerate(hist):
        running += count
        if running >= goal:
            return value
    return len(hist) - 1


def _strokes(change: Image.Image, threshold: int) -> Image.Image:
    """Binary map of painted pixels: threshold, then open (drop specks and edge slivers)."""
    lut = [0] * (threshold + 1) + [255] * (255 - threshold)
    painted = change.point(lut)
    # Opening = erosion then dilation: removes anything thinner than the kernel (JPEG speckle,
    # one-pixel seams along sharp edges where the copy was resampled differently) and keeps strokes.
    return painted.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.MaxFilter(5))


def _dilated(painted: Image.Image) -> Image.Image:
    """The strokes grown by their soft edges, which fall under the threshold but were painted too."""
    for _ in range(DILATE_PASSES):
        painted = painted.filter(ImageFilter.MaxFilter(5))
    return painted


def _near_binary(image: Image.Image) -> bool:
    """Whether ``image`` is (almost) only black and white: a drawn mask, even after JPEG and scaling."""
    total = image.width * image.height
    grey = image.convert("L").histogram()
    extremes = sum(grey[:64]) + sum(grey[192:])
    r, g, b = image.convert("RGB").split()
    spread = ImageChops.lighter(ImageChops.difference(r, g), ImageChops.difference(g, b)).histogram()
    coloured = sum(spread[41:])
    return extremes >= BINARY_SHARE * total and coloured <= COLOURED_SHARE * total
