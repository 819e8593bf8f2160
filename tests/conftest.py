"""Fixtures shared by every test folder. Fakes register themselves by module in ``pytest_plugins``."""

pytest_plugins: list[str] = [
    "tests.integration.db_fixtures",
    "tests.fakes.edit_api",
    "tests.fakes.telegram_server",
    "tests.fakes.discord_server",
    "tests.e2e.telegram_harness",
    "tests.e2e.discord_harness",
    "tests.e2e.painter_harness",
]
