"""The dependency rule, layer by layer: bots -> adapters -> core, never upward or out of place.

- ``core`` imports no platform SDK (``telegram``, ``discord``), no ``adapters`` and no ``bots``;
- ``adapters`` import no ``bots`` (what the runners need comes in through ``adapters.host.Host``);
- ``bots`` may import anything: it wires everything.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "core": {"telegram", "discord", "adapters", "bots"},
    "adapters": {"bots"},
    "bots": set(),
}
SOURCES = sorted(path for layer in FORBIDDEN for path in (ROOT / layer).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Top-level packages ``path`` imports, wherever in the module (functions, TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _layer(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def test_every_layer_has_sources() -> None:
    assert {_layer(path) for path in SOURCES} == set(FORBIDDEN)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    assert not (_imports(path) & FORBIDDEN[_layer(path)])


def test_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import telegram\nfrom discord import Client\nfrom bots.bootstrap import Core\n")
    assert _imports(bad) & FORBIDDEN["core"] == {"telegram", "discord", "bots"}
    assert _imports(bad) & FORBIDDEN["adapters"] == {"bots"}
