"""``naba render``: an HTML page of tagged documents, right to left, a colour per label.

Entity spans (actors, places) are shaded; claims are drawn as boxes around the actors and places
inside them: the layer named ``claim``, and any other layer whose spans hold spans of other layers
more often than they lie inside them (a lab's claim layer named otherwise, "assertion", "ادعاء").
Elements are nested from character offsets by naba.html.nest_spans, so a span that crosses
another is split into parts rather than producing broken markup. Every piece of document
text, id and label is escaped: a page of untrusted text runs no script.
"""

from __future__ import annotations

import colorsys
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from naba.corpus.fileio import parse_json, utf16_problem
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import DataError, Problem
from naba.html import escape, nest_spans

# colour per well-known label; other labels take the next colour of the palette
_KNOWN = {"ACTOR": "#f4a261", "LOCATION": "#2a9d8f", "CLAIM": "#7b2cbf"}
_PALETTE = ["#e76f51", "#457b9d", "#e9c46a", "#8ab17d", "#b5838d", "#6d597a", "#ff006e", "#3a86ff"]


@dataclass
class Tagged:
    """A document to draw: its id, text and spans (``start``, ``end``, ``label``, optional ``layer``, ``score``)."""

    id: str
    text: str
    spans: list[dict[str, Any]] = field(default_factory=list)


def colours(labels: Iterable[str]) -> dict[str, str]:
    """A stable colour for each label: the project's own for its labels, then a palette in order,
    then hues a golden angle apart (a corpus with many labels: each still has a colour of its own)."""
    out: dict[str, str] = {}
    spare = iter(c for c in _PALETTE if c not in _KNOWN.values())
    used = set(_KNOWN.values())
    extra = 0
    for label in sorted(set(labels)):
        colour = _KNOWN.get(label) or next(spare, None)
        while colour is None or (colour in used and label not in _KNOWN):
            r, g, b = colorsys.hls_to_rgb((0.05 + extra * 0.381966) % 1.0, 0.45 + 0.1 * (extra % 3), 0.6)
            colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
            extra += 1
        out[label] = colour
        used.add(colour)
    return out


def render_page(docs: Iterable[Tagged], *, title: str = "naba predictions") -> str:
    """The whole HTML page for ``docs`` (held in memory: render is for reading, not for corpora)."""
    docs = list(docs)
    labels = sorted({s["label"] for d in docs for s in d.spans})
    palette = colours(labels)
    classes = {label: f"l{k}" for k, label in enumerate(labels)}
    outer = outer_layers(docs)
    boxed = {s["label"] for d in docs for s in d.spans if s.get("layer") in outer}
    css = "\n".join(_label_css(classes[label], palette[label], label in boxed) for label in labels)
    legend = "".join(
        f'<li><span class="swatch {classes[label]}" data-label="{escape(label)}">{escape(label)}</span></li>'
        for label in labels
    )
    body = "\n".join(_document_html(doc, classes, outer) for doc in docs)
    return _PAGE.format(title=escape(title), css=css, legend=legend, count=len(docs), body=body)


def outer_layers(docs: Iterable[Tagged]) -> set[str | None]:
    """The layers drawn as boxes around others: ``claim``, and each layer more of whose spans hold a
    span of another layer than lie inside one (spans of the same extent count for neither)."""
    holds: Counter[str | None] = Counter()
    inside: Counter[str | None] = Counter()
    for doc in docs:
        spans = [(s["start"], s["end"], s.get("layer")) for s in doc.spans]  # as the boxes look layers up
        layers = {layer for _, _, layer in spans}
        if len(layers) < 2:
            continue
        # by start, longer first: a span lies inside one of layer M if an earlier span of M reaches
        # as far (one linear pass per direction, not a test of every pair: a page may hold thousands)
        reach = dict.fromkeys(layers, -1)
        for _, group in groupby(sorted(spans, key=lambda t: (t[0], -t[1])), key=lambda t: t[:2]):
            group = list(group)
            for _, end, layer in group:
                inside[layer] += any(r >= end for other, r in reach.items() if other != layer)
            for _, end, layer in group:
                reach[layer] = max(reach[layer], end)
        # by start from the right, shorter first: a span holds one of layer M if a later-starting
        # span of M ends as early
        low = dict.fromkeys(layers, math.inf)
        for _, group in groupby(sorted(spans, key=lambda t: (-t[0], t[1])), key=lambda t: t[:2]):
            group = list(group)
            for _, end, layer in group:
                holds[layer] += any(e <= end for other, e in low.items() if other != layer)
            for _, end, layer in group:
                low[layer] = min(low[layer], end)
    return {"claim"} | {layer for layer, n in holds.items() if n > inside[layer]}


def _label_css(cls: str, colour: str, boxed: bool) -> str:
    if boxed:
        return f".{cls} {{ border: 2px solid {colour}; border-radius: 4px; padding: 1px 2px; }}"
    return f".{cls} {{ background: {colour}55; border-bottom: 2px solid {colour}; }}"


def _document_html(doc: Tagged, classes: dict[str, str], outer: set[str | None]) -> str:
    spans = doc.spans
    bounds = [(s["start"], s["end"]) for s in spans]
    # claims go outside entities of the same extent
    layer_rank = dict.fromkeys(outer, 0)

    def open_tag(i: int, continued: bool) -> str:
        s = spans[i]
        label, layer = s["label"], s.get("layer", "")
        score = f" {s['score']:.2f}" if isinstance(s.get("score"), int | float) else ""
        part = " part" if continued else ""
        return (
            f'<span class="span {classes[label]}{part}" data-label="{escape(label)}" '
            f'data-layer="{escape(str(layer))}" data-start="{s["start"]}" data-end="{s["end"]}" '
            f'title="{escape(label + score)}">'
        )

    inner = nest_spans(doc.text, bounds, open_tag, rank=lambda i: layer_rank.get(spans[i].get("layer"), 1))
    return (
        f'<article class="doc" dir="rtl" lang="ar" data-id="{escape(doc.id)}">'
        f'<h2 dir="auto">{escape(doc.id)}</h2><div class="text">{inner}</div></article>'
    )


_PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font-family: "Noto Naskh Arabic", "Amiri", "DejaVu Sans", sans-serif; margin: 2em; line-height: 2.2; }}
.doc {{ border-top: 1px solid #ccc; padding: 0.5em 0; }}
.doc h2 {{ font-size: 0.9em; color: #555; margin: 0; }}
.text {{ white-space: pre-wrap; font-size: 1.2em; }}
.legend {{ list-style: none; padding: 0; display: flex; gap: 1em; }}
.swatch {{ padding: 0 0.4em; }}
{css}
</style>
</head>
<body>
<h1>{title}</h1>
<ul class="legend">{legend}</ul>
<p dir="ltr">{count} document(s)</p>
{body}
</body>
</html>
"""


def read_tagged(
    path: str | Path,
    *,
    source: str | Path | None = None,
    limit: int | None = None,
    bio_repair: str | None = None,
    scheme: LabelScheme = DEFAULT_SCHEME,
) -> Iterator[Tagged]:
    """Documents to draw from a predictions JSONL file, or from any corpus file naba reads.

    Predictions written without their text (``naba predict`` without ``--with-text``) take it
    from ``source``, the input the predictions were made from. ``bio_repair`` goes to a CoNLL
    file's reader (``"begin"``: a stray ``I-`` tag starts a span, as ANERcorp needs). ``scheme``
    reads a corpus file's labels and gives the layer of a span that names none.
    """
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        # naba's corpus JSONL is predictions' shape with the text and without layers and scores
        yield from _read_predictions(path, source=source, limit=limit, scheme=scheme)
        return
    from naba.corpus.formats import detect, options, read

    repair = {"bio_repair": bio_repair} if bio_repair and "bio_repair" in options(detect(path)) else {}
    for k, doc in enumerate(read(path, scheme=scheme, **repair)):
        if limit is not None and k >= limit:
            return
        spans = [
            {"start": s.start, "end": s.end, "label": s.label, "layer": _layer(s.label, scheme)} for s in doc.spans
        ]
        yield Tagged(doc.id, doc.text, spans)


def _layer(label: str, scheme: LabelScheme) -> str:
    try:
        return scheme.layer_of(label)
    except KeyError:
        return "entity"


def _read_predictions(
    path: Path, *, source: str | Path | None, limit: int | None, scheme: LabelScheme
) -> Iterator[Tagged]:
    texts: dict[str, str] | None = None
    # the source's records it could not use (how many, the first), for the error when an id is missing
    refused, first_refused = 0, None
    if source is not None:
        from naba.predict.io import Record, read_inputs

        texts = {}
        for r in read_inputs(source):
            if isinstance(r, Record):
                texts[r.id] = r.text
            else:
                refused, first_refused = refused + 1, first_refused or r
    try:
        fh = path.open("rb")
    except OSError as exc:  # missing, a folder, unreadable: named, not a traceback
        raise DataError(Problem(str(path), "", f"cannot read file: {exc.strerror or exc}")) from None
    with fh:
        count = 0
        for number, raw in enumerate(fh, start=1):
            # a line of only a BOM (a blank first line saved by Notepad) is blank, as naba's JSONL readers skip it
            if not raw.removeprefix(b"\xef\xbb\xbf").strip():
                continue
            if limit is not None and count >= limit:
                return
            where = f"line {number}"
            # the readers' parser: a lone surrogate (a \uD800 escape), which no page can be written
            # with, and NaN are errors naming the line, not a traceback when the page is written
            if number == 1 and (utf16 := utf16_problem(raw)) is not None:
                raise DataError(Problem(str(path), "", utf16))
            try:
                line = raw.decode("utf-8")
                # a BOM before a line (a file saved by Notepad; several such joined with cat), which naba's
                # JSONL reader drops too
                # without its newline, which json counts as a line: a record cut off at its end was "column 1"
                obj = parse_json(line.removeprefix("\ufeff").removesuffix("\n"), source=str(path), line=number)
            except UnicodeDecodeError as exc:
                raise DataError(Problem(str(path), where, f"not a prediction line: {exc}")) from None
            except DataError as exc:
                reason = exc.problems[0].reason
                raise DataError(Problem(str(path), where, f"not a prediction line: {reason}")) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("spans"), list) or "id" not in obj:
                raise DataError(Problem(str(path), where, "a prediction line needs 'id' and 'spans'"))
            doc_id = str(obj["id"])
            text = obj.get("text")
            if not isinstance(text, str):
                text = texts.get(doc_id) if texts is not None else None
            if text is None:
                reason = (
                    f"no text for id {doc_id!r} in {source}" if texts is not None
                    else "no 'text': write predictions with --with-text, or pass --source INPUT"
                )
                if refused:
                    # a source read with other field names than the job's (--id-field doc_id) is all
                    # refused: say why, not only that the id is missing
                    reason += (f" ({refused} of its record(s) could not be read; the first, line "
                               f"{first_refused.line}: {first_refused.reason})")
                raise DataError(Problem(str(path), where, reason))
            spans = [_checked(s, text, path, where, scheme) for s in obj["spans"]]
            yield Tagged(doc_id, text, [s for s in spans if s is not None])  # None: a tag the scheme drops (MISC)
            count += 1


def _checked(span: Any, text: str, path: Path, where: str, scheme: LabelScheme) -> dict[str, Any] | None:
    ok = (
        isinstance(span, dict)
        and all(isinstance(span.get(k), int) and not isinstance(span.get(k), bool) for k in ("start", "end"))
        and isinstance(span.get("label"), str)
    )
    if not ok or not 0 <= span["start"] < span["end"] <= len(text):
        raise DataError(Problem(str(path), where, f"bad span {span!r:.120}: offsets out of the text or no label"))
    # the page ranks spans by layer (a dict key) and prints the score as a float: a list for a
    # layer or an integer past float's range would be a traceback, not an error naming the line
    score = span.get("score")
    if not isinstance(span.get("layer", ""), str) or (isinstance(score, int) and not -1e300 < score < 1e300):
        raise DataError(Problem(str(path), where, f"bad span {span!r:.120}: layer not a string or score out of range"))
    if "layer" in span:
        return span
    # a corpus span: its label read by the scheme, as the other formats' readers read theirs (ORG was
    # drawn as ORG from JSONL, as ACTOR from brat); one the scheme does not know is drawn as it is
    try:
        label = scheme.normalize(span["label"])
    except KeyError:
        label = span["label"]
    return None if label is None else {**span, "label": label, "layer": _layer(label, scheme)}
