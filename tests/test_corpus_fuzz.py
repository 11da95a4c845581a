"""Fuzzing every reader: random bytes, JSON values, document-like records and token lines.

The only exception a reader may raise on bad input is DataError; whatever it accepts must be
valid (every shared check passes) and must survive a write and a second read unchanged.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from naba.corpus import formats
from naba.corpus.labels import DEFAULT_SCHEME
from naba.corpus.validate import check_document
from naba.errors import DataError

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (format, file name) for every reader; brat gets its .txt written beside the .ann.
READERS = [("jsonl", "f.jsonl"), ("doccano", "f.jsonl"), ("labelstudio", "f.json"), ("conll", "f.conll"), ("brat", "f.ann")]
_counter = itertools.count()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
texts = st.text(alphabet="قال محمد في دمشق 🙂\u200f\n\r\t.ab", max_size=30)
labels = st.sampled_from(["ACTOR", "LOCATION", "CLAIM", "PERS", "ORG", "LOC", "MISC", "FOO", "", "B-PERS"])
known = st.sampled_from(["ACTOR", "LOCATION", "CLAIM", "PERS", "MISC"])
offsets = st.integers(-2, 35) | st.sampled_from([None, "3", 1.0, True])
span_dict = st.fixed_dictionaries(
    {"start": offsets, "end": offsets, "label": labels | st.integers()},
    optional={"text": texts, "score": json_values},
)


@st.composite
def plausible_native(draw: st.DrawFn) -> dict:
    """A record that is often valid: offsets inside the text, labels mostly known."""
    text = draw(texts.filter(str.strip))
    point = st.integers(0, len(text))
    spans = [
        {"start": a, "end": b, "label": draw(known)}
        for a, b in draw(st.lists(st.tuples(point, point).map(sorted), max_size=2))
    ]
    record = {"id": draw(st.sampled_from(["a", "b", "c", "د"])), "text": text, "spans": spans}
    if draw(st.booleans()):
        record["meta"] = draw(st.dictionaries(st.text(max_size=3), json_values, max_size=2))
    return record


native = plausible_native() | st.fixed_dictionaries(
    {"id": st.text(max_size=4) | st.integers(0, 3), "text": texts},
    optional={"spans": st.lists(span_dict, max_size=4) | json_values, "meta": json_values},
)
doccano = st.fixed_dictionaries(
    {"text": texts},
    optional={
        "id": st.integers(0, 3) | st.text(max_size=3) | json_values,
        "label": st.lists(st.tuples(offsets, offsets, labels).map(list) | json_values, max_size=4),
        "entities": st.lists(
            st.fixed_dictionaries({"start_offset": offsets, "end_offset": offsets, "label": labels}) | json_values,
            max_size=4,
        ),
    },
)
ls_value = st.fixed_dictionaries(
    {"start": offsets, "end": offsets, "labels": st.lists(labels, max_size=2) | json_values},
    optional={"text": texts | json_values},
)
ls_result = st.fixed_dictionaries(
    {"type": st.sampled_from(["labels", "choices", "relation"]), "value": ls_value | json_values},
    optional={"id": st.text(max_size=3) | st.integers()},
)


@st.composite
def plausible_ls_task(draw: st.DrawFn) -> dict:
    """A task that is often valid, its offsets in code points or UTF-16 units."""
    record = draw(plausible_native())
    text, utf16 = record["text"], draw(st.booleans())

    def unit(i: int) -> int:
        return len(text[:i].encode("utf-16-le")) // 2 if utf16 else i

    result = [
        {"type": "labels", "value": {"start": unit(s["start"]), "end": unit(s["end"]),
                                     "text": text[s["start"]:s["end"]], "labels": [s["label"]]}}
        for s in record["spans"]
    ]
    return {"id": record["id"], "data": {"text": text}, "annotations": [{"result": result}]}


ls_task = plausible_ls_task() | st.fixed_dictionaries(
    {"data": st.fixed_dictionaries({"text": texts}, optional={"meta": json_values}) | json_values},
    optional={
        "id": st.integers(0, 3) | st.text(max_size=3) | json_values,
        "annotations": st.lists(
            st.fixed_dictionaries(
                {"result": st.lists(ls_result, max_size=3) | json_values},
                optional={"was_cancelled": st.booleans()},
            ),
            max_size=3,
        ) | json_values,
    },
)
tokens = st.text(alphabet="محمد🙂\u200f\u202a-DOCSTART", min_size=0, max_size=6)
tags = st.sampled_from(["O", "B-PERS", "I-PERS", "E-LOC", "S-ORG", "I-MISC", "B-CLAIM", "B-", "X", "o", "B-FOO"])
token_line = st.one_of(
    st.tuples(tokens, st.sampled_from([" ", "\t", "  "]), tags).map("".join),
    st.tuples(tokens, st.just(" POS "), tags).map("".join),
    st.sampled_from(["", " \t", "-DOCSTART- -X- O", "\u200f", "lonely"]),
)
token_files = st.lists(token_line, max_size=12).map(lambda lines: "\n".join(lines))
ann_line = st.one_of(
    st.tuples(st.sampled_from(["T1", "T2", "T3"]), labels, offsets, offsets, texts).map(
        lambda t: f"{t[0]}\t{t[1]} {t[2]} {t[3]}\t{t[4]}".replace("\n", " ")
    ),
    st.sampled_from(["R1\tRel Arg1:T1 Arg2:T2", "#1\tnote", "T4\tPERS 0 2;3 4\tx", "X9", "T5\tPERS", ""]),
)


def _write(base: Path, name: str, data: bytes, txt: bytes = b"") -> Path:
    folder = base / f"case{next(_counter)}"
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    if name.endswith(".ann"):
        path.with_suffix(".txt").write_bytes(txt)
    return path


def _read_only_data_errors(path: Path, fmt: str) -> None:
    """Read ``path``: DataError is fine; accepted documents must be valid and round-trip."""
    try:
        docs = formats.read(path, format=fmt)
    except DataError:
        event("rejected")
        return
    event(f"accepted {min(len(docs), 2)}+ documents")
    for doc in docs:
        assert check_document(doc, DEFAULT_SCHEME, source="fuzz", where=doc.id) == []
    if fmt != "conll":  # CoNLL rebuilds text from tokens; its round trip is tested on its own
        out = path.parent / "out" / path.name
        formats.write(docs, out if fmt != "brat" else out.parent, format=fmt)
        assert formats.read(out if fmt != "brat" else out.parent, format=fmt) == docs


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize(("fmt", "name"), READERS)
@FUZZ
@given(data=st.binary(max_size=200), txt=st.binary(max_size=40))
def test_random_bytes(base: Path, fmt: str, name: str, data: bytes, txt: bytes) -> None:
    _read_only_data_errors(_write(base, name, data, txt), fmt)


@pytest.mark.parametrize(("fmt", "name"), READERS[:3])
@FUZZ
@given(values=st.lists(json_values, max_size=3))
def test_random_json_values(base: Path, fmt: str, name: str, values: list) -> None:
    text = json.dumps(values) if fmt == "labelstudio" else "\n".join(json.dumps(v) for v in values)
    _read_only_data_errors(_write(base, name, text.encode()), fmt)


@pytest.mark.parametrize(
    ("fmt", "name", "records"),
    [("jsonl", "f.jsonl", native), ("doccano", "f.jsonl", doccano), ("labelstudio", "f.json", ls_task)],
)
@FUZZ
@given(data=st.data())
def test_random_documents(base: Path, fmt: str, name: str, records: st.SearchStrategy, data: st.DataObject) -> None:
    values = data.draw(st.lists(records, max_size=3))
    body = json.dumps(values, ensure_ascii=False) if fmt == "labelstudio" else "\n".join(
        json.dumps(v, ensure_ascii=False) for v in values
    )
    _read_only_data_errors(_write(base, name, body.encode()), fmt)


@FUZZ
@given(content=token_files, bom=st.booleans(), crlf=st.booleans(), repair=st.booleans())
def test_random_token_lines(base: Path, content: str, bom: bool, crlf: bool, repair: bool) -> None:
    raw = ("\ufeff" if bom else "") + (content.replace("\n", "\r\n") if crlf else content)
    path = _write(base, "f.conll", raw.encode())
    try:
        docs = formats.read(path, bio_repair="begin" if repair else None)
    except DataError:
        return
    for doc in docs:
        assert check_document(doc, DEFAULT_SCHEME, source="fuzz", where=doc.id) == []
        # The text rebuild rule: tokens joined by one space, sentences by a line break.
        assert "  " not in doc.text and not doc.text.startswith(" ") and not doc.text.endswith(" ")


@FUZZ
@given(text=texts, lines=st.lists(ann_line, max_size=5), policy=st.sampled_from(["error", "merge", "split"]))
def test_random_brat_lines(base: Path, text: str, lines: list[str], policy: str) -> None:
    path = _write(base, "f.ann", "\n".join(lines).encode(), text.encode())
    try:
        docs = formats.read(path, discontinuous=policy)
    except DataError:
        return
    assert docs[0].text == text
