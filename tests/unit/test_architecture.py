"""The shape of the code, read from its import graph: a small core, one package per feature, no cycles.

Rules (README, "How it is built"):
1. No import cycle among ``bot/`` modules. Imports inside functions count (a lazy import only hides a
   cycle). Imports under ``if TYPE_CHECKING:`` do not count for cycles: they never run, and with
   ``from __future__ import annotations`` they only name types. They do count for rules 2 and 3.
2. The core (``bot/core``, and ``bot/storage`` below it) imports no feature package.
3. A feature imports another feature only through that package's ``__init__`` (what it chose to show).
4. ``bot/`` never imports a platform library (telegram, nio) nor the adapters, except the command line,
   which is where the core and the adapters are put together.

Each rule is a plain function over a graph, and is shown failing on a small broken graph first.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_LIBRARIES = {"telegram", "nio", "synapse", "adapters"}
CORE_PACKAGES = {"bot.core", "bot.storage"}
COMPOSITION_ROOT = {"bot.cli", "bot.assemble"}  # which features run, which adapters: may import anything
PLATFORM_ALLOWED = {"bot.cli"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "bot.people.onboarding"
    target: str  # the module imported, e.g. "bot.circles" (a package's __init__) or "bot.core.router"
    type_only: bool = False  # under `if TYPE_CHECKING:`


# ---- reading the tree ------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.glob("bot/**/*.py"))}


def _resolve(name: str, known: set[str]) -> str:
    """``from bot.x import y`` imports the module bot.x.y when there is one, else a name of bot.x."""
    return name if name in known else name.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, tree: ast.AST, known: set[str]) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(source, alias.name, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if any(f"{node.module}.{a.name}" in known for a in node.names):
                found.extend(Import(source, _resolve(f"{node.module}.{a.name}", known), type_only) for a in node.names)
            else:
                found.append(Import(source, node.module, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only or (isinstance(node, ast.If) and _is_type_checking(node) and child in node.body))

    visit(tree, False)
    return found


def project_imports() -> list[Import]:
    mods = modules()
    known = set(mods)
    found: list[Import] = []
    for name, path in mods.items():
        found += imports_of(name, ast.parse(path.read_text(encoding="utf-8")), known)
    return found


# ---- the rules -------------------------------------------------------------------------------------


def top_package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def is_feature(module: str) -> bool:
    package = top_package(module)
    return module.startswith("bot.") and package not in CORE_PACKAGES | COMPOSITION_ROOT


def cycles(imports: list[Import]) -> list[list[str]]:
    """Every strongly connected group of more than one module (or a module importing itself)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.type_only and imp.target.startswith("bot"):
            graph.setdefault(imp.source, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def core_importing_features(imports: list[Import]) -> list[Import]:
    return [i for i in imports if top_package(i.source) in CORE_PACKAGES and is_feature(i.target)]


def reaching_into_other_features(imports: list[Import]) -> list[Import]:
    """A feature may import another feature's package (its __init__), never one of its modules."""
    return [
        i for i in imports
        if is_feature(i.source) and is_feature(i.target)
        and top_package(i.source) != top_package(i.target) and i.target != top_package(i.target)
    ]


def platform_imports(imports: list[Import]) -> list[Import]:
    return [
        i for i in imports
        if i.source not in PLATFORM_ALLOWED and i.target.split(".")[0] in PLATFORM_LIBRARIES
    ]


# ---- each rule fails when broken -------------------------------------------------------------------


def _synthetic(source: str) -> list[Import]:
    """A small tree written as code: each module is a line "module: python source"."""
    known: set[str] = set()
    parsed: list[tuple[str, str]] = []
    for line in source.strip().splitlines():
        name, _, code = line.partition(":")
        known.add(name.strip())
        parsed.append((name.strip(), code.strip().replace(";", "\n")))
    found: list[Import] = []
    for name, code in parsed:
        found += imports_of(name, ast.parse(code), known)
    return found


def test_a_cycle_through_an_import_inside_a_function_is_found() -> None:
    graph = _synthetic("""
        bot.checkins.rounds: def install(core):;    from bot.checkins import answers
        bot.checkins.answers: from bot.checkins.rounds import ladder
        bot.checkins: pass
    """)
    assert cycles(graph) == [["bot.checkins.answers", "bot.checkins.rounds"]]


def test_an_import_only_for_type_checking_is_no_cycle() -> None:
    graph = _synthetic("""
        bot.core.router: from typing import TYPE_CHECKING;if TYPE_CHECKING:;    from bot.core.app import Core
        bot.core.app: from bot.core.router import Router
    """)
    assert cycles(graph) == []


def test_the_core_importing_a_feature_is_found() -> None:
    graph = _synthetic("""
        bot.core.app: from bot import people
        bot.people: pass
    """)
    assert [(i.source, i.target) for i in core_importing_features(graph)] == [("bot.core.app", "bot.people")]


def test_a_feature_reaching_into_another_features_module_is_found() -> None:
    graph = _synthetic("""
        bot.moderation.bans: from bot.people.onboarding import GATES;from bot.circles import leave_circle
        bot.people.onboarding: GATES = []
        bot.people: pass
        bot.circles: from bot.circles.membership import leave as leave_circle
        bot.circles.membership: pass
    """)
    found = [(i.source, i.target) for i in reaching_into_other_features(graph)]
    assert found == [("bot.moderation.bans", "bot.people.onboarding")]  # the package's own name is fine


def test_importing_a_submodule_by_name_from_another_feature_is_found() -> None:
    graph = _synthetic("""
        bot.moderation.bans: from bot.circles import membership
        bot.circles: pass
        bot.circles.membership: pass
    """)
    assert [i.target for i in reaching_into_other_features(graph)] == ["bot.circles.membership"]


def test_a_platform_library_in_the_core_is_found() -> None:
    graph = _synthetic("""
        bot.core.app: import telegram
        bot.cli: from adapters.console import run
    """)
    assert [(i.source, i.target) for i in platform_imports(graph)] == [("bot.core.app", "telegram")]


# ---- the real tree ---------------------------------------------------------------------------------


def test_the_tree_has_features_and_a_core() -> None:
    """Guards the rules below against reading nothing (a moved folder would make them pass vacuously)."""
    mods = modules()
    features = {"bot.people", "bot.circles", "bot.checkins", "bot.moderation", "bot.activities"}
    assert {"bot.core.app", *features} <= set(mods)
    assert len(project_imports()) > 200


def test_no_import_cycle_among_bot_modules() -> None:
    assert cycles(project_imports()) == []


def test_the_core_imports_no_feature() -> None:
    assert core_importing_features(project_imports()) == []


def test_features_use_each_other_only_through_their_package() -> None:
    assert reaching_into_other_features(project_imports()) == []


def test_bot_imports_no_platform_library() -> None:
    assert platform_imports(project_imports()) == []


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    done = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
