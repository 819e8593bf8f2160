"""``editbot quota`` as operators run it: subprocesses against a temporary SQLite database."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.cli import main
from core.storage.db import create_engine, create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.protocol import JobStatus, QuotaScope
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import FakeClock, make_job

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


def _env(db: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}
    return {**clean, "PYTHONPATH": str(ROOT), "EDITBOT_DATABASE_URL": f"sqlite:///{db}"}


async def quota(tmp_path: Path, *args: str) -> Run:
    """Run ``python -m bots.cli quota ARGS`` in ``tmp_path`` (so no stray .env is read)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "quota",
        *args,
        cwd=tmp_path,
        env=_env(tmp_path / "editbot.db"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def _store(tmp_path: Path, clock: FakeClock) -> tuple[SqlStore, object]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'editbot.db'}")
    await upgrade_engine(engine)
    return SqlStore(create_sessionmaker(engine), clock=clock), engine


async def test_set_grant_block_show_and_audit(tmp_path: Path) -> None:
    run = await quota(tmp_path, "set", "community", "50", "--community", "telegram:-100")
    assert run.code == 0, run.err
    assert run.out.strip() == "community telegram:-100: limit 50 (was default)"
    run = await quota(tmp_path, "set", "member", "3", "--community", "telegram:-100", "--user", "telegram:7")
    assert run.out.strip() == "member telegram:-100/7: limit 3 (was default)"
    run = await quota(tmp_path, "grant", "2", "--user", "telegram:7", "--community", "telegram:-100")
    assert run.out.strip() == "member telegram:-100/7: bonus 2, used 0, left 5"
    run = await quota(tmp_path, "block", "--user", "telegram:9")
    assert run.out.strip() == "telegram:9: blocked everywhere"

    run = await quota(tmp_path, "show", "--community", "telegram:-100", "--user", "telegram:7")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("period: day in UTC, started ")
    assert lines[-1] == "member telegram:-100/7: used 0 of 3 + bonus 2 (left 5)"

    run = await quota(tmp_path, "audit")
    assert run.code == 0, run.err
    entries = run.out.splitlines()
    assert len(entries) == 4
    assert "· operator" in entries[0] and entries[0].endswith("blocked 9 everywhere")
    assert entries[1].startswith("[telegram:-100] ") and "gave 7 2 credit(s)" in entries[1]
    assert "set 7's limit to 3" in entries[2] and "set the group's limit to 50" in entries[3]

    # What the commands wrote is what the bots read.
    store, engine = await _store(tmp_path, FakeClock())
    try:
        assert await store.get_limits([("community", "telegram:-100"), ("member", "telegram:-100/7")]) == {
            ("community", "telegram:-100"): 50,
            ("member", "telegram:-100/7"): 3,
        }
        assert await store.blocks_of("telegram", "9") == frozenset({"*"})
        assert {e.actor for e in await store.audit_log()} == {"operator"}
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_export_usage_as_csv(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2025, 3, 1, 10, tzinfo=UTC))
    store, engine = await _store(tmp_path, clock)
    try:
        scope = (QuotaScope("global", "all", None),)
        plan = [  # (day offset, user, community, credits, outcome)
            (0, "u1", "g1", 2, "ok"),
            (0, "u1", "g1", 1, "ok"),
            (0, "u2", "g1", 1, "fail"),
            (1, "u2", "g1", 3, "ok"),
            (1, "u3", None, 1, "ok"),
            (2, "u1", "g2", 1, "cancel"),
            (5, "u1", "g1", 1, "ok"),  # after --until
        ]
        for i, (day, user, community, credits, outcome) in enumerate(plan):
            clock.now = datetime(2025, 3, 1, 10, tzinfo=UTC) + timedelta(days=day, minutes=i)
            job, _ = await store.create_job(
                make_job(f"k{i}", user_id=user, community_id=community, credits=credits, origin={}),
                scope,
            )
            if outcome == "ok":
                await store.succeed(
                    job.id, credits=credits, usage_tokens=100, estimated_cost=0.25, result_refs=()
                )
            else:
                status = JobStatus.CANCELLED if outcome == "cancel" else JobStatus.FAILED
                await store.fail(job.id, error_kind="x", status=status)
    finally:
        await engine.dispose()  # type: ignore[attr-defined]

    run = await quota(tmp_path, "export", "--since", "2025-03-01", "--until", "2025-03-04")
    assert run.code == 0, run.err
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [
        (r["day"], r["community_id"], r["user_id"], r["edits"], r["credits"], r["failed"], r["cancelled"])
        for r in rows
    ] == [
        ("2025-03-01", "g1", "u1", "2", "3", "0", "0"),
        ("2025-03-01", "g1", "u2", "0", "0", "1", "0"),
        ("2025-03-02", "", "u3", "1", "1", "0", "0"),
        ("2025-03-02", "g1", "u2", "1", "3", "0", "0"),
        ("2025-03-03", "g2", "u1", "0", "0", "0", "1"),
    ]
    assert rows[0]["usage_tokens"] == "200" and float(rows[0]["estimated_cost_usd"]) == pytest.approx(0.5)
    assert rows[0]["platform"] == "telegram"

    out = tmp_path / "by-community.csv"
    run = await quota(tmp_path, "export", "--since", "2025-03-01", "--by", "community", "-o", str(out))
    assert run.code == 0, run.err
    assert run.out.startswith("wrote 5 row(s)")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["day"], r["community_id"], r["user_id"], r["edits"]) for r in rows] == [
        ("2025-03-01", "g1", "", "2"),
        ("2025-03-02", "", "", "1"),
        ("2025-03-02", "g1", "", "1"),
        ("2025-03-03", "g2", "", "0"),
        ("2025-03-06", "g1", "", "1"),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grant", "2"], "--user is required"),
        (["grant", "0", "--user", "telegram:1"], "N must be between 1"),
        (["set", "member", "3", "--community", "telegram:1"], "set member needs --user"),
        (["set", "community", "3"], "set community needs --community"),
        (["set", "global", "lots"], "N must be a whole number"),
        (["reset"], "say whose usage"),
        (["show", "--community", "telegram:1", "--user", "discord:2"], "same platform"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("EDITBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EDITBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["quota", *argv]) == 2
    assert message in capsys.readouterr().err


def test_unparsable_ids_and_an_unreachable_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["quota", "show", "--user", "myspace:1"])
    assert info.value.code == 2 and "platform:id" in capsys.readouterr().err
    monkeypatch.setenv("EDITBOT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    assert main(["quota", "show"]) == 1
    assert "editbot quota show:" in capsys.readouterr().err
