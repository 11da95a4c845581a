"""Evaluation reports: report.md (tables) and report.html (documents, layered spans, errors).

The HTML page shows each document right to left with gold and predicted spans side by side;
spans become nested ``<span>`` elements built from character offsets (a CLAIM box around the
ACTOR inside it; spans that cross are split so the elements nest). Every piece of document text
is escaped, and a Content-Security-Policy allows only the page's own script (by its hash), so
even text that slipped through unescaped could not run.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from naba.corpus.document import Document, Span
from naba.corpus.fileio import staged_files
from naba.corpus.labels import LabelScheme
from naba.eval.errors import CATEGORIES, error_counts
from naba.eval.matching import SEMEVAL_COUNTS, align
from naba.eval.metrics import FAMILIES, SEMEVAL_FAMILIES
from naba.html import escape
from naba.html import nest_spans as html_nest

PALETTE = ("#cfe2ff", "#d1f2d9", "#ffe0b3", "#f8d0e0", "#e2d9f3", "#fff3b0", "#d0f0f0")
BORDERS = ("#e8590c", "#7048e8", "#0c8599", "#c2255c")


def _fmt(x: float) -> str:
    return f"{100 * x:.1f}"


def _with_ci(node: Mapping, metric: str) -> str:
    ci = node.get(f"{metric}_ci")
    text = _fmt(node[metric])
    return f"{text} [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else text


def _prf(node: Mapping) -> list[str]:
    """Precision, recall and F1 of a score node, each with its interval when there is one."""
    return [_with_ci(node, m) for m in ("precision", "recall", "f1")]


def _ci_note(metrics: Mapping) -> str:
    b = metrics.get("bootstrap")
    if not b:
        return "No bootstrap intervals were computed."
    return (
        # :g, not round(): --confidence 0.975 was reported as "98%", 0.995 as "100%"
        f"Numbers are percentages; brackets hold {100 * b['confidence']:g}% bootstrap intervals "
        f"({b['samples']} resamples of documents, seed {b['seed']}, percentile method)."
    )


# --- markdown --------------------------------------------------------------------------------

# report.md names files (the title) and the scheme's labels and layers, none of them naba's own:
# as markdown text, < > & are entities (a viewer that renders raw HTML shows them as text) and
# markdown's own characters are backslash-escaped (a "|" in a label would split a table cell)
_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+!|~]")


def _md(text: str) -> str:
    entity = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    return re.sub(r"[&<>]", lambda m: entity[m.group()], _MD_SPECIAL.sub(lambda m: "\\" + m.group(), text))


def _md_code(text: str) -> str:
    # a code span shows its text as is; its fence is longer than any run of backticks inside
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(metrics: Mapping, errors: Sequence[dict], *, title: str = "naba evaluation") -> str:
    """report.md: micro/macro scores per mode, per-label scores, SemEval categories, error counts."""
    layers = ", ".join(_md(layer) for layer in metrics["layers"])
    lines = [f"# {_md(title)}", "", f"{metrics['documents']} documents; layers: {layers}.", ""]
    lines += [_ci_note(metrics), "", "Modes:", ""]
    lines += [f"- `{k}`: {v}" for k, v in metrics["modes"].items()] + [""]
    for layer in metrics["layers"]:
        block = metrics["scores"][layer]
        lines += [f"## Layer {_md_code(layer)}", "", "| mode | average | precision | recall | F1 |", "|---|---|---|---|---|"]
        for family in FAMILIES:
            for avg in ("micro", "macro"):
                lines.append(f"| `{family}` | {avg} | {' | '.join(_prf(block[family][avg]))} |")
        labels = [k for k in block["span_exact"] if k not in ("micro", "macro")]
        lines += ["", "Per label:", "", "| label | mode | support | precision | recall | F1 |", "|---|---|---|---|---|---|"]
        for label in labels:
            for family in ("seqeval_strict", "seqeval_default", "span_exact"):
                node = block[family][label]
                lines.append(f"| {_md(label)} | `{family}` | {node['support']} | {' | '.join(_prf(node))} |")
        lines += [
            "",
            "SemEval categories (all labels):",
            "",
            "| scheme | correct | incorrect | partial | missed | spurious | precision | recall | F1 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for family in SEMEVAL_FAMILIES:
            node = block[family]["micro"]
            cells = [str(node[c]) for c in SEMEVAL_COUNTS] + _prf(node)
            lines.append(f"| `{family}` | {' | '.join(cells)} |")
        lines.append("")
    counts = error_counts(errors)
    lines += ["## Errors", "", "| layer | " + " | ".join(CATEGORIES) + " |", "|---" * (len(CATEGORIES) + 1) + "|"]
    for layer in metrics["layers"]:
        row = counts.get(layer, dict.fromkeys(CATEGORIES, 0))
        lines.append(f"| {_md(layer)} | " + " | ".join(str(row[c]) for c in CATEGORIES) + " |")
    lines += ["", "Every error, with its context, is in `errors.jsonl`.", ""]
    return "\n".join(lines)


# --- html ------------------------------------------------------------------------------------


def _token(name: str) -> str:
    # a CSS class name for a label or layer, one per name: every other character becomes "-hex-"
    # (labels may be Arabic, and "A.B" and "A_B" are two labels; mapping both to "_" gave two
    # labels one class, so one colour), and "-" only ever opens or closes such an escape
    return re.sub(r"[^A-Za-z0-9_]", lambda m: f"-{ord(m.group()):x}-", name)


def nest_spans(text: str, spans: Sequence[tuple[Span, str, str]], *, layer_order: Sequence[str] = ()) -> str:
    """Escaped ``text`` with ``(span, layer, extra_classes)`` as properly nested ``<span>`` elements.

    Longer spans are outer; of spans over the same characters, the one of the later layer in
    ``layer_order`` (a CLAIM box around an ACTOR) is outer. A span that crosses the end of an
    enclosing one is closed there and continued after it, marked with class ``cont``. The nesting
    itself is naba.html's, shared with ``naba render``.
    """
    rank = {layer: i for i, layer in enumerate(layer_order)}

    def open_tag(k: int, continued: bool) -> str:
        s, layer, extra = spans[k]
        cls = f"sp L-{_token(layer)} lab-{_token(s.label)}{' cont' if continued else ''}{' ' + extra if extra else ''}"
        return (
            f'<span class="{escape(cls)}" data-layer="{escape(layer)}" data-label="{escape(s.label)}" '
            f'title="{escape(s.label)} ({escape(layer)})">'
        )

    return html_nest(
        text,
        [(s.start, s.end) for s, _, _ in spans],
        open_tag,
        rank=lambda k: -rank.get(spans[k][1], -1),
    )


_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var asc = th.dataset.dir !== "asc";
    th.dataset.dir = asc ? "asc" : "desc";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.key || a.cells[col].textContent;
      var y = b.cells[col].dataset.key || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.documentElement.dataset.ready = "1";
"""


def _style(scheme: LabelScheme, layers: Sequence[str]) -> str:
    rules = []
    for li, layer in enumerate(layers):
        for label in scheme.layers[layer]:
            n = scheme.labels.index(label)
            if li == 0:
                rules.append(f".lab-{_token(label)} {{ background: {PALETTE[n % len(PALETTE)]}; }}")
            else:
                color = BORDERS[n % len(BORDERS)]
                rules.append(
                    f".lab-{_token(label)} {{ border: 2px solid {color}; padding: 2px 3px; border-radius: 4px; "
                    f"line-height: 2.4; }}"
                )
    return "\n".join(
        [
            "body { font-family: sans-serif; margin: 1.5em; color: #222; }",
            "table { border-collapse: collapse; margin: 0.5em 0 1.5em; }",
            "td, th { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }",
            "th { background: #f3f3f3; } table.sortable th { cursor: pointer; }",
            ".pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }",
            ".text { white-space: pre-wrap; font-size: 1.15em; line-height: 2.2; border: 1px solid #ddd; padding: 0.6em; }",
            ".sp { border-radius: 3px; } .sp.wrong { outline: 2px dashed #d00; } .sp.missed { outline: 2px dotted #d00; }",
            "mark { background: #fff1a8; }",
            ".legend span.key { display: inline-block; margin: 0 0.6em 0.3em 0; padding: 2px 6px; }",
            *rules,
        ]
    )


def _scores_table(metrics: Mapping, layer: str) -> str:
    rows = []
    for family in FAMILIES:
        micro, macro = metrics["scores"][layer][family]["micro"], metrics["scores"][layer][family]["macro"]
        cells = "".join(f"<td>{escape(cell)}</td>" for cell in _prf(micro))
        rows.append(f"<tr><td><code>{family}</code></td>{cells}<td>{escape(_with_ci(macro, 'f1'))}</td></tr>")
    head = "<tr><th>mode</th><th>micro precision</th><th>micro recall</th><th>micro F1</th><th>macro F1</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _span_cell(spans: Sequence[dict]) -> str:
    # the label isolated too: an Arabic one drew the offsets after it into its right-to-left run,
    # and "[0, 3)" read as "(3 ,0]"
    return "<br>".join(
        f'<bdi>{escape(s["label"])}</bdi> [{s["start"]}, {s["end"]}) <bdi dir="auto">{escape(s["text"])}</bdi>'
        for s in spans
    )


def _context(error: Mapping) -> str:
    # the erroneous stretch marked inside its context, every part escaped
    ctx = error["context"]
    a, b = error["start"] - ctx["start"], error["end"] - ctx["start"]
    text = ctx["text"]
    return f"{escape(text[:a])}<mark>{escape(text[a:b])}</mark>{escape(text[b:])}"


def _errors_table(errors: Sequence[dict], anchors: Mapping[str, str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("document", "layer", "category", "start", "gold", "predicted", "context"))
    rows = []
    for e in errors:
        doc = escape(e["doc_id"])
        link = f'<a href="#{anchors[e["doc_id"]]}">{doc}</a>' if e["doc_id"] in anchors else doc
        rows.append(
            f'<tr class="err cat-{e["category"]}"><td>{link}</td><td>{escape(e["layer"])}</td>'
            f'<td>{e["category"]}</td><td data-key="{e["start"]}">{e["start"]}</td>'
            f'<td>{_span_cell(e["gold"])}</td><td>{_span_cell(e["pred"])}</td>'
            f'<td dir="rtl" lang="ar">{_context(e)}</td></tr>'
        )
    return f'<table class="sortable errors"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_html(
    metrics: Mapping,
    gold: Sequence[Document],
    pred: Sequence[Document],
    errors: Sequence[dict],
    *,
    scheme: LabelScheme,
    title: str = "naba evaluation",
    max_docs: int = 200,
) -> str:
    """report.html: scores, a legend, the error table and gold | predicted documents side by side.

    Documents with errors come first; at most ``max_docs`` are drawn (the page says how many were
    left out).
    """
    layers = list(metrics["layers"])
    pairs = align(gold, pred, scheme=scheme)
    wrong: dict[str, set] = {}
    for e in errors:
        for side in ("gold", "pred"):
            for s in e[side]:
                wrong.setdefault(e["doc_id"], set()).add((side, s["layer"], s["start"], s["end"], s["label"]))
    with_errors = [p for p in pairs if p[0].id in wrong]
    shown = (with_errors + [p for p in pairs if p[0].id not in wrong])[:max_docs]
    anchors = {g.id: f"doc-{n}" for n, (g, _) in enumerate(shown)}
    evaluated = {label: layer for layer in layers for label in scheme.layers[layer]}

    def side(doc: Document, name: str) -> str:
        marked = []
        for s in doc.spans:
            if s.label not in evaluated:
                continue
            layer = evaluated[s.label]
            bad = (name, layer, s.start, s.end, s.label) in wrong.get(doc.id, set())
            marked.append((s, layer, ("missed" if name == "gold" else "wrong") if bad else ""))
        return nest_spans(doc.text, marked, layer_order=layers)

    docs_html = []
    for g, p in shown:
        docs_html.append(
            f'<section class="doc" id="{anchors[g.id]}"><h3>{escape(g.id)}</h3><div class="pair">'
            f'<div class="side gold"><h4>gold</h4><div class="text" dir="rtl" lang="ar">{side(g, "gold")}</div></div>'
            f'<div class="side pred"><h4>predicted</h4><div class="text" dir="rtl" lang="ar">{side(p, "pred")}</div>'
            "</div></div></section>"
        )
    legend = "".join(
        f'<span class="key lab-{_token(label)}">{escape(label)} <small>({escape(layer)})</small></span>'
        for layer in layers
        for label in scheme.layers[layer]
    )
    legend += (
        '<span class="key"><span class="sp wrong">&nbsp;wrong prediction&nbsp;</span></span>'
        '<span class="key"><span class="sp missed">&nbsp;gold span not found&nbsp;</span></span>'
    )
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    omitted = len(pairs) - len(shown)
    scores = "".join(f"<h3>Layer <code>{escape(layer)}</code></h3>{_scores_table(metrics, layer)}" for layer in layers)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{escape(title)}</title><style>{_style(scheme, layers)}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{metrics['documents']} documents. {escape(_ci_note(metrics))}</p>"
        f'<h2>Scores</h2>{scores}<h2>Legend</h2><p class="legend">{legend}</p>'
        f"<h2>Errors ({len(errors)}; click a heading to sort)</h2>{_errors_table(errors, anchors)}"
        f"<h2>Documents</h2><p>{len(shown)} shown, documents with errors first"
        f"{f'; {omitted} not shown' if omitted else ''}.</p>{''.join(docs_html)}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(
    out_dir: str | Path,
    *,
    metrics: Mapping,
    gold: Sequence[Document],
    pred: Sequence[Document],
    errors: Sequence[dict],
    scheme: LabelScheme,
    title: str = "naba evaluation",
    max_docs: int = 200,
) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` (both rendered first, both or neither written); return
    their paths."""
    pages = {
        "md": render_markdown(metrics, errors, title=title),
        "html": render_html(metrics, gold, pred, errors, scheme=scheme, title=title, max_docs=max_docs),
    }
    paths = {key: Path(out_dir) / f"report.{key}" for key in pages}
    with staged_files(out_dir) as put:
        for key, page in pages.items():
            put(paths[key], page)
    return paths
