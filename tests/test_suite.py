"""The suite's own rules: shared helpers live in ``tests/fakes/``, so no test module (nor a
conftest, nor a fake) imports another test module, and one file runs alone as it runs with
the rest."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imports(source: str, package: str) -> list[tuple[int, str]]:
    """Every ``tests`` module that ``source`` (a module of ``package``) imports: absolute or
    relative, at module level or inside a function."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            if base == "tests":  # ``from tests import conftest``: the names are modules
                found += [(node.lineno, f"tests.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] == "tests"]


def _shared(module: str) -> bool:
    return module == "tests.fakes" or module.startswith("tests.fakes.")


def test_no_test_module_imports_another() -> None:
    offending = []
    for path in sorted(TESTS.rglob("*.py")):
        package = ".".join(path.relative_to(TESTS.parent).parts[:-1])
        for line, module in _imports(path.read_text("utf-8"), package):
            if not _shared(module):
                offending.append(f"{path.relative_to(TESTS.parent)}:{line} imports {module}")
    assert offending == [], "move what is shared into tests/fakes/:\n" + "\n".join(offending)


def test_the_rule_sees_every_kind_of_import() -> None:
    source = (
        "import tests.api.test_routes\n"
        "from tests.conftest import MASTER_KEY\n"
        "from tests import conftest, fakes\n"
        "from .test_apps import acme\n"
        "from ..fakes.apps import acme as shared\n"
        "def helper():\n"
        "    from tests.domain.test_patterns import within\n"
    )
    modules = [name for _, name in _imports(source, "tests.service")]
    assert [m for m in modules if not _shared(m)] == [
        "tests.api.test_routes",
        "tests.conftest",
        "tests.conftest",
        "tests.service.test_apps",
        "tests.domain.test_patterns",
    ]
    assert sorted(m for m in modules if _shared(m)) == ["tests.fakes", "tests.fakes.apps"]
