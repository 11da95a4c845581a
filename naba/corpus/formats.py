"""The format registry: pick a reader or writer by name or by a file's extension.

* ``jsonl`` (alias ``native``): ``.jsonl`` files, :mod:`naba.corpus.jsonl`
* ``doccano``: also ``.jsonl``, so it must be named, :mod:`naba.corpus.doccano`
* ``labelstudio`` (``ls``): ``.json``, :mod:`naba.corpus.labelstudio`
* ``brat``: ``.ann``, a folder, or (when reading) a ``.txt`` with an ``.ann`` beside it, :mod:`naba.corpus.brat`
* ``conll`` (``bio``, ``iob``): ``.conll``, ``.txt``, ``.bio``, ``.iob``, :mod:`naba.corpus.conll`

Extensions count in any case (``X.ANN``, ``X.TXT``), here and in the readers they pick.

Reader and writer options (``bio_repair``, ``discontinuous``, ``offsets``, ...) pass through as
keywords; an option the chosen format does not have is a :class:`ConfigError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from naba.corpus.brat import beside, has_suffix, read_brat, write_brat
from naba.corpus.conll import read_conll, write_conll
from naba.corpus.doccano import read_doccano, write_doccano
from naba.corpus.document import Document
from naba.corpus.fileio import COMPRESSED_SUFFIXES, visible_files
from naba.corpus.jsonl import read_jsonl, write_jsonl
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.labelstudio import read_labelstudio, write_labelstudio
from naba.errors import ConfigError, DataError, Problem

READERS: dict[str, Callable[..., list[Document]]] = {
    "jsonl": read_jsonl,
    "doccano": read_doccano,
    "labelstudio": read_labelstudio,
    "brat": read_brat,
    "conll": read_conll,
}
WRITERS: dict[str, Callable[..., None]] = {
    "jsonl": write_jsonl,
    "doccano": write_doccano,
    "labelstudio": write_labelstudio,
    "brat": write_brat,
    "conll": write_conll,
}
ALIASES = {"native": "jsonl", "label-studio": "labelstudio", "ls": "labelstudio", "bio": "conll", "iob": "conll"}
SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "labelstudio",
    ".ann": "brat",
    ".conll": "conll",
    ".txt": "conll",
    ".bio": "conll",
    ".iob": "conll",
}
FORMATS = tuple(READERS)


def canonical(name: str) -> str:
    """The registry name for a format name or alias; ConfigError for an unknown one."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in READERS:
        raise ConfigError(f"unknown format {name!r}; known: {', '.join(FORMATS)} (aliases: {', '.join(ALIASES)})")
    return key


def detect(path: str | Path) -> str:
    """The format a path holds, from its extension (a folder is brat). DataError if unknown."""
    path = Path(path)
    if path.is_dir():
        return "brat"
    suffix = path.suffix.lower()
    if not suffix and not path.exists():
        # a mistyped brat folder: its missing extension is not what is wrong
        raise DataError(Problem(str(path), "", "no such file or folder"))
    if suffix == ".txt" and beside(path, ".ann"):
        return "brat"
    if suffix in COMPRESSED_SUFFIXES:
        # "name it (jsonl, ...)" led to --format jsonl, which read the compressed bytes: "invalid UTF-8 (byte 0x8b)"
        raise DataError(Problem(str(path), "", f"a compressed file ({suffix}): corpus files are read as they are; "
                                "decompress it first (naba predict alone reads compressed JSONL input)"))
    if suffix not in SUFFIXES:
        raise DataError(
            Problem(str(path), "", f"cannot tell the format from {suffix or 'no extension'!r}; name it ({', '.join(FORMATS)})")
        )
    return SUFFIXES[suffix]


def options(fmt: str, *, writer: bool = False) -> set[str]:
    """The keyword options the reader (or writer) of ``fmt`` accepts, besides ``scheme``."""
    func = (WRITERS if writer else READERS)[canonical(fmt)]
    params = inspect.signature(func).parameters.values()
    return {p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "scheme"}


def _check_options(fmt: str, opts: dict[str, Any], *, writer: bool) -> None:
    unknown = sorted(set(opts) - options(fmt, writer=writer))
    if unknown:
        what = "writer" if writer else "reader"
        raise ConfigError(f"the {fmt} {what} has no option(s) {unknown}; it has {sorted(options(fmt, writer=writer))}")


def read(
    path: str | Path, *, format: str | None = None, scheme: LabelScheme = DEFAULT_SCHEME, **opts: Any
) -> list[Document]:
    """Read documents from ``path`` in ``format`` (default: from the extension)."""
    fmt = canonical(format) if format else detect(path)
    _check_options(fmt, opts, writer=False)
    return READERS[fmt](path, scheme=scheme, **opts)


def write(
    docs: Iterable[Document],
    path: str | Path,
    *,
    format: str | None = None,
    scheme: LabelScheme = DEFAULT_SCHEME,
    **opts: Any,
) -> None:
    """Write documents to ``path`` in ``format`` (default: :func:`output_format`)."""
    fmt = output_format(path, format=format)
    _check_options(fmt, opts, writer=True)
    WRITERS[fmt](docs, path, scheme=scheme, **opts)


def output_format(path: str | Path, *, format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given, else from the extension (none: a brat folder).

    A ``.txt`` is CoNLL even with an ``.ann`` of its name beside it: that pairing is how brat is
    read, and writing brat to ``X.txt`` would make a folder of that name.
    """
    path = Path(path)
    if format:
        return canonical(format)
    if path.is_dir() or not path.suffix:
        return "brat"
    if path.suffix.lower() == ".txt":
        return SUFFIXES[".txt"]
    return detect(path)


def suffixes(fmt: str) -> tuple[str, ...]:
    """The file extensions a format is read from (doccano shares ``.jsonl`` with the native format)."""
    fmt = canonical(fmt)
    return (".jsonl",) if fmt == "doccano" else tuple(s for s, f in SUFFIXES.items() if f == fmt)


def discover(folder: str | Path, *, format: str | None = None) -> list[tuple[Path, str]]:
    """Every file under ``folder`` (recursively) that a reader recognises, with its format.

    With ``format``, only files with that format's extensions, all read as ``format``. Hidden
    files and folders are skipped; a ``.txt`` beside an ``.ann`` is part of a brat pair.
    """
    fmt = canonical(format) if format else None
    wanted = suffixes(fmt) if fmt else tuple(SUFFIXES)
    root = Path(folder)
    files = visible_files(root)
    paired = {(p.parent, p.stem) for p in files if has_suffix(p, ".ann")}  # an .ann's text is no CoNLL file
    found = []
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in wanted or (suffix == ".txt" and (path.parent, path.stem) in paired):
            continue
        found.append((path, fmt or SUFFIXES[suffix]))
    return found
