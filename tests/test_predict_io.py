"""naba.predict.io: input formats, rejects, duplicate ids, torn-line repair, atomic writes."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
import re
import stat
import sys
import zlib
from pathlib import Path

import pytest

from naba.corpus.fileio import atomic_open
from naba.errors import DataError
from naba.predict.exports import write_labelstudio
from naba.predict.io import (
    Appender,
    Record,
    Reject,
    checked_ids,
    input_kind,
    prediction_line,
    prediction_line_json,
    read_inputs,
    resume_output,
    unique_ids,
)


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"id": "a", "text": "x"', "invalid JSON"),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
        (b'{"id": "a"}', "no 'text' field"),
        (b'{"id": "a", "text": null}', "'text' must be a string"),
        (b'{"id": "a", "text": ["x"]}', "'text' must be a string"),
        (b'{"text": "x"}', "no 'id' field"),
        (b'{"id": "", "text": "x"}', "'id' must be a non-empty string"),
        (b'{"id": true, "text": "x"}', "'id' must be a non-empty string"),
        (b'["a", "x"]', "must be a JSON object"),
        (b'{"id": "a", "text": "x"}\r{"id": "b", "text": "y"}\r', "end in a lone CR (\\r) rather than a newline"),
        (b'{"id": "a", "text": "x"} {"id": "b", "text": "y"}', "invalid JSON: Extra data at column 26"),
        # a record cut off at its line's end: the column is where it ends, not 1 (json counts the newline)
        (b'{"id": "a", "text": "x"', "invalid JSON: Expecting ',' delimiter at column 24"),
        (b'{"id": "a", "text": ', "invalid JSON: Expecting value at column 21"),
        (b'{"id": "a", "text": "x"\r', "invalid JSON: Expecting ',' delimiter at column 25"),
    ],
)
def test_bad_jsonl_records_become_rejects(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = _jsonl(tmp_path / "in.jsonl", [b'{"id": "ok", "text": "t"}', raw])
    items = list(read_inputs(path))
    assert items[0] == Record(1, "ok", "t")
    assert isinstance(items[1], Reject)
    assert items[1].line == 2 and reason in items[1].reason


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("name", ["in.jsonl", "in.jsonl.gz"])
def test_a_utf16_jsonl_is_one_clear_error_not_a_reject_per_line(tmp_path: Path, name: str, codec: str) -> None:
    # PowerShell 5's > writes UTF-16: line 1 was "not valid UTF-8", every later one "invalid JSON";
    # without a byte order mark (Python's utf-16-le, .NET's Encoding.Unicode) every line was "invalid JSON"
    import gzip

    data = "".join(json.dumps({"id": str(i), "text": "قال"}, ensure_ascii=False) + "\n" for i in range(3)).encode(codec)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    how = {"utf-16": "is UTF-16, not UTF-8", "utf-16-le": "is UTF-16 (little-endian, without a byte order mark",
           "utf-16-be": "is UTF-16 (big-endian, without a byte order mark"}[codec]
    with pytest.raises(DataError, match=f"{name}: {re.escape(how)}.* save it as UTF-8"):
        list(read_inputs(path))


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_text_file_is_a_reject_saying_so(tmp_path: Path, codec: str) -> None:
    # without a mark, Latin text decoded as UTF-8, a NUL after every letter, and was tagged as that
    (tmp_path / "a.txt").write_bytes("قال الوزير (Reuters)".encode(codec))
    (tmp_path / "b.txt").write_bytes("قال الوزير".encode())
    items = list(read_inputs(tmp_path))
    assert isinstance(items[0], Reject) and items[0].reason.startswith("is UTF-16")
    assert items[1] == Record(2, "b", "قال الوزير")


@pytest.mark.parametrize(
    ("data", "order"),
    [
        # Arabic alone, no NUL among its high bytes: it was not claimed, and it is valid UTF-8 ("B\x06'\x06D\x06",
        # every byte under 0x80), so a one-word text was tagged as that
        ("قال".encode("utf-16-le"), "little-endian"),
        ("قال".encode("utf-16-be"), "big-endian"),
        ("قال (AFP)".encode("utf-16-le"), "little-endian"),
        ('{"id": 1}'.encode("utf-16-be"), "big-endian"),
        ("قال الجيش".encode(), None),
        (b'{"id": "a", "text": "x\\u0000"}', None),
        (b"a\x00", None),  # too short to tell
        (b"\x00\x00\x00\x00", None),  # NULs, no letters
        ("Ωμέγα (x)".encode("utf-16-le"), None),  # Greek is neither Latin-1 nor Arabic: not claimed
    ],
)
def test_utf16_without_a_mark_is_told_by_its_nul_bytes(data: bytes, order: str | None) -> None:
    from naba.corpus.fileio import utf16_problem

    problem = utf16_problem(data)
    assert (problem is None) == (order is None)
    if order is not None:
        assert problem.startswith(f"is UTF-16 ({order}, without a byte order mark")


@pytest.mark.parametrize("buffer", [7, 64, 1 << 20])
def test_lines_longer_than_the_read_buffer_come_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buffer: int) -> None:
    # the reader takes READ_BUFFER bytes at a time: lines cross its edges, and a bad one among them
    # is still one reject with its own line number
    import naba.predict.io as io_module

    monkeypatch.setattr(io_module, "READ_BUFFER", buffer)
    texts = ["قال الوزير " * n + "\r\t😀" for n in (0, 1, 9, 40)]
    lines = [json.dumps({"id": str(i), "text": t}, ensure_ascii=False).encode() for i, t in enumerate(texts)]
    src = _jsonl(tmp_path / "in.jsonl", lines[:2] + [b'{"id": "x", "text": ' + b"9" * 100] + lines[2:])
    got = list(read_inputs(src))
    assert [r.text for r in got if isinstance(r, Record)] == texts
    assert [(r.line, r.reason.split(":")[0]) for r in got if isinstance(r, Reject)] == [(3, "invalid JSON")]
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(b'{"id": "%d", "spans": []}\n' % i for i in range(30)) + b'{"id": "torn", "sp')
    assert resume_output(out) == {str(i) for i in range(30)}


# files saved with a BOM joined with cat: each one's first record was a reject ("Unexpected UTF-8 BOM")
@pytest.mark.parametrize("joined", [1, 3])
def test_a_bom_before_any_line_is_dropped(tmp_path: Path, joined: int) -> None:
    one = b'\xef\xbb\xbf{"id": "%d", "text": "\xd9\x82\xd8\xa7\xd9\x84"}\n'
    path = _jsonl(tmp_path / "in.jsonl", [(one % i).rstrip(b"\n") for i in range(joined)])
    assert list(read_inputs(path)) == [Record(i + 1, str(i), "قال") for i in range(joined)]


def test_jsonl_fields_are_configurable_and_int_ids_become_strings(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "in.jsonl", [b'{"doc": 7, "body": "\xd9\x86\xd8\xa8\xd8\xa3"}', b"", b'{"doc": "b", "body": ""}'])
    assert list(read_inputs(path, id_field="doc", text_field="body")) == [Record(1, "7", "نبأ"), Record(3, "b", "")]


def test_duplicate_ids_are_rejected_after_the_first(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "in.jsonl", [b'{"id": "a", "text": "1"}', b'{"id": "b", "text": "2"}', b'{"id": "a", "text": "3"}'])
    items = list(unique_ids(read_inputs(path), source=str(path)))
    assert [type(i).__name__ for i in items] == ["Record", "Record", "Reject"]
    assert items[2].line == 3 and "duplicate id 'a' (first at line 1)" in items[2].reason


def test_checked_ids_pass_rejects_and_blank_documents_through() -> None:
    items = [Reject("in.jsonl", 1, "invalid JSON"), Record(2, "a/../b", " \n"), Record(3, "a/../b", "x"), Record(4, "c", "y")]
    got = list(checked_ids(items, lambda i: "unsafe" if ".." in i else None, source="in.jsonl"))
    assert got == [items[0], items[1], Reject("in.jsonl", 3, "unsafe", "a/../b"), items[3]]


def test_an_empty_plain_jsonl_has_no_records(tmp_path: Path) -> None:
    # unlike an empty .jsonl.gz (a download that never began): no compressor writes an empty file
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"")
    assert list(read_inputs(path)) == []


def test_text_file_keeps_crlf_and_uses_the_stem_as_id(tmp_path: Path) -> None:
    path = tmp_path / "article-1.txt"
    path.write_bytes("سطر\r\nثان\n".encode())
    assert list(read_inputs(path)) == [Record(1, "article-1", "سطر\r\nثان\n")]


def test_folder_is_read_sorted_and_bad_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("ب", encoding="utf-8")
    (tmp_path / "a.txt").write_text("أ", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xff")
    (tmp_path / "d.TXT").write_text("د", encoding="utf-8")  # read, as a lone d.TXT is
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    items = list(read_inputs(tmp_path))
    assert items[:2] == [Record(1, "a", "أ"), Record(2, "b", "ب")]
    assert isinstance(items[2], Reject) and items[2].id == "c" and "UTF-8" in items[2].reason
    assert items[3:] == [Record(4, "d", "د")]


@pytest.mark.parametrize(
    ("hidden", "data"),
    [
        # the resource fork beside each file of a folder copied from a Mac: a reject for every article
        ("._a.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\t\xb0\xe2"),
        # UTF-8 text: tagged as one more document, id '.notes'
        (".notes.txt", "ملاحظات".encode()),
    ],
    ids=["mac-resource-fork", "hidden-text"],
)
def test_hidden_files_in_a_folder_are_not_documents(tmp_path: Path, hidden: str, data: bytes) -> None:
    (tmp_path / "a.txt").write_text("أ", encoding="utf-8")
    (tmp_path / hidden).write_bytes(data)
    assert list(read_inputs(tmp_path)) == [Record(1, "a", "أ")]
    (tmp_path / "a.txt").unlink()
    with pytest.raises(DataError, match=rf"no \.txt files in it; it holds {re.escape(hidden)} \(subfolders and hidden"):
        list(read_inputs(tmp_path))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        # a Parquet dataset as pandas / Spark write it (a folder articles.parquet/ of part files)
        (["part-0.parquet", "part-1.parquet"], r"no \.txt files? in it; it holds part-0\.parquet, part-1\.parquet"),
        (["a.jsonl"], r"it holds a\.jsonl"),
        (["2023/01.txt"], r"it holds 2023/"),  # subfolders are not read
        ([], None),  # an empty folder: nothing to do, as an empty JSONL file
    ],
)
def test_a_folder_without_txt_files_is_a_data_error(tmp_path: Path, files: list[str], message: str | None) -> None:
    folder = tmp_path / "articles.parquet"
    folder.mkdir()
    for name in files:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("x", encoding="utf-8")
    if message is None:
        assert list(read_inputs(folder)) == []
    else:
        with pytest.raises(DataError, match=message):
            list(read_inputs(folder))


def _bytes_name(folder: Path, name: bytes, data: bytes) -> Path:
    """A file whose name is ``name``'s raw bytes (``os.fsdecode``: not UTF-8 -> lone surrogates)."""
    try:
        with open(os.fsencode(folder) + b"/" + name, "wb") as fh:
            fh.write(data)
    except OSError:
        pytest.skip("the file system refuses names that are not UTF-8")
    return folder / os.fsdecode(name)


@pytest.mark.parametrize(
    ("kind", "name", "data", "reasons"),
    [
        # a cp1256 name (a zip made on Arabic Windows): no UTF-8 output can hold it as an id
        ("folder", b"\xe3\xd5\xd1.txt", "خبر".encode(), ["file name is not valid UTF-8"]),
        ("text", b"\xe3\xd5\xd1.txt", "خبر".encode(), ["file name is not valid UTF-8"]),
        # an input whose own name is not UTF-8: its rejects still have to be written
        ("jsonl", b"\xe3\xd5.jsonl", b'{"id": "a", "text": "x"}\n{broken\n', ["invalid JSON"]),
    ],
    ids=["folder", "text", "jsonl"],
)
def test_names_that_are_not_utf8_make_writable_rejects(
    tmp_path: Path, kind: str, name: bytes, data: bytes, reasons: list[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text("نص", encoding="utf-8")
    path = _bytes_name(folder, name, data)
    items = list(read_inputs(folder if kind == "folder" else path))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [r.reason.split(":")[0] for r in rejects] == reasons
    for item in items:
        # what the job writes: output lines (ids) and rejects lines, UTF-8
        line = json.dumps(item.to_dict() if isinstance(item, Reject) else {"id": item.id}, ensure_ascii=False)
        line.encode("utf-8")
    assert "\\x" in rejects[0].to_dict()["source"]  # the name's bytes, shown


def test_parquet_is_read_in_row_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": ["a", "b", None, "d"], "text": ["x", None, "z", "w"], "other": [1, 2, 3, 4]})
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    items = list(read_inputs(path, rows_per_batch=2))
    assert items[0] == Record(1, "a", "x")
    assert isinstance(items[1], Reject) and items[1].line == 2 and "'text' must be a string" in items[1].reason
    assert isinstance(items[2], Reject) and "'id'" in items[2].reason
    assert items[3] == Record(4, "d", "w")


@pytest.mark.parametrize("column", ["id", "text"])
@pytest.mark.parametrize("dictionary", [False, True])
def test_parquet_strings_that_are_not_utf8_are_rejects(tmp_path: Path, column: str, dictionary: bool) -> None:
    # Arrow does not check a string column's bytes when it reads (nor do some writers when they
    # write): a bad value surfaces only when it becomes a Python str
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = b"d0" + b"\xe3\xd5" + b"d2"  # cp1256 bytes in the second value
    offsets = pa.array([0, 2, 4, 6], pa.int32()).buffers()[1]
    bad = pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(data)])
    if dictionary:
        bad = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), bad)
    good = pa.array(["d0", "d1", "d2"])
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": bad if column == "id" else good, "text": bad if column == "text" else good}), path)
    items = list(read_inputs(path))
    assert items[0] == Record(1, "d0", "d0") and items[2] == Record(3, "d2", "d2")
    assert isinstance(items[1], Reject) and items[1].line == 2
    assert items[1].reason == f"{column!r} is not valid UTF-8: invalid continuation byte at byte 0"
    assert items[1].id == (None if column == "id" else "d1")


def test_parquet_without_the_text_column_is_a_data_error(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "in.parquet")
    with pytest.raises(DataError, match=r"no column\(s\) \['text'\]"):
        list(read_inputs(tmp_path / "in.parquet"))


@pytest.mark.parametrize(
    ("name", "kind"),
    [("x.jsonl", "jsonl"), ("x.JSONL", "jsonl"), ("x.txt", "text"), ("x.parquet", "parquet"), ("x.csv", None),
     ("x.json", None), ("x.jsonl.gz", "jsonl"), ("x.ndjson.BZ2", "jsonl"), ("x.JSONL.xz", "jsonl"), ("x.gz", None),
     ("x.csv.gz", None), ("x.jsonl.zip", None), ("x.parquet.gz", None)],
)
def test_input_kind(tmp_path: Path, name: str, kind: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    if kind is None:
        # the message lists what is read, the compressed JSONL names too
        with pytest.raises(DataError, match=r"unknown input format .*\.jsonl\.gz, \.jsonl\.bz2, \.jsonl\.xz, \.jsonl\.zst"):
            input_kind(path)
    else:
        assert input_kind(path) == kind


def test_missing_input_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        input_kind(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("content", "kept", "ids"),
    [
        (b"", b"", set()),
        (b'{"id": "a", "spans": []}\n', b'{"id": "a", "spans": []}\n', {"a"}),
        (b'{"id": "a", "spans": []}\n{"id": "b", "sp', b'{"id": "a", "spans": []}\n', {"a"}),
        (b'{"id": "a", "sp', b"", set()),
        (b'{"id": "a", "spans": []}\n{"i', b'{"id": "a", "spans": []}\n', {"a"}),  # torn within its first bytes
        # a torn multi-byte character at the very end
        ('{"id": "a", "spans": []}\n{"id": "ب'.encode()[:-1], b'{"id": "a", "spans": []}\n', {"a"}),
    ],
)
@pytest.mark.parametrize("repair", [True, False])
def test_resume_output_repairs_a_torn_last_line(
    tmp_path: Path, content: bytes, kept: bytes, ids: set[str], repair: bool
) -> None:
    # repair=False reads another shard's part file, which its own job may be writing: left as it is
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    assert resume_output(path, repair=repair) == ids
    assert path.read_bytes() == (kept if repair else content)


def test_resume_output_refuses_a_file_damaged_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": "a", "spans": []}\nnot json\n{"id": "b", "spans": []}\n')
    with pytest.raises(DataError, match="line 2"):
        resume_output(path)


@pytest.mark.parametrize(
    "line",
    [
        # -o naming an annotated corpus: its ids were taken as done and predictions appended to it
        '{"id": "a", "text": "قال الجيش", "spans": [{"start": 4, "end": 9, "label": "ACTOR"}]}',  # naba's JSONL
        '{"id": "a", "text": "قال الجيش"}',  # naba's JSONL, no spans
        '{"id": 1, "text": "قال الجيش", "label": [[4, 9, "ACTOR"]]}',  # a doccano export
        '{"id": "a", "text": "x", "spans": [], "meta": {"source": "s"}}',
        '{"id": null, "spans": []}',
        '{"id": "a", "spans": [{"start": 0, "end": 1, "label": "ACTOR", "layer": "entity"}]}',  # spans without scores
    ],
)
def test_resume_output_refuses_lines_that_are_not_predictions(tmp_path: Path, line: str) -> None:
    path = tmp_path / "out.jsonl"
    ours = '{"id": "b", "spans": [{"start": 0, "end": 1, "label": "ACTOR", "layer": "entity", "text": "x", "score": 0.5}]}'
    content = (ours + "\n" + line + "\n").encode()
    path.write_bytes(content)
    with pytest.raises(DataError, match="line 2: not a naba prediction line"):
        resume_output(path)
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("content", "where"),
    [
        # -o naming a file of someone else's without a last newline: its last line was cut as torn
        # before it was found not to be naba's output; a one-line corpus was emptied and written over
        (b'{"id": "a", "text": "x", "spans": [{"start": 0, "end": 1, "label": "ACTOR"}]}', "line 1"),
        (b'{"id": "a", "spans": []}\n{"id": 1, "text": "x", "label": []}', "line 2"),
        (b'{\n  "id": "a"\n}', "line 1"),  # a JSON document
        (b'{"id": "a", "spans": []}\nid,text', "line 2"),  # a CSV file's torn line is no line of ours
    ],
)
def test_resume_output_cuts_nothing_of_a_file_that_is_not_predictions(
    tmp_path: Path, content: bytes, where: str
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"{where}: not a naba prediction line"):
        resume_output(path)
    assert path.read_bytes() == content


def test_resume_of_a_missing_output_is_empty(tmp_path: Path) -> None:
    assert resume_output(tmp_path / "none.jsonl") == set()


def test_appender_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with Appender(path) as out:
        out.write([json.dumps({"id": "a"})])
        out.write([])
    with Appender(path) as out:
        out.write([json.dumps({"id": "b"}), json.dumps({"id": "c"})])
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["a", "b", "c"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to fill a disk")
@pytest.mark.parametrize("lines", [['{"id": "a", "spans": []}'], ['{"id": "قال", "spans": []}'] * 5000])
def test_appender_on_a_full_disk_is_a_data_error(lines: list[str]) -> None:
    # a full disk mid-job ended 'naba predict' with a raw OSError traceback (ENOSPC) from io.py
    with pytest.raises(DataError, match=r"/dev/full: cannot write file: No space left on device"):
        with Appender("/dev/full") as out:
            out.write(lines)


def test_appender_that_cannot_open_its_file_is_a_data_error(tmp_path: Path) -> None:
    # opening the file (a part file under a folder that is a file, or one this process may not
    # write) raised a raw OSError traceback; writing and closing already gave a DataError
    (tmp_path / "taken").write_text("")
    with pytest.raises(DataError, match=r"taken/out\.jsonl: cannot write file"):
        Appender(tmp_path / "taken" / "out.jsonl")


def test_atomic_open_leaves_nothing_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(path) as out:
        out.write("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_predict_outputs_get_the_mode_of_a_new_file(tmp_path: Path, umask: int) -> None:
    text, binary, export = tmp_path / "page.html", tmp_path / "merged.jsonl", tmp_path / "tasks.json"
    text.write_text("old")
    text.chmod(0o600)
    old = os.umask(umask)
    try:
        with atomic_open(text) as out:
            out.write("نص\r\n")
        with atomic_open(binary, mode="wb") as out:
            out.write(b"{}\n")
        write_labelstudio([("a", "نص", [])], export)
    finally:
        os.umask(old)
    for path in (text, binary, export):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name  # not mkstemp's 0600
    assert text.read_bytes() == "نص\r\n".encode()  # UTF-8, newlines as written


def test_atomic_open_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="is a file, not a folder"), atomic_open(blocker / "out.jsonl"):
        pass
    # an error of the block's own (reading an input) is not a write failure: it passes through as it is
    with pytest.raises(FileNotFoundError), atomic_open(tmp_path / "out.jsonl") as out:
        out.write((tmp_path / "missing.txt").read_text())
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "out.jsonl", mode="a"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


SPAN = {"start": 0, "end": 4, "label": "ACTOR", "layer": "entity", "text": "الجيش", "score": 0.5}


@pytest.mark.parametrize(
    "doc_id, spans, text",
    [
        ("a", [], None),
        ("a", [SPAN], None),
        ("وثيقة \"1\"", [SPAN, {**SPAN, "text": "😀 \u200f\n\t\\"}], "قال الجيش 😀\r\n"),
        ("", [SPAN], ""),
        ("7", [{**SPAN, "score": 1e-05}], "\u0000 \ud7ff \U0010ffff"),
    ],
)
def test_a_line_from_spans_made_json_elsewhere_is_the_line_json_dumps_writes(doc_id, spans, text) -> None:
    # the batch job serialises spans in its host workers and joins the line in the main process
    obj = {"id": doc_id, **({"text": text} if text is not None else {}), "spans": spans}
    want = json.dumps(obj, ensure_ascii=False)
    assert prediction_line_json(doc_id, json.dumps(spans, ensure_ascii=False), text=text) == want
    assert prediction_line(doc_id, spans, text=text) == want
    assert json.loads(want) == obj



@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "a", "text": "قال", "text": "ذهب"}', "key 'text' given twice in the record"),  # was tagged as "ذهب"
        ('{"id": "a", "id": "b", "text": "قال"}', "key 'id' given twice in the record"),
        ('{"id": "a", "text": "he wrote \\"text\\": twice \\"text\\""}', None),  # the name in the text: fine
        ('{"id": "a", "text": "قال", "meta": {"text": 1, "text": 2}}', None),  # not the record's own field
    ],
)
def test_a_jsonl_record_with_its_id_or_text_twice_is_a_reject(tmp_path: Path, line: str, expected: str | None) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(line + "\n", encoding="utf-8")
    (item,) = list(read_inputs(src))
    if expected is None:
        assert isinstance(item, Record) and item.id == "a"
    else:
        assert isinstance(item, Reject) and item.line == 1 and item.reason == expected


def _compress(codec: str, data: bytes) -> bytes:
    """``data`` as the codec's command-line tool writes it (zstd: with its checksum, as zstd does)."""
    if codec == "zst":
        zstandard = pytest.importorskip("zstandard")
        # two frames, as pzstd or cat of two files make
        half = len(data) // 2
        make = zstandard.ZstdCompressor(write_checksum=True)
        return make.compress(data[:half]) + make.compress(data[half:])
    return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lambda b: lzma.compress(b, preset=1)}[codec](data)


CODECS = ["gz", "bz2", "xz", "zst"]
# a BOM, a blank line, bad records of each kind, a long line, integer ids, lines under a custom field name
_MIXED = (
    b"\xef\xbb\xbf" + "\n".join([
        json.dumps({"doc": i, "body": "قال الوزير " * (i % 7 * 30) + f"{i}"}, ensure_ascii=False) for i in range(300)
    ]).encode()
    + b'\n\n{"doc": "x", "body": \n\xff\xfe\n{"doc": "y"}\n{"doc": 5, "body": "again"}\n{"doc": "z", "body": "last"}\n'
)


@pytest.mark.parametrize("buffer", [7, 1 << 20])
@pytest.mark.parametrize("codec", CODECS)
def test_compressed_jsonl_reads_as_the_plain_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, buffer: int
) -> None:
    # the same records, rejects and 1-based line numbers as the decompressed file, lines crossing
    # the read buffer's edges included
    import naba.predict.io as io_module

    monkeypatch.setattr(io_module, "READ_BUFFER", buffer)
    plain = tmp_path / "in.jsonl"
    plain.write_bytes(_MIXED)
    packed = tmp_path / f"in.jsonl.{codec}"
    packed.write_bytes(_compress(codec, _MIXED))
    want = list(unique_ids(read_inputs(plain, id_field="doc", text_field="body"), source=str(plain)))
    got = list(unique_ids(read_inputs(packed, id_field="doc", text_field="body"), source=str(packed)))
    assert [r for r in got if isinstance(r, Record)] == [r for r in want if isinstance(r, Record)]
    assert [(r.source, r.line, r.reason) for r in got if isinstance(r, Reject)] == [
        (str(packed), r.line, r.reason) for r in want if isinstance(r, Reject)
    ]
    assert [r.line for r in got if isinstance(r, Reject)] == [302, 303, 304, 305]
    assert got[0] == Record(1, "0", "0")  # the BOM dropped


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_compressed_jsonl_is_a_data_error_after_the_lines_before_it(
    tmp_path: Path, codec: str, damage: str
) -> None:
    # 2.6 MB: three bz2 blocks (each decoded whole), so that one comes before the damage
    n = 20000
    rng = random.Random(0)
    data = "".join(json.dumps({"id": f"d{i}", "text": rng.randbytes(56).hex()}) + "\n" for i in range(n)).encode()
    packed = bytearray(_compress(codec, data))
    if damage == "truncated":  # an interrupted download
        del packed[len(packed) * 2 // 3 :]
    else:  # bytes garbled in the middle
        middle = len(packed) // 2
        packed[middle : middle + 64] = bytes(64)
    src = tmp_path / f"in.jsonl.{codec}"
    src.write_bytes(bytes(packed))
    got = []
    with pytest.raises(DataError) as caught:
        for item in read_inputs(src):
            got.append(item)
    (problem,) = caught.value.problems
    reason = "compressed stream ends early: the file is truncated" if damage == "truncated" else "compressed stream is corrupt"
    assert problem.source == str(src) and problem.reason.startswith(reason)
    # every line before the one it reached was read, as in the plain file; garbled deflate data may
    # decode to garbage lines (rejects, blank lines) before gzip's CRC check finds it
    whole = next((k for k, r in enumerate(got) if isinstance(r, Reject)), len(got))
    assert [r.id for r in got[:whole]] == [f"d{i}" for i in range(whole)] and 0 < whole < n
    line = int(problem.where.removeprefix("line "))
    assert line == whole + 1 if damage == "truncated" else line > whole
    assert f"{src}: line {line}: {reason}" in str(caught.value)


@pytest.mark.parametrize(
    ("damage", "advice", "first_text"),
    [
        # the text before the cut is whole: resuming after it is right
        ("truncated", "a rerun on the repaired file resumes after them", "قال 0"),
        # a garbled byte reads as other text and only the CRC at the end finds it: "resumes after them"
        # left the first document tagged on its damaged text for good
        ("garbled", "may be damaged too: tag the repaired file into a new output", "قال 9"),
    ],
)
def test_the_advice_after_a_damaged_gz_fits_the_damage(
    tmp_path: Path, damage: str, advice: str, first_text: str
) -> None:
    lines = [json.dumps({"id": f"d{i}", "text": f"قال {i}"}, ensure_ascii=False).encode() + b"\n" for i in range(3)]
    packer = zlib.compressobj(0, zlib.DEFLATED, 31)  # stored blocks: the text lies in the file as it is
    packed = bytearray(packer.compress(b"".join(lines)) + packer.flush())
    if damage == "truncated":
        del packed[-12:]
    else:
        packed[packed.index("قال 0".encode()) + len("قال ".encode())] = ord("9")
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes(bytes(packed))
    got = []
    with pytest.raises(DataError) as caught:
        for item in read_inputs(src):
            got.append(item)
    assert got[0].text == first_text
    assert advice in caught.value.problems[0].reason
    if damage == "garbled":
        assert "resumes after them" not in caught.value.problems[0].reason


@pytest.mark.parametrize("codec", CODECS)
def test_an_empty_compressed_jsonl_is_a_truncated_one(tmp_path: Path, codec: str) -> None:
    # 0 bytes, which no compressor writes (a download that never began): .gz and .zst were read as no
    # lines, so the job tagged nothing and succeeded, where .bz2 and .xz said the file is truncated
    if codec == "zst":
        pytest.importorskip("zstandard")
    src = tmp_path / f"in.jsonl.{codec}"
    src.write_bytes(b"")
    with pytest.raises(DataError, match=re.escape(f"{src}: line 1: compressed stream ends early: the file is truncated")):
        list(read_inputs(src))
    src.write_bytes(_compress(codec, b""))  # an empty file compressed: no lines, no error
    assert list(read_inputs(src)) == []


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("head", [b"", b"\xef\xbb\xbf", b"\n"])
def test_plain_jsonl_under_a_compressed_name_says_so(tmp_path: Path, codec: str, head: bytes) -> None:
    # curl on a server that sends Content-Encoding: gzip saves the JSONL decompressed under its .gz name:
    # it was "compressed stream is corrupt (BadGzipFile: Not a gzipped file (b'{\"'))", a file to repair
    if codec == "zst":
        pytest.importorskip("zstandard")
    src = tmp_path / f"in.jsonl.{codec}"
    src.write_bytes(head + b'{"id": "a", "text": "t"}\n')
    with pytest.raises(DataError, match=re.escape(f"{src}: line 1: is plain JSONL, not ")):
        list(read_inputs(src))


def test_zst_without_zstandard_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.jsonl.zst"
    src.write_bytes(b"\x28\xb5\x2f\xfd")  # whatever it holds: zstandard is asked for first
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard raises ImportError
    for read in (input_kind, lambda p: list(read_inputs(p))):
        with pytest.raises(DataError, match=r"in\.jsonl\.zst: reading \.zst needs the zstandard package: pip install "
                           r"zstandard, or decompress it first"):
            read(src)
