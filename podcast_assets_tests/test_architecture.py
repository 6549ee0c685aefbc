"""The folders are the architecture: each part imports only the parts below it, and nothing imports in a circle.

Layers, lowest first. A module may import its own folder and any folder of a lower layer, never one above it or
beside it (evaluation and web, for instance, know nothing of each other). Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "podcast_assets"
LAYERS = [
    {"core"},  # pure logic, no Dagster
    {"settings"},  # where state lives (home folder, environment): reachable from everything above core
    {"resources"},  # every side effect: warehouse, HTTP, models, mail, media store
    {"catalog"},  # feeds, subscribers, the delivery ledger and the signed links that name a subscriber
    {"operations"},  # what keeps runs safe to kill, deliveries, costs, search
    {"orchestration"},  # partitions, jobs, schedules, sensors, execution policies, deployment
    {"assets"},  # thin Dagster assets over core
    {"definitions"},  # the one Definitions object
    {"daily_runs"},  # running a day from the command line or the demo
    {"evaluation", "web"},  # labeled networks and their scoring; the subscriber web app
    {"demo"},  # the demo command (the demo network itself is data in evaluation/networks/demo)
    {"commands"},  # the command line, the very top
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "podcast_assets"}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}


def test_the_package_top_holds_definitions_settings_and_folders():
    loose = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py")
    assert loose == ["__init__.py", "definitions.py", "settings.py"]
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(folders) - {"templates"} == set(RANK) - {"settings", "definitions"}


def test_no_module_imports_from_a_layer_above_or_beside_its_own():
    wrong = []
    for module, path in MODULES.items():
        mine = _part(module)
        for imported in _imports(path):
            theirs = _part(imported)
            if theirs is None or theirs == mine or theirs not in RANK:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_no_import_circle_anywhere():
    graph = {
        module: {name for name in _imports(path) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }
    # A package's __init__ re-exporting its modules is not a circle with them.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    circles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
