"""File plumbing shared by the readers and writers: decoding, JSON parsing, the JSON Lines reading
loop, record helpers, atomic writes, final checks.

Every reader turns an unreadable file into a :class:`DataError` that names the file and the line,
and every writer goes through :func:`atomic_write` or :func:`atomic_open`, so no output file is
ever left half written. The rest of naba (predictions, training runs) writes through them too.
A command whose result is several files (a split, an evaluation, a brat folder) writes them
through :func:`staged_files`, so that a failure part way leaves none of them.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from naba.corpus.document import Document
from naba.corpus.labels import LabelScheme, origin_note
from naba.corpus.validate import check_document, check_unique_ids, has_surrogate
from naba.errors import DataError, Problem

_BOM = b"\xef\xbb\xbf"


def utf16_problem(data: bytes) -> str | None:
    """Why ``data`` (a file's first bytes) is no UTF-8 text if it begins as UTF-16 does, else ``None``:
    read as UTF-8, such a file failed on every line ("invalid UTF-8 (byte 0xff)"), saying nothing of why."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("is UTF-16, not UTF-8 (it starts with a UTF-16 byte order mark, as PowerShell 5's > and Out-File "
                "and Notepad's 'Unicode' write files): save it as UTF-8")
    order = _utf16_without_bom(data)
    if order is not None:
        # Python's "utf-16-le" codec and .NET's Encoding.Unicode write no mark; read as UTF-8, ASCII
        # came through with a NUL after every letter, "invalid JSON" on every line
        return (f"is UTF-16 ({order}, without a byte order mark: every other byte of its start is 0x00 or 0x06, the "
                "high byte of ASCII and Arabic letters), not UTF-8: save it as UTF-8")
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """``"little-endian"`` or ``"big-endian"`` where ``data``'s first 64 bytes read as UTF-16 code
    units of ASCII and Arabic (U+0000-U+00FF, U+0600-U+06FF), no NUL among their low bytes, else
    ``None``; UTF-8 text puts no NUL nor 0x06 byte at every other place. Arabic letters alone (high
    bytes all 0x06) count too: their low bytes are under 0x80, valid UTF-8 that decodes to garbage."""
    head = data[: min(64, len(data) // 2 * 2)]
    if len(head) < 4:
        return None
    for order, high, low in (("little-endian", head[1::2], head[0::2]), ("big-endian", head[0::2], head[1::2])):
        if 0 not in low and all(b in (0, 6) for b in high):
            return order
    return None

# How the running command is told a reader option, for the advice in the readers' errors: naba
# data's flags (beside the keywords the messages name for the Python API) unless the command takes
# them otherwise (naba data convert's --from, naba train's config keys) or not at all (naba render
# and naba tag: convert the file first), which it says with spelled(). Keyed by option ("*": any).
DATA_FLAGS = {"format": "--format", "source": "--source", "offsets": "--input-offsets", "text_key": "--text-key",
              "to_name": "--to-name", "bio_repair": "--bio-repair", "discontinuous": "--discontinuous"}
CONVERT_FIRST = "here: convert it first, naba data convert FILE OUT.jsonl {flags}, and give OUT.jsonl"
_SPELLING: ContextVar[dict[str, str] | None] = ContextVar("naba_option_spelling", default=None)


def flags(*given: tuple[str, Any]) -> str:
    """How the running command is told the reader options ``(keyword, value)`` (value None: any)."""
    said = " ".join(DATA_FLAGS[k] + ("" if v is None else f" {v}") for k, v in given)
    keywords = ", ".join(f"{k}: {'...' if v is None else v}" for k, v in given)
    spelling = _SPELLING.get() or {}
    how = spelling.get(given[0][0], spelling.get("*", "{flags}"))
    return how.format(flags=said, keywords=keywords, value=given[0][1])


def aside(option: str, value: Any = None) -> str:
    """`` (how)`` where the running command takes ``option`` otherwise than naba data, else "" (for
    messages that name the keyword alone, which naba data's flag follows)."""
    spelling = _SPELLING.get() or {}
    return f" ({flags((option, value))})" if option in spelling or "*" in spelling else ""


@contextlib.contextmanager
def spelled(spelling: dict[str, str]) -> Iterator[None]:
    """Readers' advice within says options as ``spelling`` gives them (templates of
    ``{flags}``, naba data's, ``{keywords}`` and ``{value}``)."""
    token = _SPELLING.set(spelling)
    try:
        yield
    finally:
        _SPELLING.reset(token)

# the names of JSON Lines files: what naba predict and naba render read, and naba eval scores
JSONL_SUFFIXES = (".jsonl", ".ndjson")
# compressed files (articles.jsonl.gz): naba predict reads such JSONL as it decompresses; the corpus
# readers refuse them by name
COMPRESSED_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}

# A \uD800-\uDFFF escape is the one way a lone surrogate, which is no character and which no
# writer can encode, gets into a parsed string (read_text decodes strictly). The first pattern
# finds candidates cheaply; the second, one without its pair, names the line in a whole-file JSON.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
# A reader's way to report one problem with the record it is reading: ``bad("reason")``.
Report = Callable[[str], None]


def read_text(path: str | Path, *, keep_bom: bool = False) -> str:
    """The UTF-8 text of ``path`` without a leading BOM (with it, as U+FEFF, if ``keep_bom``), line
    ends untouched.

    Line ends are kept as they are (no ``\\r\\n`` translation) because formats such as brat count
    offsets over the raw file. Raises :class:`DataError` naming each line that holds an invalid byte.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(Problem(str(path), "", f"cannot read file: {exc.strerror or exc}")) from None
    if (utf16 := utf16_problem(data)) is not None:
        raise DataError(Problem(str(path), "", utf16))
    if data.startswith(_BOM) and not keep_bom:
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if (kind := compressed_kind(data)) is not None:
            # named by its format rather than its extension (--format jsonl on x.jsonl.gz, a gzip saved as
            # x.jsonl): "invalid UTF-8 (byte 0x8b)" on line 1 said nothing of why
            raise DataError(Problem(str(path), "", f"is a {kind}-compressed file, not text: decompress it first "
                                    "(naba predict alone reads compressed JSONL input)")) from None
        raise DataError(_invalid_utf8(path, data)) from None


# the first bytes of each compressed format of COMPRESSED_SUFFIXES but bz2 (its mark, ASCII, is matched
# with the block after it in compressed_kind); none of them is valid UTF-8
_MAGIC = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


def compressed_kind(data: bytes) -> str | None:
    """``"gzip"``, ``"bz2"``, ``"xz"`` or ``"zstd"`` when ``data`` (a file's bytes) begins as such a
    compressed file does, else ``None``; only meant for data that is not UTF-8 (bz2's mark is ASCII)."""
    kind = next((k for magic, k in _MAGIC.items() if data.startswith(magic)), None)
    # bz2: its first block, or the end of an empty stream
    if kind is None and re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", data):
        kind = "bz2"
    return kind


def _invalid_utf8(path: Path, data: bytes) -> list[Problem]:
    """A problem for every line of ``data`` with an invalid byte, not only the first such line.

    A line is decoded with its ``\n`` (which no character's bytes contain), so a character cut
    short by the line end reads as the whole file's decoding reads it.
    """
    problems = []
    lines = data.split(b"\n")
    for n, line in enumerate(lines, 1):
        try:
            (line + b"\n" if n < len(lines) else line).decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1].hex()
            problems.append(Problem(str(path), f"line {n}", f"invalid UTF-8 (byte 0x{bad}: {exc.reason})"))
    return problems


def parse_json(text: str, *, source: str, line: int | None = None) -> Any:
    """``json.loads`` that raises :class:`DataError` naming the line instead of a raw exception.

    ``line`` is the line number of ``text`` inside its file (JSON Lines); without it the line is
    the decoder's own. NaN and infinities are rejected: they are not JSON; so is a number too large
    for a float (``1e400``), which would be read as infinity. A key given twice in one object is an
    error too: ``json`` keeps the last silently (a second ``"spans"`` would drop the first's spans).
    """

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        where = f"line {line if line is not None else exc.lineno}"
        reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
        raise DataError(Problem(source, where, reason + lone_cr_hint(text, exc))) from None
    except _DuplicateKey as exc:
        # the hook cannot tell where the object is in a whole-file JSON: no line rather than a wrong one
        raise DataError(Problem(source, f"line {line}" if line is not None else "", f"invalid JSON: {exc}")) from None
    except ValueError as exc:
        raise DataError(Problem(source, f"line {line or 1}", f"invalid JSON: {exc}")) from None
    except RecursionError:
        raise DataError(Problem(source, f"line {line or 1}", "invalid JSON: nested too deeply")) from None
    if _SURROGATE_ESCAPE.search(text) and any(has_surrogate(s) for s in _strings(value)):
        lone = _LONE_SURROGATE.search(text)
        at = line if line is not None else (text.count("\n", 0, lone.start()) + 1 if lone else 1)
        shown = lone.group() if lone else "a \\uD800-\\uDFFF escape"
        reason = f"invalid text: {shown} is half of a UTF-16 surrogate pair, not a character"
        raise DataError(Problem(source, f"line {at}", reason))
    return value


def lone_cr_hint(text: str, exc: json.JSONDecodeError) -> str:
    """Advice for JSON Lines whose records end in a lone CR (classic Mac line ends, some exports): read
    as one line, the whole file was "Extra data" at the second record."""
    if exc.msg == "Extra data" and text[: exc.pos].rstrip(" \t").endswith("\r"):
        return ("; its records seem to end in a lone CR (\\r) rather than a newline, which JSON Lines needs: "
                "convert the line ends (e.g. tr '\\r' '\\n')")
    return ""


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"key {key!r} given twice in one object")
            seen.add(key)
    return obj


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"number {literal[:40]} is out of range")
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, object keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def meta_of(container: dict, bad: Report, *, name: str = "meta") -> dict:
    """A copy of ``container["meta"]``: empty when there is none, reported and empty when not an object."""
    meta = container.get("meta", {})
    if not isinstance(meta, dict):
        bad(f"'{name}' must be an object, got {type(meta).__name__}")
        return {}
    return dict(meta)


def read_jsonl_documents(
    path: str | Path, scheme: LabelScheme, build: Callable[[Any, Report, int], Document | None]
) -> list[Document]:
    """The documents of a JSON Lines file, one per non-blank line, checked by :func:`finish`.

    ``build(record, bad, line)`` makes the document of one parsed line, reporting what is wrong
    with it through ``bad(reason)`` (the problem then names the file and the line); it returns
    ``None`` to skip the line. Lines that are not JSON are problems too, and one DataError lists
    them all.
    """
    path = Path(path)
    source = str(path)
    problems: list[Problem] = []
    found: list[tuple[str, Document]] = []
    for n, record in jsonl_records(path, problems):
        where = f"line {n}"

        def bad(reason: str, where: str = where) -> None:
            problems.append(Problem(source, where, reason))

        doc = build(record, bad, n)
        if doc is not None:
            found.append((where, doc))
    return finish(found, problems, scheme, source=source)


def jsonl_records(path: str | Path, problems: list[Problem]) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of a JSON Lines file.

    The file is read whole with :func:`read_text` (an unreadable file raises at once); a line that
    is not JSON is added to ``problems`` and skipped, so that the caller can go on and report
    every problem of the file in one :class:`DataError`.
    """
    source = str(path)
    for n, line in enumerate(read_text(path).split("\n"), 1):
        # a BOM at a later line's start: files saved with one (Notepad) joined with cat, as the CoNLL
        # reader takes them; no JSON value starts with it
        line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            record = parse_json(line, source=source, line=n)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        yield n, record


def is_int(value: Any) -> bool:
    """True for a JSON integer (``bool`` is an ``int`` in Python but not an offset)."""
    return isinstance(value, int) and not isinstance(value, bool)


def utf16_to_cp(text: str) -> dict[int, int]:
    """UTF-16 code-unit offset -> code-point offset, for offsets on character boundaries only."""
    table, unit = {0: 0}, 0
    for i, ch in enumerate(text):
        unit += 2 if ord(ch) > 0xFFFF else 1
        table[unit] = i + 1
    return table


def utf16_offsets(text: str, offsets: Iterable[int]) -> dict[int, int]:
    """Code-point offset -> UTF-16 code-unit offset, for the given offsets of ``text``."""
    wanted = sorted(set(offsets))
    out: dict[int, int] = {}
    units, pos = 0, 0
    for off in wanted:
        # characters outside the Basic Multilingual Plane take two UTF-16 units
        units += sum(2 if ord(c) > 0xFFFF else 1 for c in text[pos:off])
        pos = off
        out[off] = units
    return out


def same_file(a: Path, b: Path) -> bool:
    """Whether paths ``a`` and ``b`` name one file (links and relative paths followed)."""
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def external_id(doc_id: str) -> str | int:
    """A document id as tools with integer ids (doccano, Label Studio) expect it, when it is one."""
    if doc_id.isascii() and doc_id.isdigit() and str(int(doc_id)) == doc_id:
        return int(doc_id)
    return doc_id


def finish(
    found: Sequence[tuple[str, Document]],
    problems: list[Problem],
    scheme: LabelScheme,
    *,
    source: str,
) -> list[Document]:
    """Run the shared document checks on what a reader found; raise one DataError for everything.

    ``found`` pairs each document with its locator (``"line 3"``); ``problems`` holds what the
    reader itself already noticed. Returns the documents when nothing is wrong.
    """
    problems = list(problems)
    for where, doc in found:
        problems.extend(check_document(doc, scheme, source=source, where=where))
    problems.extend(check_unique_ids(found, source=source))
    if problems:
        # Readers find problems in several passes; report them in file order (stable sort).
        problems.sort(key=lambda p: _first_number(p.where))
        raise DataError(problems)
    return [doc for _, doc in found]


def _first_number(where: str) -> int:
    match = re.search(r"\d+", where)
    return int(match.group()) if match else -1


def check_for_write(docs: Iterable[Document], scheme: LabelScheme) -> list[Document]:
    """Validate documents before a writer touches the disk; raise DataError on any problem."""
    docs = list(docs)
    found = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise DataError(Problem("<documents>", f"document {i}", f"not a Document: {type(doc).__name__}"))
        found.append((f"document {i} (id={doc.id})", doc))
    return finish(found, [], scheme, source="<documents>")


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_open`.

    Text is written as UTF-8 with ``\\n`` kept as is on every platform. The file gets the mode a
    new file opened for writing gets (``0o666`` less the umask). A folder or file that cannot be
    written is a :class:`DataError` naming the path; ``path`` is then left as it was.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path, "wb") as fh:
        try:
            fh.write(payload)
        except OSError as exc:
            raise write_error(Path(path), exc) from None


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file to write ``path`` through: a temporary file in the same folder, moved into place
    with ``os.replace`` when the ``with`` block ends without an exception, deleted when it raises.

    ``mode`` is ``"w"`` (UTF-8 text, ``\\n`` never translated) or ``"wb"``. Missing folders are
    made. The file gets the mode a new file opened for writing gets (``0o666`` less the umask),
    whatever ``path`` had before. Failing to create, sync or move the file is a
    :class:`DataError` naming ``path``; an exception raised inside the block passes through as
    it is, and in every failure ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes with mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _new_temp_file(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        text = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
        fh = os.fdopen(fd, mode, **text)
        try:
            yield fh
            try:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
            except OSError as exc:
                raise write_error(path, exc) from None
        finally:
            # after a failure: closing flushes what is still buffered, which on a full disk fails again,
            # and that OSError would replace the error on its way out (the file is deleted anyway)
            with contextlib.suppress(OSError):
                fh.close()
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise write_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def staged_files(folder: str | Path) -> Iterator[Callable[[Path, str | bytes], None]]:
    """Write a set of files under ``folder`` as one result: all of them, or on any failure none.

    ``put(path, data)`` writes one file of the set (``path`` under ``folder``; text as UTF-8, ``\\n``
    kept), complete and synced, into a hidden temporary folder. When the ``with`` block ends without
    an exception the files are moved into place; when it raises (a full disk at the third file, an
    error rendering the last), the temporary folder is deleted and ``folder`` is left as it was.
    A ``folder`` not there yet (with any missing folders above it) is built under a temporary name
    beside it and renamed into place whole. In a folder already there, the temporary folder is
    made inside it (hidden, so no reader takes it for data, and writable wherever ``folder`` is)
    and the files are moved one by one, a missing sub-folder whole: only during these moves can
    old and new files be seen together. Failing to write or move a file is a :class:`DataError`
    naming it.
    """
    folder = Path(folder)
    top = folder  # the highest missing folder of the path: built whole, then renamed into place
    while not os.path.lexists(top) and not os.path.lexists(top.parent) and top.parent != top:
        top = top.parent
    new = not os.path.lexists(top)
    staging: Path | None = None

    def put(path: Path, data: str | bytes) -> None:
        nonlocal staging
        path = Path(path)
        rel = path.relative_to(folder)
        try:
            if staging is None:
                staging = _new_temp_dir(top.parent / f".{top.name}" if new else folder / ".naba")
            if not new:
                # found now, not when the first files have been moved in
                if path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
                above = next(p for p in path.parents if p.exists())
                if not above.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            where = staging / (folder.relative_to(top) if new else Path()) / rel
            where.parent.mkdir(parents=True, exist_ok=True)
            with open(where, "xb") as fh:  # mode 0o666 less the umask, as atomic_open's files
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise write_error(path, exc) from None

    try:
        yield put
        if staging is not None:
            if new:
                try:
                    os.replace(staging, top)
                except OSError as exc:
                    raise write_error(top, exc) from None
            else:
                _move_into(staging, folder)
    finally:
        if staging is not None and os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def _new_temp_dir(path: Path) -> Path:
    """A new, empty hidden folder named after ``path`` (``.name.1a2b3c4d.tmp``) beside it."""
    for _ in range(100):
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            tmp.mkdir(0o777)  # less the umask, as any new folder
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary folder name beside {path}")


def _move_into(src: Path, dest: Path) -> None:
    """Move everything in the folder ``src`` into the folder ``dest``, replacing files of the same name."""
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if entry.is_dir() and target.is_dir():
            _move_into(entry, target)
            continue
        try:
            os.replace(entry, target)
        except OSError as exc:
            raise write_error(target, exc) from None


def write_error(path: Path, exc: OSError) -> DataError:
    """The DataError for a file naba cannot write (a problem in the output, naming it and why)."""
    return DataError(Problem(str(path), "", f"cannot write file: {_write_failure(path, exc)}"), about="the output")


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_failure(path: Path, exc: OSError) -> str:
    # mkdir says only "File exists" when a file stands where a folder of the path should be
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return f"{existing} is a file, not a folder"
    return exc.strerror or str(exc)


def _new_temp_file(path: Path) -> tuple[Path, int]:
    """A new, empty hidden file beside ``path``, opened for writing.

    ``tempfile.mkstemp`` always creates mode 0600, which ``os.replace`` would carry over to the
    output; ``os.open(..., 0o666)`` lets the kernel apply the umask (and any default ACL) instead.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        # the name remove_temp_files looks for
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name beside {path}")


def visible_files(folder: str | Path) -> list[Path]:
    """The files under ``folder`` (recursively, sorted), hidden files and folders below it skipped: a
    copy in ``.ipynb_checkpoints/`` (Jupyter), ``._x.ann`` (macOS) or a staging folder is no document."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*")
                  if not any(part.startswith(".") for part in p.relative_to(root).parts) and p.is_file())


def remove_temp_files(path: str | Path) -> None:
    """Delete the temporary files that :func:`atomic_open` left beside ``path`` in a process killed
    before it could (SIGKILL, a lost node), so that reruns of a job do not pile them up; and the
    temporary folders :func:`staged_files` left beside ``path`` or, for a folder, inside it.

    Only for a path that no other process is writing now. Files of other names are left alone;
    one that cannot be deleted is left too (it is never read).
    """
    path = Path(path)
    name = re.compile(re.escape(f".{path.name}.") + r"[0-9a-f]{8}\.tmp")
    with contextlib.suppress(OSError):
        found = [p for p in path.parent.glob(glob.escape(f".{path.name}.") + "*.tmp") if name.fullmatch(p.name)]
        if path.is_dir():
            found += [p for p in path.glob(".naba.*.tmp") if re.fullmatch(r"\.naba\.[0-9a-f]{8}\.tmp", p.name)]
        for tmp in found:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    tmp.unlink()


def document_line(record: Any, *, where: str) -> str:
    """:func:`json_line` for a record a writer makes of a document; DataError naming ``where`` if
    it is not JSON (``meta`` holding a set or a NaN)."""
    try:
        return json_line(record)
    except (TypeError, ValueError) as exc:
        raise DataError(Problem("<documents>", where, f"cannot write as JSON: {exc}")) from None


def json_line(value: Any) -> str:
    """One JSON Lines record as naba writes it (UTF-8 text, no ASCII escaping)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False) + "\n"


def map_label(label: str, scheme: LabelScheme, bad: Report, name: str) -> str | None:
    """``label`` as a naba label; ``None`` when the scheme drops it or does not know it.

    An unknown label is reported through ``bad`` as ``"{name}: unknown label ..."``.
    """
    try:
        return scheme.normalize(label)
    except KeyError:
        bad(f"{name}: {unknown_label(label, scheme)}")
        return None


def unknown_label(tag: str, scheme: LabelScheme) -> str:
    """The reason given for a tag that is neither a naba label nor in the scheme's mapping."""
    return (
        f"unknown label {tag!r}: not a naba label {list(scheme.labels)} "
        f"and not in the label mapping {sorted(scheme.mapping)}{origin_note(scheme)}"
    )
