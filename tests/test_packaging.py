"""naba as pip installs it: the wheel built from pyproject.toml holds every file the package holds,
and pyproject.toml declares every package naba imports.

CI installs naba editable (``pip install -e``), which runs from the source tree, so a file left out
of the wheel shows only to a user who installs it; here the wheel is built and its listing checked.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def package_files() -> set[str]:
    """Every file under naba/ but bytecode, as wheel paths."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "naba").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    # built from a copy: setuptools writes build/ and naba.egg-info/ beside pyproject.toml
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "naba", src / "naba", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    code = "import setuptools.build_meta as b; print(b.build_wheel('dist'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    wheel = src / "dist" / result.stdout.split()[-1]
    with zipfile.ZipFile(wheel) as z:
        return {n for n in z.namelist() if not n.startswith("naba-")}


@pytest.mark.slow
def test_wheel_holds_py_typed(wheel_files: set[str]) -> None:
    # PEP 561: without it type checkers ignore naba's annotations in an installed naba
    assert "naba/py.typed" in wheel_files


@pytest.mark.slow
def test_wheel_holds_every_package_file(wheel_files: set[str]) -> None:
    assert sorted(package_files() - wheel_files) == []


def _top_level_imports() -> list[str]:
    """The third-party modules naba's code imports (top level names, anywhere in a module)."""
    found: set[str] = set()
    for path in (ROOT / "naba").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return sorted(found - set(sys.stdlib_module_names) - {"naba", "__future__"})


def _declared() -> set[str]:
    """Distribution names pyproject.toml requires, extras included, normalised (PEP 503)."""
    tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml with tomllib (Python >= 3.11)")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return {_normalise(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("module", _top_level_imports())
def test_every_import_is_declared(module: str) -> None:
    # a module that another dependency happens to pull in today may be dropped by its next release
    dists = importlib.metadata.packages_distributions().get(module)
    if not dists:
        pytest.skip(f"{module} is not installed here, so its distribution is unknown")
    assert {_normalise(d) for d in dists} & _declared(), f"{module} ({', '.join(dists)}) is not in pyproject.toml"
