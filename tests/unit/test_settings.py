"""Settings: names, defaults, validation that names the variable and hides the value."""

import pytest

from bots.settings import load_settings
from core.errors import ConfigError
from core.identity import Platform, UserKey
from core.settings import QuotaPeriod


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("EDITBOT_"):
            monkeypatch.delenv(name)


def test_defaults_match_design() -> None:
    s = load_settings(env_file=None)
    assert s.api_base_url == "https://api.openai.com/v1"
    assert s.model == "gpt-image-2.5-flare" and s.models is None
    assert s.database_url == "sqlite+aiosqlite:///editbot.db"
    assert s.telegram_api_url == "https://api.telegram.org/bot"
    assert s.telegram_file_url == "https://api.telegram.org/file/bot"
    assert s.discord_api_url == "https://discord.com/api/v10"
    assert s.discord_gateway_url == "wss://gateway.discord.gg/"
    assert (s.user_quota, s.community_quota, s.quota_period) == (10, 200, QuotaPeriod.DAY)
    assert s.api_key is None and s.telegram_token is None and s.discord_token is None
    assert s.admins == ()


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITBOT_ADMINS", "telegram:123, discord:456")
    monkeypatch.setenv("EDITBOT_QUOTA_PERIOD", "week")
    monkeypatch.setenv("EDITBOT_USER_QUOTA", "3")
    monkeypatch.setenv("EDITBOT_API_KEY", "sk-secret")
    s = load_settings(env_file=None)
    assert s.admins == (UserKey(Platform.TELEGRAM, "123"), UserKey(Platform.DISCORD, "456"))
    assert s.quota_period is QuotaPeriod.WEEK and s.user_quota == 3
    assert s.api_key is not None and s.api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(s)


def test_reads_dotenv_file(tmp_path) -> None:
    env = tmp_path / ".env"
    env.write_text("EDITBOT_MODEL=dall-e-2\nEDITBOT_COMMUNITY_QUOTA=7\n")
    s = load_settings(env_file=env)
    assert s.model == "dall-e-2" and s.community_quota == 7


def test_error_names_variable_and_hides_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITBOT_USER_QUOTA", "lots-secretvalue")
    monkeypatch.setenv("EDITBOT_DISCORD_GATEWAY_URL", "http://secret-host.example/")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    text = str(info.value)
    assert "EDITBOT_USER_QUOTA" in text and "EDITBOT_DISCORD_GATEWAY_URL" in text
    assert "secretvalue" not in text and "secret-host" not in text


def test_bad_admins_and_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITBOT_ADMINS", "slack:1")
    monkeypatch.setenv("EDITBOT_QUOTA_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert "EDITBOT_ADMINS" in str(info.value) and "EDITBOT_QUOTA_TIMEZONE" in str(info.value)


def test_pseudonym_is_stable_and_opaque() -> None:
    user = UserKey(Platform.TELEGRAM, "123456789")
    a, b = user.pseudonym(b"k"), user.pseudonym(b"k")
    assert a == b and "123456789" not in a and a != user.pseudonym(b"other")


def test_every_setting_is_documented() -> None:
    """The README's table and .env.example name every setting, and nothing that is not one."""
    import re
    from pathlib import Path

    from bots.settings import Settings

    root = Path(__file__).resolve().parents[2]
    names = {"EDITBOT_" + n.upper() for n in Settings.model_fields}
    readme = set(re.findall(r"^\| `(EDITBOT_[A-Z_]+)`", (root / "README.md").read_text(), re.M))
    example = set(re.findall(r"^(EDITBOT_[A-Z_]+)=", (root / ".env.example").read_text(), re.M))
    assert readme == names
    assert example == names


def test_env_example_loads_as_is(tmp_path) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    s = load_settings(env_file=example)
    assert s.api_key is None and s.telegram_token is None and s.discord_dev_guild is None


def test_each_platform_declares_its_own_settings() -> None:
    """The core's settings are platform-neutral; each adapter's add only its own platform's names,
    and the command's settings are exactly all of them."""
    from adapters.discord_bot.settings import DiscordSettings
    from adapters.telegram_bot.settings import TelegramSettings
    from bots.settings import Settings
    from core.settings import CoreSettings

    core = set(CoreSettings.model_fields)
    telegram = set(TelegramSettings.model_fields) - core
    discord = set(DiscordSettings.model_fields) - core
    assert not {n for n in core if n.startswith(("telegram", "discord"))}
    assert telegram and all(n.startswith("telegram_") for n in telegram)
    assert discord and all(n.startswith("discord_") for n in discord)
    assert set(Settings.model_fields) == core | telegram | discord


def test_an_adapter_names_its_bad_variable_and_hides_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.telegram_bot.settings import TelegramSettings
    from core.settings import load

    monkeypatch.setenv("EDITBOT_TELEGRAM_API_URL", "ftp://secret-host.example/bot")
    with pytest.raises(ConfigError) as info:
        load(TelegramSettings, env_file=None)
    assert "EDITBOT_TELEGRAM_API_URL" in str(info.value) and "secret-host" not in str(info.value)


def test_secrets_include_every_platforms_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in [("TELEGRAM_TOKEN", "tg-token"), ("DISCORD_TOKEN", "dc-token"), ("API_KEY", "sk-key")]:
        monkeypatch.setenv("EDITBOT_" + name, value)
    monkeypatch.setenv("EDITBOT_TELEGRAM_WEBHOOK_SECRET", "   ")
    assert sorted(load_settings(env_file=None).secrets) == ["dc-token", "sk-key", "tg-token"]


def test_full_size_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(env_file=None).full_size_hours == 24  # issue 11: a day behind the button
    monkeypatch.setenv("EDITBOT_FULL_SIZE_HOURS", "0")  # no button: the file goes with the photo
    assert load_settings(env_file=None).full_size_hours == 0
    monkeypatch.setenv("EDITBOT_FULL_SIZE_HOURS", "-1")
    with pytest.raises(ConfigError, match="EDITBOT_FULL_SIZE_HOURS"):
        load_settings(env_file=None)
