"""Reading naba's own YAML files (run configs, label schemes): safe, and a key given twice is an error.

PyYAML keeps the last of two equal keys without a word, so a second ``data:`` section (or a layer
named twice) would silently replace the first. An integer written with leading zeros is decimal
(YAML 1.2's reading), not YAML 1.1's octal: ``run.seed=010`` is 10, not 8; and numbers with colons,
YAML 1.1's base 60, are text as YAML 1.2 reads them: ``run.seed=1:30`` is refused, not 90, and
``run.name=12:30`` is the name 12:30.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml

from naba.errors import ConfigError

# YAML aliases share one object, so a 300-byte file ("billion laughs") loads as a list of 10**9
# strings in no time; only its repr in an error message would be gigabytes. Errors show values
# through this: containers cut to six items and two levels, strings kept up to 200 characters.
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 200
_SHOWN.maxlevel = 2


def shown(value: Any) -> str:
    """``repr(value)`` of bounded size, for error messages about values read from YAML."""
    return _SHOWN.repr(value)


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *base" may be overridden on purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    twice = key in seen
                except TypeError:
                    continue  # an unhashable key; the base constructor says so
                if twice:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark, f"found key {key!r} twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        if _LEADING_ZEROS.fullmatch(text):
            return int(text.replace("_", ""))
        if ":" in text:
            return text  # YAML 1.1's base 60 (1:30 is 90), which YAML 1.2 dropped: text, as written
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        return text if ":" in text else super().construct_yaml_float(node)  # base 60 again (1:30.5)


# PyYAML's YAML 1.1 reads 010 as octal, so run.seed=010 trained with seed 8 without a word; a
# researcher (and YAML 1.2) means ten. 08 and 09, no octal, stay strings to the resolver (as the
# dumper quotes none of them, a saved "08" must load back as it was), and naba's config takes a
# string of digits for an integer field.
_LEADING_ZEROS = re.compile(r"[-+]?0[0-7_]+")
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _UniqueKeyLoader.construct_yaml_float)


def load(text: str):
    """``yaml.safe_load(text)``, except that a mapping with a key given twice is a ``yaml.YAMLError``
    whose message names the key and its line. Nesting deeper than Python's recursion limit (PyYAML
    composes recursively) is a ``yaml.YAMLError`` too, not a RecursionError traceback."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def load_file(path: Path, what: str) -> Any:
    """The YAML in ``path``; a ConfigError ``"PATH: cannot read WHAT: line L, column C: problem"`` when
    the file cannot be read, is not UTF-8, or is not YAML (a key given twice included)."""
    from naba.corpus.fileio import utf16_problem  # here: naba.corpus imports this module

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from None
    # a file PowerShell 5's > or Notepad's 'Unicode' wrote: "can't decode byte 0xff" said nothing of
    # why, and one without a byte order mark decoded, NULs and all ("special characters are not allowed")
    if (why := utf16_problem(data)) is not None:
        raise ConfigError(f"{path}: cannot read {what}: {why}")
    try:
        return load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {describe(exc)}") from None


def describe(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where, what, and in what."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return " ".join(str(exc).split())
    mark = exc.problem_mark
    context = f" ({exc.context}, line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}"
