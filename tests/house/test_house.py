"""The house rules of CONTRIBUTING.md, checked on the code itself: no module over 800 lines, no
function over 80 lines (the kernel's month functions excepted, by name), and the import-linter
contracts of pyproject.toml (imports point down the layers, no cycle) kept."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("model", "dashboard")
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 80
#: The kernel's month functions: one flat numba function each, long by design (ODD §7).
KERNEL_MONTH_FUNCTIONS = {"model/core/kernel.py": {"_utilities", "_act", "_apply", "_run"}}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _long_functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append((node.name, n))
    return out


def test_no_module_is_over_the_limit():
    too_long = {str(p.relative_to(ROOT)): n for p in _sources()
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_no_function_is_over_the_limit():
    bad = []
    for p in _sources():
        rel = p.relative_to(ROOT).as_posix()
        allowed = KERNEL_MONTH_FUNCTIONS.get(rel, set())
        bad += [f"{rel}:{name} ({n} lines)" for name, n in _long_functions(p)
                if name not in allowed]
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines: {bad}"


def test_the_checker_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    f = tmp_path / "m.py"
    f.write_text(f"def long():\n{body}\n    return 0\n")
    assert _long_functions(f) == [("long", MAX_FUNCTION_LINES + 2)]


def _lint_imports() -> Path:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports (import-linter) is not installed: run `uv sync`")
    return Path(exe)


def test_import_contracts_are_kept():
    out = subprocess.run([str(_lint_imports())], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_an_upward_import_breaks_the_contract(tmp_path):
    copy = tmp_path / "copy"
    for name in (*PACKAGES, "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
        else:
            shutil.copy(src, copy / name)
    paths = copy / "model" / "io" / "paths.py"
    # An import inside a function counts too.
    paths.write_text(paths.read_text() + "\n\ndef _probe():\n    from model.cli import main\n"
                     "    return main\n")
    out = subprocess.run([str(_lint_imports())], cwd=copy, capture_output=True, text=True,
                         check=False, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert "model.io.paths -> model.cli" in out.stdout
