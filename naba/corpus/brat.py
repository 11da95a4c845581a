"""brat standoff: ``X.txt`` holds the text, ``X.ann`` the annotations, offsets in code points.

Only text-bound lines (``T1<TAB>LABEL START END<TAB>span text``) become spans. Relations (R),
events (E), attributes (A, M), normalisations (N), notes (#) and equivalences (*) are ignored:
naba has no place for them. Any other line is an error. The span text, when present, must equal
the text at the offsets (line breaks inside a span compare equal to spaces, as brat writes them).

Discontinuous spans (``T1<TAB>LABEL 0 5;8 12<TAB>...``): ``discontinuous="error"`` (default) reports
the file, line and fragments; ``"merge"`` makes one span from the first start to the last end;
``"split"`` makes one span per fragment. Fragments in order with only whitespace between them
that holds a line break or a tab are one continuous span under every policy: that is how brat
itself writes a selection over a line break or a tab, since an .ann line cannot hold a line break
and brat refuses a span text that is not the text at its offsets. The writer writes a span over a
line break so too (one that begins or ends at a line break, which fragments cannot hold, is written
whole: naba reads it, brat does not).

A path may be an ``.ann`` file, its ``.txt`` file, or a folder searched recursively for ``.ann``
files (a ``.txt`` without an ``.ann`` is not a brat document and is skipped; so are hidden files and
folders, such as ``.ipynb_checkpoints/``). Extensions count in
any case (``X.ANN`` with ``X.TXT``, as tools on Windows write them); a pair is the same stem,
exactly. The document id is the file stem, or for a folder the path relative to it without the
suffix (``sub/X``); the writer uses the id the same way, so ids must be safe relative paths.
``meta`` is not stored.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from naba.corpus.document import Document, Span
from naba.corpus.fileio import aside, check_for_write, read_text, staged_files, unknown_label, visible_files
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.validate import check_document, check_unique_ids
from naba.errors import ConfigError, DataError, Problem

DISCONTINUOUS = ("error", "merge", "split")
_IGNORED = tuple("RAEMN#*")
_FRAGMENT = re.compile(r"(\d+) (\d+)")


def read_brat(
    path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME, discontinuous: str = "error"
) -> list[Document]:
    """Read brat documents from an ``.ann``/``.txt`` pair or a folder; one DataError for all problems."""
    if discontinuous not in DISCONTINUOUS:
        raise ConfigError(f"discontinuous must be one of {DISCONTINUOUS}, got {discontinuous!r}")
    path = Path(path)
    problems: list[Problem] = []
    if path.is_dir():
        files = visible_files(path)  # as naba data validate lists them; a folder may be named x.ann
        anns = [p for p in files if has_suffix(p, ".ann")]
        if not anns:
            raise DataError(Problem(str(path), "", "no brat .ann files in this folder"))
        texts: dict[tuple[Path, str], list[Path]] = {}
        for p in files:
            if has_suffix(p, ".txt"):
                texts.setdefault((p.parent, p.stem), []).append(p)
        named = [(ann, ann.relative_to(path).with_suffix("").as_posix(), texts.get((ann.parent, ann.stem), []))
                 for ann in anns]
    elif has_suffix(path, ".ann"):
        named = [(path, path.stem, beside(path, ".txt"))]
    elif has_suffix(path, ".txt"):
        anns = beside(path, ".ann")
        if len(anns) > 1:
            raise DataError(Problem(str(path), "", f"several annotation files next to it ({_names(anns)}); keep one"))
        # without one, reading the .ann that is not there reports it
        ann = anns[0] if anns else path.with_suffix(".ann")
        named = [(ann, path.stem, beside(ann, ".txt"))]
    elif not path.exists():
        raise DataError(Problem(str(path), "", "no such file or folder"))
    else:
        raise DataError(Problem(str(path), "", "a brat path must be an .ann file, a .txt file or a folder"))
    found: list[tuple[str, Document]] = []
    for ann, doc_id, txts in named:
        try:
            read = _read_one(ann, txts, doc_id, scheme, discontinuous, problems)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        if read is not None:
            doc, where, span_where = read
            found.append((str(ann), doc))
            problems.extend(check_document(doc, scheme, source=str(ann), where=where, span_where=span_where))
    problems.extend(check_unique_ids(found, source=str(path)))
    if problems:
        raise DataError(problems)
    return [doc for _, doc in found]


def has_suffix(path: str | Path, suffix: str) -> bool:
    """Whether ``path`` ends in ``suffix`` (``".ann"``, ``".txt"``) in any case: ``X.ANN`` is brat too."""
    return Path(path).suffix.lower() == suffix


def other_documents(folder: str | Path, ids: set[str]) -> list[str]:
    """The ids (sorted) of the brat documents under ``folder`` that are not among ``ids``, hidden files
    aside as the reader skips them: a folder written into keeps them, and they would read back beside
    the new ones."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = (a.relative_to(folder).with_suffix("").as_posix() for a in visible_files(folder) if has_suffix(a, ".ann"))
    return sorted(i for i in found if i not in ids)


def beside(path: Path, suffix: str) -> list[Path]:
    """The files next to ``path`` with its stem and ``suffix`` in any case, sorted: several only on a
    disk that tells case apart (``X.txt`` and ``X.TXT``), where brat's pairing is then ambiguous."""
    # each casing of the suffix is asked for by name (8 for ".ann"), not by listing the folder: format
    # detection runs this for every .txt it is given, and a folder may hold thousands
    found: dict[tuple[int, int], Path] = {}
    for letters in itertools.product(*((c.lower(), c.upper()) for c in suffix[1:])):
        candidate = path.with_name(f"{path.stem}.{''.join(letters)}")
        try:
            if candidate.is_file():
                info = candidate.stat()
                # a disk that ignores case answers for every casing: one file, under its first name
                found.setdefault((info.st_dev, info.st_ino), candidate)
        except OSError:
            continue  # no such folder: the caller reports the missing file
    return sorted(found.values())


def _names(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths)


def _flat(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _read_one(
    ann: Path, txts: list[Path], doc_id: str, scheme: LabelScheme, discontinuous: str, problems: list[Problem]
) -> tuple[Document, str, list[str]] | None:
    """The document of ``ann`` with its text file, the one of ``txts`` (the text files beside it), the
    locator of the document (its text file) and that of each span (``line 3 (T3)``)."""
    source = str(ann)
    if not txts:
        problems.append(Problem(source, "", f"no text file {ann.stem}.txt next to it"))
        return None
    if len(txts) > 1:
        problems.append(Problem(source, "", f"several text files next to it ({_names(txts)}); keep one"))
        return None
    txt = txts[0]
    # offsets count every character of the .txt, a leading U+FEFF included: the writer keeps a
    # text's U+FEFF, so dropping it here would move every span of such a document by one
    text = read_text(txt, keep_bom=True)
    spans: list[Span] = []
    span_where: list[str] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(read_text(ann).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith(_IGNORED):
            continue
        where = f"line {n}"

        def bad(reason: str, where: str = where) -> None:
            problems.append(Problem(source, where, reason))

        if not line.startswith("T"):
            bad(f"unknown annotation line {line[:30]!r} (expected T, R, E, A, M, N, # or *)")
            continue
        fields = line.split("\t")
        head = fields[1].split(" ", 1) if len(fields) > 1 else []
        if len(head) != 2:
            bad(f"expected 'T<n><TAB>LABEL START END<TAB>text', got {line[:60]!r}")
            continue
        tid, (label, offsets) = fields[0], head
        where = f"line {n} ({tid})"
        if tid in seen:
            bad(f"duplicate annotation id {tid} (first on line {seen[tid]})", where)
            continue
        seen[tid] = n
        frags = [_FRAGMENT.fullmatch(part) for part in offsets.split(";")]
        if not all(frags):
            bad(f"bad offsets {offsets!r}: expected 'START END' or 'START END;START END...'", where)
            continue
        pairs = [(int(m.group(1)), int(m.group(2))) for m in frags if m]
        joined = len(pairs) > 1 and _one_stretch(text, pairs)
        if len(pairs) > 1 and not joined and discontinuous == "error":
            shown = ";".join(f"{s} {e}" for s, e in pairs)
            bad(f"discontinuous span {label} with fragments {shown}: use discontinuous='merge' or 'split'"
                f"{aside('discontinuous', 'merge')}", where)
            continue
        try:
            mapped = scheme.normalize(label)
        except KeyError:
            bad(unknown_label(label, scheme), where)
            continue
        outside = [f"{s} {e}" for s, e in pairs if not 0 <= s < e <= len(text)]
        if outside:
            bad(f"offsets {', '.join(outside)} are not a non-empty range in a text of {len(text)} characters", where)
            continue
        if len(fields) > 2:
            given = "\t".join(fields[2:])
            expected = " ".join(text[s:e] for s, e in pairs)
            if _flat(given) != _flat(expected):
                bad(f"span text {given!r} does not match the text at {offsets}: {expected!r}", where)
                continue
        if mapped is None:
            continue
        if joined or discontinuous == "merge":
            pairs = [(min(s for s, _ in pairs), max(e for _, e in pairs))]
        spans.extend(Span(s, e, mapped) for s, e in pairs)
        span_where.extend([where] * len(pairs))
    doc = Document(doc_id, text, spans, {})
    # Document sorts its spans by offset: their locators follow them, not the .ann's line order
    at = {id(span): w for span, w in zip(spans, span_where, strict=True)}
    return doc, f"text file {txt.name}", [at[id(span)] for span in doc.spans]


def _one_stretch(text: str, pairs: list[tuple[int, int]]) -> bool:
    """Whether the fragments ``pairs`` are one stretch of ``text`` cut at line breaks or tabs (brat's
    fragments of a selection over them): in order, in the text, and between each two whitespace that
    holds one. A gap of spaces alone is a discontinuous span an annotator made."""
    inside = all(0 <= s < e <= len(text) for s, e in pairs)
    return inside and all(
        e < s2 and _CUT.fullmatch(text, e, s2) is not None for (_, e), (s2, _) in itertools.pairwise(pairs)
    )


# a line break to brat, whose .ann lines are split as Python's str.splitlines splits them, with the
# whitespace around it: the cut between two fragments (brat itself also cuts a selection at tabs)
_BREAKS = r"\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
_BREAK = re.compile(rf"\s*[{_BREAKS}]\s*")
_CUT = re.compile(rf"\s*[\t{_BREAKS}]\s*")


def fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The brat fragments of the span ``[start, end)`` of ``text``: the stretches between its line
    breaks (with the whitespace around them), as brat writes a selection over a line break; the span
    whole where it has none, or begins or ends at one (fragments cannot hold that)."""
    cuts = list(_BREAK.finditer(text, start, end))
    if not cuts or cuts[0].start() == start or cuts[-1].end() == end:
        return [(start, end)]
    bounds = [start, *(x for m in cuts for x in m.span()), end]
    return list(zip(bounds[::2], bounds[1::2], strict=True))


def id_problems(ids: Iterable[str], folder: str | Path) -> list[Problem]:
    """Why the documents ``ids`` (in order) cannot each have their own ``<id>.txt`` and ``<id>.ann``
    under ``folder`` (see :func:`id_problem`); empty when they can."""
    seen: dict[str, str] = {}
    return [
        Problem(str(folder), f"document {i} (id={doc_id})", reason)
        for i, doc_id in enumerate(ids)
        if (reason := id_problem(doc_id, seen)) is not None
    ]


def id_problem(doc_id: str, seen: dict[str, str]) -> str | None:
    """Why ``doc_id`` cannot have brat files of its own beside those of the ids in ``seen``, or ``None``
    (and ``doc_id`` is added to ``seen``): an id that is not a safe relative path, or one whose file
    names equal an earlier id's on a disk that ignores case or Unicode normalisation (macOS,
    Windows), where the two would overwrite each other, or whose folder is an earlier id's folder
    spelt otherwise (``a/y`` after ``A/x``: one folder there, and ``a/y`` would read back as ``A/y``).
    ``seen`` maps such a file or folder key to an id (its values are the ids seen)."""
    if not _safe_id(doc_id):
        return "id is not a safe relative file path for brat"
    if any(part.startswith(".") for part in PurePosixPath(doc_id).parts):
        return "a part of the id starts with '.': its file would be hidden, and the brat reader skips hidden files"
    # checked here, before any file is written, not left to the disk's "File name too long" midway
    if any(len(part.encode("utf-8")) > _MAX_NAME for part in PurePosixPath(doc_id).parts):
        return f"a part of the id is longer than {_MAX_NAME} bytes: its file name would be too long for the disk"
    key = unicodedata.normalize("NFC", doc_id).casefold()
    if key in seen:
        return f"its files would be those of id {seen[key]!r} on a disk that ignores case or Unicode normalisation"
    # on such a disk a folder A/ takes a/'s files too, and they read back under A/: id a/y as A/y.
    # Folder keys end in "/", which no file key does (an id never ends so)
    parts = PurePosixPath(doc_id).parts
    folders = [("/".join(parts[:n]), unicodedata.normalize("NFC", "/".join(parts[:n])).casefold() + "/")
               for n in range(1, len(parts))]
    for n, (folder, folder_key) in enumerate(folders, 1):
        first = seen.get(folder_key)
        earlier = None if first is None else "/".join(PurePosixPath(first).parts[:n])
        if earlier is not None and earlier != folder:
            return (f"its folder {folder!r} would be folder {earlier!r} (of id {first!r}) on a disk that ignores "
                    f"case or Unicode normalisation, and the id would read back under it")
    seen[key] = doc_id
    for _, folder_key in folders:
        seen.setdefault(folder_key, doc_id)
    return None


# the longest file name most disks take (255 bytes), less the ".ann" or ".txt" the writer adds
_MAX_NAME = 251


def _safe_id(doc_id: str) -> bool:
    parts = PurePosixPath(doc_id).parts
    return (
        bool(parts)
        and not doc_id.startswith("/")
        and "\\" not in doc_id
        and "\x00" not in doc_id
        and all(p not in ("", ".", "..") for p in parts)
        # a folder x.ann (of id x.ann/y) would stand where id x's file goes, and read as a document
        and not any(p.lower().endswith((".ann", ".txt")) for p in parts[:-1])
        and PurePosixPath(doc_id).as_posix() == doc_id
    )


def write_brat(docs: Iterable[Document], path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME) -> None:
    """Write ``<id>.txt`` + ``<id>.ann`` per document under the folder ``path``.

    With a path ending in ``.ann`` (in any case) exactly one document is written there, its text
    beside with the same case (``X.ANN`` and ``X.TXT``), as the reader pairs them.
    Ids that are not safe relative paths, or whose files would overwrite each other's on some disks
    (see :func:`id_problems`), or whose sub-folder already there links outside ``path``, are a
    DataError; nothing is written then. The files are written as one set
    (:func:`naba.corpus.fileio.staged_files`): a failure part way (a full disk) leaves none of them.
    """
    path = Path(path)
    files = brat_files(docs, path, scheme=scheme)
    with staged_files(path.parent if has_suffix(path, ".ann") else path) as put:
        for file, text in files:
            put(file, text)


def brat_files(
    docs: Iterable[Document], path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME
) -> list[tuple[Path, str]]:
    """The files :func:`write_brat` writes, ``(path, text)`` each (a document's ``.txt``, then its
    ``.ann``), after the checks it makes; DataError if one fails."""
    docs = check_for_write(docs, scheme)
    path = Path(path)
    if has_suffix(path, ".ann"):
        if len(docs) != 1:
            raise DataError(Problem(str(path), "", f"one .ann file holds one document, got {len(docs)}"))
        targets = [(path, docs[0])]
    else:
        bad = id_problems((d.id for d in docs), path)
        # a sub-folder already there may be a link: its files would land outside the output folder
        root = path.resolve()
        bad += [
            Problem(str(path), f"document {i} (id={d.id})", f"{(path / d.id).parent} links outside the output folder")
            for i, d in enumerate(docs)
            if not bad and not (path / d.id).parent.resolve().is_relative_to(root)
        ]
        if bad:
            raise DataError(bad)
        targets = [(path / f"{d.id}.ann", d) for d in docs]
    files = []
    for ann, doc in targets:
        lines = [_ann_line(k, s, doc.text) for k, s in enumerate(doc.spans, 1)]
        files += [(_text_path(ann), doc.text), (ann, "".join(lines))]
    return files


def _ann_line(k: int, span: Span, text: str) -> str:
    """The .ann line of ``span``, the ``k``-th: a fragment list where it runs over a line break."""
    parts = fragments(text, span.start, span.end)
    where = ";".join(f"{s} {e}" for s, e in parts)
    return f"T{k}\t{span.label} {where}\t{_flat(' '.join(text[s:e] for s, e in parts))}\n"


def _text_path(ann: Path) -> Path:
    """Where the writer puts the text of ``ann``: its ``.txt`` with the case of its ``.ann`` letters."""
    return ann.with_suffix("".join(t.upper() if a.isupper() else t for a, t in zip(ann.suffix, ".txt", strict=True)))
