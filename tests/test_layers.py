"""The layers point down: oioi ← mock_server ← conformance ← oioi_load ← examples ← oioi_cli (ARCHITECTURE.md); no
function is long.

A module may use its own layer and those below it. An upward use is an ``import``, and also a
lazy one (``importlib.import_module``, ``importlib.util.find_spec``, ``__import__``) or a child
process started with ``-m <package>``. The reference implementations in examples/ are
independent witnesses: from the layers below they may take plumbing (serving, errors, result
codes, masking), never what judges a message (the validator, the schemas, the generators).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("oioi", "mock_server", "conformance", "oioi_load", "examples", "oioi_cli")
REFERENCES = ("examples/_reference", "examples/reference_cpo", "examples/reference_emp")
# What a reference implementation may use of the harness: nothing here decides validity.
REFERENCE_MAY_USE = {"oioi", "oioi.errors", "oioi.results", "oioi.serving", "oioi._secrets"}
REFERENCE_MAY_IMPORT_FROM_OIOI = {"mask", "results", "serving", "errors"}
LAZY_IMPORTS = {"import_module", "find_spec", "__import__"}
JUDGING_LIBRARIES = ("jsonschema", "jsonschema_rs", "hypothesis")  # a reference needs none of these to judge


def used_modules(source: str) -> list[tuple[int, str, str]]:
    """(line, module, how) for every module ``source`` uses: imports, lazy imports, ``-m`` children."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "import") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}", "from-import") for alias in node.names]
        elif isinstance(node, ast.Call) and _called_name(node.func) in LAZY_IMPORTS and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value, "lazy import"))
        elif isinstance(node, ast.List | ast.Tuple):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            found += [(node.lineno, str(after), "-m child process")
                      for before, after in itertools.pairwise(items)
                      if before == "-m" and isinstance(after, str)]
    return found


def _called_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def upward_uses(layer: str, source: str) -> list[str]:
    """The uses in a module of ``layer`` of a layer above it."""
    rank = LAYERS.index(layer)
    return [f"line {line}: {how} of {module}" for line, module, how in used_modules(source)
            if module.split(".")[0] in LAYERS and LAYERS.index(module.split(".")[0]) > rank]


def judging_uses(source: str) -> list[str]:
    """What a reference implementation takes from the harness beyond plumbing."""
    return [f"line {line}: {how} of {module}" for line, module, how in used_modules(source)
            if _harness(module) and not _plumbing(module, how)]


def _harness(module: str) -> bool:
    top = module.split(".")[0]
    return (top in LAYERS and top != "examples") or top in JUDGING_LIBRARIES


def _plumbing(module: str, how: str) -> bool:
    if how == "from-import":
        package, _, name = module.rpartition(".")
        return package in REFERENCE_MAY_USE and (package != "oioi" or name in REFERENCE_MAY_IMPORT_FROM_OIOI)
    return module in REFERENCE_MAY_USE - {"oioi"}


def modules() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_uses_a_layer_above_its_own(path: Path) -> None:
    layer = path.relative_to(ROOT).parts[0]
    assert upward_uses(layer, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", [p for p in modules() if str(p.relative_to(ROOT)).startswith(REFERENCES)],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_the_references_judge_with_nothing_of_the_harness(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert judging_uses(source) == []
    assert "schemas/" not in source  # nor do they read the harness's schemas


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("oioi", "from conformance._catalogue import requirement"),
        ("oioi", "import mock_server"),
        ("oioi", "def f():\n    from examples import demo\n"),
        ("mock_server", "importlib.import_module('conformance.cli')"),
        ("conformance", "importlib.util.find_spec('examples.reference_cpo')"),
        ("conformance", "command = [sys.executable, '-m', 'oioi_cli', 'mock', 'emp']"),
        ("examples", "__import__('oioi_cli')"),
    ],
    ids=lambda value: value if value in LAYERS else "",
)
def test_an_upward_use_is_caught(layer: str, source: str) -> None:
    assert len(upward_uses(layer, source)) == 1


@pytest.mark.parametrize(
    "source",
    ["from oioi import validate", "from oioi._schemas import calls", "import oioi.strategies",
     "from mock_server import create_app", "from oioi._validate import validate", "import jsonschema"],
)
def test_a_reference_that_judges_with_the_harness_is_caught(source: str) -> None:
    assert len(judging_uses(source)) == 1


def test_downward_uses_and_plumbing_pass() -> None:
    assert upward_uses("conformance", "from oioi import validate\nimport mock_server.client\n"
                                      "cmd = ['-m', 'mock_server', 'emp']") == []
    assert judging_uses("from oioi import mask, serving\nfrom oioi.results import result\n"
                        "from oioi.errors import ConfigError\nimport oioi.serving") == []


MAX_FUNCTION_LINES = 50  # STYLE.md: "a function over 50 lines ... needs a reason"


def long_functions(source: str) -> list[str]:
    """The functions of ``source`` longer than `MAX_FUNCTION_LINES`, from their `def` to their last line."""
    return [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_function_is_longer_than_fifty_lines(path: Path) -> None:
    assert long_functions(path.read_text(encoding="utf-8")) == []


def test_a_long_function_is_caught() -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def long():\n{body}\n") == [f"long ({MAX_FUNCTION_LINES + 1} lines)"]
