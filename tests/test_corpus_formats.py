"""Readers and writers: round trips for every format and each format's own rules."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import listing

from naba.corpus import formats
from naba.corpus.brat import read_brat
from naba.corpus.conll import read_conll, write_conll
from naba.corpus.doccano import read_doccano
from naba.corpus.document import Document, Span
from naba.corpus.fileio import atomic_write, staged_files
from naba.corpus.jsonl import read_jsonl, write_jsonl
from naba.corpus.labels import DEFAULT_SCHEME
from naba.corpus.labelstudio import read_labelstudio, write_labelstudio
from naba.errors import ConfigError, DataError

EMOJI_TEXT = "🙂 قال الجيش السوري"  # the emoji is 1 code point but 2 UTF-16 code units
ACTOR_CP = (6, 18)  # "الجيش السوري" in code points
ACTOR_UTF16 = (7, 19)


def _emoji_doc() -> Document:
    return Document("e1", EMOJI_TEXT, [Span(*ACTOR_CP, "ACTOR")])


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "opts"),
    [
        ("jsonl", "c.jsonl", {}),
        ("doccano", "c.jsonl", {}),
        ("doccano", "c.jsonl", {"shape": "entities"}),
        ("labelstudio", "c.json", {}),
        ("labelstudio", "c.json", {"offsets": "utf16"}),
        ("brat", "folder", {}),
    ],
)
def test_round_trip(tmp_path: Path, sample_docs: list[Document], fmt: str, name: str, opts: dict) -> None:
    docs = [*sample_docs, _emoji_doc()]
    formats.write(docs, tmp_path / "a" / name, format=fmt, **opts)
    first = formats.read(tmp_path / "a" / name, format=fmt)
    formats.write(first, tmp_path / "b" / name, format=fmt, **opts)
    second = formats.read(tmp_path / "b" / name, format=fmt)
    assert second == first
    # Everything but what the format cannot hold survives the first write too.
    keeps_meta = fmt != "brat"
    expected = docs if keeps_meta else [Document(d.id, d.text, d.spans) for d in docs]
    assert first == expected


def test_native_write_is_byte_exact(tmp_path: Path, sample_docs: list[Document]) -> None:
    canonical = (
        '{"id": "x1", "text": "في دمشق", "spans": [{"start": 3, "end": 7, "label": "LOCATION"}], '
        '"meta": {"k": [1, "ب"]}}\n'
        '{"id": "x2", "text": "نص", "spans": []}\n'
        '{"id": "x3", "text": "سطر\u2028سطر\\r\\nآخر", "spans": []}\n'  # U+2028 raw: not a line break in JSONL
    )
    src = tmp_path / "in.jsonl"
    src.write_text(canonical, encoding="utf-8")
    write_jsonl(read_jsonl(src), tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == canonical
    write_jsonl(sample_docs, tmp_path / "s1.jsonl")
    write_jsonl(read_jsonl(tmp_path / "s1.jsonl"), tmp_path / "s2.jsonl")
    assert (tmp_path / "s1.jsonl").read_bytes() == (tmp_path / "s2.jsonl").read_bytes()


# files saved with a BOM (Notepad) and joined with cat: a BOM starts each one's first line. The later
# ones were "invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)"; the CoNLL reader takes them
@pytest.mark.parametrize(
    ("fmt", "line"),
    [
        ("jsonl", '{"id": "%s", "text": "في دمشق", "spans": [{"start": 3, "end": 7, "label": "LOCATION"}]}'),
        ("doccano", '{"id": "%s", "text": "في دمشق", "label": [[3, 7, "LOC"]]}'),
    ],
    ids=["jsonl", "doccano"],
)
def test_jsonl_files_joined_with_cat_keep_each_ones_bom(tmp_path: Path, fmt: str, line: str) -> None:
    path = tmp_path / "joined.jsonl"
    path.write_bytes(b"".join(b"\xef\xbb\xbf" + (line % i + "\n").encode() for i in ("a", "b", "c")))
    docs = formats.read(path, format=fmt)
    assert [(d.id, d.text, [(s.start, s.end, s.label) for s in d.spans]) for d in docs] == [
        (i, "في دمشق", [(3, 7, "LOCATION")]) for i in ("a", "b", "c")
    ]


CONLL_SENTENCES = "محمد B-PERS\nفي O\nدمشق B-LOC\n\nوزارة B-ORG\nالخارجية I-ORG\nقالت O\n"
CONLL_DOCS = "-DOCSTART- O\n\n" + CONLL_SENTENCES + "\n-DOCSTART- O\n\nحماة B-LOC\n"


@pytest.mark.parametrize("content", [CONLL_SENTENCES, CONLL_DOCS], ids=["sentences", "docstart"])
def test_conll_round_trip(tmp_path: Path, content: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "c.conll").write_text(content, encoding="utf-8")
    first = read_conll(tmp_path / "a" / "c.conll")
    write_conll(first, tmp_path / "b" / "c.conll")
    assert read_conll(tmp_path / "b" / "c.conll") == first
    expected = content.replace("PERS", "ACTOR").replace("ORG", "ACTOR").replace("LOC", "LOCATION")
    assert (tmp_path / "b" / "c.conll").read_text(encoding="utf-8") == expected


@pytest.mark.parametrize(
    ("texts", "span", "docstart"),  # span: the LOCATION of the first document
    [
        (["\ufeff حماة", "في دمشق"], (2, 6), False),
        (["\ufeffحماة في دمشق"], (0, 5), False),  # the token is U+FEFF and حماة together
        (["\ufeff حماة\nفي دمشق"], (2, 6), None),
        (["\ufeff"], None, False),
        (["حماة \ufeff"], (0, 4), False),
    ],
    ids=["lone-first-token", "bom-inside-first-token", "docstart", "only-token", "lone-later"],
)
def test_conll_round_trip_of_a_leading_feff(tmp_path: Path, texts: list[str], span: tuple | None,
                                            docstart: bool | None) -> None:
    """The reader drops a file's leading U+FEFF as a BOM: a first token starting with one survives."""
    docs = [Document(f"c-{i:05d}", t) for i, t in enumerate(texts)]
    docs[0] = Document(docs[0].id, texts[0], [Span(*span, "LOCATION")] if span else [])
    write_conll(docs, tmp_path / "c.conll", docstart=docstart)
    back = read_conll(tmp_path / "c.conll")
    assert [(d.text, d.spans) for d in back] == [(d.text, d.spans) for d in docs]


# --- CoNLL rules ------------------------------------------------------------------------------


def _conll(tmp_path: Path, content: str | bytes, **opts) -> list[Document]:
    path = tmp_path / "t.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return read_conll(path, **opts)


@pytest.mark.parametrize(
    ("content", "texts", "spans"),
    [
        ("a B-PERS\nb I-PERS\nc O\n", ["a b c"], [[(0, 3, "ACTOR")]]),
        ("\ufeffa O\r\nb B-LOC\r\n\r\nc O\r\n", ["a b", "c"], [[(2, 3, "LOCATION")], []]),
        ("a\tNN\tB-ORG\nb\tNN\tO\n", ["a b"], [[(0, 1, "ACTOR")]]),
        ("a O\n \t \nb O\n", ["a", "b"], [[], []]),
        ("\u200fab\u200e B-LOC\n\u202bc\u202c O\n", ["ab c"], [[(0, 2, "LOCATION")]]),
        ("a O\n\u200f O\nb B-LOC\n", ["a b"], [[(2, 3, "LOCATION")]]),
        ("a O\n\u2067\u2069\nb O\n", ["a", "b"], [[], []]),
        ("a B-MISC\nb B-PERS\n", ["a b"], [[(2, 3, "ACTOR")]]),
        ("a B-PERS\nb B-ORG\n", ["a b"], [[(0, 1, "ACTOR"), (2, 3, "ACTOR")]]),
        ("a S-LOC\nb B-PERS\nc E-PERS\n", ["a b c"], [[(0, 1, "LOCATION"), (2, 5, "ACTOR")]]),
        ("a B-CLAIM\nb I-CLAIM\n", ["a b"], [[(0, 3, "CLAIM")]]),
        ("\n\n\nفي O\nحماة B-LOC\n\n\n", ["في حماة"], [[(3, 7, "LOCATION")]]),
        # a no-break space inside a token is the token's, not a column break dropping "دولار"
        ("مليون\u00a0دولار B-LOC\nفقط O\n", ["مليون\u00a0دولار فقط"], [[(0, 11, "LOCATION")]]),
        ("a\u2009b NN O\nc\u00a0 B-LOC\n\u00a0\u3000\nd O\n", ["a\u2009b c", "d"], [[(4, 5, "LOCATION")], []]),
        # a tab-separated line's token may hold spaces: split at them too, "York" was dropped as a middle column
        ("New York\tB-LOC\nis\tO\n", ["New York is"], [[(0, 8, "LOCATION")]]),
        ("New York\tNNP\tB-LOC\nal Sham \t NNP \tI-LOC\t\n", ["New York al Sham"], [[(0, 16, "LOCATION")]]),
        ("أ ب\tB-PERS\nج O\t\n", ["أ ب ج"], [[(0, 3, "ACTOR")]]),
        # a tag holds no space: after the token's tab, spaces still part columns ('bad tag NNP B-LOC' once tabs
        # alone split the line, where it read before)
        ("New York\tNNP B-LOC\nis\tVBZ  O \n", ["New York is"], [[(0, 8, "LOCATION")]]),
        ("عبد الله\tNNP B-PERS\nقال\tO\n", ["عبد الله قال"], [[(0, 8, "ACTOR")]]),
        # a tab with nothing but other whitespace past it is a trailing tab too ('got one field 'a O'')
        ("a O\t\u00a0\nb\u00a0\tB-LOC\n", ["a b"], [[(2, 3, "LOCATION")]]),
    ],
    ids=["plain", "bom-crlf", "three-columns", "space-only-separator", "bidi-marks", "mark-only-token",
         "mark-only-line", "misc-dropped", "adjacent-types", "iobes", "claim", "extra-blank-lines",
         "nbsp-in-token", "unicode-spaces", "tab-token-with-space", "tab-columns-with-spaces",
         "trailing-tab", "spaces-after-the-token-tab", "spaces-after-the-token-tab-arabic",
         "trailing-tab-and-nbsp"],
)
def test_conll_reading_rules(tmp_path: Path, content: str, texts: list[str], spans: list) -> None:
    docs = _conll(tmp_path, content)
    assert [d.text for d in docs] == texts
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in docs] == spans
    assert [d.id for d in docs] == [f"t-{i:05d}" for i in range(len(texts))]
    assert [d.meta for d in docs] == [{"sentence": i} for i in range(len(texts))]


@pytest.mark.parametrize("marker", ["-DOCSTART- -X- O O", "-DOCSTART-\tO", "-DOCSTART- \t-X-\tO", "\ufeff\ufeff-DOCSTART- O"])
def test_conll_docstart_after_a_byte_order_mark_mid_file(tmp_path: Path, marker: str) -> None:
    # cat a.conll b.conll, each saved with a BOM: b's marker was read as a token "\ufeff-DOCSTART-" of
    # a's document, silently merging the two
    one = "\ufeff-DOCSTART- -X- O O\n\nزيد B-PERS\nقال O\n\n"
    (tmp_path / "all.conll").write_text(one + "\ufeff" + marker + "\n\nفي O\nدمشق B-LOC\n", encoding="utf-8")
    docs = read_conll(tmp_path / "all.conll")
    assert [(d.text, [d.span_text(s) for s in d.spans]) for d in docs] == [("زيد قال", ["زيد"]), ("في دمشق", ["دمشق"])]
    with pytest.raises(DataError, match="cannot be written to a CoNLL file"):  # it would read back as a marker
        write_conll([Document("d", "قال \ufeff-DOCSTART- اليوم")], tmp_path / "out.conll")


def test_conll_docstart_documents(tmp_path: Path) -> None:
    docs = _conll(tmp_path, "-DOCSTART- -X- O\n\na O\nbb B-LOC\n\nc B-PERS\n-DOCSTART- O\n\n-DOCSTART-\nd O\n")
    assert [d.id for d in docs] == ["t-doc0000", "t-doc0001"]
    assert docs[0].text == "a bb\nc"
    assert docs[0].meta == {"sentences": [[0, 4], [5, 6]]}
    assert docs[0].spans == [Span(2, 4, "LOCATION"), Span(5, 6, "ACTOR")]
    assert docs[1].text == "d" and docs[1].meta == {"sentences": [[0, 1]]}


@pytest.mark.parametrize(
    ("content", "repaired"),
    [
        ("a O\nb I-PERS\n", [(2, 3, "ACTOR")]),
        ("a I-LOC\nb I-LOC\n", [(0, 3, "LOCATION")]),
        ("a B-PERS\nb I-ORG\n", [(0, 1, "ACTOR"), (2, 3, "ACTOR")]),
        ("a O\nb E-LOC\n", [(2, 3, "LOCATION")]),
    ],
    ids=["I-after-O", "I-at-start", "I-after-other-type", "E-after-O"],
)
def test_bio_strict_and_repair(tmp_path: Path, content: str, repaired: list) -> None:
    with pytest.raises(DataError, match="line [12]: broken BIO sequence"):
        _conll(tmp_path, content)
    docs = _conll(tmp_path, content, bio_repair="begin")
    assert [(s.start, s.end, s.label) for s in docs[0].spans] == repaired


def test_conll_writer_errors(tmp_path: Path) -> None:
    split_word = Document("w", "بحماة اليوم", [Span(1, 5, "LOCATION")])
    with pytest.raises(DataError, match=r"id=w.*\[1, 5\) LOCATION 'حماة'.*token boundaries"):
        write_conll([split_word], tmp_path / "x.conll")
    nested = Document("n", "قال الجيش", [Span(0, 9, "CLAIM"), Span(4, 9, "ACTOR")])
    with pytest.raises(DataError, match="overlaps another span"):
        write_conll([nested], tmp_path / "x.conll")
    assert not (tmp_path / "x.conll").exists()
    entity_only = DEFAULT_SCHEME.restrict(["entity"])
    write_conll([Document("n", nested.text, nested.spans[1:])], tmp_path / "x.conll", scheme=entity_only)
    assert (tmp_path / "x.conll").read_text(encoding="utf-8") == "قال O\nالجيش B-ACTOR\n"


# --- Label Studio -----------------------------------------------------------------------------


def _ls_task(start: int, end: int, shown: str | None, **extra) -> dict:
    value = {"start": start, "end": end, "labels": ["PERS"]}
    if shown is not None:
        value["text"] = shown
    result = [{"id": "r1", "type": "labels", "from_name": "label", "to_name": "text", "value": value}]
    return {"id": 5, "data": {"text": EMOJI_TEXT}, "annotations": [{"result": result}], **extra}


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [(*ACTOR_CP, "الجيش السوري"), (*ACTOR_UTF16, "الجيش السوري")],
    ids=["codepoints", "utf16"],
)
def test_labelstudio_offset_units(tmp_path: Path, start: int, end: int, shown: str) -> None:
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([_ls_task(start, end, shown)]), encoding="utf-8")
    assert read_labelstudio(path) == [Document("5", EMOJI_TEXT, [Span(*ACTOR_CP, "ACTOR")])]


@pytest.mark.parametrize("offsets", ["auto", "codepoints", "utf16"])
@pytest.mark.parametrize(
    ("text", "part", "shown", "error"),
    [
        # Label Studio's value.text has each run of whitespace as one space (issues #3078, #5338), its
        # offsets the text's: such a region was an error under every unit, the file unreadable
        ("🙂 قال الجيش  السوري", "الجيش  السوري", "الجيش السوري", None),
        ("🙂 قال الجيش\r\n\tالسوري", "الجيش\r\n\tالسوري", "الجيش السوري", None),
        ("🙂 قال الجيش السوري", "الجيش السوري", "الجيش السوري", None),
        # other words: still an error
        ("🙂 قال الجيش  السوري", "الجيش  السوري", "الجيش الليبي",
         "value.text 'الجيش الليبي' but the text there is 'الجيش  السوري'"),
        # offsets that take in the space before or after the words are off by one, not Label Studio's
        # collapsing of a run: an error, as is a value.text with a space the offsets leave out
        ("🙂 قال الجيش  السوري", " الجيش  السوري", "الجيش السوري",
         "value.text 'الجيش السوري' but the text there is ' الجيش  السوري'"),
        ("🙂 قال الجيش  السوري اليوم", "الجيش  السوري ", "الجيش السوري",
         "value.text 'الجيش السوري' but the text there is 'الجيش  السوري '"),
        ("🙂 قال الجيش  السوري", "الجيش  السوري", " الجيش السوري",
         "value.text ' الجيش السوري' but the text there is 'الجيش  السوري'"),
    ],
)
def test_labelstudio_value_text_with_whitespace_collapsed(
    tmp_path: Path, text: str, part: str, shown: str, error: str | None, offsets: str
) -> None:
    start = text.index(part)
    shift = 1 if offsets == "utf16" else 0  # the emoji: two UTF-16 code units
    task = _ls_task(start + shift, start + len(part) + shift, shown)
    task["data"]["text"] = text
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    if error is None:
        assert read_labelstudio(path, offsets=offsets)[0].spans == [Span(start, start + len(part), "ACTOR")]
    else:
        with pytest.raises(DataError, match=re.escape(error)):
            read_labelstudio(path, offsets=offsets)


def test_labelstudio_writer_units(tmp_path: Path) -> None:
    for unit, expected in (("codepoints", ACTOR_CP), ("utf16", ACTOR_UTF16)):
        write_labelstudio([_emoji_doc()], tmp_path / f"{unit}.json", offsets=unit)
        value = json.loads((tmp_path / f"{unit}.json").read_text())[0]["annotations"][0]["result"][0]["value"]
        assert (value["start"], value["end"], value["text"]) == (*expected, "الجيش السوري")
        assert read_labelstudio(tmp_path / f"{unit}.json") == [_emoji_doc()]


def test_labelstudio_utf16_units_of_the_last_bmp_character(tmp_path: Path) -> None:
    # U+FFFF is the last code point of one UTF-16 unit; the emoji before it takes two
    doc = Document("d", "😀\uffff قال الجيش", [Span(7, 12, "ACTOR")])
    write_labelstudio([doc], tmp_path / "ls.json", offsets="utf16")
    value = json.loads((tmp_path / "ls.json").read_text())[0]["annotations"][0]["result"][0]["value"]
    assert (value["start"], value["end"]) == (8, 13)
    for offsets in ("auto", "utf16"):
        assert read_labelstudio(tmp_path / "ls.json", offsets=offsets) == [doc]


def test_labelstudio_an_exact_reading_wins_over_one_equal_but_for_whitespace(tmp_path: Path) -> None:
    # [4, 7) is "ب ب" as code points, value.text exactly; as UTF-16 units (two emoji) it is "ب\tب", equal
    # but for whitespace: the exact reading is the one, not a choice between two to refuse
    text = "🙂🙂ب\tب ب"
    path = tmp_path / "ls.json"
    task = _ls_task(4, 7, "ب ب")
    task["data"]["text"] = text
    path.write_text(json.dumps([task]), encoding="utf-8")
    assert read_labelstudio(path)[0].spans == [Span(4, 7, "ACTOR")]


def test_labelstudio_without_value_text(tmp_path: Path) -> None:
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([_ls_task(*ACTOR_CP, None)]), encoding="utf-8")
    with pytest.raises(DataError, match="no value.text to tell UTF-16"):
        read_labelstudio(path)
    task = _ls_task(4, 9, None)
    task["data"]["text"] = "قال الجيش 🙂"  # nothing astral before the span: both readings agree
    path.write_text(json.dumps([task]), encoding="utf-8")
    assert read_labelstudio(path)[0].spans == [Span(4, 9, "ACTOR")]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [("first", "b"), ("last", "c"), (0, "a"), (-1, "c")],
)
def test_labelstudio_annotation_choice(tmp_path: Path, annotation: str | int, expected: str) -> None:
    text = "a b c"

    def ann(letter: str, cancelled: bool = False) -> dict:
        i = text.index(letter)
        value = {"start": i, "end": i + 1, "text": letter, "labels": ["LOC"]}
        return {"was_cancelled": cancelled, "result": [{"type": "labels", "value": value}]}

    task = {"id": 1, "data": {"text": text}, "annotations": [ann("a", True), ann("b"), ann("c")]}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    (doc,) = read_labelstudio(path, annotation=annotation)
    assert [doc.span_text(s) for s in doc.spans] == [expected]


def test_labelstudio_old_completions_and_other_results(tmp_path: Path) -> None:
    value = {"start": 0, "end": 1, "text": "a", "labels": ["ACTOR", "CLAIM"]}
    results = [{"type": "labels", "value": value}, {"type": "choices", "value": {"choices": ["x"]}}]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"data": {"text": "a b"}, "completions": [{"result": results}]}]), encoding="utf-8")
    assert read_labelstudio(path) == [Document("ls-00000", "a b", [Span(0, 1, "ACTOR"), Span(0, 1, "CLAIM")])]


def _ls_result(start: int, end: int, shown: str, label: str = "PERS") -> list[dict]:
    value = {"start": start, "end": end, "text": shown, "labels": [label]}
    return [{"id": "r1", "type": "labels", "from_name": "label", "to_name": "text", "value": value, "score": 0.7}]


ACTOR = "الجيش السوري"
PREDICTED = [{"model_version": "m1", "score": 0.7, "result": _ls_result(*ACTOR_UTF16, ACTOR)}]
ANNOTATED = [{"result": _ls_result(0, 1, "🙂", "LOC")}]


@pytest.mark.parametrize(
    ("start", "end"), [ACTOR_CP, ACTOR_UTF16], ids=["codepoints", "utf16"],
)
def test_labelstudio_predictions_of_a_task_without_annotations(tmp_path: Path, start: int, end: int) -> None:
    path = tmp_path / "ls.json"
    task = {"id": 5, "data": {"text": EMOJI_TEXT}, "predictions": [{"result": _ls_result(start, end, ACTOR)}]}
    path.write_text(json.dumps([task, {**task, "id": 6, "annotations": []}]), encoding="utf-8")
    expected = [Span(*ACTOR_CP, "ACTOR")]
    for source in ("auto", "predictions"):
        assert [d.spans for d in read_labelstudio(path, source=source)] == [expected, expected]
    assert [d.spans for d in read_labelstudio(path, source="annotations")] == [[], []]


@pytest.mark.parametrize(
    ("source", "keys", "expected"),
    [
        ("auto", ("annotations", "predictions"), "🙂"),  # annotations win over predictions
        ("auto", ("completions", "predictions"), "🙂"),
        ("predictions", ("annotations", "predictions"), ACTOR),
        ("annotations", ("annotations", "predictions"), "🙂"),
        ("auto", ("predictions",), ACTOR),
    ],
)
def test_labelstudio_source_choice(tmp_path: Path, source: str, keys: tuple[str, ...], expected: str) -> None:
    lists = {"annotations": ANNOTATED, "completions": ANNOTATED, "predictions": PREDICTED}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"data": {"text": EMOJI_TEXT}, **{k: lists[k] for k in keys}}]), encoding="utf-8")
    (doc,) = read_labelstudio(path, source=source)
    assert [doc.span_text(s) for s in doc.spans] == [expected]


def test_labelstudio_auto_keeps_a_cancelled_annotation_over_predictions(tmp_path: Path) -> None:
    # a person looked at the task and skipped it: no spans, not the model's
    task = {"data": {"text": EMOJI_TEXT}, "annotations": [{**ANNOTATED[0], "was_cancelled": True}],
            "predictions": PREDICTED}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    assert read_labelstudio(path)[0].spans == []
    assert read_labelstudio(path, annotation=0)[0].spans == [Span(0, 1, "LOCATION")]


def test_labelstudio_bad_predictions(tmp_path: Path) -> None:
    path = tmp_path / "ls.json"
    with pytest.raises(ConfigError, match="source must be one of"):
        read_labelstudio(path, source="gold")
    wrong = {"model_version": "m1", "result": _ls_result(0, 3, ACTOR)}
    tasks = [
        {"id": 1, "data": {"text": EMOJI_TEXT}, "predictions": {"result": []}},
        {"id": 2, "data": {"text": EMOJI_TEXT}, "predictions": [wrong]},
        {"id": 3, "data": {"text": EMOJI_TEXT}, "predictions": PREDICTED},
    ]
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_labelstudio(path, annotation=1)
    message = str(info.value)
    assert "task 0 (id=1): 'predictions' must be a list of objects" in message
    assert "task 1 (id=2): annotation index 1 out of range: the task has 1 prediction(s)" in message
    with pytest.raises(DataError, match="task 1 .id=2.: offsets match the text neither"):
        read_labelstudio(path)


def test_labelstudio_auto_refuses_a_file_mixing_annotated_and_pre_annotated_tasks(tmp_path: Path) -> None:
    # an export of all tasks, some corrected by people and some still holding the model's
    # pre-annotations: read as gold, the model would be scored against (or trained on) itself
    path = tmp_path / "ls.json"
    tasks = [
        {"id": 1, "data": {"text": EMOJI_TEXT}, "annotations": ANNOTATED, "predictions": PREDICTED},
        {"id": 2, "data": {"text": EMOJI_TEXT}, "annotations": [], "predictions": PREDICTED},
        {"id": 3, "data": {"text": EMOJI_TEXT}, "annotations": [], "predictions": []},  # nothing at all: fine
    ]
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(DataError, match=r"1 task\(s\) have no annotation but predictions .*first: task 1 \(id=2\)\), "
                       r"beside 1 annotated task\(s\): say which to read"):
        read_labelstudio(path)
    assert [len(d.spans) for d in read_labelstudio(path, source="annotations")] == [1, 0, 0]
    assert [len(d.spans) for d in read_labelstudio(path, source="predictions")] == [1, 1, 0]



# what Label Studio (or a hand) does to naba's tasks before they are read back; k counts tasks from 1
LS_EDITS = {
    "renumbered": lambda t, k: t.update(id=k),  # Label Studio's own ids on import
    "no-task-id": lambda t, k: t.pop("id"),
    "null-data-id": lambda t, k: (t.update(id=k), t["data"].update(id=None)),
    "no-data-id": lambda t, k: (t.update(id=k), t["data"].pop("id")),  # a hand-written import
}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("renumbered", ["doc-7", "42"]),  # the documents' own ids come back from data.id
        ("no-task-id", ["doc-7", "42"]),
        ("null-data-id", ["1", "2"]),     # else the task's id, as before
        ("no-data-id", ["1", "2"]),
    ],
)
def test_labelstudio_ids_survive_label_studio_renumbering(tmp_path: Path, edit: str, expected: list[str]) -> None:
    path = tmp_path / "ls.json"
    write_labelstudio([Document(i, "قال محمد في مصر", [Span(4, 8, "ACTOR")]) for i in ("doc-7", "42")], path)
    tasks = json.loads(path.read_text(encoding="utf-8"))
    assert [t["data"]["id"] for t in tasks] == ["doc-7", 42]  # an integer id written as Label Studio's are
    for k, task in enumerate(tasks, start=1):
        LS_EDITS[edit](task, k)
    path.write_text(json.dumps(tasks), encoding="utf-8")
    assert [d.id for d in read_labelstudio(path)] == expected


def test_labelstudio_data_id_of_another_type_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"id": 1, "data": {"text": "نص", "id": [3]}}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"task 0 \(id=1\): 'data.id' must be a string or an integer, got \[3\]"):
        read_labelstudio(path)


# a config with two Text objects, <Text name="title" value="$title"/> and <Text name="text" value="$text"/>:
# each region is placed in its object's text (no value.text: saveTextResult off)
TWO_TEXTS = {"title": "مصر", "text": "قال محمد في مصر"}
ON_TITLE = {"id": "t1", "type": "labels", "from_name": "tl", "to_name": "title",
            "value": {"start": 0, "end": 3, "labels": ["LOC"]}}
ON_TEXT = {"id": "b1", "type": "labels", "from_name": "bl", "to_name": "text",
           "value": {"start": 4, "end": 8, "labels": ["PERS"]}}
ON_BODY = {"id": "y1", "type": "labels", "from_name": "bl", "to_name": "text",
           "value": {"start": 4, "end": 8, "labels": ["PERS"]}}
# results that are not spans: skipped, whatever object they are on
NOT_SPANS = [{"id": "rel", "type": "relation", "from_id": "t1", "to_id": "b1", "direction": "right"},
             {"id": "c1", "type": "choices", "from_name": "topic", "to_name": "title", "value": {"choices": ["x"]}},
             {"id": "n1", "type": "textarea", "from_name": "note", "to_name": "text", "value": {"text": ["y"]}}]


@pytest.mark.parametrize(
    ("result", "opts", "expected"),
    [
        ([ON_TEXT, *NOT_SPANS], {}, [("محمد", "ACTOR")]),
        ([ON_TITLE, ON_TEXT, *NOT_SPANS], {"to_name": "text"}, [("محمد", "ACTOR")]),
        ([ON_TITLE, ON_TEXT], {"to_name": "title", "text_key": "title"}, [("مصر", "LOCATION")]),
        ([ON_TITLE], {"text_key": "title"}, [("مصر", "LOCATION")]),
        # a region with "to_name": null is on the object read, as one without the key (it was skipped
        # under to_name= and read without it)
        ([{**ON_TEXT, "to_name": None}], {"to_name": "text"}, [("محمد", "ACTOR")]),
        ([{**ON_TEXT, "to_name": None}], {}, [("محمد", "ACTOR")]),
        # <Text name="text" value="$body"/> beside a data.text of its own (a summary, say): the object
        # "text" shows data.body; with both named it is read (it could not be read at all)
        ([ON_BODY], {"to_name": "text", "text_key": "body"}, [("أحمد", "ACTOR")]),
    ],
    ids=["one-object", "to-name-text", "to-name-title", "title-alone", "null-to-name-named", "null-to-name",
         "object-text-shows-body"],
)
def test_labelstudio_two_text_objects(tmp_path: Path, result: list, opts: dict, expected: list) -> None:
    path = tmp_path / "ls.json"
    data = {**TWO_TEXTS, "body": "صرح أحمد أمس"}
    path.write_text(json.dumps([{"id": 7, "data": data, "annotations": [{"result": result}]}]), encoding="utf-8")
    (doc,) = read_labelstudio(path, **opts)
    assert [(doc.span_text(s), s.label) for s in doc.spans] == expected


@pytest.mark.parametrize(
    ("result", "opts", "fragment"),
    [
        # the title's [0, 3) was read in the body, as LOCATION on "قال"
        ([ON_TITLE, ON_TEXT], {}, "task 0 (id=7): regions on several objects (to_name 'text': region(s) 'b1'; "
                                  "to_name 'title': region(s) 't1')"),
        ([ON_TITLE], {}, "regions of object 'title' (to_name; region(s) 't1') would be read in data.text, "
                         "but data.title is a text of its own: read them with text_key='title'"),
        ([ON_TITLE, ON_TEXT], {"to_name": "title"}, "would be read in data.text"),
        # only the field named: the object could be the one showing data.text
        ([ON_BODY], {"text_key": "body"}, "regions of object 'text' (to_name; region(s) 'y1') would be read in "
                                          "data.body, but data.text is a text of its own: read them with "
                                          "text_key='text' (--text-key text), or, where object 'text' shows "
                                          "data.body, say both to_name='text' and text_key='body'"),
        ([ON_TITLE, ON_TEXT], {"to_name": "body"}, "no region is on object to_name='body'; the regions are on "
                                                   "'text', 'title'"),
    ],
    ids=["two-objects", "title-read-in-text", "to-name-without-text-key", "body-without-to-name", "misspelt-to-name"],
)
def test_labelstudio_regions_of_another_object(tmp_path: Path, result: list, opts: dict, fragment: str) -> None:
    path = tmp_path / "ls.json"
    data = {**TWO_TEXTS, "body": "صرح أحمد أمس"}
    path.write_text(json.dumps([{"id": 7, "data": data, "annotations": [{"result": result}]}]), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_labelstudio(path, **opts)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_cli_reads_one_text_object(tmp_path: Path) -> None:
    from naba.cli import main

    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"id": 7, "data": TWO_TEXTS, "annotations": [{"result": [ON_TITLE, ON_TEXT]}]}]),
                    encoding="utf-8")
    assert main(["data", "convert", str(path), str(tmp_path / "out.jsonl")]) == 1
    assert main(["data", "convert", str(path), str(tmp_path / "out.jsonl"), "--to-name", "text"]) == 0
    assert read_jsonl(tmp_path / "out.jsonl")[0].spans == [Span(4, 8, "ACTOR")]


def test_cli_converts_predictions_or_only_annotations(tmp_path: Path) -> None:
    from naba.cli import main

    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"id": 5, "data": {"text": EMOJI_TEXT}, "predictions": PREDICTED}]), encoding="utf-8")
    for extra, expected in (([], [Span(*ACTOR_CP, "ACTOR")]), (["--source", "annotations"], [])):
        assert main(["data", "convert", str(path), str(tmp_path / "out.jsonl"), *extra]) == 0
        assert read_jsonl(tmp_path / "out.jsonl")[0].spans == expected


# --- brat and doccano -------------------------------------------------------------------------


def _brat(tmp_path: Path, text: str, ann: str) -> Path:
    (tmp_path / "x.txt").write_text(text, encoding="utf-8", newline="")
    (tmp_path / "x.ann").write_text(ann, encoding="utf-8")
    return tmp_path / "x.ann"


@pytest.mark.parametrize(
    ("policy", "spans"),
    [("merge", [(0, 12, "ACTOR")]), ("split", [(0, 5, "ACTOR"), (8, 12, "ACTOR")])],
)
def test_brat_discontinuous(tmp_path: Path, policy: str, spans: list) -> None:
    path = _brat(tmp_path, "abcde - wxyz", "T1\tPERS 0 5;8 12\tabcde wxyz\n")
    with pytest.raises(DataError, match=r"x\.ann: line 1 \(T1\): discontinuous span PERS with fragments 0 5;8 12"):
        read_brat(path)
    assert [(s.start, s.end, s.label) for s in read_brat(path, discontinuous=policy)[0].spans] == spans


@pytest.mark.parametrize(("offsets", "merged"), [("8 12;0 5", (0, 12)), ("0 12;3 5", (0, 12))], ids=["out-of-order", "nested"])
def test_brat_merge_runs_from_the_first_start_to_the_last_end(tmp_path: Path, offsets: str, merged: tuple) -> None:
    text = "abcde - wxyz"
    given = " ".join(text[int(a):int(b)] for a, b in (p.split() for p in offsets.split(";")))
    path = _brat(tmp_path, text, f"T1\tPERS {offsets}\t{given}\n")
    assert [(s.start, s.end) for s in read_brat(path, discontinuous="merge")[0].spans] == [merged]


@pytest.mark.parametrize("policy", ["error", "merge", "split"])
@pytest.mark.parametrize(
    ("text", "offsets", "spans"),
    [
        # brat's fragments of a selection over a line break: one span under every policy (it errored)
        ("الجيش\nالسوري", "0 5;6 12", [(0, 12)]),
        ("الجيش \r\n السوري", "0 5;9 15", [(0, 15)]),
        ("الجيش\tالسوري", "0 5;6 12", [(0, 12)]),  # brat cuts at tabs too
        ("الجيش\u2028السوري", "0 5;6 12", [(0, 12)]),  # a line break to brat's .ann reader
    ],
)
def test_brat_fragments_cut_at_whitespace_are_one_span(
    tmp_path: Path, text: str, offsets: str, spans: list, policy: str
) -> None:
    given = " ".join(text[int(a):int(b)] for a, b in (p.split() for p in offsets.split(";")))
    path = _brat(tmp_path, text, f"T1\tPERS {offsets}\t{given}\n")
    doc = read_brat(path, discontinuous=policy)[0]
    assert [(s.start, s.end, s.label) for s in doc.spans] == [(*x, "ACTOR") for x in spans]


@pytest.mark.parametrize(
    ("text", "offsets"),
    [
        ("الجيش\nالسوري", "6 12;0 5"),  # out of order
        ("الجيش\nالسوري", "0 5;3 12"),  # overlapping
        ("الجيش السوري", "0 5;6 12"),  # spaces alone between: an annotator's discontinuous span
        ("الجيش السوري", "0 5;5 12"),  # touching
    ],
)
def test_brat_fragments_not_cut_at_a_line_break_stay_discontinuous(tmp_path: Path, text: str, offsets: str) -> None:
    given = " ".join(text[int(a):int(b)] for a, b in (p.split() for p in offsets.split(";")))
    with pytest.raises(DataError, match="discontinuous span PERS"):
        read_brat(_brat(tmp_path, text, f"T1\tPERS {offsets}\t{given}\n"))


def test_brat_ignores_other_lines_and_keeps_crlf_offsets(tmp_path: Path) -> None:
    ann = ("T1\tLOC 8 12\tدمشق\nR1\tRel Arg1:T1 Arg2:T1\nA1\tNeg T1\n#1\tAnnotatorNotes T1\tnote\nE1\tX:T1\n"
           "M1\tNeg T1\nN1\tReference T1 Wikipedia:123\tDamascus\n*\tEquiv T1 T1\n")
    path = _brat(tmp_path, "أمس\r\nفي دمشق", ann)
    (doc,) = read_brat(path)
    assert doc.text == "أمس\r\nفي دمشق" and doc.spans == [Span(8, 12, "LOCATION")]
    assert read_brat(tmp_path / "x.txt") == [doc]
    assert formats.read(tmp_path / "x.txt") == [doc]  # a .txt beside an .ann is brat, not CoNLL


@pytest.mark.parametrize(
    ("text", "span", "line"),
    [
        # a span that ends or begins on a line break is written whole (no empty fragment after the
        # break), each break character a space in its text, as an .ann line cannot hold one
        ("الجيش \r\nقال", (0, 8), "T1\tACTOR 0 8\tالجيش   \n"),
        ("قال\nالجيش", (3, 9), "T1\tACTOR 3 9\t الجيش\n"),
    ],
    ids=["ends-on-a-crlf", "begins-on-a-break"],
)
def test_brat_span_on_a_line_break_reads_back(tmp_path: Path, text: str, span: tuple, line: str) -> None:
    doc = Document("x", text, [Span(*span, "ACTOR")])
    formats.write([doc], tmp_path / "out", format="brat")
    assert (tmp_path / "out" / "x.ann").read_bytes().decode("utf-8") == line
    assert read_brat(tmp_path / "out") == [doc]


def test_brat_folder_ids_and_unsafe_ids(tmp_path: Path, sample_docs: list[Document]) -> None:
    docs = [Document("sub/a", "نص", []), Document("b", "نص آخر", [Span(0, 2, "ACTOR")])]
    formats.write(docs, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        "b.ann", "b.txt", "sub/a.ann", "sub/a.txt"]
    assert read_brat(tmp_path / "out") == [docs[1], docs[0]]
    with pytest.raises(DataError, match="not a safe relative file path"):
        formats.write([Document("../evil", "نص")], tmp_path / "out2", format="brat")
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("failing", [1, 2], ids=["txt-sync", "ann-sync"])
@pytest.mark.parametrize("target", ["x.ann", "out"], ids=["ann-file", "folder"])
def test_brat_rewrite_failing_on_one_file_keeps_the_old_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, failing: int
) -> None:
    # a full disk on the .ann left the new .txt beside the old .ann, whose offsets then fell elsewhere
    old, new = Document("x", "في دمشق", [Span(3, 7, "LOCATION")]), Document("x", "قال زيد اليوم", [Span(4, 7, "ACTOR")])
    path = tmp_path / target
    formats.write([old], path, format="brat")
    real, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == failing:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(DataError, match="No space left on device"):
        formats.write([new], path, format="brat")
    monkeypatch.undo()
    assert formats.read(path, format="brat") == [old]
    assert sorted(p.name for p in path.parent.rglob("*") if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize("copy", [".ipynb_checkpoints/a-checkpoint", "._a", "sub/.old/a"])
def test_brat_folder_skips_hidden_files_and_folders(tmp_path: Path, copy: str) -> None:
    # Jupyter's checkpoint of an edited .ann (or a macOS ._ file) was read as a second document
    doc = Document("a", "قال زيد", [Span(4, 7, "ACTOR")])
    formats.write([doc], tmp_path / "c")
    for suffix in (".txt", ".ann"):
        (tmp_path / "c" / copy).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / f"{copy}{suffix}").write_bytes((tmp_path / "c" / f"a{suffix}").read_bytes())
    assert read_brat(tmp_path / "c") == [doc]


@pytest.mark.parametrize("doc_id", [".a", "sub/.a", ".sub/a"])
def test_brat_refuses_an_id_the_reader_would_skip_as_hidden(tmp_path: Path, doc_id: str) -> None:
    with pytest.raises(DataError, match=f"id={doc_id}.*starts with '.'"):
        formats.write([Document("ok", "نص"), Document(doc_id, "نص")], tmp_path / "out", format="brat")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("link", "doc_id"), [("sub", "sub/x"), ("sub", "sub/deeper/x"), ("a/sub", "a/sub/x")])
def test_brat_refuses_an_id_whose_folder_links_outside(tmp_path: Path, link: str, doc_id: str) -> None:
    # out/sub (or out/a/sub) is a link to a folder outside: the files of id sub/x were written there
    outside, out = tmp_path / "outside", tmp_path / "out"
    outside.mkdir()
    (out / link).parent.mkdir(parents=True)
    (out / link).symlink_to(outside, target_is_directory=True)
    with pytest.raises(DataError, match=f"id={doc_id}.*links outside the output folder"):
        formats.write([Document("ok", "نص"), Document(doc_id, "نص")], out, format="brat")
    assert list(outside.rglob("*")) == [] and not (out / "ok.txt").exists()


@pytest.mark.parametrize(
    ("ann", "txt", "written"),  # written: the text file the writer puts beside an .ann of that name
    [("x.ANN", "x.TXT", "x.TXT"), ("x.ann", "x.TXT", "x.txt"), ("x.ANN", "x.txt", "x.TXT"), ("x.Ann", "x.tXt", "x.Txt")],
)
def test_brat_extensions_in_any_case(tmp_path: Path, ann: str, txt: str, written: str) -> None:
    """Detection routes X.ANN to brat, so the reader, the pairing and the writer take it too."""
    (tmp_path / txt).write_text("في دمشق", encoding="utf-8")
    (tmp_path / ann).write_text("T1\tLOC 3 7\tدمشق\n", encoding="utf-8")
    doc = Document("x", "في دمشق", [Span(3, 7, "LOCATION")])
    assert formats.detect(tmp_path / ann) == formats.detect(tmp_path / txt) == "brat"
    assert formats.read(tmp_path / ann) == formats.read(tmp_path / txt) == read_brat(tmp_path) == [doc]
    assert formats.discover(tmp_path) == [(tmp_path / ann, "brat")]  # the text is no CoNLL file
    formats.write([doc], tmp_path / "out" / ann)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([ann, written])
    assert formats.read(tmp_path / "out" / ann) == [doc]


def test_brat_pair_with_two_text_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("دمشق", encoding="utf-8")
    if (tmp_path / "X.TXT").exists():
        pytest.skip("this disk ignores case: x.txt and x.TXT are one file")
    (tmp_path / "x.TXT").write_text("حماة", encoding="utf-8")
    (tmp_path / "x.ann").write_text("T1\tLOC 0 4\n", encoding="utf-8")
    for path in (tmp_path / "x.ann", tmp_path / "x.txt", tmp_path):
        with pytest.raises(DataError, match=r"x\.ann: several text files next to it \(x\.TXT, x\.txt\); keep one"):
            read_brat(path)


def test_doccano_both_shapes_and_derived_ids(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [
        {"id": 3, "text": "محمد في دمشق", "label": [[0, 4, "PERS"], [8, 12, "LOC"]], "Comments": []},
        {"text": "وزارة الخارجية", "entities": [{"id": 1, "start_offset": 0, "end_offset": 14, "label": "ORG"}],
         "relations": []},
        {"text": "حماة", "label": [[0, 4, "MISC"]]},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    docs = read_doccano(path)
    assert [d.id for d in docs] == ["3", "d-00002", "d-00003"]
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in docs] == [
        [(0, 4, "ACTOR"), (8, 12, "LOCATION")], [(0, 14, "ACTOR")], []]


@pytest.mark.parametrize(
    ("record", "spans"),
    [
        # doccano 1.0-1.5 exported the triples under "labels"
        ({"id": 15, "text": "محمد في دمشق", "meta": {}, "annotation_approver": None,
          "labels": [[0, 4, "PERS"], [8, 12, "LOC"]]}, [(0, 4, "ACTOR"), (8, 12, "LOCATION")]),
        ({"id": 16, "text": "محمد في دمشق", "meta": {}, "annotation_approver": None, "labels": []}, []),
        # doccano >= 1.6 writes its export with pandas: a key only some records have is null in the others
        ({"id": 17, "text": "محمد في دمشق", "meta": None, "label": [[0, 4, "PERS"]], "Comments": []},
         [(0, 4, "ACTOR")]),
        # doccano counts offsets as the browser does, in UTF-16 code units: the emoji is 2 (issue #2290)
        ({"id": 18, "text": EMOJI_TEXT + " اليوم", "label": [[*ACTOR_UTF16, "PERS"]]}, [(*ACTOR_CP, "ACTOR")]),
        ({"id": 19, "text": EMOJI_TEXT, "entities": [{"id": 1, "start_offset": ACTOR_UTF16[0],
                                                       "end_offset": ACTOR_UTF16[1], "label": "PERS"}]},
         [(*ACTOR_CP, "ACTOR")]),
        # some doccano 1.x versions (about 1.4-1.5) exported the text as "data" (doccano issue #1522)
        ({"id": 21, "data": "محمد في دمشق", "label": [[0, 4, "PERS"]]}, [(0, 4, "ACTOR")]),
        # doccano 0.x's export of a document nobody annotated: nothing lost
        ({"id": 20, "text": "محمد في دمشق", "annotations": [], "meta": {}}, []),
        # an intent detection and slot filling project's export: triples under "entities", categories in "cats"
        ({"id": 22, "text": EMOJI_TEXT + " في دمشق", "entities": [[*ACTOR_UTF16, "PERS"], [23, 27, "LOC"]],
          "cats": ["statement"], "Comments": []}, [(*ACTOR_CP, "ACTOR"), (22, 26, "LOCATION")]),
    ],
    ids=["doccano-1.x-labels", "doccano-1.x-no-labels", "doccano-pandas-null-meta", "doccano-utf16-label",
         "doccano-utf16-entities", "doccano-1.5-data", "doccano-0.x-no-annotations", "doccano-slot-filling"],
)
def test_doccano_real_exports(tmp_path: Path, record: dict, spans: list) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (doc,) = read_doccano(path)
    assert [(s.start, s.end, s.label) for s in doc.spans] == spans


@pytest.mark.parametrize(
    ("opts", "written"),
    [
        ({}, ACTOR_UTF16),
        ({"shape": "entities"}, ACTOR_UTF16),
        ({"offsets": "codepoints"}, ACTOR_CP),
        ({"offsets": "codepoints", "shape": "entities"}, ACTOR_CP),
    ],
)
def test_doccano_offset_units(tmp_path: Path, opts: dict, written: tuple[int, int]) -> None:
    path = tmp_path / "d.jsonl"
    formats.write([_emoji_doc()], path, format="doccano", **opts)
    record = json.loads(path.read_text(encoding="utf-8"))
    span = record["label"][0][:2] if "label" in record else [record["entities"][0][k] for k in ("start_offset", "end_offset")]
    assert tuple(span) == written
    unit = {k: v for k, v in opts.items() if k == "offsets"}
    assert read_doccano(path, **unit) == [_emoji_doc()]


@pytest.mark.parametrize(
    ("label", "opts", "error", "fragment"),
    [
        ([1, 5, "PERS"], {}, DataError, "label[0] [1, 5): splits a character outside the BMP"),
        ([7, 21, "PERS"], {}, DataError, "label[0] [7, 21): out of range for a text of 19 UTF-16 code units"),
        ([6, 18, "PERS"], {"offsets": "auto"}, ConfigError, "doccano offsets must be one of"),
    ],
    ids=["splits-emoji", "out-of-range", "bad-option"],
)
def test_doccano_offset_errors(tmp_path: Path, label: list, opts: dict, error: type, fragment: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": EMOJI_TEXT, "label": [label]}) + "\n", encoding="utf-8")
    with pytest.raises(error) as info:
        read_doccano(path, **opts)
    assert fragment in str(info.value)


# --- registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.jsonl", "jsonl"), ("a.json", "labelstudio"), ("a.ann", "brat"), ("a.conll", "conll"),
     ("a.txt", "conll"), ("a.bio", "conll"), ("a.IOB", "conll")],
)
def test_detect(tmp_path: Path, name: str, fmt: str) -> None:
    assert formats.detect(tmp_path / name) == fmt


@pytest.mark.parametrize(
    ("name", "beside", "fmt"),
    [
        # the output's format is its extension's: an .ann of the same name beside a .txt made it
        # brat, written as a folder named c.txt
        ("c.txt", "c.ann", "conll"), ("c.TXT", "c.ANN", "conll"), ("c.txt", None, "conll"),
        ("c.ann", "c.txt", "brat"), ("c.json", "c.ann", "labelstudio"), ("c", None, "brat"),
    ],
)
def test_output_format_is_the_extensions(tmp_path: Path, name: str, beside: str | None, fmt: str) -> None:
    if beside:
        (tmp_path / beside).write_text("T1\tLOC 0 4\n", encoding="utf-8")
    assert formats.output_format(tmp_path / name) == fmt


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda p: formats.detect(p / "a.csv"), DataError, "cannot tell the format from '.csv'"),
        # not "name it (jsonl, ...)": --format jsonl then read the gzip bytes, "invalid UTF-8 (byte 0x8b)"
        (lambda p: formats.detect(p / "a.jsonl.gz"), DataError, "a.jsonl.gz: a compressed file (.gz): corpus files "
         "are read as they are; decompress it first"),
        (lambda p: formats.read(p / "a.jsonl", format="xml"), ConfigError, "unknown format 'xml'"),
        (lambda p: formats.read(p / "a.jsonl", bio_repair="begin"), ConfigError, "has no option(s) ['bio_repair']"),
        (lambda p: formats.read(p / "a.conll", bio_repair="later"), ConfigError, "bio_repair must be one of"),
        (lambda p: formats.write([], p / "a.json", offsets="bytes"), ConfigError, "offsets must be one of"),
        (lambda p: formats.read(p / "x.ann", discontinuous="join"), ConfigError, "discontinuous must be one of"),
        (lambda p: formats.read(p / "a.json", annotation="best"), ConfigError, "annotation must be"),
    ],
)
def test_registry_errors(tmp_path: Path, call, error: type, fragment: str) -> None:
    with pytest.raises(error) as info:
        call(tmp_path)
    assert fragment in str(info.value)


def test_writers_are_atomic_and_validate_first(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text("old\n", encoding="utf-8")
    with pytest.raises(DataError, match="out of range"):
        write_jsonl([Document("a", "نص", [Span(0, 9, "ACTOR")])], out)
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["o.jsonl"]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_mode_of_a_new_file(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        fresh, replaced, reference = tmp_path / "new.jsonl", tmp_path / "old.jsonl", tmp_path / "ref.txt"
        replaced.write_text("old\n", encoding="utf-8")
        replaced.chmod(0o600)
        write_jsonl([Document("a", "نص")], fresh)
        atomic_write(replaced, "new\n")
        reference.write_text("", encoding="utf-8")
    finally:
        os.umask(old)
    for path in (fresh, replaced, reference):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name
    assert replaced.read_text(encoding="utf-8") == "new\n"


def test_an_unwritable_output_is_a_data_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(DataError) as info:
        write_jsonl([Document("a", "نص")], blocker / "o.jsonl")
    assert f"{blocker / 'o.jsonl'}: cannot write file: {blocker} is a file, not a folder" in str(info.value)
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="cannot write file"):
        atomic_write(tmp_path / "folder", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]  # no temporary file left behind


def test_a_problem_writing_is_named_a_problem_in_the_output_not_the_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(DataError) as info:
        write_jsonl([Document("a", "نص")], blocker / "o.jsonl")
    assert str(info.value).startswith("1 problem(s) in the output:")
    with pytest.raises(DataError) as info:
        read_jsonl(tmp_path / "missing.jsonl")
    assert str(info.value).startswith("1 problem(s) in the input:")


def test_escaped_surrogate_pairs_and_backslashes_are_text(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a", "text": "\\ud83d\\ude00 \\\\ud800"}\n', encoding="utf-8")
    (doc,) = read_jsonl(path)
    assert doc.text == "\U0001F600 \\ud800"


def test_a_lone_surrogate_in_memory_is_not_written(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with pytest.raises(DataError, match="document text holds a lone surrogate at 1"):
        write_jsonl([Document("a", "x\ud800")], out)
    assert not out.exists()


@pytest.mark.parametrize(("fmt", "name"), [("jsonl", "o.jsonl"), ("doccano", "o.jsonl"), ("labelstudio", "o.json")])
def test_meta_that_is_not_json_names_its_document(tmp_path: Path, fmt: str, name: str) -> None:
    docs = [Document("a", "نص"), Document("b", "نص", meta={"seen": {1, 2}})]
    with pytest.raises(DataError) as info:
        formats.write(docs, tmp_path / name, format=fmt)
    assert "document 1 (id=b): cannot write as JSON" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ([1], "meta must be a dict, got list"),  # written, then refused by the format's own reader
        (None, "meta must be a dict, got NoneType"),  # the CoNLL writer raised TypeError
        ({1: "x"}, "meta key 1 is not a string"),  # read back as {"1": "x"}, silently
        ({"k": [{None: 1}]}, "meta key None is not a string"),  # read back as {"k": [{"null": 1}]}
    ],
    ids=["list", "none", "int-key", "nested-none-key"],
)
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_meta_that_would_not_read_back_is_refused_by_every_writer(
    tmp_path: Path, fmt: str, meta: object, reason: str
) -> None:
    docs = [Document("a", "نص"), Document("b", "نص", meta=meta)]  # type: ignore[arg-type]
    with pytest.raises(DataError) as info:
        formats.write(docs, tmp_path / "out", format=fmt)
    assert f"document 1 (id=b): {reason}" in str(info.value)
    assert list(tmp_path.iterdir()) == []


RLM = "\u200f"


@pytest.mark.parametrize(
    ("text", "span", "error"),
    [
        # a lone direction mark between words: its line would read as a sentence break, so it is left
        # out, as the rebuild rule drops it (the writer refused the whole document)
        (f"قال {RLM} الجيش", None, None),
        (f"قال الجيش {RLM}\u200e السوري", ("الجيش", "السوري"), None),  # inside a span: the span keeps its tokens
        (f"قال\n{RLM}\nإن الجيش", ("الجيش", "الجيش"), None),  # a line of marks alone
        (f"قال {RLM} الجيش", (RLM, "الجيش"), "cannot be written"),  # at a span's edge it would move the span
        (f"{RLM} \u200e", None, "no token a CoNLL file can hold"),
        # a span leaving out the marks on its tokens' edges, which the reader strips: it was refused as
        # not on "whitespace token boundaries", though the token reads back as exactly its text
        (f"قال {RLM}زيد{RLM} في دمشق", ("زيد", "زيد"), None),
        ("قال \u200eJohn Smith\u200e اليوم", ("John", "Smith"), None),
        (f"قال {RLM}\u2067زيد علي\u2069 اليوم", ("زيد", "علي"), None),
        (f"قال {RLM}زيد{RLM} في", ("يد", "يد"), "whitespace token boundaries"),  # still whole tokens only
    ],
)
def test_conll_leaves_out_tokens_of_direction_marks_alone(
    tmp_path: Path, text: str, span: tuple[str, str] | None, error: str | None
) -> None:
    from naba.corpus.conll import rebuilt_text

    spans = [] if span is None else [Span(text.index(span[0]), text.rindex(span[1]) + len(span[1]), "ACTOR")]
    out = tmp_path / "out.conll"
    if error is not None:
        with pytest.raises(DataError, match=error):
            write_conll([Document("d", text, spans)], out)
        assert not out.exists()
        return
    write_conll([Document("d", text, spans)], out)
    (back,) = read_conll(out)
    assert back.text == rebuilt_text(text)
    assert [back.text[s.start : s.end] for s in back.spans] == [text[s.start : s.end].replace(f" {RLM}\u200e", "")
                                                                for s in spans]


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        # JSON writes True as true, which every reader refuses as an offset: the file was written, then unreadable
        (True, "offsets must be integers, got bool"),
        # pandas and numpy give numpy integers; "[4, 9): offsets must be integers" did not say what was wrong
        (np.int64(4), "offsets must be integers, got int64 (int(x) makes one)"),
        ("4", "offsets must be integers, got str"),
    ],
    ids=["bool", "numpy", "str"],
)
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_offsets_that_are_not_python_ints_are_refused_by_every_writer(
    tmp_path: Path, fmt: str, start: object, reason: str
) -> None:
    docs = [Document("a", "قال الجيش السوري", [Span(start, 9, "ACTOR")])]  # type: ignore[arg-type]
    with pytest.raises(DataError) as info:
        formats.write(docs, tmp_path / "out", format=fmt)
    assert f"document 0 (id=a): span [{start}, 9) ACTOR: {reason}" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("old", "put", "raises", "after"),
    [
        # a new folder (and the one above it): built aside, renamed into place
        ({}, {"a/b/x.jsonl": "x", "a/b/s/y.jsonl": "y"}, None, {"a/b/x.jsonl": "x", "a/b/s/y.jsonl": "y"}),
        # a folder already there: its other files kept, its files replaced, a missing sub-folder added
        ({"a/b/x.jsonl": "old", "a/b/.keep": "k"}, {"a/b/x.jsonl": "x", "a/b/s/y.jsonl": "y"}, None,
         {"a/b/x.jsonl": "x", "a/b/.keep": "k", "a/b/s/y.jsonl": "y"}),
        # an exception in the block: nothing new, nothing staged left
        ({}, {"a/b/x.jsonl": "x"}, RuntimeError, {}),
        ({"a/b/x.jsonl": "old"}, {"a/b/x.jsonl": "x", "a/b/y.jsonl": "y"}, RuntimeError, {"a/b/x.jsonl": "old"}),
        # a folder where a file of the set goes: refused when staged, before x.jsonl is moved in
        ({"a/b/x.jsonl": "old", "a/b/z.jsonl/w": "w"}, {"a/b/x.jsonl": "x", "a/b/z.jsonl": "z"}, DataError,
         {"a/b/x.jsonl": "old", "a/b/z.jsonl/w": "w"}),
    ],
    ids=["new", "existing", "raises-new", "raises-existing", "folder-in-the-way"],
)
def test_staged_files_writes_the_whole_set_or_none(tmp_path: Path, old: dict, put: dict, raises: type | None,
                                                   after: dict) -> None:
    for name, text in old.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    folder = tmp_path / "a" / "b"
    with pytest.raises(raises) if raises else contextlib.nullcontext():
        with staged_files(folder) as write:
            for name, text in put.items():
                write(tmp_path / name, text)
            if raises is RuntimeError:
                raise RuntimeError("boom")
    files = {k: v.decode("utf-8") for k, v in listing(tmp_path).items() if v is not None}
    assert files == after  # and no temporary file or folder left
    assert sorted(k for k, v in listing(tmp_path).items() if v is None) == sorted(
        {p.as_posix() for name in after for p in Path(name).parents if p != Path(".")}
    )


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_staged_files_get_the_modes_of_new_files_and_folders(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        (tmp_path / "old").mkdir()
        for folder in (tmp_path / "new", tmp_path / "old"):
            with staged_files(folder) as write:
                write(folder / "sub" / "x.jsonl", "x")
    finally:
        os.umask(old)
    for name, mode in [("new", 0o777), ("new/sub", 0o777), ("new/sub/x.jsonl", 0o666), ("old/sub", 0o777),
                       ("old/sub/x.jsonl", 0o666)]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode & ~umask, name
