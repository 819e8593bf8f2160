"""The benchmark's code runs (tiny input, one run): it cannot rot unnoticed. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_prepare import (
    FAMILIES,
    VARIANTS,
    make_photo,
    measure,
    measure_in_subprocess,
    naive_target,
    report,
)
from core.imaging import probe


def test_photo_is_an_oriented_jpeg() -> None:
    info = probe(make_photo(64, 48))
    assert (info.format, info.width, info.height, info.orientation) == ("JPEG", 48, 64, 6)


def test_naive_target_matches_what_we_upload() -> None:
    data = make_photo(64, 48)
    assert naive_target(data, FAMILIES["dall-e-2"]) == (256, 256)
    assert naive_target(data, FAMILIES["gpt-image-1"]) == (48, 64)


def test_every_variant_measures_in_process() -> None:
    data = make_photo(64, 48)
    results = [measure(variant, family, data, runs=1) for family in FAMILIES for variant in VARIANTS]
    assert [(m.family, m.variant) for m in results] == [(f, v) for f in FAMILIES for v in VARIANTS]
    assert all(m.median_s >= 0 and m.peak_kib >= 0 for m in results)
    table = report(results)
    assert "speed-up" in table and all(family in table for family in FAMILIES)


def test_worker_subprocess_round_trip(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_photo(64, 48))
    result = measure_in_subprocess("ours", "gpt-image-1", photo, runs=1)
    assert (result.variant, result.family) == ("ours", "gpt-image-1")
