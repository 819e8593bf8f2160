"""Benchmarks run outside the suite, so a rename elsewhere would break them unseen: each must import."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n != "__init__"])
def test_benchmark_imports(name: str) -> None:
    importlib.import_module(f"benchmarks.{name}")
