"""Fixtures shared by every test folder. Fakes register themselves by module in ``pytest_plugins``."""

pytest_plugins: list[str] = []
