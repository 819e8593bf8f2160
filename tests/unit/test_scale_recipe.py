"""README's "Scaling out" is a recipe the tests run: every setting, role and file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from bots.settings import Settings
from core.queue import Role

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]


def test_the_recipe_names_real_settings_roles_and_files() -> None:
    text = _section()
    settings = {"EDITBOT_" + name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"EDITBOT_[A-Z_]+", text))
    assert named and named <= settings, named - settings
    roles = set(re.findall(r"--role (\w+)", text))
    assert roles == {r.value for r in Role}
    files = re.findall(r"`((?:tests|benchmarks)/[\w/]+\.py)`", text)
    assert files and all((ROOT / f).is_file() for f in files), files


def test_the_recipe_covers_each_part_of_a_deployment() -> None:
    text = _section()
    for needed in ("SKIP LOCKED", "NOTIFY", "EDITBOT_DISCORD_SHARD_COUNT", "EDITBOT_WORKER_CONCURRENCY",
                   "load balancer", "EDITBOT_REDIS_URL"):  # fmt: skip
        assert needed in text, needed
