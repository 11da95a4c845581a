"""The Python the README and data cards show: every name they import exists, every call fits its signature.

Snippets are read, not run (they need a trained run and ANERcorp); what goes stale when code moves
on is a renamed function, a removed keyword or an import from the wrong module, and that is checked.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "data").glob("**/*.md"))]


def snippets() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.M | re.S):
            line = text.count("\n", 0, m.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", m.group(1)))
    return found


def _resolve(node: ast.expr, names: dict[str, object]) -> object | None:
    # a name the snippet imported, or an attribute path on one (formats.read, Tagger.from_pretrained)
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, names)
        return None if owner is None else getattr(owner, node.attr)
    return None


SNIPPETS = snippets()


def test_the_docs_have_python_snippets() -> None:
    assert len(SNIPPETS) >= 4  # formats/split, eval, Tagger, load_anercorp


@pytest.mark.parametrize(("where", "code"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_snippet_imports_exist_and_calls_fit_their_signatures(where: str, code: str) -> None:
    tree = ast.parse(code)
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):  # a submodule (from naba.corpus import formats)
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ModuleNotFoundError:
                        pytest.fail(f"{where}: {node.module} has no {alias.name}")
                names[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = _resolve(node.func, names)
            if func is None:  # a value the snippet made (tagger(...)): its type is not known here
                continue
            signature = inspect.signature(func)
            args = [None] * len(node.args)
            kwargs = {k.arg: None for k in node.keywords if k.arg is not None}
            try:
                signature.bind_partial(*args, **kwargs)
            except TypeError as exc:
                pytest.fail(f"{where}: {ast.unparse(node)} does not fit {func.__qualname__}{signature}: {exc}")


def dotted_names() -> list[str]:
    # `naba.x.y` where the docs send the reader (naba.json is the checkpoint's file, not a module)
    found = {m for path in DOCS for m in re.findall(r"`(naba(?:\.\w+)+)", path.read_text(encoding="utf-8"))}
    return sorted(found - {"naba.json"})


@pytest.mark.parametrize("name", dotted_names())
def test_names_the_docs_point_to_exist_with_a_docstring(name: str) -> None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):  # the longest module prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            assert hasattr(obj, attr), f"{name}: {'.'.join(parts[:i])} has no {attr}"
            obj = getattr(obj, attr)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
        return
    pytest.fail(f"{name}: no such module")


def command_lines() -> list[tuple[str, list[str]]]:
    """Every ``naba ...`` (or ``-m naba.train ...``) line of the docs' bash blocks as the argv naba gets,
    with its ``[--optional ...]`` parts given and its count placeholders (K, N) filled in."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^```bash\n(.*?)^```", text, flags=re.M | re.S):
            first = text.count("\n", 0, m.start()) + 2
            for i, line in enumerate(m.group(1).splitlines()):
                code, _, comment = line.partition(" #")
                for alt, command in enumerate((code, comment.strip().removeprefix("or:"))):  # "# or: python -m ..."
                    if not re.match(r"\s*naba |.* -m naba\.train ", command):
                        continue
                    words = shlex.split(re.sub(r"\[(--[^\]]*)\]", r"\1", command))
                    argv = words[1:] if words[0] == "naba" else ["train", *words[words.index("naba.train") + 1:]]
                    argv = ["3" if w in ("K", "N") else w for w in argv]
                    found.append((f"{path.relative_to(ROOT)}:{first + i}{'-or' if alt else ''}", argv))
    return found


COMMANDS = command_lines()


def test_the_docs_have_command_lines() -> None:
    assert {argv[0] for _, argv in COMMANDS} >= {"data", "train", "eval", "predict", "tag", "render"}


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_lines_parse(where: str, argv: list[str]) -> None:
    from naba import yamlio
    from naba.cli import build_parser
    from naba.train.commands import _add_flags
    from naba.train.config import TrainConfig, _assign

    try:
        args = build_parser(argv).parse_args(argv)
        # naba train: flags after the config come in its overrides, and naba train parses them there
        late = argparse.ArgumentParser(add_help=False, exit_on_error=False)
        _add_flags(late)
        overrides = late.parse_known_args(getattr(args, "overrides", None) or [])[1]
    except (SystemExit, argparse.ArgumentError):
        pytest.fail(f"{where}: naba {shlex.join(argv)} does not parse")
    # naba train's key=value overrides: each names a real key and has a value of its type
    for item in overrides:
        key, _, value = item.partition("=")
        _assign(TrainConfig(), key, yamlio.load(value) if value else None, source=where, base=ROOT)
