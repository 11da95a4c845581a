"""``naba render`` and naba.html.nest_spans: nesting from offsets, escaping, a real browser's view."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import grows_linearly

from naba.cli import main
from naba.corpus.document import Document, Span
from naba.corpus.jsonl import write_jsonl
from naba.errors import DataError
from naba.html import nest_spans
from naba.predict.render import Tagged, colours, read_tagged, render_page


def _tags(text: str, spans: list[tuple[int, int]], ranks: list[int] | None = None) -> str:
    return nest_spans(
        text, spans, lambda i, cont: f"<{i}{'+' if cont else ''}>", close_tag="</>",
        rank=(lambda i: ranks[i]) if ranks else None,
    )


@pytest.mark.parametrize(
    ("text", "spans", "ranks", "expected"),
    [
        ("abcdef", [], None, "abcdef"),
        ("abcdef", [(1, 3)], None, "a<0>bc</>def"),
        ("abcdef", [(2, 4), (0, 6)], None, "<1>ab<0>cd</>ef</>"),  # the longer one outside
        ("abcdef", [(0, 3), (2, 5)], None, "<0>ab<1>c</></><1+>de</>f"),  # crossing: split, continued
        ("abcdef", [(1, 4), (1, 4)], [1, 0], "a<1><0>bcd</></>ef"),  # same extent: lower rank outside
        ("abcdef", [(0, 2), (2, 4)], None, "<0>ab</><1>cd</>ef"),
        ("abc", [(2, 2), (-1, 2), (1, 9)], None, "abc"),  # empty and out-of-range spans left out
        ("<a&b>", [(1, 4)], None, "&lt;<0>a&amp;b</>&gt;"),
        # a CR LF cut by a tag: an HTML parser read the CR as a line break of its own, then the LF
        # (two lines in Chromium); the CR as a reference stays a CR, drawn as a space
        ("ab\r\ncd", [(0, 3)], None, "<0>ab&#13;</>\ncd"),
        ("ab\r\ncd", [(3, 6)], None, "ab&#13;<0>\ncd</>"),
        ("ab\r\ncd\r", [(0, 2), (6, 7)], None, "<0>ab</>\r\ncd<1>\r</>"),  # whole, or a CR alone: as they are
        # crossing chains and a same-extent pair across layers: the pages the sweep wrote before it
        # kept its work to what changes at each cut (the old sort of every open span at every cut)
        ("abcdefgh", [(0, 4), (2, 6), (4, 8), (2, 6)], [1, 0, 1, 1],
         "<0>ab<1><3>cd</></></><1+><3+><2>ef</></></><2+>gh</>"),
        ("abcdefgh", [(0, 8), (1, 7), (2, 5), (3, 6), (5, 8), (3, 6)], [0, 0, 1, 1, 1, 0],
         "<0>a<1>b<2>c<5><3>de</></></><5+><3+><4>f</></></><4+>g</></><4+>h</></>"),
        ("abcdef", [(0, 2), (1, 3), (2, 4), (3, 5), (4, 6)], None,
         "<0>a<1>b</></><1+><2>c</></><2+><3>d</></><3+><4>e</></><4+>f</>"),
    ],
)
def test_nest_spans(text: str, spans: list, ranks: list | None, expected: str) -> None:
    assert _tags(text, spans, ranks) == expected


@pytest.mark.parametrize(
    ("shape", "count"),
    [
        ("nested claims, entities crossing them", 5000),  # 8 s before: every open claim sorted at every cut
        ("claims crossing the next few", 5000),
    ],
)
def test_render_of_thousands_of_overlapping_spans_is_fast(shape: str, count: int) -> None:
    def doc(count: int) -> Tagged:
        text = "ب" * (3 * count)
        if shape.startswith("nested"):
            spans = [{"start": k, "end": len(text) - k, "label": "CLAIM", "layer": "claim"} for k in range(count)]
            spans += [{"start": 3 * k + 1, "end": 3 * k + 5, "label": "ACTOR", "layer": "entity"}
                      for k in range(count - 2)]
        else:
            spans = [{"start": 3 * k, "end": 3 * k + 10, "label": "CLAIM", "layer": "claim"} for k in range(count - 4)]
        return Tagged("d", text, spans)

    page = render_page([doc(count // 10)])
    assert page.count('data-label="CLAIM" data-layer="claim" data-start="0"') == 1
    # 10 times the spans take about 10 times as long (quadratic work: 100 times)
    assert grows_linearly(lambda n: render_page([doc(n)]), count // 10)


@pytest.mark.parametrize(
    "labels",
    [
        # OntoNotes-style labels: past the 8 spare colours, ORG, PER, PERCENT and TIME were all #888888
        ["PER", "ORG", "GPE", "LOC", "DATE", "TIME", "MONEY", "PERCENT", "NORP", "FAC", "EVENT", "LAW"],
        ["ACTOR", "CLAIM", "LOCATION", *(f"L{k}" for k in range(40))],
    ],
)
def test_every_label_has_a_colour_of_its_own(labels: list[str]) -> None:
    palette = colours(labels)
    assert len(set(palette.values())) == len(labels)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in palette.values())  # the CSS appends an alpha
    assert palette == colours(reversed(labels))  # stable
    known = {"ACTOR": "#f4a261", "CLAIM": "#7b2cbf", "LOCATION": "#2a9d8f"}
    assert {k: palette[k] for k in known if k in palette} == {k: v for k, v in known.items() if k in palette}


HOSTILE = 'قال <script>document.title="pwned"</script> الجيش السوري إن مقاتلين دخلوا مدينة حماة.'


def _doc() -> Tagged:
    def at(part: str, label: str, layer: str) -> dict:
        start = HOSTILE.index(part)
        return {"start": start, "end": start + len(part), "label": label, "layer": layer, "score": 0.8}

    return Tagged(
        'doc"<1>',
        HOSTILE,
        [at("الجيش السوري", "ACTOR", "entity"), at("مقاتلين دخلوا مدينة حماة", "CLAIM", "claim"),
         at("حماة", "LOCATION", "entity")],
    )


def test_page_escapes_text_and_nests_entities_inside_claims() -> None:
    page = render_page([_doc()])
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page and 'data-id="doc&quot;&lt;1&gt;"' in page
    claim = re.search(r'<span class="span l1"[^>]*data-label="CLAIM".*?</span></span>', page)
    assert claim and 'data-label="LOCATION"' in claim.group(0)
    assert 'dir="rtl"' in page
    for label in ("ACTOR", "CLAIM", "LOCATION"):
        assert 'class="swatch' in page and f'data-label="{label}">{label}</span></li>' in page


@pytest.mark.parametrize(
    ("layers", "boxed"),
    [
        (("entity", "claim"), {"CLAIM"}),
        # a claim layer named otherwise was shaded like the entities it holds, and nested inside them
        (("entity", "assertion"), {"CLAIM"}),
        (("كيان", "ادعاء"), {"CLAIM"}),
        # the layer that holds the other is boxed, whatever the names' order
        (("z_entities", "a_claims"), {"CLAIM"}),
    ],
)
def test_a_layer_that_holds_another_is_boxed_whatever_its_name(layers: tuple[str, str], boxed: set[str]) -> None:
    entity, claim = layers
    doc = _doc()
    for span in doc.spans:
        span["layer"] = claim if span["label"] == "CLAIM" else entity
    page = render_page([doc])
    css = dict(re.findall(r"\.(l\d) \{ (border|background)", page))
    classes = dict(re.findall(r'class="swatch (l\d)" data-label="(\w+)"', page))
    assert {label for cls, label in classes.items() if css[cls] == "border"} == boxed
    # the box is drawn around the place inside it, not inside the place
    held = re.search(r'<span class="span l\d"[^>]*data-label="CLAIM".*?</span></span>', page)
    assert held and 'data-label="LOCATION"' in held.group(0)


def test_layers_that_only_cross_or_match_are_shaded() -> None:
    text = "قال الجيش السوري إن القوات دخلت حماة"
    spans = [{"start": 4, "end": 16, "label": "ACTOR", "layer": "a"},
             {"start": 10, "end": 26, "label": "TOPIC", "layer": "b"},  # crosses ACTOR
             {"start": 32, "end": 36, "label": "LOCATION", "layer": "a"},
             {"start": 32, "end": 36, "label": "PLACE", "layer": "b"}]  # the same extent
    page = render_page([Tagged("d", text, spans)])
    assert "border: 2px solid" not in page and page.count("background:") == 4


def test_predictions_without_text_take_it_from_the_source(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "في حماة"}, ensure_ascii=False) + "\n", encoding="utf-8")
    preds = tmp_path / "preds.jsonl"
    span = {"start": 3, "end": 7, "label": "LOCATION", "layer": "entity", "text": "حماة", "score": 0.9}
    preds.write_text(json.dumps({"id": "a", "spans": [span]}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="--with-text"):
        list(read_tagged(preds))
    (doc,) = read_tagged(preds, source=src)
    assert doc.text == "في حماة" and doc.spans == [span]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # predicted with --id-field doc_id --text-field body: render reads the source's id and text
        ({"doc_id": "a", "body": "في حماة"}, r"no text for id 'a' in .*in.jsonl \(1 of its record\(s\) could not be "
         r"read; the first, line 1: no 'id' field\)"),
        ({"id": "a", "text": "\ud800 حماة"}, r"no text for id 'a' .*the first, line 1: .*surrogate"),
        ({"id": "b", "text": "في حماة"}, r"no text for id 'a' in [^(]*$"),  # nothing refused: nothing more to say
    ],
)
def test_a_source_whose_records_were_refused_says_why(tmp_path: Path, source: dict, message: str) -> None:
    # before: "no text for id 'a' in in.jsonl", though the record was there and refused
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(source) + "\n", encoding="utf-8")  # a lone surrogate as its \\ud800 escape
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "a", "spans": []}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        list(read_tagged(preds, source=src))


_LINE = '{"id": "a", "text": "في حماة", "spans": [{"start": 3, "end": 7, "label": "LOCATION"}]}\n'.encode()


@pytest.mark.parametrize(
    "line",
    [
        {"id": "a", "text": "في حماة", "spans": [{"start": 3, "end": 7, "label": "LOCATION"}]},  # corpus JSONL
        {"id": "a", "text": "في حماة", "spans": [{"start": 3, "end": 7, "label": "LOCATION", "layer": "entity",
                                                 "score": 0.9}]},  # predictions --with-text
    ],
)
def test_a_jsonl_file_saved_with_a_byte_order_mark_renders(tmp_path: Path, line: dict) -> None:
    # Notepad's UTF-8 BOM: naba's JSONL reader drops it; render refused line 1 as invalid JSON
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
    (doc,) = read_tagged(path)
    assert (doc.id, doc.text) == ("a", "في حماة")
    assert [(s["start"], s["end"], s["label"], s["layer"]) for s in doc.spans] == [(3, 7, "LOCATION", "entity")]


@pytest.mark.parametrize("joined", [2, 3])
def test_jsonl_files_with_a_byte_order_mark_joined_with_cat_render(tmp_path: Path, joined: int) -> None:
    # a BOM starts each joined file's first line: render refused the second as invalid JSON
    path = tmp_path / "joined.jsonl"
    line = '{"id": "%d", "text": "في حماة", "spans": [{"start": 3, "end": 7, "label": "LOCATION"}]}\n'
    path.write_bytes(b"".join(b"\xef\xbb\xbf" + (line % i).encode("utf-8") for i in range(joined)))
    docs = list(read_tagged(path))
    assert [(d.id, d.text, [(s["start"], s["end"]) for s in d.spans]) for d in docs] == [
        (str(i), "في حماة", [(3, 7)]) for i in range(joined)
    ]


# a line that is only a BOM (a blank first line saved by Notepad; an empty Notepad file joined with cat):
# naba data and naba predict skip it as blank, render stopped: "not a prediction line: invalid JSON"
@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf\n" + _LINE,
        b"\xef\xbb\xbf\r\n" + _LINE,
        _LINE + b"\xef\xbb\xbf",
        _LINE + b"\xef\xbb\xbf\n" + _LINE.replace(b'"a"', b'"b"'),
    ],
    ids=["first", "first-crlf", "last", "between"],
)
def test_a_line_of_only_a_byte_order_mark_is_blank(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(data)
    docs = list(read_tagged(path))
    assert [(d.text, [(s["start"], s["end"]) for s in d.spans]) for d in docs] == [("في حماة", [(3, 7)])] * len(docs)
    assert [d.id for d in docs] == ["a", "b"][: data.count(b'"id"')]


def test_a_corpus_file_renders_with_layers_from_the_scheme(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    text = "قال الجيش إن القوات دخلت حماة"
    write_jsonl([Document("g1", text, [Span(4, 9, "ACTOR"), Span(13, 29, "CLAIM")])], path)
    (doc,) = read_tagged(path)
    assert [(s["label"], s["layer"]) for s in doc.spans] == [("ACTOR", "entity"), ("CLAIM", "claim")]


_SCHEME = "layers:\n  entity: [ACTOR, LOCATION, ORG, EVENT]\n  claim: [CLAIM, DENIAL]\n"
_TEXT = "نفت السفارة في دمشق أن الوضع مستقر"


def _brat_own_labels(path: Path) -> Path:
    (path / "gold").mkdir()
    (path / "gold" / "d1.txt").write_text(_TEXT, encoding="utf-8")
    (path / "gold" / "d1.ann").write_text("T1\tORG 4 11\tالسفارة\nT2\tEVENT 15 19\tدمشق\n", encoding="utf-8")
    return path / "gold"


def _jsonl_own_labels(path: Path) -> Path:
    spans = [Span(4, 11, "ORG").to_dict(), Span(23, 34, "DENIAL").to_dict()]
    (path / "gold.jsonl").write_text(json.dumps({"id": "d1", "text": _TEXT, "spans": spans}) + "\n", encoding="utf-8")
    return path / "gold.jsonl"


@pytest.mark.parametrize(
    ("make", "drawn"),
    [
        # EVENT was refused and ORG drawn as ACTOR: the brat folder was read under naba's built-in scheme
        (_brat_own_labels, [("ORG", "entity"), ("EVENT", "entity")]),
        # DENIAL, a claim, was drawn shaded as an entity (its layer taken from the built-in scheme)
        (_jsonl_own_labels, [("ORG", "entity"), ("DENIAL", "claim")]),
    ],
)
def test_cli_render_of_a_corpus_in_its_own_scheme_takes_labels(tmp_path: Path, make, drawn: list) -> None:
    scheme, page = tmp_path / "scheme.yaml", tmp_path / "page.html"
    scheme.write_text(_SCHEME, encoding="utf-8")
    assert main(["render", str(make(tmp_path)), "-o", str(page), "--labels", str(scheme)]) == 0
    html = page.read_text(encoding="utf-8")
    assert re.findall(r'class="span [^"]*" data-label="(\w+)" data-layer="(\w+)"', html) == drawn


_TAGS = "layers:\n  entity: [ACTOR, LOCATION, EVENT]\nmapping:\n  ORG: ACTOR\n  FAC: LOCATION\n  MISC: null\n"


@pytest.mark.parametrize(
    ("scheme", "labels", "drawn"),
    [
        # a JSONL corpus' tags were drawn as they were (ORG, PERS, MISC), where brat and CoNLL files are read by
        # the scheme (ACTOR, MISC dropped)
        (None, ["ORG", "LOC", "MISC"], [("ACTOR", "entity"), ("LOCATION", "entity")]),
        (_TAGS, ["ORG", "FAC", "MISC", "EVENT"], [("ACTOR", "entity"), ("LOCATION", "entity"), ("EVENT", "entity")]),
        # a tag the scheme does not know is still drawn, as before
        (None, ["PERS", "XYZ"], [("ACTOR", "entity"), ("XYZ", "entity")]),
    ],
    ids=["builtin", "labels", "unknown"],
)
def test_cli_render_reads_a_jsonl_corpus_labels_by_the_scheme(tmp_path: Path, scheme, labels, drawn) -> None:
    text = "قال الجيش إن القوات دخلت حماة اليوم"
    spans = [{"start": 4 * k, "end": 4 * k + 3, "label": label} for k, label in enumerate(labels)]
    gold, page = tmp_path / "gold.jsonl", tmp_path / "page.html"
    gold.write_text(json.dumps({"id": "d1", "text": text, "spans": spans}) + "\n", encoding="utf-8")
    argv = ["render", str(gold), "-o", str(page)]
    if scheme is not None:
        (tmp_path / "scheme.yaml").write_text(scheme, encoding="utf-8")
        argv += ["--labels", str(tmp_path / "scheme.yaml")]
    assert main(argv) == 0
    html = page.read_text(encoding="utf-8")
    assert re.findall(r'class="span [^"]*" data-label="(\w+)" data-layer="(\w+)"', html) == drawn


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "text": "abc", "spans": [{"start": 2, "end": 9, "label": "ACTOR"}]}', "bad span"),
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1}]}', "bad span"),
        ('{"id": "a", "text": "abc"}', "needs 'id' and 'spans'"),
        ("{oops", "not a prediction line"),
        # a record cut off at its line's end: the column where it ends, not "column 1" of the next line
        ('{"id": "a", "text": "abc"', r"line 1: .*column 26\)"),
    ],
)
def test_bad_prediction_lines_are_data_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        list(read_tagged(path))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # lone surrogates: no UTF-8 page can hold them (a UnicodeEncodeError when the page was written)
        ('{"id": "a", "text": "ab\\ud800c", "spans": []}', "surrogate"),
        ('{"id": "\\udc00", "text": "abc", "spans": []}', "surrogate"),
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "label": "X\\ud800"}]}', "surrogate"),
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "label": "X", "score": NaN}]}', "NaN"),
        # a layer that is no dict key, a score float() cannot hold (TypeError, OverflowError before)
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "label": "X", "layer": {}}]}', "layer"),
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "label": "X", "layer": [1]}]}', "layer"),
        ('{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "label": "X", "score": 1' + "0" * 400 + "}]}",
         "score"),
    ],
    ids=["surrogate-text", "surrogate-id", "surrogate-label", "nan-score", "dict-layer", "list-layer", "huge-score"],
)
def test_hostile_prediction_lines_are_data_errors_not_tracebacks(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        list(read_tagged(path))
    assert main(["render", str(path), "-o", str(tmp_path / "page.html")]) == 1
    assert not (tmp_path / "page.html").exists()


def test_cli_render_writes_the_page(tmp_path: Path) -> None:
    doc = _doc()
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": doc.id, "text": doc.text, "spans": doc.spans}, ensure_ascii=False) + "\n")
    out = tmp_path / "page.html"
    assert main(["render", str(preds), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_page([doc], title="naba: p.jsonl")


@pytest.mark.parametrize(("name", "folder", "reason"), [
    ("missing.jsonl", False, "cannot read file: No such file or directory"),
    ("folder.jsonl", True, "cannot read file: Is a directory"),
])
def test_cli_render_of_an_unreadable_predictions_file_is_a_data_error(tmp_path: Path, capsys, name: str,
                                                                      folder: bool, reason: str) -> None:
    # 'naba render missing.jsonl -o page.html' ended in a FileNotFoundError traceback
    preds = tmp_path / name
    if folder:
        preds.mkdir()
    out = tmp_path / "page.html"
    assert main(["render", str(preds), "-o", str(out)]) == 1
    assert f"{preds}: {reason}" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("name", "title", "shown"), [
    ("in.jsonl", "تقرير", "تقرير"),
    ("in.jsonl", "naba 😀", "naba 😀"),
    ("أخبار.jsonl", None, "naba: أخبار.jsonl"),  # the default title, from the file name
])
def test_cli_render_title_in_an_ascii_locale(tmp_path: Path, name: str, title: str | None, shown: str) -> None:
    # under LC_ALL=C with PYTHONUTF8=0 an Arabic --title (or file name) arrived as lone surrogates:
    # a UnicodeEncodeError traceback when the page was written
    src = tmp_path / name
    write_jsonl([Document("a", "قال الوزير", [Span(4, 10, "ACTOR")])], src)
    out = tmp_path / "page.html"
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG", "LC_ALL")}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONPATH=str(root))
    extra = ["--title", title] if title else []
    result = subprocess.run([sys.executable, "-m", "naba.cli", "render", str(src), "-o", str(out), *extra],
                            capture_output=True, env=env, cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert f"<title>{shown}</title>" in out.read_text(encoding="utf-8")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_headless_chromium_shows_the_spans(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(render_page([_doc()], title="render test"), encoding="utf-8")
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")

    def browse(path: Path, shot: Path) -> str:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,500", f"--screenshot={shot}",
               "--dump-dom", path.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    dom = browse(page, tmp_path / "page.png")
    browse(blank, tmp_path / "blank.png")
    assert "<title>render test</title>" in dom  # the text's script did not run
    assert "<script" not in dom.lower()
    labels = re.findall(r'<span class="span [^"]*" data-label="(\w+)"', dom)
    assert labels == ["ACTOR", "CLAIM", "LOCATION"]
    assert re.search(r'data-label="CLAIM"[^>]*>[^<]*<span [^>]*data-label="LOCATION"', dom)
    shot = (tmp_path / "page.png").read_bytes()
    assert shot.startswith(b"\x89PNG")
    try:
        from PIL import Image
    except ImportError:  # without Pillow: a page with text compresses far worse than a blank one
        assert len(shot) > 3 * (tmp_path / "blank.png").stat().st_size
    else:
        with Image.open(tmp_path / "page.png") as img:
            colours = {c for _, c in img.convert("RGB").getcolors(maxcolors=1 << 20)}
        assert len(colours) > 50  # text, anti-aliasing and the label colours, not a blank page
        assert any(abs(r - 0x7B) < 24 and abs(g - 0x2C) < 24 and abs(b - 0xBF) < 24 for r, g, b in colours)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "IN", "-o", "OUT", "--limit", "-1"], "--limit must be 0 or more, got -1"),
        (["tag", "MODEL", "--text", "نص", "--width", "0"], "--width must be at least 2, got 0"),
    ],
)
def test_cli_numbers_out_of_range_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                             message: str) -> None:
    # a negative --limit drew an empty page and exited 0; --width 0 cut span texts from their end
    src = tmp_path / "in.jsonl"
    write_jsonl([Document("a", "قال الوزير", [Span(4, 10, "ACTOR")])], src)
    out = tmp_path / "page.html"
    paths = {"IN": str(src), "OUT": str(out), "MODEL": str(tmp_path / "no-model")}
    assert main([paths.get(a, a) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_render_of_a_conll_file_with_stray_i_tags_takes_bio_repair(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # ANERcorp-style CoNLL: a span opened by I-; the reader's error named bio_repair, which render lacked
    src = tmp_path / "gold.conll"
    src.write_text("قال O\nالجيش I-ACTOR\nالسوري I-ACTOR\n", encoding="utf-8")
    out = tmp_path / "page.html"
    assert main(["render", str(src), "-o", str(out)]) == 1
    assert "bio_repair" in capsys.readouterr().err and not out.exists()
    assert main(["render", str(src), "-o", str(out), "--bio-repair", "begin"]) == 0
    assert 'data-label="ACTOR" data-layer="entity" data-start="4" data-end="16"' in out.read_text(encoding="utf-8")


def _ls_mixed(path: Path) -> Path:
    # one task annotated in Label Studio, one holding only a model's pre-annotations
    text = "قال محمد في مصر"
    region = {"id": "r", "type": "labels", "from_name": "label", "to_name": "text",
              "value": {"start": 4, "end": 8, "text": "محمد", "labels": ["ACTOR"]}}
    tasks = [{"id": 1, "data": {"text": text, "id": "d1"}, "annotations": [{"result": [region]}]},
             {"id": 2, "data": {"text": text, "id": "d2"}, "predictions": [{"result": [region]}]}]
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def _ls_no_value_text(path: Path) -> Path:
    # a region without value.text after an emoji: code points and UTF-16 disagree, nothing settles it
    region = {"id": "r", "type": "labels", "from_name": "label", "to_name": "text",
              "value": {"start": 6, "end": 10, "labels": ["ACTOR"]}}
    tasks = [{"id": 1, "data": {"text": "😀 قال محمد", "id": "d1"}, "annotations": [{"result": [region]}]}]
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "option", "advice"),
    [
        # the reader said '--source annotations', which render took for its predicted-input file and ignored
        (_ls_mixed, ["--source", "annotations"], "--source annotations"),
        (_ls_no_value_text, ["--input-offsets", "codepoints"], "--input-offsets"),  # render has no --input-offsets
    ],
)
def test_cli_render_reader_advice_is_what_render_can_do(tmp_path: Path, capsys: pytest.CaptureFixture, make,
                                                        option: list[str], advice: str) -> None:
    src, out, page = make(tmp_path / "export.json"), tmp_path / "out.jsonl", tmp_path / "page.html"
    assert main(["render", str(src), "-o", str(page)]) == 1
    err = capsys.readouterr().err
    assert f"naba data convert FILE OUT.jsonl {advice}, and give OUT.jsonl" in err
    assert f"({advice}" not in err
    assert main(["data", "convert", str(src), str(out), *option]) == 0
    assert main(["render", str(out), "-o", str(page)]) == 0
    assert 'data-label="ACTOR"' in page.read_text(encoding="utf-8")


def _conll_stray_i(path: Path) -> Path:
    (path / "gold.conll").write_text("قال O\nالجيش I-ACTOR\n", encoding="utf-8")
    return path / "gold.conll"


def _brat_discontinuous(path: Path) -> Path:
    (path / "gold").mkdir()
    (path / "gold" / "d1.txt").write_text("قال الجيش السوري", encoding="utf-8")
    (path / "gold" / "d1.ann").write_text("T1\tACTOR 4 9;10 16\tالجيش السوري\n", encoding="utf-8")
    return path / "gold"


@pytest.mark.parametrize(
    ("make", "advice", "fix"),
    [
        # render has --bio-repair: its advice stays that
        (_conll_stray_i, "(bio_repair='begin' (--bio-repair begin) treats it as B-)", ["--bio-repair", "begin"]),
        # render has no --discontinuous: the reader's keyword alone left no way to draw the folder
        (_brat_discontinuous, "naba data convert FILE OUT.jsonl --discontinuous merge, and give OUT.jsonl", []),
    ],
)
def test_cli_render_keyword_advice_says_how_in_render(tmp_path: Path, capsys: pytest.CaptureFixture, make,
                                                      advice: str, fix: list[str]) -> None:
    src, page = make(tmp_path), tmp_path / "page.html"
    assert main(["render", str(src), "-o", str(page)]) == 1
    assert advice in capsys.readouterr().err
    if not fix:  # as advised: converted first
        assert main(["data", "convert", str(src), str(tmp_path / "out.jsonl"), "--discontinuous", "merge"]) == 0
        src = tmp_path / "out.jsonl"
    assert main(["render", str(src), "-o", str(page), *fix]) == 0
    assert 'data-label="ACTOR"' in page.read_text(encoding="utf-8")
