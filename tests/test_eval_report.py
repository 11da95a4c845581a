"""naba.eval.report: nested spans from offsets, escaping, report files, and the page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import struct
import subprocess
import zlib
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import listing

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import DataError
from naba.eval import evaluate, find_errors
from naba.eval.report import _SCRIPT, nest_spans, render_html, render_markdown, write_report
from naba.html import escape

LAYERS = ("entity", "claim")


def _short(html: str) -> str:
    """``<span ... data-label="X" ...>`` -> ``<X>`` (``<X+>`` for a continued fragment)."""

    def repl(m: re.Match) -> str:
        return f"<{m.group(2)}{'+' if ' cont' in m.group(1) else ''}>"

    return re.sub(r'<span class="([^"]*)" data-layer="[^"]*" data-label="([^"]*)"[^>]*>', repl, html)


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("ab cd", [(Span(0, 2, "ACTOR"), "entity")], "<ACTOR>ab</span> cd"),
        ("ab cd", [], "ab cd"),
        # a CLAIM around an ACTOR
        ("x said ab cd", [(Span(7, 12, "CLAIM"), "claim"), (Span(7, 9, "ACTOR"), "entity")],
         "x said <CLAIM><ACTOR>ab</span> cd</span>"),
        # the same characters in two layers: the CLAIM box is outside
        ("ab", [(Span(0, 2, "ACTOR"), "entity"), (Span(0, 2, "CLAIM"), "claim")], "<CLAIM><ACTOR>ab</span></span>"),
        # crossing spans: the inner one is closed at the outer one's end and continued after it
        ("abcdefgh", [(Span(0, 5, "CLAIM"), "claim"), (Span(3, 8, "ACTOR"), "entity")],
         "<CLAIM>abc<ACTOR>de</span></span><ACTOR+>fgh</span>"),
        ("abcdef", [(Span(0, 2, "ACTOR"), "entity"), (Span(2, 4, "LOCATION"), "entity")],
         "<ACTOR>ab</span><LOCATION>cd</span>ef"),
        # text is escaped, quotes included
        ('<b>"q" & \'s\'', [(Span(0, 3, "ACTOR"), "entity")],
         "<ACTOR>&lt;b&gt;</span>&quot;q&quot; &amp; &#x27;s&#x27;"),
    ],
)
def test_nest_spans(text, spans, expected):
    html = nest_spans(text, [(s, layer, "") for s, layer in spans], layer_order=LAYERS)
    assert _short(html) == expected
    assert html.count("<span") == html.count("</span>")


EVIL = 'قال "الجيش" إن <script>alert(1)</script> & القوات دخلت حماة'


def _at(word: str, label: str, *, to: str | None = None) -> Span:
    start = EVIL.index(word)
    end = EVIL.index(to) + len(to) if to else start + len(word)
    return Span(start, end, label)


def _evil_docs() -> tuple[list[Document], list[Document]]:
    claim = _at("<script>", "CLAIM", to="حماة")
    gold = [
        Document(
            'doc<img src=x onerror="alert(2)">',
            EVIL,
            [_at("الجيش", "ACTOR"), claim, _at("القوات", "ACTOR"), _at("حماة", "LOCATION")],
        ),
        Document("d2", "أعلن المرصد السوري أن القوات انسحبت", [Span(5, 18, "ACTOR"), Span(22, 35, "CLAIM")]),
    ]
    pred = [
        Document(gold[0].id, EVIL, [_at("الجيش", "ACTOR"), claim, _at("القوات", "ACTOR"), _at("حماة", "ACTOR")]),
        Document("d2", gold[1].text, [Span(5, 11, "ACTOR")]),
    ]
    return gold, pred


def _report_parts():
    gold, pred = _evil_docs()
    metrics = evaluate(gold, pred, samples=50)
    errors = find_errors(gold, pred, scheme=DEFAULT_SCHEME)
    return gold, pred, metrics, errors


class _Tree(HTMLParser):
    """Collects script elements and every span with data-label and the labels of its open ancestors."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.spans: list[tuple[str, tuple[str, ...], str]] = []  # label, ancestor labels, side
        self._script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self._script = True
            self.scripts.append("")
        if tag == "span" and "data-label" in a:
            ancestors = tuple(x.get("data-label") for t, x in self.stack if t == "span" and "data-label" in x)
            side = next((c for t, x in self.stack for c in ("gold", "pred") if c in (x.get("class") or "").split()), "")
            self.spans.append((a["data-label"], ancestors, side))
        self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self._script:
            self.scripts[-1] += data


def test_html_escapes_all_document_text():
    gold, pred, metrics, errors = _report_parts()
    html = render_html(metrics, gold, pred, errors, scheme=DEFAULT_SCHEME)
    assert "<script>alert(1)</script>" not in html
    assert html.count("<script>") == 1  # the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"الجيش"' not in html and '&quot;<span' in html
    assert " &amp; " in html
    assert "<img" not in html
    tree = _Tree()
    tree.feed(html)
    assert tree.scripts == [_SCRIPT]


def test_html_structure_rtl_nesting_and_csp():
    gold, pred, metrics, errors = _report_parts()
    html = render_html(metrics, gold, pred, errors, scheme=DEFAULT_SCHEME)
    assert html.count('dir="rtl" lang="ar"') >= 4  # each document, gold and predicted
    tree = _Tree()
    tree.feed(html)
    gold_spans = [(label, anc) for label, anc, side in tree.spans if side == "gold"]
    assert ("ACTOR", ("CLAIM",)) in gold_spans  # القوات inside the claim
    assert ("LOCATION", ("CLAIM",)) in gold_spans
    assert ("ACTOR", ()) in gold_spans  # الجيش outside it
    pred_labels = {label for label, _, side in tree.spans if side == "pred"}
    assert pred_labels == {"ACTOR", "CLAIM"}
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    assert 'class="sortable errors"' in html
    assert html.count('<tr class="err') == len(errors)
    assert "<mark>حماة</mark>" in html  # the type error marked inside its context


def test_max_docs_shows_documents_with_errors_first():
    gold, pred, metrics, errors = _report_parts()
    html = render_html(metrics, gold, pred, errors, scheme=DEFAULT_SCHEME, max_docs=1)
    assert html.count('<section class="doc"') == 1
    assert "1 not shown" in html


@pytest.mark.parametrize(
    "labels",
    [
        ("فاعل", "مكان"),  # Arabic labels: every character was "_", so both were class lab-____
        ("A.B", "A_B"),
        ("A_2e_B", "A.B"),
        ("x;background=url(x)", "x_background_url_x_", "<style>"),  # CSS, and a tag, never reach the page raw
    ],
)
def test_each_label_has_its_own_class_and_colour(labels):
    scheme = LabelScheme({"entity": labels})
    text = " ".join("ab" for _ in labels)
    doc = Document("d", text, [Span(3 * k, 3 * k + 2, label) for k, label in enumerate(labels)])
    metrics = evaluate([doc], [doc], scheme=scheme, samples=0)
    html = render_html(metrics, [doc], [doc], [], scheme=scheme)
    style = html[html.index("<style>") : html.index("</style>")]
    classes = [re.search(r'class="key (lab-[^"]*)">' + re.escape(escape(label)) + " ", html).group(1) for label in labels]
    assert len(set(classes)) == len(labels)
    rules = {cls: re.findall(r"\." + re.escape(cls) + r" \{ background: (#\w+)", style) for cls in classes}
    assert all(len(found) == 1 for found in rules.values())  # one rule each: none overrides another's colour
    assert len({found[0] for found in rules.values()}) == len(labels)
    for cls, label in zip(classes, labels, strict=True):
        assert re.fullmatch(r"lab-[A-Za-z0-9_-]+", cls)
        assert html.count(f"{cls}\" data-layer=\"entity\" data-label=\"{escape(label)}\"") == 2  # gold and predicted
    assert "<style>" not in html[html.index("</style>") :] and "url(" not in style


@pytest.mark.parametrize(
    ("gold_label", "pred_label"),
    [
        # in the table's left-to-right cell an Arabic label drew the offsets after it into its run:
        # "فاعل [0, 3)" showed as "(3 ,0] فاعل", offsets that read [3, 0) (seen in headless Chromium)
        ("فاعل", "مكان"),
        ("ACTOR", "مكان"),
        ("ACTOR", "LOCATION"),
    ],
)
def test_error_table_isolates_each_label_from_the_offsets_after_it(gold_label, pred_label):
    scheme = LabelScheme({"entity": (gold_label, pred_label)})
    text = "زيد قال"
    gold = [Document("d", text, [Span(0, 3, gold_label)])]
    pred = [Document("d", text, [Span(0, 3, pred_label)])]
    errors = find_errors(gold, pred, scheme=scheme)
    html = render_html(evaluate(gold, pred, scheme=scheme, samples=0), gold, pred, errors, scheme=scheme)
    row = re.search(r'<tr class="err.*?</tr>', html).group(0)
    for label in (gold_label, pred_label):
        assert f'<td><bdi>{escape(label)}</bdi> [0, 3) <bdi dir="auto">زيد</bdi></td>' in row


def test_markdown_names_the_mode_of_every_number():
    gold, pred, metrics, errors = _report_parts()
    md = render_markdown(metrics, errors)
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert rows and all(re.match(r"\| `(seqeval_strict|seqeval_default|span_exact|semeval_\w+)`", r) for r in rows)
    per_label = [line for line in md.splitlines() if line.startswith("| ACTOR |")]
    assert per_label and all("`" in line for line in per_label)
    # columns: false positive, false negative, boundary, type, type and boundary
    assert "| entity | 0 | 0 | 1 | 1 | 0 |" in md  # المرصد السوري cut short; حماة called an ACTOR
    assert "| claim | 0 | 1 | 0 | 0 | 0 |" in md  # the claim of d2 not found


@pytest.mark.parametrize(
    ("title", "layers", "shown"),
    [
        # a file name in the title: raw HTML in report.md, drawn by a viewer that renders it
        ("naba evaluation: <img src=x onerror=alert(1)> on d.jsonl", {"entity": ("ACTOR",)}, "<img src=x onerror=alert(1)>"),
        ("t", {"entity": ("A|B",)}, "A|B"),  # split the per-label table's cells
        ("t", {"entity": ("<script>x<script>",)}, "<script>x<script>"),
        ("t", {"entity": ("A_B*c*",)}, "A_B*c*"),  # emphasis, not the label
        ("t", {"x`<b>`": ("X",)}, "x`<b>`"),  # a backtick closed the heading's code span early
    ],
)
def test_markdown_shows_file_names_labels_and_layers_as_text(title, layers, shown):
    markdown_it = pytest.importorskip("markdown_it")  # rich's dependency, not naba's
    scheme = LabelScheme(layers)
    labels = scheme.labels
    doc = Document("d", " ".join("ab" for _ in labels), [Span(3 * k, 3 * k + 2, lab) for k, lab in enumerate(labels)])
    md = render_markdown(evaluate([doc], [doc], scheme=scheme, samples=0), [], title=title)
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    tags = set(re.findall(r"<(\w+)", html))
    assert tags <= {"h1", "h2", "p", "ul", "li", "code", "table", "thead", "tbody", "tr", "th", "td"}, tags
    assert html_escape(shown, quote=False) in html  # every character shown as it is
    for table in re.findall(r"<table>.*?</table>", html, flags=re.S):
        widths = {len(re.findall(r"<t[dh][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S)}
        assert len(widths) == 1, table


@pytest.mark.parametrize(
    ("confidence", "said"),
    [
        (0.95, "95% bootstrap intervals"),
        (0.9, "90% bootstrap intervals"),
        # round() made these "98%" and "100%", levels the intervals were not computed at
        (0.975, "97.5% bootstrap intervals"),
        (0.995, "99.5% bootstrap intervals"),
    ],
)
def test_both_reports_state_the_confidence_level_computed(confidence, said):
    gold, pred = _evil_docs()
    metrics = evaluate(gold, pred, samples=20, confidence=confidence)
    errors = find_errors(gold, pred, scheme=DEFAULT_SCHEME)
    assert said in render_markdown(metrics, errors)
    assert said in render_html(metrics, gold, pred, errors, scheme=DEFAULT_SCHEME)


def test_a_layer_named_twice_is_judged_once():
    # --layers entity,entity wrote every error of the layer twice
    gold, pred = _evil_docs()
    once = find_errors(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"])
    assert once and find_errors(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity", "entity"]) == once


def test_write_report_files(tmp_path):
    gold, pred, metrics, errors = _report_parts()
    paths = write_report(tmp_path / "r", metrics=metrics, gold=gold, pred=pred, errors=errors, scheme=DEFAULT_SCHEME)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report.html", "report.md"]
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --- the page in a real browser -------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixels of an 8-bit RGB/RGBA PNG (enough for a screenshot)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels: set[bytes] = set()
    for y in range(height):
        filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        if y % 8 == 0:  # every 8th row is plenty to see whether the page is blank
            pixels.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    gold, pred, metrics, errors = _report_parts()
    paths = write_report(tmp_path, metrics=metrics, gold=gold, pred=pred, errors=errors, scheme=DEFAULT_SCHEME)
    url = Path(paths["html"]).resolve().as_uri()
    flags = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,900", url],
                   check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*flags, "--dump-dom", url], check=True, capture_output=True, timeout=120).stdout.decode()

    tree = _Tree()
    tree.feed(dom)
    labels = {(label, anc) for label, anc, side in tree.spans if side == "gold"}
    assert {("ACTOR", ()), ("CLAIM", ()), ("ACTOR", ("CLAIM",)), ("LOCATION", ("CLAIM",))} <= labels
    # the injected script stayed text; the page's own script ran (it marks the root element)
    assert len(tree.scripts) == 1 and "alert" not in tree.scripts[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert 'data-ready="1"' in dom

    data = shot.read_bytes()
    assert len(data) > 10_000
    width, height, pixels = _png_pixels(data)
    assert (width, height) == (1200, 900)
    assert len(pixels) > 20  # text, table lines and span colours, not a blank page


@pytest.mark.parametrize("fail", [1, 2])
def test_write_report_that_fails_writes_neither_page(tmp_path, disk_full, fail):
    gold, pred, metrics, errors = _report_parts()
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.md").write_text("old", encoding="utf-8")
    before = listing(tmp_path)
    disk_full(fail)
    with pytest.raises(DataError, match="No space left on device"):
        write_report(tmp_path / "r", metrics=metrics, gold=gold, pred=pred, errors=errors, scheme=DEFAULT_SCHEME)
    assert listing(tmp_path) == before


@pytest.mark.parametrize("name", ["evaluate", "compare", "aggregate_folds", "find_errors", "write_report"])
def test_entry_points_named_in_the_package_docstring_import_from_naba_eval(name: str) -> None:
    # naba.eval's docstring lists them as its entry points: `from naba.eval import write_report` failed
    import naba.eval

    assert f":func:`{name}`" in naba.eval.__doc__
    assert name in naba.eval.__all__ and callable(getattr(naba.eval, name))
