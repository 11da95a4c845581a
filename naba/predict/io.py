"""Inputs and outputs of the batch job: streaming readers, a resumable JSONL output, a rejects file.

Readers yield one item per input record, lazily (the corpus is never held in memory): a
:class:`Record` for a usable document, a :class:`Reject` for a bad one. The job goes on past
rejects and writes them, with their line number and reason, to a rejects file.

A JSONL input may be compressed (``.jsonl.gz``, ``.bz2``, ``.xz``, ``.zst``: naba.predict.compressed):
it is decompressed as it is read, never to disk or into memory as a whole. A stream that breaks off (a
truncated download, a corrupt block) is a DataError naming the line it reached, raised once the lines
before it are read.

The prediction output is appended to in chunks (flush + fsync each), so a crashed job can be run
again: :func:`resume_output` truncates a torn last line and returns the ids already written.
Everything else is written through :func:`naba.corpus.fileio.atomic_open` (a temporary file in the
same folder, moved into place).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naba.corpus.fileio import COMPRESSED_SUFFIXES, JSONL_SUFFIXES, lone_cr_hint, utf16_problem, write_error
from naba.errors import DataError, Problem
from naba.predict.compressed import DAMAGE, damaged, jsonl_codec, open_jsonl, plain_jsonl, zstandard_module

# bytes read at a time from JSONL files: Python's default is the file system's block size (4 KiB
# here), about two read calls for each line of a news article, which cost where system calls are
# dear (on the sandboxed GPU host of BENCHMARKS.md, reading alone took 46-49 us a document with
# this buffer, 51-56 with the default: scripts/bench_gpu.py)
READ_BUFFER = 1 << 20
PARQUET_SUFFIXES = (".parquet", ".pq")
# compressed JSONL (articles.jsonl.gz): news dumps come so, and tens of GB need not be decompressed first
CODECS = COMPRESSED_SUFFIXES
FORMATS = ".jsonl (or .jsonl.gz, .jsonl.bz2, .jsonl.xz, .jsonl.zst), .txt, a folder of .txt, or .parquet"


@dataclass(frozen=True)
class Record:
    """A usable input document: its 1-based ``line`` (row, or file number in a folder)."""

    line: int
    id: str
    text: str


@dataclass(frozen=True)
class Reject:
    """A bad input record, kept with where it was and why it was refused."""

    source: str
    line: int
    reason: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # a path whose name is not UTF-8 holds lone surrogates (os.fsdecode), which no UTF-8 file
        # can hold: its bytes are written as \xNN instead
        source = os.fsencode(self.source).decode("utf-8", "backslashreplace")
        return {"source": source, "line": self.line, "id": self.id, "reason": self.reason}


def input_kind(path: str | Path) -> str:
    """``"folder"``, ``"text"``, ``"jsonl"`` (compressed too) or ``"parquet"`` for an input path;
    DataError otherwise, and for a ``.jsonl.zst`` file where zstandard is not installed."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataError(Problem(str(path), "", "no such file or folder"))
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return "text"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    codec = jsonl_codec(path)
    if codec is not None:
        if codec == "zstd":
            zstandard_module(path)  # now: naba predict says so before loading the model
        return "jsonl"
    raise DataError(Problem(str(path), "", f"unknown input format {suffix!r}: use {FORMATS}"))


def read_inputs(
    path: str | Path, *, id_field: str = "id", text_field: str = "text", rows_per_batch: int = 1024
) -> Iterator[Record | Reject]:
    """Stream the documents of a JSONL file (compressed too), a .txt file, a folder of .txt files or
    a Parquet file.

    A DataError raised part way (a damaged compressed stream or Parquet row group) comes after
    every item before the damage. Ids are not checked for repeats here (see :func:`unique_ids`).
    """
    kind = input_kind(path)
    if kind == "folder":
        entries = sorted(Path(path).iterdir())
        # .TXT too, as a lone file is read whatever its case; hidden files are not documents (the
        # ._NAME.txt resource forks a folder copied from a Mac holds, an editor's .NAME.txt), as
        # naba's brat reader skips them
        files = [p for p in entries if p.suffix.lower() == ".txt" and p.is_file() and not p.name.startswith(".")]
        if entries and not files:
            # a Parquet dataset folder (x.parquet/part-0.parquet), .jsonl files, .txt files in
            # subfolders: tagging nothing and reporting success would hide the mistake
            names = ", ".join(p.name + "/" * p.is_dir() for p in entries[:5]) + ", ..." * (len(entries) > 5)
            raise DataError(
                Problem(str(path), "", f"no .txt files in it; it holds {names} (subfolders and hidden files "
                        "are not read; give a .jsonl or .parquet file itself)")
            )
        for number, file in enumerate(files, start=1):
            yield _read_text_file(file, number)
    elif kind == "text":
        yield _read_text_file(Path(path), 1)
    elif kind == "jsonl":
        yield from _read_jsonl(Path(path), id_field=id_field, text_field=text_field)
    else:
        yield from _read_parquet(Path(path), id_field=id_field, text_field=text_field, rows=rows_per_batch)


def unique_ids(items: Iterable[Record | Reject], *, source: str) -> Iterator[Record | Reject]:
    """Pass items through, turning the second and later records with an id into rejects."""
    first: dict[str, int] = {}
    for item in items:
        if isinstance(item, Record):
            seen = first.setdefault(item.id, item.line)
            if seen != item.line:
                item = Reject(source, item.line, f"duplicate id {item.id!r} (first at line {seen})", item.id)
        yield item


def _utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate). Encoding is the cheap
    test: 7 us for a 5,800-character article where a regular expression search took 34 here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checked_ids(
    items: Iterable[Record | Reject], check: Callable[[str], str | None], *, source: str
) -> Iterator[Record | Reject]:
    """Pass items through, turning records whose id ``check`` finds a reason against into rejects
    (an output format's limits: brat makes a file of each id). Empty documents (blank text) are not
    checked: no export writes them, so their ids take no file name from a later document's."""
    for item in items:
        if isinstance(item, Record) and item.text.strip() and (reason := check(item.id)) is not None:
            item = Reject(source, item.line, reason, item.id)
        yield item


def _read_text_file(path: Path, number: int) -> Record | Reject:
    if not _utf8(path.stem):
        # a name in another encoding (a zip made on Arabic Windows: cp1256) cannot be an id in a
        # UTF-8 output
        return Reject(str(path), number, "file name is not valid UTF-8: rename the file (e.g. convmv -f cp1256 -t utf-8)")
    try:
        # bytes, then strict decoding: newlines (CRLF included) stay as they are in the file
        data = path.read_bytes()
        # before decoding: UTF-16 without a byte order mark decodes as UTF-8, NULs and all
        if (utf16 := utf16_problem(data)) is not None:
            return Reject(str(path), number, utf16, path.stem)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(str(path), number, f"not valid UTF-8: {exc.reason} at byte {exc.start}", path.stem)
    except OSError as exc:
        return Reject(str(path), number, f"cannot read: {exc.strerror}", path.stem)
    return Record(number, path.stem, text)


def _check_id(raw: Any) -> str | None:
    # ints are common ids in exported tables; bool is an int in Python but never an id
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str) and raw:
        return raw
    return None


def _record(
    source: str, line: int, obj: Any, id_field: str, text_field: str, *, escaped: bool = False
) -> Record | Reject:
    """The record in ``obj``, or why not; ``escaped``: its JSON line had backslashes, so a string may
    hold a lone surrogate (only a ``\\uD800``-``\\uDFFF`` escape makes one)."""
    if not isinstance(obj, dict):
        return Reject(source, line, f"a record must be a JSON object, got {type(obj).__name__}")
    if id_field not in obj:
        return Reject(source, line, f"no {id_field!r} field")
    doc_id = _check_id(obj[id_field])
    if doc_id is None:
        return Reject(source, line, f"{id_field!r} must be a non-empty string or an integer, got {obj[id_field]!r}")
    if escaped and not _utf8(doc_id):
        # no UTF-8 writer can encode it: kept out of the rejects file too
        return Reject(source, line, f"{id_field!r} holds a lone surrogate: {doc_id!r}")
    if text_field not in obj:
        return Reject(source, line, f"no {text_field!r} field", doc_id)
    text = obj[text_field]
    if not isinstance(text, str):
        return Reject(source, line, f"{text_field!r} must be a string, got {type(text).__name__}", doc_id)
    if escaped and not _utf8(text):
        return Reject(source, line, f"{text_field!r} holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair)", doc_id)
    return Record(line, doc_id, text)


def _read_jsonl(path: Path, *, id_field: str, text_field: str) -> Iterator[Record | Reject]:
    source = str(path)
    try:
        yield from _jsonl_records(path, source, id_field=id_field, text_field=text_field)
    except OSError as exc:
        raise DataError(Problem(source, "", f"cannot read file: {exc.strerror or exc}")) from None


def _jsonl_records(path: Path, source: str, *, id_field: str, text_field: str) -> Iterator[Record | Reject]:
    # json keeps the last of a key given twice ({"id": "a", "text": "x", "text": "y"} is tagged as "y");
    # the field names are looked for twice in the raw line first, so that only such lines pay for a check
    names = (json.dumps(id_field, ensure_ascii=False), json.dumps(text_field, ensure_ascii=False))
    codec = jsonl_codec(path)
    number = 0
    if codec is not None and path.stat().st_size == 0:
        # no compressor writes an empty file (gzip of nothing is 20 bytes): a download that never began.
        # gzip and zstandard read it as no lines, which tagged nothing and succeeded; bz2 and xz refuse it
        raise damaged(source, 1, EOFError())
    with open_jsonl(path, codec, buffer=READ_BUFFER) as fh:
        try:
            for number, raw in enumerate(fh, start=1):
                if number == 1 and (utf16 := utf16_problem(raw)) is not None:
                    # every line would be a reject, each for another reason
                    raise DataError(Problem(source, "", utf16))
                item = _jsonl_line(raw, number, source, names, id_field, text_field)
                if item is not None:
                    yield item
        except DAMAGE as exc:
            if codec is None or (isinstance(exc, OSError) and exc.errno is not None):
                raise  # a plain file's read error, or the disk's: "cannot read file"
            if number == 0 and plain_jsonl(path):
                # a download tool that decompressed it already (curl and a server's Content-Encoding: gzip)
                # leaves plain JSONL under the .gz name: no damage to repair
                raise DataError(Problem(source, "line 1", f"is plain JSONL, not {codec} data: name it without "
                                        f"{path.suffix} (was it decompressed already?)")) from None
            raise damaged(source, number + 1, exc) from None


class UntilUnreadable:
    """Ends a stream of input items where a DataError broke it off (a damaged compressed stream or
    Parquet row group), keeping the error: the batch job tags and writes every document read
    before it, with its rejects, and raises it then (:meth:`raise_error`), so that no work is
    lost and a rerun on the repaired input resumes after them."""

    def __init__(self) -> None:
        self.error: DataError | None = None

    def items(self, items: Iterable[Record | Reject]) -> Iterator[Record | Reject]:
        """``items``, ending quietly at a DataError, which is kept."""
        try:
            yield from items
        except DataError as exc:
            self.error = exc

    def raise_error(self) -> None:
        """Raise the DataError that ended the stream, if one did."""
        if self.error is not None:
            raise self.error


def _jsonl_line(
    raw: bytes, number: int, source: str, names: tuple[str, str], id_field: str, text_field: str
) -> Record | Reject | None:
    """The record or reject of one JSONL line; None for a blank one."""
    if raw.startswith(b"\xef\xbb\xbf"):
        # a UTF-8 BOM, as naba.corpus.fileio.jsonl_records drops it: before the first line, or before a
        # later one where files saved with one were joined with cat
        raw = raw[3:]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(source, number, f"not valid UTF-8: {exc.reason} at byte {exc.start}")
    if not line.strip():
        return None
    try:
        # without its newline, which json would count as a line of its own: a record cut off at the end
        # was "column 1" (of that next line) rather than the column where it ends, as naba data says
        obj = json.loads(line.removesuffix("\n"))
    except json.JSONDecodeError as exc:
        return Reject(source, number, f"invalid JSON: {exc.msg} at column {exc.colno}{lone_cr_hint(line, exc)}")
    except (ValueError, RecursionError) as exc:  # an integer over 4300 digits, nesting too deep
        return Reject(source, number, f"invalid JSON: {str(exc)[:200]}")
    if isinstance(obj, dict) and any(line.count(name) > 1 for name in names):
        twice = _twice(line, (id_field, text_field))
        if twice is not None:
            return Reject(source, number, f"key {twice!r} given twice in the record")
    return _record(source, number, obj, id_field, text_field, escaped="\\" in line)


def _twice(line: str, fields: tuple[str, ...]) -> str | None:
    """The first of ``fields`` that the JSON object in ``line`` holds twice at its top level, or None."""
    last: list[list[str]] = [[]]

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        last[0] = [k for k, _ in items]  # the top-level object is the last one the hook sees
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return next((f for f in fields if last[0].count(f) > 1), None)


def _read_parquet(path: Path, *, id_field: str, text_field: str, rows: int) -> Iterator[Record | Reject]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            Problem(str(path), "", "reading Parquet needs pyarrow: pip install 'naba[parquet]'")
        ) from None
    source = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a file that is not Parquet
        raise DataError(Problem(source, "", f"not a readable Parquet file: {exc}")) from None
    missing = [f for f in (id_field, text_field) if f not in parquet.schema_arrow.names]
    if missing:
        raise DataError(
            Problem(source, "", f"no column(s) {missing}; columns are {parquet.schema_arrow.names}")
        )
    number = 0
    # row batches keep memory flat: one batch of rows decoded at a time
    batches = parquet.iter_batches(batch_size=rows, columns=list(dict.fromkeys([id_field, text_field])))
    while True:
        try:
            batch = next(batches, None)
        except Exception as exc:  # OSError / ArrowException for a damaged row group
            raise DataError(Problem(source, f"after row {number}", f"cannot read Parquet data: {exc}")) from None
        if batch is None:
            break
        ids = _values(batch.column(id_field))
        texts = _values(batch.column(text_field))
        for doc_id, text in zip(ids, texts, strict=True):
            number += 1
            if isinstance(doc_id, UnicodeDecodeError):
                yield Reject(source, number, f"{id_field!r} {_not_utf8(doc_id)}")
            elif isinstance(text, UnicodeDecodeError):
                yield Reject(source, number, f"{text_field!r} {_not_utf8(text)}", _check_id(doc_id))
            else:
                yield _record(source, number, {id_field: doc_id, text_field: text}, id_field, text_field)


def _values(column: Any) -> list[Any]:
    """The Python values of an Arrow column; a string that is not UTF-8 (Arrow reads a Parquet
    file's bytes unchecked, and not every writer checks them) as its UnicodeDecodeError, so that
    only its row is rejected."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        pass
    values: list[Any] = []
    for i in range(len(column)):
        try:
            values.append(column[i].as_py())
        except UnicodeDecodeError as exc:
            values.append(exc)
    return values


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"is not valid UTF-8: {exc.reason} at byte {exc.start}"


def resume_output(path: str | Path, *, repair: bool = True) -> set[str]:
    """Ids already in a prediction JSONL file, after truncating a torn last line (``repair``).

    A missing file is an empty output. A damaged line other than the last is an error: the
    file is not naba's output, and appending to it would hide the damage.
    """
    path = Path(path)
    if not path.exists():
        return set()
    done: set[str] = set()
    keep = 0
    # every line is checked before anything is cut: the last line of a file that is not naba's output
    # (a corpus written without a last newline) is no torn line of ours
    with path.open("rb", buffering=READ_BUFFER) as fh:
        for number, raw in enumerate(fh, start=1):
            torn = not raw.endswith(b"\n")  # a crash mid-write leaves bytes after the last newline
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                obj = None
            if torn and (_prediction(obj) or (obj is None and _LINE_HEAD.startswith(raw[: len(_LINE_HEAD)]))):
                break
            if torn or not _prediction(obj):
                raise DataError(
                    Problem(str(path), f"line {number}", "not a naba prediction line; will not append to it")
                ) from None
            done.add(obj["id"])
            keep += len(raw)
    if repair and keep != path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return done


# how every line prediction_line writes begins (the id is always a string)
_LINE_HEAD = b'{"id": "'


def _prediction(obj: Any) -> bool:
    """Whether ``obj`` is a line :func:`prediction_line` writes. An annotated corpus (naba's JSONL,
    doccano's) has ids too: taken for an output, its ids were skipped and predictions appended to it."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("id"), str)
        and isinstance(obj.get("spans"), list)
        and obj.keys() <= {"id", "text", "spans"}
        and all(isinstance(s, dict) and "layer" in s and "score" in s for s in obj["spans"])
    )


class Appender:
    """Appends lines to a file, making each :meth:`write` durable (flush + fsync) before returning."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._fh = self.path.open("ab")
        except OSError as exc:  # a part file in a folder this process may not write: named, not a traceback
            raise self._error(exc) from None

    def write(self, lines: Iterable[str]) -> None:
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        if data:
            try:
                self._fh.write(data)
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:  # a full disk: named; the torn last line is cut when the job resumes
                raise self._error(exc) from None

    def close(self) -> None:
        try:
            self._fh.close()  # flushes what a failed write left in the buffer, which fails again
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> DataError:
        return write_error(self.path, exc)

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prediction_line(doc_id: str, spans: list[dict], *, text: str | None = None) -> str:
    """One output line: ``{"id", "spans"}`` (and ``"text"`` when asked), non-ASCII kept as is."""
    return prediction_line_json(doc_id, json.dumps(spans, ensure_ascii=False), text=text)


def prediction_line_json(doc_id: str, spans_json: str, *, text: str | None = None) -> str:
    """``prediction_line`` with the spans already a JSON array (naba.predict.host.spans_json)."""
    head: dict[str, Any] = {"id": doc_id}
    if text is not None:
        head["text"] = text
    # json.dumps's own separators, so that the line is the one json.dumps writes for the whole object
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "spans": ' + spans_json + "}"
