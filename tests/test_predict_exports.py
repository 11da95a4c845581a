"""Exports of predictions: Label Studio (both offset units, round trip), brat, CoNLL, via the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import listing
from test_predict_tagger import tiny_checkpoint

from naba.cli import main
from naba.corpus.brat import read_brat
from naba.corpus.conll import read_conll
from naba.corpus.labels import DEFAULT_SCHEME
from naba.corpus.labelstudio import read_labelstudio
from naba.errors import ConfigError, DataError
from naba.predict.exports import (
    labelstudio_task,
    read_rows,
    token_aligned,
    utf16_offsets,
    write_brat,
    write_conll,
    write_labelstudio,
)

# an emoji (two UTF-16 units) before the entities, and one inside a claim
TEXT = "😀 قال الجيش السوري إن 🇸🇾 مقاتلين دخلوا حماة"


def _span(text: str, part: str, label: str, layer: str, score: float = 0.9) -> dict:
    start = text.index(part)
    return {"start": start, "end": start + len(part), "label": label, "layer": layer, "text": part, "score": score}


SPANS = [
    _span(TEXT, "الجيش السوري", "ACTOR", "entity"),
    _span(TEXT, "🇸🇾 مقاتلين دخلوا حماة", "CLAIM", "claim", 0.5),
    _span(TEXT, "حماة", "LOCATION", "entity", 0.7),
]
ROWS = [("doc-1", TEXT, SPANS), ("7", "لا شيء", [])]


@pytest.mark.parametrize(
    ("text", "offsets", "expected"),
    [
        ("abc", [0, 3], {0: 0, 3: 3}),
        ("😀ab", [1, 3], {1: 2, 3: 4}),
        ("a😀b🇸🇾c", [5, 0, 2, 3], {0: 0, 2: 3, 3: 4, 5: 8}),
    ],
)
def test_utf16_offsets(text: str, offsets: list[int], expected: dict[int, int]) -> None:
    assert utf16_offsets(text, offsets) == expected
    for cp, unit in expected.items():
        assert len(text[:cp].encode("utf-16-le")) // 2 == unit


@pytest.mark.parametrize("unit", ["codepoints", "utf16"])
def test_labelstudio_task_shape(unit: str) -> None:
    task = labelstudio_task("doc-1", TEXT, SPANS, offsets=unit, model_version="m1")
    assert task["data"] == {"text": TEXT, "id": "doc-1"}  # the id again: Label Studio replaces the task's
    (pred,) = task["predictions"]
    assert pred["model_version"] == "m1" and pred["score"] == pytest.approx((0.9 + 0.5 + 0.7) / 3, abs=1e-4)
    first = pred["result"][0]
    assert {k: first[k] for k in ("from_name", "to_name", "type")} == {"from_name": "label", "to_name": "text", "type": "labels"}
    assert first["value"]["labels"] == ["ACTOR"] and first["value"]["text"] == "الجيش السوري"
    shift = 1 if unit == "utf16" else 0  # the emoji before it counts two UTF-16 units
    assert first["value"]["start"] == SPANS[0]["start"] + shift
    claim = pred["result"][1]["value"]
    assert claim["start"] == SPANS[1]["start"] + shift and claim["end"] == SPANS[1]["end"] + 3 * shift



@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], 0.0),
        ([0.1234, 0.1236], 0.1235),  # four decimals, not three (0.124)
        ([None, 0.8], 0.8),  # a span without a score does not count
    ],
)
def test_labelstudio_task_score_is_the_mean_span_score(scores: list, expected: float) -> None:
    spans = [_span(TEXT, "حماة", "LOCATION", "entity", score) for score in scores]
    for span in spans:
        if span["score"] is None:
            del span["score"]
    (pred,) = labelstudio_task("d", TEXT, spans)["predictions"]
    assert pred["score"] == pytest.approx(expected, abs=1e-6)


def test_labelstudio_export_keeps_the_document_ids_through_label_studio(tmp_path: Path) -> None:
    # Label Studio gives imported tasks ids of its own (1, 2, ...): an export of the corrected tasks
    # read back with those would match no prediction or source document by id
    path = tmp_path / "pre.json"
    write_labelstudio([("doc-1", TEXT, SPANS), ("17", "نص آخر", [])], path)
    tasks = json.loads(path.read_text(encoding="utf-8"))
    for k, task in enumerate(tasks, start=1):
        task["id"] = k
    path.write_text(json.dumps(tasks), encoding="utf-8")
    assert [d.id for d in read_labelstudio(path, source="predictions")] == ["doc-1", "17"]

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # the README gave no labelling config: an import into a project with other names shows nothing
        (r'<Labels name="([^"]+)" toName="[^"]+">', lambda task, region: region["from_name"]),
        (r'<Labels name="[^"]+" toName="([^"]+)">', lambda task, region: region["to_name"]),
        (r'<Text name="([^"]+)" value="\$[^"]+"/>', lambda task, region: region["to_name"]),
        (r'<Text name="[^"]+" value="\$([^"]+)"/>', lambda task, region: next(iter(task["data"]))),
    ],
)
def test_the_readme_labelling_config_fits_the_export(pattern: str, expected) -> None:
    readme = README.read_text(encoding="utf-8")
    config = re.search(r"<View><Labels .*?</View>", readme)
    assert config, "the README shows no Label Studio labelling config for --format labelstudio"
    task = labelstudio_task("doc-1", TEXT, SPANS)
    region = task["predictions"][0]["result"][0]
    assert re.findall(pattern, config.group(0)) == [expected(task, region)]
    labels = set(re.findall(r'<Label value="([^"]+)"/>', config.group(0)))
    assert labels == {label for layer in DEFAULT_SCHEME.layers.values() for label in layer}


@pytest.mark.parametrize("unit", ["codepoints", "utf16"])
def test_labelstudio_round_trip_through_the_corpus_reader(tmp_path: Path, unit: str) -> None:
    path = tmp_path / "tasks.json"
    assert write_labelstudio(ROWS, path, offsets=unit) == (2, 0)
    tasks = json.loads(path.read_text(encoding="utf-8"))
    assert [t["id"] for t in tasks] == ["doc-1", 7]
    # the reader reads annotations; the same regions as annotations must come back exactly
    for task in tasks:
        task["annotations"] = [{"result": task.pop("predictions")[0]["result"]}]
    as_annotations = tmp_path / "as-annotations.json"
    as_annotations.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    docs = read_labelstudio(as_annotations)
    assert [d.id for d in docs] == ["doc-1", "7"]
    assert docs[0].text == TEXT
    assert sorted((s.start, s.end, s.label) for s in docs[0].spans) == sorted(
        (s["start"], s["end"], s["label"]) for s in SPANS
    )
    assert docs[1].spans == []


@pytest.mark.parametrize("unit", ["codepoints", "utf16"])
def test_labelstudio_predictions_are_read_back_as_they_are(tmp_path: Path, unit: str) -> None:
    path = tmp_path / "tasks.json"
    write_labelstudio(ROWS, path, offsets=unit)
    docs = read_labelstudio(path)
    assert sorted((s.start, s.end, s.label) for s in docs[0].spans) == sorted(
        (s["start"], s["end"], s["label"]) for s in SPANS
    )


def test_brat_export_reads_back_and_skips_empty_documents(tmp_path: Path) -> None:
    rows = [*ROWS, ("empty", "  ", [])]
    assert write_brat(rows, tmp_path / "brat", scheme=DEFAULT_SCHEME) == (2, 1)
    docs = {d.id: d for d in read_brat(tmp_path / "brat")}
    assert sorted(docs) == ["7", "doc-1"]
    assert docs["doc-1"].text == TEXT
    assert sorted((s.start, s.end, s.label) for s in docs["doc-1"].spans) == sorted(
        (s["start"], s["end"], s["label"]) for s in SPANS
    )


def _brat_takes(text: str, line: str) -> bool:
    """Whether brat's loader (server/src/annotation.py) takes the T line ``line``: split into lines as
    str.splitlines splits, its text must be the text at its fragments joined by one space, exactly."""
    if len(line.splitlines()) != 1:
        return False
    _, head, given = line.rstrip("\n").split("\t", 2)
    pairs = [tuple(map(int, part.split())) for part in head.split(" ", 1)[1].split(";")]
    return given == " ".join(text[s:e] for s, e in pairs)


@pytest.mark.parametrize(
    ("text", "part", "offsets", "brat_takes"),
    [
        # a span over a line break was one range with the break written as a space, which brat refuses
        # (its text is not the text at the offsets): fragments now, as brat writes such a selection
        ("قال الجيش\nالسوري", "الجيش\nالسوري", "4 9;10 16", True),
        ("قال الجيش\r\nالسوري", "الجيش\r\nالسوري", "4 9;11 17", True),
        ("قال الجيش \n\n السوري", "الجيش \n\n السوري", "4 9;13 19", True),  # the whitespace around goes too
        ("😀 الجيش\u2028السوري", "الجيش\u2028السوري", "2 7;8 14", True),  # U+2028 ends a line to brat
        ("قال الجيش\tالسوري", "الجيش\tالسوري", "4 16", True),  # a tab is no line break
        ("😀 الجيش السوري", "الجيش السوري", "2 14", True),
        # ending at a line break, which no fragment holds: written whole, read back by naba, not by brat
        ("الجيش\nقال", "الجيش\n", "0 6", False),
    ],
)
def test_brat_export_writes_a_span_over_a_line_break_as_fragments(
    tmp_path: Path, text: str, part: str, offsets: str, brat_takes: bool
) -> None:
    span = _span(text, part, "ACTOR", "entity")
    write_brat([("d", text, [span])], tmp_path / "brat", scheme=DEFAULT_SCHEME)
    line = (tmp_path / "brat" / "d.ann").read_text(encoding="utf-8")
    assert line.split("\t")[1] == f"ACTOR {offsets}"
    assert _brat_takes(text, line) is brat_takes
    (doc,) = read_brat(tmp_path / "brat")  # the default policy: no error for brat's own fragments
    assert (doc.text, [(s.start, s.end, s.label) for s in doc.spans]) == (text, [(span["start"], span["end"], "ACTOR")])


@pytest.mark.parametrize(
    ("before", "ids", "stale"),
    [
        (["old-1", "sub/old-2"], ["doc-1", "7"], "old-1, sub/old-2"),  # read back beside the new ones before
        (["doc-1", "old"], ["doc-1", "7"], "old"),
        (["doc-1", "7"], ["doc-1", "7"], None),  # the same documents again: written over
        ([], ["doc-1", "7"], None),
    ],
)
def test_brat_export_into_a_folder_holding_other_documents(tmp_path: Path, before: list[str], ids: list[str],
                                                           stale: str | None) -> None:
    folder = tmp_path / "brat"
    folder.mkdir()
    write_brat([(i, "نص قديم", []) for i in before], folder, scheme=DEFAULT_SCHEME)
    rows = [(i, text, spans) for i, (_, text, spans) in zip(ids, ROWS, strict=True)]
    if stale is None:
        write_brat(rows, folder, scheme=DEFAULT_SCHEME)
        assert sorted(d.id for d in read_brat(folder)) == sorted(ids)
        return
    listed = listing(tmp_path)
    with pytest.raises(DataError, match=f"holds brat documents not in the predictions \\({stale}\\)"):
        write_brat(rows, folder, scheme=DEFAULT_SCHEME)
    assert listing(tmp_path) == listed  # nothing moved in


@pytest.mark.parametrize(
    ("text", "parts", "expected"),
    [
        ("في حماة اليوم", ["حماة"], ["حماة"]),
        ("في وحماة اليوم", ["حماة"], ["وحماة"]),  # a clitic: the whole token
        ("وحماة اليوم", ["حماة"], ["وحماة"]),  # ... at the start of the text
        ("الجيش السوري", ["الجيش السو"], ["الجيش السوري"]),
        ("حماة وحلب", ["حماة", "حلب"], ["حماة", "وحلب"]),
        ("أ\nب ج", ["أ\nب"], ["أ"]),  # cut at the line break
        # a boundary on the space between two tokens is inside neither: " زيد" took قال before it,
        # "زيد " في after it
        ("قال زيد في دمشق", [" زيد"], ["زيد"]),
        ("قال زيد في دمشق", ["زيد "], ["زيد"]),
        # a start on a line break: cut at that break, the span was dropped (its part on the next line lost)
        ("قال\nزيد في دمشق", ["\nزيد"], ["زيد"]),
        ("قال زيد \nفي دمشق", [" \nفي"], ["في"]),
    ],
)
def test_token_aligned(text: str, parts: list[str], expected: list[str]) -> None:
    spans = [_span(text, p, "LOCATION", "entity") for p in parts]
    assert [s["text"] for s in token_aligned(text, spans, layer="entity")] == expected


def test_token_aligned_drops_spans_that_overlap_once_widened() -> None:
    text = "قال وحماة"
    spans = [
        {"start": 4, "end": 5, "label": "ACTOR", "layer": "entity", "text": "و"},
        {"start": 5, "end": 9, "label": "LOCATION", "layer": "entity", "text": "حماة"},
        {"start": 0, "end": 9, "label": "CLAIM", "layer": "claim", "text": text},
    ]
    assert [(s["start"], s["end"], s["label"]) for s in token_aligned(text, spans, layer="entity")] == [
        (4, 9, "ACTOR")
    ]


def test_conll_export_of_one_layer_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.conll"
    assert write_conll([*ROWS, ("e", "", [])], path, layer="entity", scheme=DEFAULT_SCHEME) == (2, 1)
    docs = read_conll(path)
    assert len(docs) == 2
    first = docs[0]
    assert sorted((first.span_text(s), s.label) for s in first.spans) == [
        ("الجيش السوري", "ACTOR"), ("حماة", "LOCATION"),
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a blank line is skipped; an integer id becomes a string
        (['{"id": 1, "text": "قال", "spans": []}', "", '{"id": "b", "text": "x", "spans": []}'],
         [("1", "قال", []), ("b", "x", [])]),
        (['{"id": "a", "text": "x", "spans": []}', '{"id": "b", "spans": []}'], "line 2: not a prediction line"),
    ],
)
def test_read_rows(tmp_path: Path, lines: list[str], expected: list | str) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if isinstance(expected, str):
        with pytest.raises(DataError, match=expected):
            list(read_rows(path))
    else:
        assert list(read_rows(path)) == expected


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("exports"))


@pytest.mark.parametrize("fmt", ["labelstudio", "brat", "conll"])
def test_cli_predict_exports(checkpoint: Path, tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": f"😀 قال الجيش السوري إن مقاتلين دخلوا حماة {i}"}, ensure_ascii=False) + "\n"
                for i in range(3)),
        encoding="utf-8",
    )
    plain = tmp_path / "plain.jsonl"
    assert main(["predict", str(checkpoint), str(src), "-o", str(plain), "--no-progress"]) == 0
    expected = {json.loads(x)["id"]: json.loads(x)["spans"] for x in plain.read_text(encoding="utf-8").splitlines()}
    out = tmp_path / {"labelstudio": "tasks.json", "brat": "brat", "conll": "out.conll"}[fmt]
    args = ["predict", str(checkpoint), str(src), "-o", str(out), "--format", fmt, "--no-progress"]
    assert main([*args, "--offsets", "utf16"] if fmt == "labelstudio" else args) == 0
    assert not (tmp_path / f"{out.name}.work.jsonl").exists()
    if fmt == "labelstudio":
        tasks = json.loads(out.read_text(encoding="utf-8"))
        for task in tasks:
            text, result = task["data"]["text"], task["predictions"][0]["result"]
            spans = expected[task["id"]]
            assert [r["value"]["text"] for r in result] == [s["text"] for s in spans]
            units = [len(text[: s["start"]].encode("utf-16-le")) // 2 for s in spans]
            assert [r["value"]["start"] for r in result] == units
            assert any(u == s["start"] + 1 for u, s in zip(units, spans, strict=True))  # past the emoji
            assert all(text[s["start"] : s["end"]] == s["text"] for s in spans)
    elif fmt == "brat":
        docs = {d.id: d for d in read_brat(out, scheme=DEFAULT_SCHEME)}
        assert {k: sorted((s.start, s.end, s.label) for s in d.spans) for k, d in docs.items()} == {
            k: sorted((s["start"], s["end"], s["label"]) for s in v) for k, v in expected.items()
        }
    else:
        assert len(read_conll(out)) == 3


@pytest.mark.parametrize("empty_first", [False, True])
def test_labelstudio_export_leaves_out_empty_documents_and_reads_back(tmp_path: Path, empty_first: bool) -> None:
    path = tmp_path / "tasks.json"
    empty = [("empty", " \n", [])]
    assert write_labelstudio([*empty, *ROWS] if empty_first else [*ROWS, *empty], path) == (2, 1)
    assert [d.id for d in read_labelstudio(path)] == ["doc-1", "7"]


# text repeated after characters outside the BMP: both offset units find every region's text
AMBIGUOUS = "🇪🇬🇪🇬 مصر مصر"  # the first مصر is code points [5, 8), UTF-16 units [9, 12)


@pytest.mark.parametrize(
    ("unit", "start", "offsets", "expected"),
    [
        ("utf16", 5, "utf16", (5, 8)),
        ("codepoints", 5, "codepoints", (5, 8)),
        ("codepoints", 5, "auto", (5, 8)),  # [5, 8) in UTF-16 units would split a flag: one reading fits
        ("utf16", 5, "auto", "fit the text both as code points and as UTF-16 code units"),
        ("codepoints", 9, "auto", "fit the text both as code points and as UTF-16 code units"),
        ("codepoints", 9, "codepoints", (9, 12)),
        ("utf16", 5, "codepoints", (9, 12)),  # what the file says, read as told: the second مصر
    ],
)
def test_labelstudio_offsets_that_fit_both_units(tmp_path: Path, unit: str, start: int, offsets: str, expected) -> None:
    path = tmp_path / "tasks.json"
    span = {"start": start, "end": start + 3, "label": "LOCATION", "layer": "entity", "text": "مصر", "score": 0.9}
    write_labelstudio([("d", AMBIGUOUS, [span])], path, offsets=unit)
    if isinstance(expected, str):
        with pytest.raises(DataError, match=expected):
            read_labelstudio(path, offsets=offsets)
    else:
        (doc,) = read_labelstudio(path, offsets=offsets)
        assert [(s.start, s.end) for s in doc.spans] == [expected]


def test_labelstudio_offsets_in_a_named_unit(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    write_labelstudio(ROWS, path, offsets="utf16")
    docs = read_labelstudio(path, offsets="utf16")
    assert sorted((s.start, s.end) for s in docs[0].spans) == sorted((s["start"], s["end"]) for s in SPANS)
    with pytest.raises(DataError, match="do not match the text as code points"):
        read_labelstudio(path, offsets="codepoints")
    with pytest.raises(ConfigError, match="offsets must be one of"):
        read_labelstudio(path, offsets="bytes")
    # a region without value.text is taken in the unit named, and refused by "auto" after an emoji
    tasks = json.loads(path.read_text(encoding="utf-8"))
    for region in tasks[0]["predictions"][0]["result"]:
        del region["value"]["text"]
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    assert sorted((s.start, s.end) for s in read_labelstudio(path, offsets="utf16")[0].spans) == sorted(
        (s["start"], s["end"]) for s in SPANS
    )
    with pytest.raises(DataError, match="no value.text"):
        read_labelstudio(path)
    out = tmp_path / "docs.jsonl"
    assert main(["data", "convert", str(path), str(out), "--input-offsets", "utf16"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("ids", [["News/a", "News/b", "News/c/d", "news"], ["a", "a/b", "A.x"]])
def test_brat_ids_sharing_a_folder_spelt_alike_are_fine(tmp_path: Path, ids: list[str]) -> None:
    rows = [(i, f"نص {k}", []) for k, i in enumerate(ids)]
    assert write_brat(rows, tmp_path / "out", scheme=DEFAULT_SCHEME) == (len(ids), 0)
    assert sorted(d.id for d in read_brat(tmp_path / "out")) == sorted(ids)


@pytest.mark.parametrize(
    ("ids", "clash"),
    [
        (["x", "y", "x"], "document 2 (id=x)"),
        (["A", "a"], "document 1 (id=a)"),  # one file on macOS and Windows disks
        (["caf\u00e9", "cafe\u0301"], "document 1"),  # NFC and NFD: one file on macOS
        (["a/b", "a_b", "A_B"], "document 2 (id=A_B)"),
        # one folder on such disks, and the second id read back from it as "News/b": its own id lost
        (["News/a", "news/b"], "document 1 (id=news/b): its folder 'news' would be folder 'News' (of id 'News/a')"),
        (["x/Sub/a", "x/sub/b"], "folder 'x/sub' would be folder 'x/Sub'"),
        (["caf\u00e9/a", "cafe\u0301/b"], "document 1"),
        (["../x"], "not a safe relative file path"),
        # 130 Arabic letters are 260 bytes: the second document failed with "File name too long"
        # after the first had been written
        (["ok", "ب" * 130], "document 1 (id=" + "ب" * 130 + "): a part of the id is longer than 251 bytes"),
        (["ok", "a/" + "x" * 252], "longer than 251 bytes"),
    ],
)
def test_brat_ids_that_would_share_files(tmp_path: Path, ids: list[str], clash: str) -> None:
    from naba.corpus.brat import write_brat as corpus_write_brat
    from naba.corpus.document import Document
    from naba.predict.exports import check_brat_ids

    rows = [(i, f"نص {k}", []) for k, i in enumerate(ids)]
    with pytest.raises(DataError, match=re.escape(clash)):
        check_brat_ids(rows, tmp_path / "checked")
    with pytest.raises(DataError, match=re.escape(clash)):
        write_brat(rows, tmp_path / "exported", scheme=DEFAULT_SCHEME)
    with pytest.raises(DataError, match=re.escape(clash)):
        corpus_write_brat([Document(i, t, []) for i, t, _ in rows], tmp_path / "corpus")
    assert not (tmp_path / "corpus").exists()  # the corpus writer checks every id first


def test_cli_brat_export_rejects_ids_that_cannot_have_files_of_their_own(checkpoint: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    ids = ("Doc", "other", "doc", "../up", "last")
    src.write_text("".join(json.dumps({"id": i, "text": "قال الجيش"}) + "\n" for i in ids), encoding="utf-8")
    out = tmp_path / "brat"
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--format", "brat", "--no-progress"]) == 0
    assert sorted(d.id for d in read_brat(out)) == ["Doc", "last", "other"]
    rejects = [json.loads(x) for x in (tmp_path / "brat.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["id"]) for r in rejects] == [(3, "doc"), (4, "../up")]
    assert "would be those of id 'Doc'" in rejects[0]["reason"] and "safe relative" in rejects[1]["reason"]
    # resumed after a crash: an id tagged before it still claims its files
    out2 = tmp_path / "again"
    (tmp_path / "again.work.jsonl").write_text(json.dumps({"id": "Doc", "text": "قال الجيش", "spans": []}) + "\n",
                                               encoding="utf-8")
    assert main(["predict", str(checkpoint), str(src), "-o", str(out2), "--format", "brat", "--no-progress"]) == 0
    assert sorted(d.id for d in read_brat(out2)) == ["Doc", "last", "other"]
    rejects = [json.loads(x) for x in (tmp_path / "again.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rejects] == ["doc", "../up"]


def test_brat_ids_may_not_hold_a_folder_named_like_a_brat_file(tmp_path: Path) -> None:
    # x.ann/y would make a folder where id x's x.ann goes, which the reader would take for a document
    with pytest.raises(DataError, match=re.escape("document 1 (id=x.ann/y): id is not a safe relative")):
        write_brat([("x", "حماة", []), ("x.ann/y", "قال الجيش", [])], tmp_path / "b", scheme=DEFAULT_SCHEME)
    (tmp_path / "c" / "x.ann").mkdir(parents=True)  # made by hand: not a document
    write_brat([("x.Ann", "حماة", [])], tmp_path / "c", scheme=DEFAULT_SCHEME)
    assert [d.id for d in read_brat(tmp_path / "c")] == ["x.Ann"]


def test_brat_keeps_a_leading_byte_order_mark(tmp_path: Path) -> None:
    text = "\ufeffقال الجيش"
    write_brat([("bom", text, [_span(text, "الجيش", "ACTOR", "entity")])], tmp_path / "b", scheme=DEFAULT_SCHEME)
    (doc,) = read_brat(tmp_path / "b")
    assert doc.text == text and [(s.start, s.end) for s in doc.spans] == [(5, 10)]


@pytest.mark.parametrize(
    "text",
    [
        "قال \u200f الجيش السوري",  # a right-to-left mark standing alone
        "قال -DOCSTART- الجيش السوري",
        "\u200f\u200e",  # nothing but marks: left out, as empty documents are
    ],
)
def test_conll_export_blanks_tokens_a_conll_file_cannot_hold(tmp_path: Path, text: str) -> None:
    spans = [_span(text, "الجيش السوري", "ACTOR", "entity")] if "الجيش" in text else []
    path = tmp_path / "out.conll"
    written, skipped = write_conll([("a", text, spans), ("b", "حماة", [])], path, layer="entity", scheme=DEFAULT_SCHEME)
    docs = read_conll(path)
    assert (written, skipped) == (len(docs), 2 - len(docs))
    if spans:
        assert [(docs[0].span_text(s), s.label) for s in docs[0].spans] == [("الجيش السوري", "ACTOR")]
    else:
        assert len(docs) == 1


@pytest.mark.parametrize(
    ("name", "is_file", "reason"),
    [
        ("preds.ann", False, "this name is one brat file's"),  # each document overwrote the one before
        ("preds.TXT", False, "this name is one brat file's"),
        ("preds.Ann", False, "this name is one brat file's"),
        ("preds.jsonl", True, "a file stands there"),  # failed only once the whole corpus was tagged
    ],
)
def test_cli_brat_export_needs_a_folder_name(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str, is_file: bool, reason: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{k}", "text": "قال الجيش"}) + "\n" for k in range(3)), encoding="utf-8")
    out = tmp_path / name
    if is_file:
        out.write_text("kept\n", encoding="utf-8")
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--format", "brat", "--no-progress"]) == 1
    assert reason in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"in.jsonl", name} if is_file else {"in.jsonl"})
    if is_file:
        assert out.read_text(encoding="utf-8") == "kept\n"
    with pytest.raises(DataError, match=re.escape(reason)):
        write_brat([("d0", "قال الجيش", [])], out, scheme=DEFAULT_SCHEME)


@pytest.mark.parametrize("old", [False, True])
def test_brat_export_that_fails_part_way_leaves_the_folder_as_it_was(tmp_path: Path, disk_full, old: bool) -> None:
    folder = tmp_path / "brat"
    if old:
        write_brat([("doc-1", "نص قديم", []), ("7", "نص قديم آخر", [])], folder, scheme=DEFAULT_SCHEME)
    before = listing(tmp_path)
    disk_full(4)  # a file of the second document
    with pytest.raises(DataError, match="cannot write file: No space left on device"):
        write_brat(ROWS, folder, scheme=DEFAULT_SCHEME)
    assert listing(tmp_path) == before


@pytest.mark.parametrize("left", [".brat.1a2b3c4d.tmp/d0.txt", "brat/.naba.1a2b3c4d.tmp/d0.ann"])
def test_cli_brat_export_deletes_what_a_killed_export_staged(checkpoint: Path, tmp_path: Path, left: str) -> None:
    # an export killed while staging (a lost node) left its hidden folder, possibly a whole corpus' worth
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{k}", "text": "قال الجيش"}) + "\n" for k in range(2)), encoding="utf-8")
    (tmp_path / left).parent.mkdir(parents=True)
    (tmp_path / left).write_text("staged", encoding="utf-8")
    out = tmp_path / "brat"
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--format", "brat", "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brat", "brat.rejects.jsonl", "in.jsonl"]
    assert sorted(p.name for p in out.iterdir()) == ["d0.ann", "d0.txt", "d1.ann", "d1.txt"]


@pytest.mark.parametrize(
    ("docs", "exported", "rejected"),
    [
        ([("a", ""), ("A", "قال الجيش")], ["A"], []),
        ([("a", " \n"), ("A", "قال الجيش")], ["A"], []),
        ([("a", "قال"), ("A", "قال الجيش")], ["a"], ["A"]),  # both exported: still refused
    ],
)
def test_cli_brat_export_an_empty_document_takes_no_file_name(
    checkpoint: Path, tmp_path: Path, docs: list[tuple[str, str]], exported: list[str], rejected: list[str]
) -> None:
    # an empty document "a", never exported, made "A" a reject for sharing its files
    src, out = tmp_path / "in.jsonl", tmp_path / "brat"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs), encoding="utf-8")
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--format", "brat", "--no-progress"]) == 0
    assert sorted(d.id for d in read_brat(out)) == exported
    rejects = (tmp_path / "brat.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in rejects] == rejected


@pytest.mark.parametrize("fmt", ["labelstudio", "conll"])
def test_cli_a_second_job_during_the_export_is_refused(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, fmt: str
) -> None:
    # the lock was released before the export: a rerun started then deleted the export's temporary
    # file as a killed run's, and the first job failed to move it into place
    from naba.predict import exports

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "d", "text": "قال الجيش السوري"}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / {"labelstudio": "tasks.json", "conll": "out.conll"}[fmt]
    args = ["predict", str(checkpoint), str(src), "-o", str(out), "--format", fmt, "--no-progress"]
    second = []
    name = "labelstudio_task" if fmt == "labelstudio" else "token_aligned"
    real = getattr(exports, name)

    def during(*a: Any, **k: Any) -> Any:
        if not second:
            second.append(None)
            second[0] = main(args)
        return real(*a, **k)

    monkeypatch.setattr(exports, name, during)
    assert main(args) == 0
    assert second == [2]
    assert "another naba predict is writing it now" in capsys.readouterr().err
    assert out.exists() and not (tmp_path / f"{out.name}.work.jsonl").exists()
