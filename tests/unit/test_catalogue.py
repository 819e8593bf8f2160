"""The model catalogue: current models and their rules, retired ones with replacements, the operator file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bots.settings import load_settings
from core.catalogue import BUILTIN_CATALOGUE, DEFAULT_MODEL, FreeSizes, ModelCatalogue, tier_of
from core.catalogue_file import load_catalogue
from core.errors import ConfigError

CURRENT = (
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-flare-2026-09-08",
    "gpt-image-2.5-sunburst",
    "gpt-image-2.5-sunburst-2026-09-08",
    "gpt-image-2.6-flare",
    "gpt-image-2.6-sunburst",
    "chatgpt-image-latest",
)


def test_every_current_model_is_described_and_not_retired() -> None:
    for name in CURRENT:
        assert name in BUILTIN_CATALOGUE
        spec = BUILTIN_CATALOGUE.spec(name)
        assert spec.retired is None and spec.description
        assert spec.stream and spec.max_n == 10 and spec.max_prompt_chars == 32000
        assert spec.max_images == 16 and spec.output_formats == ("png", "jpeg", "webp")


def test_retired_models_stay_with_their_replacement() -> None:
    gpt1, dalle2 = BUILTIN_CATALOGUE.spec("gpt-image-1"), BUILTIN_CATALOGUE.spec("dall-e-2")
    assert gpt1.retired == date(2026, 10, 23) and gpt1.replacement == "gpt-image-2.5-flare"
    assert dalle2.retired == date(2026, 5, 12) and dalle2.replacement in BUILTIN_CATALOGUE
    assert [s.name for s in BUILTIN_CATALOGUE.retired(["gpt-image-1", "gpt-image-2.5-flare"])] == [
        "gpt-image-1"
    ]


def test_the_default_model_is_current_and_fast() -> None:
    assert DEFAULT_MODEL == "gpt-image-2.5-flare"
    assert load_settings(env_file=None).model == DEFAULT_MODEL


@pytest.mark.parametrize(
    ("name", "free", "xhigh", "fidelity", "markup"),
    [
        ("gpt-image-1-mini", False, False, ("low",), False),
        ("gpt-image-1.5", False, False, ("high", "low"), False),
        ("gpt-image-2", True, False, (), False),
        ("gpt-image-2.5-flare", True, True, (), True),
        ("gpt-image-2.5-sunburst-2026-09-08", True, True, (), True),
        ("gpt-image-2.6-flare", False, False, (), False),
        ("chatgpt-image-latest", False, False, (), False),
    ],
)
def test_family_rules(name: str, free: bool, xhigh: bool, fidelity: tuple[str, ...], markup: bool) -> None:
    spec = BUILTIN_CATALOGUE.spec(name)
    assert (spec.free_sizes is not None) == free
    assert ("xhigh" in spec.qualities and "max" in spec.qualities) == xhigh
    assert spec.input_fidelity == fidelity
    assert spec.markup == markup
    assert spec.accepts_size("1536x864") == free
    assert spec.accepts_size("1024x1024") and spec.accepts_size("auto")


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ("1536x864", True),
        ("3840x2160", True),
        ("2160x3840", True),
        ("1000x1000", False),  # not multiples of 16
        ("3840x1024", False),  # wider than 3:1
        ("3840x3840", False),  # over 3840x2160 pixels
        ("4096x1536", False),  # edge over 3840
    ],
)
def test_free_sizes(size: str, ok: bool) -> None:
    assert BUILTIN_CATALOGUE.spec("gpt-image-2.5-flare").accepts_size(size) == ok


@pytest.mark.parametrize(
    ("aspect", "edge", "want"),
    [
        (16 / 9, 1536, (1536, 864)),
        (9 / 16, 1536, (864, 1536)),
        (4 / 3, 1536, (1536, 1152)),
        (1.0, 3840, (2880, 2880)),  # 4K square is held to 3840x2160's pixel count
        (16 / 9, 3840, (3840, 2160)),
        (10.0, 1536, (1536, 512)),  # clamped to 3:1
    ],
)
def test_nearest_free_size_keeps_the_photos_shape(aspect: float, edge: int, want: tuple[int, int]) -> None:
    rules = FreeSizes()
    got = rules.nearest(aspect, edge)
    assert got == want and rules.problem(*got) is None


def test_tiers() -> None:
    assert [tier_of(s) for s in ("1536x864", "2560x1440", "3840x2160", "2k", "auto")] == [
        "1k",
        "2k",
        "4k",
        "2k",
        None,
    ]


def test_unknown_names_get_permissive_gpt_rules_without_streaming() -> None:
    spec = BUILTIN_CATALOGUE.spec("some-relay-model")
    assert spec.name == "some-relay-model" and spec.retired is None
    assert spec.sizes == ("1024x1024", "1536x1024", "1024x1536", "auto") and not spec.stream


RELAY = """
[models."gpt-image-2-vip"]
family = "gpt-image-2"
description = "relay VIP, billed per call"
price_per_call = 0.04
credits = 3
stream = false
identifier_field = "user"

[models."gpt-image-1"]
retired = false

[models."gpt-image-2.5-flare"]
output_price_per_million = 25
qualities = ["low", "medium", "high"]
"""


def test_an_operator_file_adds_and_changes_models(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(RELAY, encoding="utf-8")
    catalogue = load_catalogue(path)
    vip = catalogue.spec("gpt-image-2-vip")
    assert vip.free_sizes is not None and not vip.stream and vip.identifier_field == "user"
    assert vip.price.per_call == 0.04 and vip.credits == 3 and vip.description == "relay VIP, billed per call"
    assert catalogue.spec("gpt-image-1").retired is None  # this relay still serves it: no warning
    flare = catalogue.spec("gpt-image-2.5-flare")
    assert flare.price.output_per_million == 25 and flare.qualities == ("low", "medium", "high")
    assert flare.markup  # everything not listed keeps the family's rule
    settings = load_settings(env_file=None, models=path)
    assert settings.model_catalogue().spec("gpt-image-2-vip").credits == 3
    assert settings.credit_table(catalogue).per_image("gpt-image-2-vip", "high", "2k") == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models."x"]\nfamly = "gpt-image-2"', "unknown key(s) famly"),
        ('[models."x"]\nfamily = "gpt-image-9"', "unknown family 'gpt-image-9'"),
        ('[models."x"]\nmax_n = "ten"', "max_n must be a whole number"),
        ('[models."x"]\nsizes = ["big"]', "sizes must be sizes such as"),
        ('[models."x"]\nprice_per_call = -1', "price_per_call must be a number >= 0"),
        ("[model]\n", "unknown table(s) model"),
        ("models = [", "is not valid TOML"),
    ],
)
def test_mistakes_in_the_file_name_the_model_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="EDITBOT_MODELS") as caught:
        load_catalogue(path)
    assert message in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalogue(tmp_path / "nope.toml")


def test_catalogue_iterates_its_entries() -> None:
    extra = ModelCatalogue().with_entries([BUILTIN_CATALOGUE.spec("relay-x")])
    assert (
        "relay-x" in extra
        and "relay-x" in extra.names
        and len(list(extra)) == len(BUILTIN_CATALOGUE.names) + 1
    )
