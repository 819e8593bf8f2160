"""The built wheel is the product: it carries every data file and runs from outside the checkout.

The wheel is built from a copy of the checkout and installed (``--no-deps``) into a fresh venv whose
only other path is the test venv's site-packages (through a ``.pth``; the editable install's hook
there is not processed, so the checkout is unreachable). ``editbot chat`` then edits a photo against
the fake edit API with its working directory in a data folder outside the checkout. When the tests
run as root (CI), that run is made as ``nobody``, who can write only the data folder: the installed
package is read-only to it, so a bot that wrote next to its code or read the working directory for
its data would fail here.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.edit_api import FakeEditAPI, sample_png

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "adapters", "bots", "migrations")
_SKIP_COPY = shutil.ignore_patterns(
    ".venv", ".git", ".env", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "*.db*"
)


@dataclass(frozen=True)
class Installed:
    """A venv holding only the wheel, and who runs it."""

    venv: Path
    wheel: Path
    site: Path
    user: int | None  # uid to run as (None: the current user)
    group: int | None
    work: Path  # world-traversable scratch folder holding everything

    @property
    def editbot(self) -> Path:
        """The console script the wheel installed."""
        return self.venv / "bin" / "editbot"

    def data_dir(self, name: str) -> Path:
        """A fresh folder the runner may write (the bot's working directory)."""
        path = self.work / name
        path.mkdir()
        if self.user is not None and self.group is not None:
            os.chown(path, self.user, self.group)
        return path


def _same_minor(python: str, user: int | None) -> bool:
    """``python`` runs (as ``user``), is this interpreter's version, and can read the test venv's
    dependencies (a checkout under a private folder, as CI's clone may be, hides them from ``nobody``)."""
    deps = sysconfig.get_paths()["purelib"]
    probe = f"import sys; sys.path.insert(0, {deps!r}); import PIL, sqlalchemy; print(sys.version_info[:2])"
    try:
        out = subprocess.run(
            [python, "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            user=user,
            cwd="/",
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == str(sys.version_info[:2])


def _runner() -> tuple[str, int | None, int | None]:
    """The interpreter for the fresh venv and the user to run it as: ``nobody`` when we are root."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    if os.geteuid() != 0:
        return base, None, None
    nobody = pwd.getpwnam("nobody")
    # pyenv's Python may live under /root (not traversable for nobody); a system Python of the same
    # minor version can run the same site-packages.
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (base, f"/usr/bin/{minor}", f"/usr/local/bin/{minor}"):
        if _same_minor(candidate, nobody.pw_uid):
            return candidate, nobody.pw_uid, nobody.pw_gid
    # No interpreter nobody can run: still prove the wheel works from outside the checkout, as root.
    return base, None, None


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """Build the wheel from a copy of the checkout and install it into a fresh venv."""
    python, uid, gid = _runner()
    work = Path(tempfile.mkdtemp(prefix="editbot-wheel-"))
    try:
        work.chmod(0o755)
        src = work / "src"
        shutil.copytree(ROOT, src, ignore=_SKIP_COPY)
        dist = work / "dist"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(dist)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (wheel,) = dist.glob("editbot-*.whl")
        venv = work / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
        subprocess.run(
            [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        site = Path(
            subprocess.run(
                [str(venv / "bin" / "python"), "-c", purelib],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        # Dependencies from the test venv; a plain path line, so its editable-install hook stays inert.
        (site / "editbot-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        shutil.rmtree(src)  # nothing of the checkout is left to fall back on
        yield Installed(venv, wheel, site, uid, gid, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _data_files() -> set[str]:
    """Every non-Python file of the packages in the checkout, as wheel paths."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def _env(home: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TZ"}}
    # No PYTHONPATH, no EDITBOT_* from the outer run: only what the test sets.
    return keep | {"HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"} | extra


async def _run(
    installed: Installed, cwd: Path, args: list[str], env: dict[str, str], stdin: bytes = b""
) -> tuple[int | None, str, str]:
    """Run ``args`` (``editbot`` is the installed console script) as the test's runner user."""
    program = installed.editbot if args[0] != "python" else installed.venv / "bin" / "python"
    proc = await asyncio.create_subprocess_exec(
        str(program),
        *(args if args[0] != "python" else args[1:]),
        cwd=cwd,
        env=env,
        user=installed.user,
        group=installed.group,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=120)
    return proc.returncode, out.decode(), err.decode()


def test_wheel_carries_every_data_file(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    missing = _data_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert {"core/locales/en/errors.json", "core/locales/zh-CN/errors.json"} <= names
    for adapter, area in [("telegram_bot", "telegram"), ("discord_bot", "discord")]:
        assert {f"adapters/{adapter}/locales/{loc}/{area}.json" for loc in ("en", "zh-CN")} <= names
    assert any(n.startswith("migrations/versions/0001") for n in names)


async def test_installed_wheel_edits_from_outside_the_checkout(
    installed: Installed, edit_api: FakeEditAPI
) -> None:
    data = installed.data_dir("chat")
    photo = data / "photo.png"
    photo.write_bytes(sample_png(64, 64))
    env = _env(
        data,
        EDITBOT_API_BASE_URL=edit_api.base_url,
        EDITBOT_API_KEY=edit_api.api_key,
        EDITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{data / 'editbot.db'}",
    )
    code, out, err = await _run(installed, data, ["--version"], env)
    assert (code, out.strip()) == (0, "editbot 0.1.0"), err

    where = "import core, bots, migrations; print(core.__file__, bots.__file__, migrations.__file__)"
    code, out, err = await _run(installed, data, ["python", "-c", where], env)
    assert code == 0, err
    for path in out.split():
        assert Path(path).is_relative_to(installed.site), path

    script = f"/photo {photo}\nmake it blue\n/usage\n".encode()
    code, out, err = await _run(installed, data, ["chat", "--out", str(data / "out")], env, script)
    assert code == 0, err
    assert "Got your photo" in out and "result:" in out, out + err
    assert "You've used 1 of 10 credits today" in out, out
    assert "Traceback" not in err
    (result,) = (data / "out").iterdir()
    assert result.stat().st_size > 0
    assert len(edit_api.requests) == 1 and edit_api.requests[0].value("prompt") == "make it blue"


@pytest.mark.parametrize("folder", ["core/locales", "adapters/discord_bot/locales"])
async def test_missing_catalogs_stop_the_start(
    installed: Installed, edit_api: FakeEditAPI, folder: str
) -> None:
    data = installed.data_dir("broken-" + folder.replace("/", "-"))
    locales = installed.site / folder
    aside = installed.work / "locales-aside"
    env = _env(
        data,
        EDITBOT_API_BASE_URL=edit_api.base_url,
        EDITBOT_API_KEY=edit_api.api_key,
        EDITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{data / 'editbot.db'}",
    )
    locales.rename(aside)
    try:
        code, out, err = await _run(installed, data, ["chat"], env, b"/quit\n")
    finally:
        aside.rename(locales)
    assert code == 2, out + err
    assert "message catalogs missing" in err and "reinstall editbot" in err and "Traceback" not in err
