"""Exceptions say what happened; :func:`core.i18n.explain` alone turns them into words."""

from datetime import UTC, datetime

import pytest

from core import errors, i18n

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "limit", "shown"),
    [
        (30 * MIB, 20 * MIB, "That image is too large (30 MB). Please send one under 20 MB."),
        (int(2.25 * MIB), 4 * MIB, "That image is too large (2.2 MB). Please send one under 4 MB."),
        (10 * MIB + 1, 10 * MIB, "That image is too large (10 MB). Please send one under 10 MB."),
    ],
)
def test_image_too_large_takes_bytes_and_formats_them_one_way(size: int, limit: int, shown: str) -> None:
    exc = errors.ImageTooLarge(size=size, limit=limit)
    assert (exc.size, exc.limit) == (size, limit)
    kind, details = i18n.explain(exc)
    assert i18n.render("en", kind, **details) == shown


def test_too_many_pixels_is_its_own_kind() -> None:
    exc = errors.ImageTooManyPixels(size=MIB, limit=20 * MIB, pixels=200_000_000, pixel_limit=90_000_000)
    assert isinstance(exc, errors.ImageTooLarge)
    kind, details = i18n.explain(exc)
    assert kind == "image_too_many_pixels"
    assert (details["megapixels"], details["limit_megapixels"]) == (200.0, 90.0)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (errors.QuotaExceeded(scope="user", left=0), "quota_exceeded"),
        (errors.QuotaInsufficient(scope="user", left=1), "quota_insufficient"),
        (errors.CommunityQuotaExceeded(scope="community", left=3), "community_quota_exceeded"),
        (errors.GlobalQuotaExceeded(scope="global", left=0), "global_quota_exceeded"),
    ],
)
def test_quota_refusals_are_told_by_their_own_kind(exc: errors.QuotaExceeded, kind: str) -> None:
    assert isinstance(exc, errors.QuotaExceeded) and i18n.explain(exc)[0] == kind


def test_explain_shows_times_as_utc() -> None:
    exc = errors.Blocked(until=datetime(2026, 11, 30, 17, 5, tzinfo=UTC))
    assert i18n.explain(exc)[1]["until"] == "2026-11-30 17:05 (UTC)"


def test_cut_keeps_short_text_and_marks_a_cut() -> None:
    assert i18n.cut("hello", 5) == "hello"
    assert i18n.cut("hello!", 5) == "hell…"
