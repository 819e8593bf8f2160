"""Deployment files agree with the code: compose and Dockerfile name real settings, one install command.

No Docker engine runs in the tests; these read the files as the engine would.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from bots.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"EDITBOT_" + name.upper() for name in Settings.model_fields}


def _compose() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _dockerfile() -> str:
    # Join continuation lines, as Docker reads them.
    return re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())


def _install_commands(text: str) -> list[list[str]]:
    """Every ``python3 -m venv ... && .../pip install ...`` in ``text``, flags that do not change what
    gets installed (--no-cache-dir, -q) left out."""
    found = []
    for match in re.finditer(r"python3 -m venv \S+ && \S+/pip install [^\n`]*", text):
        words = [w for w in shlex.split(match.group(0)) if w not in {"--no-cache-dir", "-q"}]
        found.append(words)
    return found


def test_compose_services_and_settings() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert {"editbot", "postgres", "prometheus"} <= set(services)
    assert services["prometheus"]["profiles"] == ["monitoring"]
    bot = services["editbot"]
    names = set(bot["environment"])
    assert names <= SETTINGS, names - SETTINGS
    assert bot["environment"]["EDITBOT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/data" in " ".join(bot["volumes"])
    # Prometheus scrapes the port the bot serves metrics on.
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (target,) = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert target == f"editbot:{bot['environment']['EDITBOT_METRICS_PORT']}"


def test_dockerfile_settings_user_volume_healthcheck() -> None:
    text = _dockerfile()
    assert text.count("FROM python:3.11-slim") == 2, "multi-stage on the slim base"
    env_names = set(re.findall(r"\b(EDITBOT_[A-Z_]+)=", text))
    assert env_names and env_names <= SETTINGS, env_names - SETTINGS
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user == ["editbot"]
    assert 'VOLUME ["/data"]' in text and "sqlite+aiosqlite:////data/" in text
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*$", text, re.M)
    assert "/healthz" in healthcheck and "EDITBOT_METRICS_PORT" in healthcheck
    assert re.search(r'^ENTRYPOINT \["editbot"\]\s*\nCMD \["run"\]', text, re.M)


def test_one_install_command_for_docker_readme_and_systemd() -> None:
    (docker,) = _install_commands(_dockerfile())
    readme = (ROOT / "README.md").read_text()
    deploy = readme[readme.index("## Deploy") :]
    assert _install_commands(deploy)[0] == docker
    assert _install_commands((ROOT / "deploy" / "editbot.service").read_text()) == [docker]
    # The venv the command creates is the one the image and the unit run from.
    venv = docker[3]
    assert f"ExecStart={venv}/bin/editbot run" in (ROOT / "deploy" / "editbot.service").read_text()
    assert f"COPY --from=build {venv} {venv}" in _dockerfile()


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", _dockerfile(), re.M)
    for sources in copied:
        for source in sources.split():
            assert source not in ignored and (ROOT / source).exists(), source
    assert {".env", ".venv", ".git"} <= ignored


def test_systemd_unit_names_real_settings_only() -> None:
    unit = (ROOT / "deploy" / "editbot.service").read_text()
    assert set(re.findall(r"\b(EDITBOT_[A-Z_]+)", unit)) <= SETTINGS
    assert "User=editbot" in unit and "EnvironmentFile=" in unit
