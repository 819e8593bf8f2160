"""What an edit asks the API for besides the prompt: fidelity, cut-outs, a format that fits the chat."""

from __future__ import annotations

from core.catalogue import BUILTIN_CATALOGUE, ModelSpec
from core.events import EditOptions
from core.outputs import OutputChoice, choose_outputs

TELEGRAM_PHOTO = 10 * 1000 * 1000


def spec(name: str) -> ModelSpec:
    return BUILTIN_CATALOGUE.spec(name)


def test_faces_and_details_are_kept_where_the_model_can() -> None:
    assert choose_outputs(spec("gpt-image-1.5"), EditOptions(), "1024x1024", None).input_fidelity == "high"
    off = EditOptions(keep_details=False)
    assert choose_outputs(spec("gpt-image-1.5"), off, "1024x1024", None).input_fidelity is None
    # mini takes only "low" (its default), the 2.x families no fidelity at all: the field stays out.
    assert choose_outputs(spec("gpt-image-1-mini"), EditOptions(), "auto", None).input_fidelity is None
    assert choose_outputs(spec("gpt-image-2.5-flare"), EditOptions(), "1536x864", None).input_fidelity is None


def test_a_cutout_asks_for_a_transparent_png() -> None:
    got = choose_outputs(spec("gpt-image-2.5-flare"), EditOptions(cutout=True), "3840x2160", TELEGRAM_PHOTO)
    assert got == OutputChoice(background="transparent", output_format="png")


def test_png_while_it_fits_the_chat_jpeg_beyond() -> None:
    flare = spec("gpt-image-2.5-flare")
    assert choose_outputs(flare, EditOptions(), "1536x864", TELEGRAM_PHOTO) == OutputChoice()
    assert choose_outputs(flare, EditOptions(), "auto", TELEGRAM_PHOTO) == OutputChoice()
    big = choose_outputs(flare, EditOptions(), "2560x1440", TELEGRAM_PHOTO)
    assert big.output_format == "jpeg" and big.output_compression is not None
    # No platform limit (the terminal): the API's lossless default.
    assert choose_outputs(flare, EditOptions(), "3840x2160", None) == OutputChoice()


def test_models_without_output_formats_get_no_format_fields() -> None:
    assert choose_outputs(spec("dall-e-2"), EditOptions(cutout=True), "1024x1024", 1) == OutputChoice()


def test_a_photo_comes_back_as_a_photo() -> None:
    flare = spec("gpt-image-2.5-flare")
    # Shown as it is (Discord, a file): near the source's quality.
    kept = choose_outputs(flare, EditOptions(), "1536x864", TELEGRAM_PHOTO, photo=True)
    assert kept == OutputChoice(output_format="jpeg", output_compression=95)
    # Recompressed by the platform anyway (Telegram photos).
    shown = choose_outputs(flare, EditOptions(), "1536x864", TELEGRAM_PHOTO, keeps_png=False, photo=True)
    assert shown == OutputChoice(output_format="jpeg", output_compression=90)
    # A cut-out of a photo still needs its alpha, and the terminal keeps the lossless default.
    cutout = choose_outputs(flare, EditOptions(cutout=True), "1536x864", TELEGRAM_PHOTO, photo=True)
    assert cutout.output_format == "png"
    assert choose_outputs(flare, EditOptions(), "1536x864", None, photo=True) == OutputChoice()
