"""A missing or empty catalog is a broken installation, said at start, never silent bare keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.discord_bot import wording as discord_wording
from adapters.telegram_bot import wording as telegram_wording
from bots.cli import main
from core import i18n
from core.errors import ConfigError


def _write(root: Path, locale: str, name: str, content: object) -> None:
    folder = root / locale
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(content) if not isinstance(content, str) else content)


def test_shipped_catalogs_pass() -> None:
    adapters = (telegram_wording.LOCALES, discord_wording.LOCALES)
    assert i18n.check_catalogs(*adapters) == len(i18n.catalog("en")) > 50
    assert all(len(i18n.catalog("en", root)) > 10 for root in adapters)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda root: None, "no folder"),
        (lambda root: _write(root, "zh-CN", "a.json", {"k": "v"}), "no 'en' catalog"),
        (lambda root: (root / "en").mkdir(parents=True), "'en' is empty"),
        (lambda root: _write(root, "en", "a.json", {}), "is empty or not a JSON object"),
        (lambda root: _write(root, "en", "a.json", ["k"]), "is empty or not a JSON object"),
        (lambda root: _write(root, "en", "a.json", "{broken"), "cannot be read"),
    ],
    ids=["no-folder", "no-english", "no-files", "empty-object", "not-an-object", "bad-json"],
)
def test_broken_catalogs_are_named(tmp_path: Path, setup, expected: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "locales"  # each setup creates only what it needs
    setup(root)
    with pytest.raises(ConfigError, match="reinstall editbot") as info:
        i18n.check_catalogs(root)
    assert expected in str(info.value)


@pytest.mark.parametrize("where", ["core", "telegram", "discord"])
def test_cli_refuses_to_start_without_catalogs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    module = {"core": i18n, "telegram": telegram_wording, "discord": discord_wording}[where]
    monkeypatch.setattr(module, "_ROOT" if where == "core" else "LOCALES", tmp_path / "nowhere")
    assert main(["db", "current"]) == 2
    assert "message catalogs missing" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("editbot ")
