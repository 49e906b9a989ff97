"""The layering rules of docs/architecture.md, checked on the source so that a change that
breaks one fails here (each rule names where the concern lives instead)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "frontdesk"


def modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((SRC / package).rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text())


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def calls(tree: ast.Module, method: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    ]


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for rel, tree in modules(package):
        for name in sorted(imported(tree)):
            if name.startswith(forbidden):
                found.append(f"{rel} imports {name}")
    return found


def test_the_protocol_core_is_plain_python() -> None:
    forbidden = (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "frontdesk.store",
        "frontdesk.web",
        "frontdesk.services",
    )
    assert offenders("oauth", forbidden) == []


def test_web_runs_no_sql_and_sees_no_rows() -> None:
    """Web reaches the database only through services and the storage protocols
    (frontdesk.services.work), never the store itself."""
    assert offenders("web", ("sqlalchemy", "frontdesk.store")) == []
    executing = [f"{rel}:{line}" for rel, tree in modules("web") for line in calls(tree, "execute")]
    assert executing == []


@pytest.mark.parametrize("package", ["oauth", "services"])
def test_only_the_owner_of_a_unit_of_work_commits(package: str) -> None:
    found = [
        f"{rel}:{line}"
        for rel, tree in modules(package)
        for method in ("commit", "rollback")
        for line in calls(tree, method)
    ]
    assert found == []


def test_web_commits_only_in_the_adapter_and_its_own_units_of_work() -> None:
    """Routes under a UnitOfWorkRoute never commit; the few RawRoutes that open their own
    unit of work commit it once."""
    allowed = {"web/adapter.py", "web/routes/oauth/authorize.py"}
    found = [
        f"{rel}:{line}"
        for rel, tree in modules("web")
        for line in calls(tree, "commit")
        if rel not in allowed
    ]
    assert found == []


def test_every_audit_event_is_named_by_a_constant() -> None:
    """``record_event(…)`` always gets ``events.X`` (one place for the names, checked by the one
    recorder), never a string literal."""
    literal = []
    for package in ("oauth", "services", "store", "web"):
        for rel, tree in modules(package):
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", getattr(node.func, "id", "")) == "record_event"
                ):
                    continue
                args = [a for a in node.args if not (isinstance(a, ast.Name) and a.id in {"db", "self"})]
                if args and isinstance(args[0], ast.Constant):
                    literal.append(f"{rel}:{node.lineno}")
    assert literal == []


def test_nothing_but_the_caching_layer_reads_a_cache() -> None:
    """Web and services reach cached values through the storage, never a cache directly."""
    found = []
    for package in ("web", "services", "oauth"):
        for rel, tree in modules(package):
            for name in imported(tree):
                if name.startswith("frontdesk.store.caching.") and not name.endswith(".CachingStorage"):
                    found.append(f"{rel} imports {name}")
            found += [
                f"{rel}:{n.lineno}"
                for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and n.attr == "caches"
            ]
    assert found == []


def test_the_scan_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oauth").mkdir()
    (tmp_path / "oauth" / "bad.py").write_text(
        "from sqlalchemy import select\n\nasync def f(db):\n    await db.commit()\n"
    )
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert offenders("oauth", ("sqlalchemy",)) == [
        "oauth/bad.py imports sqlalchemy",
        "oauth/bad.py imports sqlalchemy.select",
    ]
    assert [line for _, tree in modules("oauth") for line in calls(tree, "commit")] == [4]
