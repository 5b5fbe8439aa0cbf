"""The house rules of the code base, kept by a test: small modules and functions, one error family,
one home for the routing volume's names, and a `--help` that shows operators only their commands."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import pkgutil
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import bluegreen
from bluegreen import errors
from bluegreen.cli.main import main, version
from bluegreen.router import layout
from bluegreen.router.render import router_js
from lab.paths import ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Each exception says why; a new one needs a reason as good.
MODULE_EXCEPTIONS = {
    "policies/rules.py": "the published pack loads it as one top-level module beside __main__.py, and every rule "
    "registers itself there; the pack has no package for its rules to be split into",
}
FUNCTION_EXCEPTIONS: dict[str, str] = {}

SOURCES = sorted(p for d in ("bluegreen", "components", "policies") for p in (ROOT / d).rglob("*.py"))


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    return [
        (node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_the_rules_see_every_source() -> None:
    assert len(SOURCES) > 60 and ROOT / "bluegreen" / "release" / "switch.py" in SOURCES


def test_no_module_is_longer_than_the_limit() -> None:
    long = {}
    for path in SOURCES:
        name = str(path.relative_to(ROOT))
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES and name not in MODULE_EXCEPTIONS:
            long[name] = lines
    assert long == {}, f"split these by concept (docs/architecture.md): {long}"


def test_no_function_is_longer_than_the_limit() -> None:
    long = {}
    for path in SOURCES:
        for name, lines in _functions(path):
            where = f"{path.relative_to(ROOT)}:{name}"
            if lines > MAX_FUNCTION_LINES and where not in FUNCTION_EXCEPTIONS:
                long[where] = lines
    assert long == {}, f"give these named phases: {long}"


def test_the_exceptions_are_still_needed() -> None:
    """An exception that no longer applies is removed, so it cannot cover a new long module later."""
    for name in MODULE_EXCEPTIONS:
        assert len((ROOT / name).read_text().splitlines()) > MAX_MODULE_LINES, name


def _all_modules() -> list[str]:
    found = ["bluegreen"]
    for info in pkgutil.walk_packages(bluegreen.__path__, "bluegreen."):
        if not info.name.endswith("__main__"):
            found.append(info.name)
    return found


def test_every_error_class_is_one_of_the_family_in_errors_py() -> None:
    strays = []
    checked = 0
    for name in _all_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            checked += 1
            if name != "bluegreen.errors" or not issubclass(cls, errors.BluegreenError):
                strays.append(f"{name}.{cls.__name__}")
    assert checked >= 20 and strays == [], strays


def test_every_error_has_an_exit_code_from_the_table() -> None:
    family = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.BluegreenError)]
    assert len(family) >= 20
    assert {c.exit_code for c in family} <= set(errors.EXIT_CODES)


# --- the routing volume's names: written once ------------------------------------------------------


def test_router_js_keeps_the_rendered_layout_block() -> None:
    """router.js is run as it is by node (tests/unit/js) and rendered by render.router_js: both must agree."""
    text = (ROOT / "bluegreen" / "router" / "router.js").read_text()
    assert layout.js_constants() in text
    assert router_js() == text


def test_router_js_spells_no_volume_name_outside_its_block() -> None:
    text = (ROOT / "bluegreen" / "router" / "router.js").read_text()
    body = text.split(layout.JS_BLOCK_END, 1)[1]
    code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("//"))
    for value in layout.JS_NAMES.values():
        assert f'"{value}' not in code, f"router.js spells {value!r}: use its constant"


def _shell_code(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("path", sorted((ROOT / "bluegreen" / "router" / "sh").glob("*.sh")), ids=lambda p: p.name)
def test_scripts_take_every_volume_name_from_the_layout(path: Path) -> None:
    code = _shell_code(path)
    for variable, value in layout.SHELL_NAMES.items():
        pattern = rf"(?<![\w$.-]){re.escape(value)}(?![\w-])"
        assert not re.search(pattern, code), f"{path.name} spells {value!r}: use ${variable}"


def test_the_layout_check_catches_a_copy() -> None:
    """The check above can fail: a script that spells a name is caught."""
    pattern = rf"(?<![\w$.-]){re.escape(layout.LOCK_DIR)}(?![\w-])"
    assert re.search(pattern, 'mkdir "$1/lock.d"') and not re.search(pattern, 'mkdir "$1/$BG_LOCK_DIR"')


def test_python_spells_no_volume_name_outside_the_layout() -> None:
    distinctive = {
        v
        for v in (*layout.SHELL_NAMES.values(), *layout.JS_NAMES.values(), layout.ROUTING_DIR)
        if re.search(r"[./-]", v)
    }
    # The Docker client's TLS folder has files of the same names by Docker's own convention (DOCKER_CERT_PATH).
    docker_tls = {layout.CERTIFICATE_FILE, layout.KEY_FILE}
    copies = []
    for path in SOURCES:
        if path == ROOT / "bluegreen" / "router" / "layout.py":
            continue
        engine = path.is_relative_to(ROOT / "bluegreen" / "engine")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or (
                engine and node.value in docker_tls
            ):
                continue
            if node.value in distinctive:
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert len(distinctive) >= 8 and copies == [], copies


# --- the command line ----------------------------------------------------------------------------


def _help() -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer), pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    return buffer.getvalue()


def test_help_lists_operator_commands_only() -> None:
    text = _help()
    for command in ("validate", "switch", "rollback", "rollout", "status", "metrics", "maintenance", "image"):
        assert re.search(rf"^\s+{command}\s", text, flags=re.M), command
    for plumbing in ("pids-limit", "seed-routing", "hook"):
        assert not re.search(rf"^\s+{plumbing}\b", text, flags=re.M), plumbing
    assert "--source" not in text


def test_program_only_commands_still_answer() -> None:
    buffer = io.StringIO()
    with redirect_stdout(buffer), pytest.raises(SystemExit) as done:
        main(["seed-routing", "--help"])
    assert done.value.code == 0 and "--volume" in buffer.getvalue()


def test_version_prints_the_installed_version() -> None:
    buffer = io.StringIO()
    with redirect_stdout(buffer), pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert buffer.getvalue().strip() == f"bluegreen {version()}" and re.match(r"\d+\.\d+", version())


@pytest.mark.parametrize("folder", ["bench", "lab", "bluegreen", "components", "policies"])
def test_shared_code_imports_no_tests(folder: str) -> None:
    """bench/ and the lab are what tests and benchmarks share: neither may lean on the test suite."""
    leaning = []
    files = sorted((ROOT / folder).rglob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            leaning += [f"{path.relative_to(ROOT)}: {m}" for m in modules if m == "tests" or m.startswith("tests.")]
    assert files and leaning == [], leaning
