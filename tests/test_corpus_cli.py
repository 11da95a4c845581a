"""The ``naba data`` command: validate, stats, convert, split; ANERcorp conversion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import listing

from naba.cli import main
from naba.corpus import formats
from naba.corpus.conll import rebuilt_text
from naba.corpus.document import Document, Span
from naba.corpus.jsonl import read_jsonl, write_jsonl
from naba.corpus.split import fold_of
from naba.corpus.split import part_of as split_part

BAD_LINE = '{"id": "b", "text": "نص", "spans": [{"start": 0, "end": 9, "label": "ACTOR"}]}\n'


@pytest.fixture
def corpus(tmp_path: Path, sample_docs: list[Document]) -> Path:
    write_jsonl(sample_docs, tmp_path / "docs.jsonl")
    return tmp_path / "docs.jsonl"


def test_data_without_subcommand_prints_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["data"]) == 2
    assert "validate" in capsys.readouterr().out


def test_validate_folder(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.jsonl").write_bytes(corpus.read_bytes())
    (folder / "sub" / "bad.jsonl").write_text(BAD_LINE + "{oops\n", encoding="utf-8")
    (folder / "sub" / "t.conll").write_text("قال O\nمحمد I-PERS\n", encoding="utf-8")
    (folder / "notes.md").write_text("not a corpus", encoding="utf-8")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.jsonl").write_text("{oops", encoding="utf-8")
    assert main(["data", "validate", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        f"{folder / 'sub' / 'bad.jsonl'}: line 1: span [0, 9) ACTOR: out of range for a text of 2 characters",
        f"{folder / 'sub' / 'bad.jsonl'}: line 2: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{folder / 'sub' / 't.conll'}: line 2: broken BIO sequence: 'I-PERS' after 'O' on line 1 "
        "(bio_repair='begin' treats it as B-)",
    ]
    assert out[-1] == "checked 3 file(s), 3 document(s) in valid files: 3 problem(s) in 2 file(s)"
    assert main(["data", "validate", str(folder / "good.jsonl"), str(folder / "sub" / "t.conll"),
                 "--bio-repair", "begin"]) == 0
    assert capsys.readouterr().out.endswith("checked 2 file(s), 4 document(s) in valid files: no problems\n")


def test_validate_checks_a_stand_off_layer_with_its_own_reader(tmp_path: Path, corpus: Path, capsys) -> None:
    """data/anercorp-claims holds claim layers over ANERcorp, not corpora: validate reads them as such."""
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "docs.jsonl").write_bytes(corpus.read_bytes())
    record = {"sentence": 3, "sha1": "0" * 40, "claims": [[0, 4]], "pass": "A"}
    (folder / "test.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main(["data", "validate", str(folder)]) == 0
    assert capsys.readouterr().out.endswith("1 stand-off record(s) in valid files: no problems\n")
    bad = {**record, "claims": [[4, 2]]}
    (folder / "test.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    assert main(["data", "validate", str(folder)]) == 1
    assert f"{folder / 'test.jsonl'}: line 2:" in capsys.readouterr().out


# a layer saved with a BOM (Notepad, Excel): read as a native corpus, it was 2 problems a record
# ("unknown key(s) ['claims', 'pass', 'sentence', 'sha1']"), and stats refused it
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
@pytest.mark.parametrize(
    ("command", "expected"),
    [("validate", "1 stand-off record(s) in valid files: no problems\n"), ("stats", "documents          0")],
    ids=["validate", "stats"],
)
def test_a_stand_off_layer_is_one_with_a_bom_too(
    tmp_path: Path, capsys: pytest.CaptureFixture, bom: bytes, command: str, expected: str
) -> None:
    record = {"sentence": 3, "sha1": "0" * 40, "claims": [[0, 4]], "pass": "A"}
    (tmp_path / "test.jsonl").write_bytes(bom + (json.dumps(record) + "\n").encode())
    assert main(["data", command, str(tmp_path / "test.jsonl")]) == 0
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["data", "validate", "{a}", "{b}", "--format", "jsonl"],
    ["data", "validate", "{a}", "--format", "jsonl", "{b}"],  # b was an "unrecognized argument"
    ["data", "validate", "--format", "jsonl", "{a}", "{b}"],
])
def test_options_may_come_between_paths(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    write_jsonl([Document("d1", "نص")], tmp_path / "a.jsonl")
    write_jsonl([Document("d2", "نص آخر")], tmp_path / "b.jsonl")
    assert main([x.format(a=tmp_path / "a.jsonl", b=tmp_path / "b.jsonl") for x in argv]) == 0
    out = capsys.readouterr().out
    assert "checked 2 file(s), 2 document(s)" in out


def test_validate_with_format_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "d.jsonl").write_text('{"text": "محمد", "label": [[0, 4, "WEAPON"]]}\n', encoding="utf-8")
    assert main(["data", "validate", str(tmp_path), "--format", "doccano"]) == 1
    assert "unknown label 'WEAPON'" in capsys.readouterr().out
    labels = tmp_path / "labels.yaml"
    labels.write_text("layers:\n  entity: [ACTOR, WEAPON]\nmapping: {}\n", encoding="utf-8")
    assert main(["data", "validate", str(tmp_path / "d.jsonl"), "--format", "doccano", "--labels", str(labels)]) == 0
    labels.write_text("layers: {}\nextra: 1\n", encoding="utf-8")
    assert main(["data", "validate", str(tmp_path), "--labels", str(labels)]) == 2
    assert "unknown key(s) ['extra']" in capsys.readouterr().err


def test_validate_a_brat_folder_as_one_corpus_whatever_the_format_name_case(tmp_path: Path, capsys) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.txt").write_text("محمد", encoding="utf-8")
        (tmp_path / sub / "x.ann").write_text("T1\tPERS 0 4\tمحمد\n", encoding="utf-8")
    assert main(["data", "validate", str(tmp_path), "--format", "BRAT"]) == 0
    assert "checked 1 file(s), 2 document(s)" in capsys.readouterr().out


def test_validate_missing_and_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "validate", str(tmp_path / "nope.jsonl"), str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "nope.jsonl: no such file or folder" in out and "no file of a recognised format" in out



@pytest.mark.parametrize(("annotation", "code", "said"), [
    ("foo", 2, "annotation must be 'first', 'last' or an index, got 'foo'"),
    ("²", 2, "annotation must be 'first', 'last' or an index, got '²'"),  # a digit int() refuses: was a ValueError
    ("-1", 0, "no problems"),
    ("--1", 2, "annotation must be 'first', 'last' or an index, got '--1'"),  # two minus signs: was a ValueError
])
def test_annotation_option(tmp_path: Path, capsys: pytest.CaptureFixture, annotation: str, code: int, said: str) -> None:
    (tmp_path / "tasks.json").write_text("[]", encoding="utf-8")
    assert main(["data", "validate", str(tmp_path / "tasks.json"), f"--annotation={annotation}"]) == code
    out = capsys.readouterr()
    assert said in out.out + out.err

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man ZWJ woman ZWJ girl: one emoji


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        # NFD Latin: the span stops before the combining accent of its last letter, or starts on it
        ("قال Jose\u0301", 4, 8, "ends inside the character [7, 9) 'e\u0301' (U+0065 U+0301); predicted spans never "
         "split one, so none can match this span exactly (in whole characters: [4, 9) 'Jose\u0301')"),
        ("Jose\u0301 x", 4, 7, "starts inside the character [3, 5) 'e\u0301' (U+0065 U+0301)"),
        # an Arabic letter and an Arabic Extended-A mark
        ("قال محمد\u08f0", 4, 8, "ends inside the character [7, 9) 'د\u08f0' (U+062F U+08F0)"),
        # emoji ZWJ sequence, flag, keycap, both edges at once
        (f"x {FAMILY}", 4, 7, "starts inside the character [2, 7) '\U0001F468\\u200d\U0001F469\\u200d\U0001F467' "
         "(U+1F468 U+200D U+1F469 U+200D U+1F467)"),
        ("\U0001F1F8\U0001F1E6\U0001F1EA\U0001F1EC", 1, 3,
         "starts inside the character [0, 2) '\U0001F1F8\U0001F1E6' (U+1F1F8 U+1F1E6) and ends inside the "
         "character [2, 4) '\U0001F1EA\U0001F1EC' (U+1F1EA U+1F1EC)"),
        ("اضغط 1\ufe0f\u20e3", 5, 6, "ends inside the character [5, 8) '1\ufe0f\u20e3' (U+0031 U+FE0F U+20E3)"),
        # ordinary spans: no warning (diacritics, tatweel, a whole cluster, an RLM after the word)
        ("قالَ الجَيشُ", 5, 12, None),
        ("الجيـــش", 0, 8, None),
        ("قال Jose\u0301", 4, 9, None),
        ("الجيش\u200f قال", 0, 5, None),
    ],
)
def test_character_warnings_show_the_character(text: str, start: int, end: int, expected: str | None) -> None:
    from naba.corpus.validate import character_warnings

    doc = Document("doc-7", text, [Span(start, end, "ACTOR")])
    got = character_warnings(doc, source="x.jsonl")
    if expected is None:
        assert got == []
        return
    (warning,) = got
    assert (warning.source, warning.where) == ("x.jsonl", "document 'doc-7'")
    assert warning.reason.startswith(f"span [{start}, {end}) ACTOR {text[start:end]!r} {expected}")


def test_character_warnings_search_back_no_further_than_the_span_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # a long run of emoji has no offset that is surely a cluster boundary: each span's search back ran to
    # the text's start, quadratic in the run; spans overlapping in two layers, and sharing starts, still
    # get the warnings \\X gives
    import regex

    import naba.graphemes as graphemes
    from naba.corpus.validate import character_warnings

    text = "قال " + FAMILY * 40
    at = range(4, len(text), len(FAMILY))
    spans = [Span(a + 2, a + 3, "ACTOR") for a in at] + [Span(a, a + 7, "CLAIM") for a in at[:-1]]
    bounds = {0} | {m.end() for m in regex.finditer(r"\X", text)}
    searched, cluster = [], graphemes.cluster

    def recording(text: str, i: int, floor: int = 0) -> tuple[int, int]:
        searched.append(i - floor)
        return cluster(text, i, floor)

    monkeypatch.setattr(graphemes, "cluster", recording)
    got = character_warnings(Document("d", text, spans), source="x.jsonl")
    assert [w.reason.split(")")[0] for w in got] == [
        f"span [{s.start}, {s.end}" for s in Document("d", text, spans).spans
        if s.start not in bounds or s.end not in bounds
    ]
    assert len(got) == len(spans) and max(searched) < 3 * len(FAMILY)


def test_validate_warns_of_spans_that_split_a_character(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Such a span is valid: a warning each, naming file, document, span and character; exit 0."""
    path = tmp_path / "c.jsonl"
    docs = [
        Document("nfd", "قال Jose\u0301 اليوم", [Span(4, 8, "ACTOR"), Span(10, 15, "CLAIM")]),
        Document("ok", "قال الجيش", [Span(4, 9, "ACTOR")]),
        Document("zwj", f"العائلة {FAMILY}", [Span(8, 9, "ACTOR")]),
    ]
    write_jsonl(docs, path)
    assert main(["data", "validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: document 'nfd': warning: span [4, 8) ACTOR 'Jose' ends inside the character "
                             "[7, 9) 'e\u0301' (U+0065 U+0301)")
    assert out[1].startswith(f"{path}: document 'zwj': warning: span [8, 9) ACTOR '\U0001F468' ends inside the character "
                             f"[8, 13) {FAMILY!r}")
    assert out[2:] == ["checked 1 file(s), 3 document(s) in valid files: no problems; 2 warning(s) in 1 file(s)"]


def test_stats_table_and_json(corpus: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "stats", str(corpus), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 3 and stats["spans_per_layer"] == {"entity": 4, "claim": 1}
    assert main(["data", "stats", str(corpus)]) == 0
    table = capsys.readouterr().out
    assert "documents          3 (1 without spans)" in table
    assert "cross-layer        LOCATION inside CLAIM: 1" in table


def test_stats_of_several_files_and_folders_together(tmp_path: Path, corpus: Path, capsys) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(corpus.read_bytes().replace(b'"id": "', b'"id": "a-'))
    record = {"sentence": 0, "sha1": "0" * 40, "claims": [], "pass": "A"}
    (folder / "test.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")  # a claim layer: skipped
    assert main(["data", "stats", str(corpus), str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 6
    assert main(["data", "stats", str(tmp_path / "nowhere")]) == 1
    assert "nowhere: no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize("paths", [
    ["c/docs.jsonl", "c/docs.jsonl"],
    ["c", "c/docs.jsonl"],
    ["c/docs.jsonl", "c/sub/../docs.jsonl"],
    ["c/sub/..", "c"],
], ids=["file-twice", "folder-and-a-file-in-it", "file-under-two-names", "folder-under-two-names"])
def test_a_file_reached_twice_is_read_once(tmp_path: Path, corpus: Path, capsys, paths: list[str]) -> None:
    # read twice, stats counted its documents twice and validate printed its problems twice
    (tmp_path / "c" / "sub").mkdir(parents=True)
    (tmp_path / "c" / "docs.jsonl").write_bytes(corpus.read_bytes())
    argv = [str(tmp_path / p) for p in paths]
    assert main(["data", "stats", *argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 3
    bad = tmp_path / "c" / "bad.jsonl"
    bad.write_text(BAD_LINE, encoding="utf-8")
    assert main(["data", "validate", str(bad), *argv, str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.count(": line 1:") == 1
    assert "checked 2 file(s), 3 document(s)" in out


@pytest.mark.parametrize(("paths", "documents"), [
    (["c/docs.jsonl", "c/same.jsonl"], 3),  # a hard link: one file under two names, as X.jsonl and x.jsonl are
    # where the disk ignores case (macOS), which Path.resolve() does not tell apart
    (["b/x.ann", "b/x.txt", "b/y.ann", "b/y.txt"], 2),  # naba data stats b/*: a brat pair read by either name
    (["b", "b/x.txt"], 2),
    (["b/x.txt", "b/x.txt"], 1),
    (["c/docs.jsonl", "b/x.txt", "b/y.ann"], 5),  # distinct files and documents: all read
], ids=["hard-link", "brat-pairs-by-both-names", "brat-folder-and-its-text", "brat-text-twice", "distinct"])
def test_a_document_file_reached_under_another_name_is_read_once(
    tmp_path: Path, corpus: Path, capsys, paths: list[str], documents: int
) -> None:
    # each was read twice, and stats counted its documents twice
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "docs.jsonl").write_bytes(corpus.read_bytes())
    os.link(tmp_path / "c" / "docs.jsonl", tmp_path / "c" / "same.jsonl")
    (tmp_path / "b").mkdir()
    for stem in ("x", "y"):
        (tmp_path / "b" / f"{stem}.txt").write_text("زيد في القاهرة\n", encoding="utf-8")
        (tmp_path / "b" / f"{stem}.ann").write_text("T1\tACTOR 0 3\tزيد\n", encoding="utf-8")
    assert main(["data", "stats", *(str(tmp_path / p) for p in paths), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == documents


def test_stats_tokenizer_calls_the_ml_core(corpus: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Checks the call contract of the agreed API (naba.encode.unrepresentable, naba.model.load_tokenizer)
    # with stand-in modules, so it holds whether or not the ML core is installed yet.
    calls = []
    encode = types.ModuleType("naba.encode")
    encode.unrepresentable = lambda docs, tok: calls.append((len(docs), tok)) or {"ACTOR": 1, "LOCATION": 0}
    model = types.ModuleType("naba.model")
    model.load_tokenizer = lambda name: f"tokenizer:{name}"
    monkeypatch.setitem(sys.modules, "naba.encode", encode)
    monkeypatch.setitem(sys.modules, "naba.model", model)
    assert main(["data", "stats", str(corpus), "--json", "--tokenizer", "some/path"]) == 0
    assert json.loads(capsys.readouterr().out)["unrepresentable"] == {"ACTOR": 1, "LOCATION": 0}
    assert calls == [(3, "tokenizer:some/path")]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["tok", "run/best", "run/tokenizer"])  # a tokenizer, or a run folder's
def test_stats_tokenizer_with_the_real_ml_core(tmp_path: Path, capsys: pytest.CaptureFixture, where: str) -> None:
    model = pytest.importorskip("naba.model", reason="the ML core (naba.model) is not importable")
    docs = [Document("a", "دخلت القوات بحماة اليوم", [Span(13, 17, "LOCATION"), Span(5, 11, "ACTOR")])]
    write_jsonl(docs, tmp_path / "d.jsonl")
    model.build_small_tokenizer([docs[0].text] * 5, vocab_size=200).save_pretrained(tmp_path / where)
    given = tmp_path / where.split("/")[0]
    assert main(["data", "stats", str(tmp_path / "d.jsonl"), "--json", "--tokenizer", str(given)]) == 0
    # the tokenizer keeps بحماة whole, so the LOCATION حماة inside it cannot be labelled exactly
    assert json.loads(capsys.readouterr().out)["unrepresentable"] == {"ACTOR": 0, "LOCATION": 1}


@pytest.mark.parametrize(
    ("where", "given", "preset", "unrepresentable"),
    [
        # a run trained with model.preset=none: its text keeps ٣جنود whole, one subword, so the ACTOR
        # جنود is not representable; prepared AraBERT's way (as it was) the digit split off and it was
        ("run/best", "run", "none", 1),
        ("run/best", "run/best", "none", 1),
        ("run/tokenizer", "run", "none", 1),
        ("run/tokenizer", "run/tokenizer", "none", 1),
        ("run/best", "run", "arabertv02", 0),
        ("run/tokenizer", "run", "arabertv02", 0),
        ("tok", "tok", None, 0),  # a bare tokenizer: AraBERT's preparation, as before
    ],
)
def test_stats_tokenizer_of_a_run_prepares_text_as_the_run_does(
    tmp_path: Path, capsys: pytest.CaptureFixture, where: str, given: str, preset: str | None, unrepresentable: int
) -> None:
    model = pytest.importorskip("naba.model", reason="the ML core (naba.model) is not importable")
    text = "قتل ٣جنود اليوم"
    docs = [Document("a", text, [Span(5, 9, "ACTOR")])]
    write_jsonl(docs, tmp_path / "d.jsonl")
    model.build_small_tokenizer([text] * 5, vocab_size=200, preset="none").save_pretrained(tmp_path / where)
    if where == "run/best":
        (tmp_path / where / "naba.json").write_text(json.dumps({"preset": preset}), encoding="utf-8")
    elif preset is not None:
        (tmp_path / "run" / "config.yaml").write_text(f"model:\n  preset: {preset}\n", encoding="utf-8")
    assert main(["data", "stats", str(tmp_path / "d.jsonl"), "--json", "--tokenizer", str(tmp_path / given)]) == 0
    assert json.loads(capsys.readouterr().out)["unrepresentable"] == {"ACTOR": unrepresentable}


@pytest.mark.parametrize(
    ("name", "to", "extra"),
    [
        ("out.json", None, []),
        ("out.json", None, ["--offsets", "utf16"]),
        ("out.jsonl", "doccano", ["--shape", "entities"]),
        ("out", None, []),
        ("out.jsonl", None, []),
    ],
)
def test_convert_round_trip(tmp_path: Path, corpus: Path, name: str, to: str | None, extra: list[str]) -> None:
    out = tmp_path / name
    args = ["data", "convert", str(corpus), str(out), *extra] + (["--to", to] if to else [])
    assert main(args) == 0
    back = tmp_path / "back.jsonl"
    assert main(["data", "convert", str(out), str(back)] + (["--from", to] if to else [])) == 0
    original = read_jsonl(corpus)
    expected = [Document(d.id, d.text, d.spans) for d in original] if name == "out" else original
    assert read_jsonl(back) == expected


def test_convert_writes_nothing_on_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(BAD_LINE, encoding="utf-8")
    assert main(["data", "convert", str(bad), str(tmp_path / "out.json")]) == 1
    assert "bad.jsonl: line 1: span [0, 9) ACTOR: out of range" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize("name", ["out.tsv", "out.ndjson"])
def test_convert_to_an_unknown_extension_names_the_output(tmp_path: Path, corpus: Path, capsys, name: str) -> None:
    # was '1 problem(s) in the input: out.tsv: ...; name it (...)': the input was fine, and 'it' how?
    out = tmp_path / name
    assert main(["data", "convert", str(corpus), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("naba: 1 problem(s) in the output:")
    assert f"{out}: cannot tell the format from {out.suffix!r}; name it with --to (jsonl, doccano," in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        # written as native JSONL (doccano shares .jsonl), the option dropped
        ("out.jsonl", ["--shape", "entities"], "--shape entities is for --to doccano, not jsonl (the format of "),
        ("out.jsonl", ["--offsets", "utf16"], "--offsets utf16 is for --to doccano or labelstudio, not jsonl"),
        ("out", ["--offsets", "utf16"], "--offsets utf16 is for --to doccano or labelstudio, not brat"),
        ("out.json", ["--shape", "label"], "--shape label is for --to doccano, not labelstudio"),
        ("out.jsonl", ["--to", "conll", "--offsets", "codepoints"], "not conll (the format of "),
    ],
)
def test_convert_refuses_an_option_the_output_format_does_not_have(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture, name: str, extra: list[str], message: str
) -> None:
    assert main(["data", "convert", str(corpus), str(tmp_path / name), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / name).exists()


def test_convert_conll_needs_token_aligned_single_layer(tmp_path: Path, corpus: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "convert", str(corpus), str(tmp_path / "o.conll")]) == 1
    assert "overlaps another span" in capsys.readouterr().err
    labels = tmp_path / "entity.yaml"
    labels.write_text("layers:\n  entity: [ACTOR, LOCATION]\nmapping: {CLAIM: null}\n", encoding="utf-8")
    assert main(["data", "convert", str(corpus), str(tmp_path / "o.conll"), "--labels", str(labels)]) == 0
    docs = formats.read(tmp_path / "o.conll")
    assert [d.text for d in docs] == [d.text for d in read_jsonl(corpus)]


@pytest.mark.parametrize(
    ("out", "spans", "reason"),
    [
        ("o.conll", [Span(0, 3, "CLAIM"), Span(0, 3, "ACTOR")], "overlaps another span"),
        ("o.conll", [Span(0, 2, "ACTOR")], "does not start and end on whitespace token boundaries"),
        ("o.ann", [], "one .ann file holds one document, got 2"),
    ],
    ids=["conll-two-layers", "conll-inside-a-token", "brat-ann"],
)
def test_convert_names_the_input_file_of_a_document_the_output_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture, out: str, spans: list[Span], reason: str
) -> None:
    # the message began "<documents>: document 1 (id=b)", naming no file
    write_jsonl([Document("a", "نص"), Document("b", "قال محمد", spans)], tmp_path / "in.jsonl")
    assert main(["data", "convert", str(tmp_path / "in.jsonl"), str(tmp_path / out)]) == 1
    err = capsys.readouterr().err
    assert reason in err and "<documents>" not in err
    if out.endswith(".conll"):
        assert f"  {tmp_path / 'in.jsonl'}: document 1 (id=b): span" in err
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    ("texts", "warning"),
    [
        (["قال محمد", "في دمشق"], None),
        (["قال  محمد", "في دمشق", " نص\t"], "the text of 2 of 3 document(s) (first: id=d0) reads back"),
        (["في دمشق", "سطر\n\nسطر\r\n"], "the text of 1 of 2 document(s) (first: id=d1) reads back"),
        (["قال \u200fمحمد"], "the text of 1 of 1 document(s) (first: id=d0) reads back"),
    ],
    ids=["exact", "spaces-tabs", "blank-line-crlf", "direction-mark"],
)
def test_convert_to_conll_warns_when_the_text_changes(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                      texts: list[str], warning: str | None) -> None:
    write_jsonl([Document(f"d{i}", t) for i, t in enumerate(texts)], tmp_path / "in.jsonl")
    assert main(["data", "convert", str(tmp_path / "in.jsonl"), str(tmp_path / "out.conll")]) == 0
    err = capsys.readouterr().err.splitlines()
    # the ids d0, d1 read back as out-00000, ...: that warning is test_convert_warns_when_the_output_keeps_no_meta_or_ids's
    warnings = [line for line in err if "warning" in line and "keeps no document" not in line]
    assert warnings == ([f"naba data convert: warning: {warning} from CoNLL with its spacing rebuilt (one space "
                         "between tokens, a line per sentence, direction marks dropped)"] if warning else [])
    # the warning's rule is the reader's: rebuilt_text gives what the file reads back as
    assert [d.text for d in formats.read(tmp_path / "out.conll")] == [rebuilt_text(t) for t in texts]


@pytest.mark.parametrize(
    ("stray", "old", "to"),
    [
        ("c.ann", None, None),  # wrote a folder named c.txt holding brat files, said "(brat)"
        ("c.ann", "an older c.txt\n", None),  # refused: "c.txt is a file, not a folder"
        ("c.ANN", None, None),
        ("c.ann", None, "conll"),
        (None, None, None),
    ],
)
def test_convert_to_txt_is_conll_whatever_stands_beside(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        stray: str | None, old: str | None, to: str | None) -> None:
    docs = [Document("d1", "قال الجيش في حماة", [Span(4, 9, "ACTOR"), Span(13, 17, "LOCATION")])]
    write_jsonl(docs, tmp_path / "a.jsonl")
    if stray:
        (tmp_path / stray).write_text("T1\tACTOR 0 3\tقال\n", encoding="utf-8")
    out = tmp_path / "c.txt"
    if old:
        out.write_text(old, encoding="utf-8")
    assert main(["data", "convert", str(tmp_path / "a.jsonl"), str(out)] + (["--to", to] if to else [])) == 0
    err = capsys.readouterr().err
    assert out.is_file() and f"to {out} (conll)" in err
    assert [(d.text, d.spans) for d in formats.read(out, format="conll")] == [(d.text, d.spans) for d in docs]
    # the .ann beside still pairs with c.txt when c.txt is read by its name alone: said, not silent
    assert (f"{stray} beside it" in err) == bool(stray)


def test_split_and_folds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    docs = [Document(f"d{i}", f"نص {i}") for i in range(40)]
    write_jsonl(docs, tmp_path / "all.jsonl")
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "s"), "--ratios", "0.5,0.25,0.25"]) == 0
    parts = {n: read_jsonl(tmp_path / "s" / f"{n}.jsonl") for n in ("train", "dev", "test")}
    assert sorted(d.id for p in parts.values() for d in p) == sorted(d.id for d in docs)
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "k"), "--folds", "4"]) == 0
    tests = [read_jsonl(tmp_path / "k" / f"fold-{i}" / "test.jsonl") for i in range(4)]
    assert sorted(d.id for t in tests for d in t) == sorted(d.id for d in docs)
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "x"), "--ratios", "a,b"]) == 2
    assert "--ratios must be three numbers" in capsys.readouterr().err
    # more folds than documents: a fold without test documents is refused, as naba train --folds does
    write_jsonl(docs[:2], tmp_path / "two.jsonl")
    assert main(["data", "split", str(tmp_path / "two.jsonl"), "--out", str(tmp_path / "f"), "--folds", "5"]) == 2
    assert "gets none of the 2 document(s)" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(("first", "second", "refused"), [
    (5, 2, "fold-2, fold-3, fold-4"),  # fewer folds: the old fold-2..4 would be read with the new ones
    (2, 2, None),                      # the same split again
    (2, 5, None),                      # more folds: every old fold is rewritten
    (3, None, None),                   # train/dev/test beside folds: other names
])
def test_split_folds_refuse_a_folder_holding_other_folds(tmp_path: Path, capsys, first: int, second: int | None,
                                                          refused: str | None) -> None:
    write_jsonl([Document(f"d{i}", f"نص {i}") for i in range(40)], tmp_path / "all.jsonl")
    split = ["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "k")]
    assert main([*split, "--folds", str(first)]) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "k").rglob("*.jsonl")}
    assert main([*split, *(["--folds", str(second)] if second else [])]) == (2 if refused else 0)
    err = capsys.readouterr().err
    if refused:
        assert f"holds {refused} of another split" in err
        assert {p: p.read_bytes() for p in (tmp_path / "k").rglob("*.jsonl")} == before  # nothing written
    elif second:  # every document is tested exactly once across the fold folders
        tests = [d.id for p in (tmp_path / "k").glob("fold-*/test.jsonl") for d in read_jsonl(p)]
        assert sorted(tests) == sorted(f"d{i}" for i in range(40))


@pytest.mark.parametrize(("given", "out", "extra"), [
    ("c/train.jsonl", "c", []),                           # train.jsonl would be replaced by its own train part
    ("c/train.jsonl", "c/../c", []),                      # the same folder, spelled otherwise
    ("c/fold-1/test.jsonl", "c", ["--folds", "2"]),      # a fold file of an earlier split, split again
])
def test_split_never_overwrites_its_input(tmp_path: Path, capsys, given: str, out: str, extra: list[str]) -> None:
    src = tmp_path / given
    src.parent.mkdir(parents=True)
    write_jsonl([Document(f"d{i}", f"نص {i}") for i in range(40)], src)
    before = src.read_bytes()
    assert main(["data", "split", str(src), "--out", str(tmp_path / out), *extra]) == 2
    assert "is the input" in capsys.readouterr().err
    assert src.read_bytes() == before
    assert sorted(p.name for p in src.parent.iterdir()) == [src.name]  # nothing written beside it


@pytest.mark.parametrize(("extra", "where"), [
    ([], lambda i: split_part(i)),
    (["--folds", "3"], lambda i: f"fold-{fold_of(i, 3)}"),
])
def test_split_warns_when_one_text_under_two_ids_lands_in_two_parts(tmp_path: Path, capsys, extra: list[str],
                                                                      where) -> None:
    # d0's article again under another id (a trailing newline aside) and in another part: the part that
    # tests it would test text the other trains on; d1's copy in d1's own part is harmless
    docs = [Document(f"d{i}", f"نص رقم {i}") for i in range(40)]
    moved = next(f"copy-{i}" for i in range(99) if where(f"copy-{i}") != where("d0"))
    kept = next(f"same-{i}" for i in range(99) if where(f"same-{i}") == where("d1"))
    write_jsonl([*docs, Document(moved, docs[0].text + "\n"), Document(kept, docs[1].text)], tmp_path / "all.jsonl")
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "s"), *extra]) == 0
    err = capsys.readouterr().err
    assert f"warning: 1 text(s) under several ids in different parts (first: d0 ({where('d0')}), " \
           f"{moved} ({where(moved)}))" in err
    assert kept not in err
    write_jsonl(docs, tmp_path / "clean.jsonl")
    assert main(["data", "split", str(tmp_path / "clean.jsonl"), "--out", str(tmp_path / "t"), *extra]) == 0
    assert "warning" not in capsys.readouterr().err


def test_split_warning_on_a_text_under_many_ids_names_five(tmp_path: Path, capsys) -> None:
    # one boilerplate text under 40 ids printed all 40 on one line
    write_jsonl([Document(f"d{i}", "اقرأ أيضا") for i in range(40)], tmp_path / "all.jsonl")
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "s")]) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines() if "under several ids" in line)
    assert warning.count("(train)") + warning.count("(dev)") + warning.count("(test)") == 5 and ", ...)" in warning


@pytest.mark.parametrize("folds", ["1", "0", "-3"])
def test_split_refuses_fewer_than_two_folds_naming_the_flag(tmp_path: Path, corpus: Path, capsys, folds: str) -> None:
    # the message was kfold's "k must be an integer >= 2", naming a parameter the command line does not have
    assert main(["data", "split", str(corpus), "--out", str(tmp_path / "k"), "--folds", folds]) == 2
    assert f"--folds: a split into folds needs at least 2, got {folds}" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(("n", "ratios", "empty"), [
    (10, "0.8,0.1,0.1", "test"),   # seed 13 draws no test document of d0..d9
    (3, "0.8,0.1,0.1", "test"),
    (10, "0.5,0.5,0.0", None),     # a part of ratio 0 is empty as asked
    (40, "0.8,0.1,0.1", None),
])
def test_split_warns_when_a_part_asked_for_gets_no_document(tmp_path: Path, capsys, n: int, ratios: str,
                                                             empty: str | None) -> None:
    write_jsonl([Document(f"d{i}", f"نص {i}") for i in range(n)], tmp_path / "all.jsonl")
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "s"), "--ratios", ratios]) == 0
    err = capsys.readouterr().err
    if empty:
        assert f"warning: {empty} gets none of the {n} document(s)" in err
        assert read_jsonl(tmp_path / "s" / f"{empty}.jsonl") == []
    else:
        assert "warning" not in err


def test_convert_to_brat_refuses_a_folder_holding_other_documents(tmp_path: Path, capsys) -> None:
    write_jsonl([Document("a", "قال محمد"), Document("b", "في دمشق")], tmp_path / "v1.jsonl")
    write_jsonl([Document("a", "قال علي")], tmp_path / "v2.jsonl")
    out = tmp_path / "out"
    assert main(["data", "convert", str(tmp_path / "v1.jsonl"), str(out), "--to", "brat"]) == 0
    # b would stay and be read back as if it were part of v2
    assert main(["data", "convert", str(tmp_path / "v2.jsonl"), str(out), "--to", "brat"]) == 1
    assert "holds brat documents not in the input (b)" in capsys.readouterr().err
    assert main(["data", "convert", str(tmp_path / "v1.jsonl"), str(out), "--to", "brat"]) == 0  # the same ids: rewritten
    (out / "c.TXT").write_text("نص", encoding="utf-8")
    (out / "c.ANN").write_text("", encoding="utf-8")  # brat in any case: read back with the folder
    assert main(["data", "convert", str(tmp_path / "v1.jsonl"), str(out), "--to", "brat"]) == 1
    assert "holds brat documents not in the input (c)" in capsys.readouterr().err


@pytest.mark.parametrize("hidden", [".ipynb_checkpoints/a-checkpoint", "._b"])
def test_convert_to_brat_takes_a_folder_holding_hidden_brat_files(tmp_path: Path, capsys, hidden: str) -> None:
    # the brat reader skips hidden files: they are not documents that would read back with the output
    write_jsonl([Document("a", "قال محمد")], tmp_path / "in.jsonl")
    out = tmp_path / "out"
    (out / hidden).parent.mkdir(parents=True, exist_ok=True)
    (out / f"{hidden}.txt").write_text("نص", encoding="utf-8")
    (out / f"{hidden}.ann").write_text("", encoding="utf-8")
    assert main(["data", "convert", str(tmp_path / "in.jsonl"), str(out), "--to", "brat"]) == 0
    assert formats.read(out, format="brat") == [Document("a", "قال محمد")]


@pytest.mark.parametrize(("module", "func", "argv", "message"), [
    ("naba.corpus.commands", "cmd_stats", ["data", "stats", "x.jsonl"], "naba: interrupted\n"),
    ("naba.train.commands", "run", ["train", "c.yaml"], "naba: interrupted; run the same command again to resume\n"),
    ("naba.predict.commands", "_predict", ["predict", "m", "in.jsonl", "-o", "out.jsonl"],
     "naba: interrupted; run the same command again to resume\n"),
])
def test_ctrl_c_is_a_short_message_and_130(monkeypatch, capsys, module: str, func: str, argv: list[str],
                                            message: str) -> None:
    """Ctrl-C printed a whole traceback (from deep inside torch) and died by the signal."""

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(f"{module}.{func}", interrupted)
    assert main(argv) == 130
    assert capsys.readouterr().err == message


@pytest.mark.parametrize("argv", [["--version"], ["--version", "data"]])
def test_version(capsys, argv: list[str]) -> None:
    # 'naba --version' was "unrecognized arguments", exit 2: a run log could not record which naba ran
    from naba import __version__

    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"naba {__version__}\n"


@pytest.mark.parametrize("env", [
    {"LC_ALL": "C", "PYTHONUTF8": "0"},  # ASCII stdout: Python's UTF-8 mode turned off
    {"LC_ALL": "C.UTF-8", "PYTHONUTF8": "0"},
])
def test_arabic_prints_in_any_locale(tmp_path: Path, env: dict[str, str]) -> None:
    """In an ASCII locale 'naba data validate' died with a UnicodeEncodeError at the first Arabic label."""
    bad = tmp_path / "ar.jsonl"
    bad.write_text('{"id": "a", "text": "قال", "spans": [{"start": 0, "end": 3, "label": "شخص"}]}\n',
                   encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG", "LC_ALL")} | env
    env["PYTHONPATH"] = str(root)
    result = subprocess.run([sys.executable, "-m", "naba.cli", "data", "validate", str(bad)], capture_output=True,
                            env=env, cwd=root, timeout=120)
    assert result.returncode == 1, result.stderr.decode(errors="replace")
    assert "unknown label 'شخص'" in result.stdout.decode("utf-8")
    assert b"Traceback" not in result.stderr


def test_python_m_naba_is_the_naba_command() -> None:
    # there was no naba/__main__.py: `python -m naba` said "naba is a package and cannot be directly executed"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "naba", "data", "--help"], capture_output=True, text=True,
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: naba data ")


@pytest.mark.slow
def test_naba_data_does_not_import_torch(corpus: Path) -> None:
    code = (
        "import sys\nfrom naba.cli import main\n"
        f"assert main(['data', 'stats', {str(corpus)!r}]) == 0\n"
        "assert main(['data', 'validate', {0!r}]) == 0\n".format(str(corpus))
        + "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# seqeval imports scikit-learn and scipy: seconds on a small machine, for help text that needs neither
HEAVY = ("torch", "transformers", "sklearn", "scipy", "seqeval")


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [["--help"], ["data", "--help"], ["train", "--help"], ["eval", "--help"], ["eval", "compare", "--help"],
     ["predict", "--help"], ["tag", "--help"], ["render", "--help"]],
)
def test_help_imports_no_heavy_package(argv: list[str]) -> None:
    code = (
        "import sys\nfrom naba.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _expected_anercorp_spans(path: Path) -> dict[str, int]:
    """Entity starts counted straight from the tags: a B-, or an I- that does not continue its type."""
    mapping = {"PERS": "ACTOR", "ORG": "ACTOR", "LOC": "LOCATION"}
    counts = {"ACTOR": 0, "LOCATION": 0}
    prev = "O"
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.split():
            prev = "O"
            continue
        tag = line.split()[-1]
        starts = tag.startswith("B-") or (tag.startswith("I-") and prev[2:] != tag[2:])
        if starts and tag[2:] in mapping:
            counts[mapping[tag[2:]]] += 1
        prev = tag
    return counts


@pytest.mark.shared
def test_convert_anercorp_train(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    train = shared / "corpora" / "anercorp" / "train.txt"
    out = tmp_path / "out.jsonl"
    # ANERcorp has 12 stray I- tags where the CAMeL split cut sentences after periods: strict IOB2
    # refuses the file and writes nothing; the 'begin' repair reads them as span starts.
    assert main(["data", "convert", str(train), str(out), "--from", "conll"]) == 1
    assert capsys.readouterr().err.startswith("naba: 12 problem(s) in the input:")
    assert not out.exists()
    assert main(["data", "convert", str(train), str(out), "--from", "conll", "--bio-repair", "begin"]) == 0
    docs = read_jsonl(out)
    assert len(docs) == 3963
    assert docs[0].id == "train-00000" and docs[-1].id == "train-03962" and docs[5].meta == {"sentence": 5}
    counts = {"ACTOR": 0, "LOCATION": 0}
    for doc in docs:
        for span in doc.spans:
            counts[span.label] += 1
    assert counts == _expected_anercorp_spans(train)
    assert sum(len(d.text.split()) for d in docs) == 125088


@pytest.mark.parametrize(("extra", "old", "failing"), [
    ([], None, "test.jsonl"),                  # a new folder: none of it, not train and dev
    ([], "train.jsonl", "test.jsonl"),         # an earlier split's folder: as it was, not new train and dev
    (["--folds", "2"], None, "fold-1/train.jsonl"),
    (["--folds", "2"], "fold-0/test.jsonl", "fold-1/train.jsonl"),
])
def test_split_that_fails_part_way_leaves_the_out_folder_as_it_was(tmp_path: Path, capsys, disk_full,
                                                                   extra: list[str], old: str | None,
                                                                   failing: str) -> None:
    write_jsonl([Document(f"d{i}", f"نص {i}") for i in range(40)], tmp_path / "all.jsonl")
    out = tmp_path / "runs" / "s"
    if old:
        (out / old).parent.mkdir(parents=True)
        (out / old).write_text("old\n", encoding="utf-8")
    before = listing(tmp_path)
    disk_full(3)  # the third file
    assert main(["data", "split", str(tmp_path / "all.jsonl"), "--out", str(out), *extra]) == 1
    assert f"{out / failing}: cannot write file: No space left on device" in capsys.readouterr().err
    assert listing(tmp_path) == before  # no new file, no temporary file


@pytest.mark.parametrize("old", [False, True])
def test_convert_to_brat_that_fails_part_way_leaves_the_folder_as_it_was(tmp_path: Path, capsys, disk_full,
                                                                         old: bool) -> None:
    docs = [Document(f"d{i}", f"قال محمد {i}") for i in range(3)]
    write_jsonl(docs, tmp_path / "in.jsonl")
    out = tmp_path / "brat"
    if old:
        write_jsonl([Document(d.id, f"نص قديم {d.id}") for d in docs], tmp_path / "old.jsonl")
        assert main(["data", "convert", str(tmp_path / "old.jsonl"), str(out), "--to", "brat"]) == 0
    before = listing(tmp_path)
    disk_full(4)  # a file of d1: d0 was left written, new beside d1 and d2 old (or none)
    assert main(["data", "convert", str(tmp_path / "in.jsonl"), str(out), "--to", "brat"]) == 1
    assert "cannot write file: No space left on device" in capsys.readouterr().err
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("out", "docs", "warning"),
    [
        ("out", [("a", "نص", {}), ("b", "نص آخر", {})], None),
        ("out", [("a", "نص", {}), ("b", "نص آخر", {"source": "x"})],
         "brat keeps no document meta: 1 of 2 document(s) lose their meta (first: id=b)"),
        ("out.jsonl", [("a", "نص", {"source": "x"})], None),
        # CoNLL's own ids and sentence numbers: read back as they are
        ("out.conll", [("out-00000", "نص", {"sentence": 0}), ("out-00001", "نص آخر", {"sentence": 1})], None),
        ("out.conll", [("a", "نص", {}), ("out-00001", "نص آخر", {})],
         "CoNLL keeps no document ids or meta: 1 of 2 document(s) their id (first: id=a, read back as id=out-00000)"),
        ("out.conll", [("out-doc0000", "نص\nسطر", {"source": "x"}), ("b", "نص آخر", {"sentence": 4})],
         "CoNLL keeps no document ids or meta: 1 of 2 document(s) lose their meta (first: id=out-doc0000); "
         "1 of 2 document(s) their id (first: id=b, read back as id=out-doc0001)"),
        # one .ann file: its document reads back under the file's stem
        ("out.ann", [("a", "نص", {})],
         "brat keeps no document ids or meta: 1 of 1 document(s) its id (first: id=a, read back as id=out)"),
        ("out.ann", [("out", "نص", {})], None),
    ],
    ids=["brat-none", "brat-meta", "jsonl", "conll-none", "conll-ids", "conll-docstart-both", "ann-id", "ann-none"],
)
def test_convert_warns_when_the_output_keeps_no_meta_or_ids(tmp_path: Path, capsys, out: str,
                                                            docs: list[tuple], warning: str | None) -> None:
    write_jsonl([Document(i, t, [], m) for i, t, m in docs], tmp_path / "in.jsonl")
    assert main(["data", "convert", str(tmp_path / "in.jsonl"), str(tmp_path / out)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "keeps no" in line]
    assert warnings == ([f"naba data convert: warning: {warning}"] if warning else [])
    back = formats.read(tmp_path / out)
    lost = {i for (i, _, m), d in zip(docs, back, strict=True) if d.id != i or (m and d.meta != m)}
    assert bool(lost) == bool(warning)  # what the warning says is what reads back


@pytest.mark.parametrize(("command", "left"), [
    # a split killed while staging (SIGKILL, a lost node) left its hidden folder: in --out, or beside a new one
    (["split", "--out", "{out}"], "s/.naba.1a2b3c4d.tmp/train.jsonl"),
    (["split", "--out", "{out}"], ".s.1a2b3c4d.tmp/train.jsonl"),
    (["split", "--out", "{out}", "--folds", "2"], "s/.naba.1a2b3c4d.tmp/fold-0/test.jsonl"),
    # a conversion's temporary file beside its output, or its staging folder in a brat folder
    (["convert", "{out}.jsonl"], ".s.jsonl.1a2b3c4d.tmp"),
    (["convert", "{out}", "--to", "brat"], "s/.naba.1a2b3c4d.tmp/d0.ann"),
])
def test_a_rerun_deletes_what_a_killed_split_or_conversion_staged(tmp_path: Path, command: list[str],
                                                                 left: str) -> None:
    write_jsonl([Document(f"d{i}", f"نص {i}") for i in range(10)], tmp_path / "all.jsonl")
    (tmp_path / left).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / left).write_text("staged\n", encoding="utf-8")
    args = [a.format(out=tmp_path / "s") for a in command]
    assert main(["data", args[0], str(tmp_path / "all.jsonl"), *args[1:]]) == 0
    assert not (tmp_path / left).exists()
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize(
    ("line", "wrong", "advice", "fix"),
    [
        # naba data convert names the input's format with --from: the reader's '--format doccano' was refused
        ({"id": 1, "text": "قال محمد", "label": [[4, 8, "ACTOR"]]}, [], "(--from doccano, format='doccano')",
         ["--from", "doccano"]),
        ({"id": "d1", "text": "قال محمد", "spans": [{"start": 4, "end": 8, "label": "ACTOR"}]}, ["--from", "doccano"],
         "without --from doccano (format='jsonl')", []),
    ],
)
def test_convert_reader_advice_names_convert_flags(tmp_path: Path, capsys: pytest.CaptureFixture, line: dict,
                                                    wrong: list[str], advice: str, fix: list[str]) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.json"
    src.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["data", "convert", str(src), str(out), *wrong]) == 1
    assert advice in capsys.readouterr().err
    assert main(["data", "convert", str(src), str(out), *fix]) == 0
    assert "ACTOR" in out.read_text(encoding="utf-8")
