"""The package's shape, read from its source: imports run one way through the flow, and the
declared dependencies are exactly the ones the code imports.

contract → reading → checks → outputs → history → cli: a module may import its own step or a lower
one, never a higher one (imports inside functions included). `udfs/` (the Excel side) sits beside
`cli` at the top.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "acv_xl"
LAYERS = ["contract", "reading", "checks", "outputs", "history"]
TOP = len(LAYERS)  # cli, __main__, __init__ and udfs/


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    return _imports_of(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def _imports_of(text: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the text, relative ones resolved."""
    here = module.split(".")
    package = here if is_package else here[:-1]
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from acv_xl.checks import totals` imports acv_xl.checks.totals
            out.extend((node.lineno, f"{name}.{a.name}") for a in node.names)
            out.append((node.lineno, name))
    return out


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] == "udfs":
        return TOP
    if parts[0] != "acv_xl":
        return None
    if len(parts) == 1 or parts[1] in ("cli", "__main__"):
        return TOP
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def _sources(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py")) if "server_project" not in p.parts]


def test_every_module_sits_in_a_step_of_the_flow():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "cli.py")]
    assert not loose, f"modules hors de toute étape du flux : {loose}"
    for step in LAYERS:
        init = PACKAGE / step / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "May import" in doc, f"{init} doit dire ce qu'il contient et ce qu'il peut importer"


def test_imports_run_one_way():
    wrong = []
    for path in _sources("acv_xl"):
        mine = _layer(_module_name(path))
        assert mine is not None, path
        for line, target in _imports(path):
            theirs = _layer(target)
            if theirs is not None and theirs > mine and _module_name(path) != "acv_xl":
                wrong.append(f"{path.relative_to(ROOT)}:{line} importe {target}")
            if target.split(".")[0] == "udfs" and mine != TOP:
                wrong.append(f"{path.relative_to(ROOT)}:{line} importe le côté Excel ({target})")
    assert not wrong, "\n".join(wrong)


def test_the_core_never_imports_xlwings():
    found = [f"{p.relative_to(ROOT)}:{line}" for p in _sources("acv_xl")
             for line, target in _imports(p) if target.split(".")[0] in ("xlwings", "xlwings_server")]
    assert not found, found


def test_the_layer_test_would_catch_an_upward_import():
    # the reader of imports itself: an upward import written either way, even inside a function
    text = "from acv_xl.outputs import report\ndef f():\n    from ..outputs.annex import run_annexe\n"
    targets = {t for _, t in _imports_of(text, "acv_xl.checks.validate")}
    assert {"acv_xl.outputs.report", "acv_xl.outputs.annex"} <= targets
    assert _layer("acv_xl.outputs.report") > _layer("acv_xl.checks.validate")


# ----------------------------------------------------------------------------- dependencies
# our own packages and the helper modules beside the tests and benchmarks
_LOCAL = {"acv_xl", "udfs", "tests", "benchmarks", "__future__"} | {p.stem for f in ("tests", "benchmarks") for p in (ROOT / f).glob("*.py")}


def _third_party(paths: list[Path]) -> set[str]:
    """Distributions imported by these files (standard library and our own packages left out)."""
    dists = packages_distributions()
    out = set()
    for p in paths:
        for _line, target in _imports(p):
            top = target.split(".")[0]
            if not top or top in sys.stdlib_module_names or top in _LOCAL:
                continue
            out.add(_norm((dists.get(top) or [top])[0]))  # not installed (an optional tool): its own name
    return out


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _declared(specs: list[str]) -> set[str]:
    import re

    return {_norm(re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0]) for s in specs}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_runtime_dependencies_are_exactly_what_the_package_imports(project):
    assert _declared(project["dependencies"]) == _third_party(_sources("acv_xl"))


def test_the_excel_extra_covers_what_udfs_imports(project):
    needed = _third_party(_sources("udfs")) - _declared(project["dependencies"])
    assert needed <= _declared(project["optional-dependencies"]["excel"]), needed


def test_the_test_extra_covers_what_tests_and_benchmarks_import(project):
    declared = (_declared(project["dependencies"]) | _declared(project["optional-dependencies"]["excel"])
                | _declared(project["optional-dependencies"]["test"])
                | _declared(project["optional-dependencies"]["bench"]))
    needed = _third_party(_sources("tests", "benchmarks")) - {"pytest"}
    assert needed <= declared, needed - declared


def _numbers_written(value: int) -> list[str]:
    """The modules (one per literal) where the integer `value` is written in the package and `udfs/`,
    a cache's `maxsize=` aside (a size, not a limit of Excel)."""
    found = []
    for p in _sources("acv_xl", "udfs"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        sizes = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "maxsize"}
        found += [_module_name(p) for node in ast.walk(tree) if isinstance(node, ast.Constant)
                  and type(node.value) is int and node.value == value and id(node) not in sizes]
    return found


def test_excel_limits_are_written_once():
    """A cell's 32 767 characters and the grid's 1 048 576 rows and 16 384 columns are constants of the
    contract: STR-10, the writers that cut a text, the register's bound on an amount's digits, the
    migration's walk, the annotated copy, the server's check of an address and the evolution's
    widest sheet read them, so none can drift from the others."""
    from acv_xl.contract.values import EXCEL_CELL_CHARS, EXCEL_COLUMNS, EXCEL_ROWS

    assert (EXCEL_CELL_CHARS, EXCEL_ROWS, EXCEL_COLUMNS) == (32_767, 1_048_576, 16_384)  # Excel's own
    for limit in (32_767, 1_048_576, 16_384):
        assert _numbers_written(limit) == ["acv_xl.contract.values"], limit
