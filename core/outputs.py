"""What to ask the edit API for besides the prompt: input fidelity, background, output format.

A result reaches the chat as the API made it, never re-encoded lossily by the bot, so the format
is chosen here. A photograph (the user sent a JPEG or WEBP) comes back as a JPEG: a PNG of a photo is
five times the bytes for nothing the eye sees, and every one of them is read, stored, uploaded and
downloaded again on a phone. Screenshots and drawings (PNG or GIF sources) stay PNG while a worst-case
PNG of the size asked for fits the platform's upload limit, JPEG beyond it. Cut-outs are always PNG
(JPEG has no alpha). With no upload limit (the terminal) the API's lossless default is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.catalogue import ModelSpec, is_wxh, parse_size
from core.events import EditOptions

# A PNG of a photograph takes up to ~3 bytes per pixel; larger than that only for noise.
PNG_BYTES_PER_PIXEL = 3
# "auto" sizes come back at most this large on the GPT-image models.
AUTO_PIXELS = 1536 * 1024
JPEG_COMPRESSION = 90
# Where the platform shows the file as it is (Discord, a file on Telegram) the user sees exactly
# what the API made: the quality is kept near the source photo's.
KEPT_JPEG_COMPRESSION = 95


@dataclass(frozen=True, slots=True)
class OutputChoice:
    """The optional request fields for one edit (None = leave the field out)."""

    input_fidelity: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None


def choose_outputs(
    spec: ModelSpec,
    options: EditOptions,
    size: str,
    upload_limit: int | None,
    *,
    keeps_png: bool = True,
    photo: bool = False,
) -> OutputChoice:
    """The fields for an edit of ``spec`` asking for ``size``, to be shown on a platform that takes
    uploads up to ``upload_limit`` bytes (None: no limit to respect); ``keeps_png=False`` (the
    platform recompresses photos) asks for JPEG, so the photo alone is the result; ``photo``
    (the first input is a photograph) asks for JPEG too."""
    fidelity = None
    if options.keep_details is not False and "high" in spec.input_fidelity:
        fidelity = "high"
    if options.cutout and spec.transparent:
        return OutputChoice(fidelity, "transparent", "png" if "png" in spec.output_formats else None)
    if "jpeg" not in spec.output_formats or upload_limit is None:
        return OutputChoice(fidelity)
    width, height = parse_size(size) if is_wxh(size) else (AUTO_PIXELS, 1)
    pixels = width * height
    if keeps_png and not photo and pixels * PNG_BYTES_PER_PIXEL <= upload_limit:
        return OutputChoice(fidelity)
    compression = KEPT_JPEG_COMPRESSION if keeps_png else JPEG_COMPRESSION
    return OutputChoice(fidelity, output_format="jpeg", output_compression=compression)
