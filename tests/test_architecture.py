"""The import contracts of the house plan, read from the source with ``ast`` (nothing is run).

- ``portfolio.domain`` is pure: no Django, nothing from the rest of the app.
- The simulators import nothing from the clients; the clients and ``venues`` nothing from Django
  or the apps.
- Services never import ``portfolio.tasks``: work is queued by name through ``portfolio.jobs``.
- No import cycle inside ``portfolio`` among the imports that run when a module is loaded.
- ``portfolio`` and ``accounts`` reach an exchange only through ``venues``: no client library
  (``standx``, ``perpex``, ``ocx``) and no simulator.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "portfolio",
    "accounts",
    "standx",
    "standx_sim",
    "perpex",
    "perpex_sim",
    "ocx",
    "ocx_sim",
    "standx_web",
    "venues",
    "exchange_common",
)


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (or the package a name is imported from)
    names: tuple[str, ...]  # for "from x import a, b": a and b
    at_load: bool  # runs when the importing module loads (not inside a function)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def _walk(node: ast.AST, at_load: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        inside = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        # `if TYPE_CHECKING:` blocks never run.
        checking = isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
        yield child, at_load
        yield from _walk(child, at_load and not inside and not checking)


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node, at_load in _walk(ast.parse(path.read_text()), True):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), at_load) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(Import(base, tuple(a.name for a in node.names), at_load))
    return tuple(found)


def targets(imp: Import) -> list[str]:
    """The project modules an import loads (``from pkg import mod`` loads ``pkg.mod``)."""
    known = modules()
    found = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in known]
    if imp.target in known:
        found.append(imp.target)
    return found


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(inside: str, forbidden: str) -> set[str]:
    return {
        module
        for module in modules()
        if in_package(module, inside)
        for imp in imports_of(module)
        if in_package(imp.target, forbidden)
    }


def test_the_domain_is_pure() -> None:
    for module in modules():
        if not in_package(module, "portfolio.domain"):
            continue
        for imp in imports_of(module):
            assert not in_package(imp.target, "django"), f"{module} imports {imp.target}"
            outside = in_package(imp.target, "portfolio") and not in_package(
                imp.target, "portfolio.domain"
            )
            assert not outside, f"{module} imports {imp.target}"
            for package in ("accounts", "standx", "standx_web"):
                assert not in_package(imp.target, package), f"{module} imports {imp.target}"


def test_the_simulators_share_no_code_with_the_clients() -> None:
    assert offenders("standx_sim", "standx") == set()
    assert offenders("standx", "standx_sim") == set()
    assert offenders("standx", "django") == set()


def test_the_perpex_simulator_shares_no_code_with_any_client_or_the_other_simulator() -> None:
    for package in ("perpex", "standx", "standx_sim", "ocx", "ocx_sim", "venues", "django"):
        assert offenders("perpex_sim", package) == set()
    for package in ("perpex_sim", "standx_sim", "ocx_sim", "django", "portfolio", "accounts"):
        assert offenders("perpex", package) == set()


def test_the_ocx_simulator_shares_no_code_with_any_client_or_simulator() -> None:
    for package in ("ocx", "standx", "standx_sim", "perpex", "perpex_sim", "venues", "django"):
        assert offenders("ocx_sim", package) == set()
    for package in ("ocx_sim", "standx_sim", "perpex_sim", "django", "portfolio", "accounts"):
        assert offenders("ocx", package) == set()
    assert offenders("ocx", "venues") == set()


def test_the_clients_common_plumbing_speaks_no_venue() -> None:
    for package in ("standx", "perpex", "ocx", "venues", "django", "portfolio", "accounts"):
        assert offenders("exchange_common", package) == set()
    for simulator in ("standx_sim", "perpex_sim", "ocx_sim"):
        assert offenders(simulator, "exchange_common") == set()


def test_the_venue_layer_knows_nothing_of_django_or_the_apps() -> None:
    for package in (
        "django",
        "portfolio",
        "accounts",
        "standx_web",
        "standx_sim",
        "perpex_sim",
        "ocx_sim",
    ):
        assert offenders("venues", package) == set()


def test_services_queue_work_by_name_and_never_import_the_tasks() -> None:
    importers = {
        module
        for module in modules()
        if in_package(module, "portfolio") or in_package(module, "accounts")
        for imp in imports_of(module)
        if "portfolio.tasks" in targets(imp)
    }
    assert importers == set()


def test_there_is_no_import_cycle_inside_portfolio() -> None:
    graph = {
        module: {
            target
            for imp in imports_of(module)
            if imp.at_load
            for target in targets(imp)
            if in_package(target, "portfolio") and target != module
        }
        for module in modules()
        if in_package(module, "portfolio")
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_apps_reach_the_exchanges_only_through_the_venue_layer() -> None:
    for app in ("portfolio", "accounts"):
        for client in ("standx", "perpex", "ocx", "standx_sim", "perpex_sim", "ocx_sim"):
            direct = {m for m in offenders(app, client) if not in_package(m, "standx_web")}
            assert direct == set(), (app, client)
