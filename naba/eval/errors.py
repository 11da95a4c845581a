"""Error analysis: every wrong span as one record, with its texts and some context around it.

Categories come from the same one-to-one alignment the SemEval scores use
(:func:`naba.eval.matching.match_spans`), so the error file and the scores agree:

``false_positive``     a predicted span paired with no gold span (SemEval: spurious)
``false_negative``     a gold span paired with no prediction (SemEval: missed)
``boundary``           paired spans overlapping with the same label but different boundaries
``type``               paired spans with the same boundaries but different labels
``type_and_boundary``  paired spans overlapping with different labels and boundaries
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import accumulate
from pathlib import Path

from naba.corpus.document import Document, Span
from naba.corpus.fileio import atomic_write, json_line
from naba.corpus.labels import LabelScheme
from naba.eval.matching import align, layer_names, match_spans, pair_kind
from naba.eval.sources import span_scores

CATEGORIES = ("false_positive", "false_negative", "boundary", "type", "type_and_boundary")
_CATEGORY = {
    "spurious": "false_positive",
    "missed": "false_negative",
    "boundary": "boundary",
    "type": "type",
    "type_and_boundary": "type_and_boundary",
}


def _span(doc: Document, span: Span, layer: str, scores: dict | None = None) -> dict:
    out = {"start": span.start, "end": span.end, "label": span.label, "layer": layer, "text": doc.span_text(span)}
    if scores and (span.start, span.end, span.label) in scores:
        out["score"] = scores[(span.start, span.end, span.label)]
    return out


def document_errors(
    gold: Document, pred: Document, *, scheme: LabelScheme, layers: Sequence[str] | None = None, context: int = 40
) -> list[dict]:
    """The error records of one gold/predicted document pair, in text order per layer."""
    layers = layer_names(scheme, layers)
    scores = span_scores(pred)
    text = gold.text
    records = []
    for layer in layers:
        wanted = frozenset(scheme.layers[layer])
        g_spans, p_spans = gold.spans_of(wanted), pred.spans_of(wanted)
        g_index, p_index = _index(g_spans), _index(p_spans)
        for i, j in match_spans(g_spans, p_spans):
            g = g_spans[i] if i is not None else None
            p = p_spans[j] if j is not None else None
            kind = pair_kind(g, p)
            if kind == "correct":
                continue
            involved = [s for s in (g, p) if s is not None]
            start = min(s.start for s in involved)
            end = max(s.end for s in involved)
            # a spurious or missed span may still overlap a span that was paired elsewhere
            others = (p_spans, p_index) if p is None else (g_spans, g_index) if g is None else ([], ([], []))
            overlapping = _overlapping(*others, start, end)
            lo, hi = max(0, start - context), min(len(text), end + context)
            records.append(
                {
                    "doc_id": gold.id,
                    "layer": layer,
                    "category": _CATEGORY[kind],
                    "gold": [_span(gold, g, layer)] if g else [],
                    "pred": [_span(pred, p, layer, scores)] if p else [],
                    "overlapping": [
                        _span(gold if g is None else pred, s, layer, None if g is None else scores) for s in overlapping
                    ],
                    "start": start,
                    "end": end,
                    "context": {"start": lo, "end": hi, "text": text[lo:hi]},
                }
            )
    records.sort(key=lambda r: (layers.index(r["layer"]), r["start"], r["end"]))
    return records


def _index(spans: list[Span]) -> tuple[list[int], list[int]]:
    # starts, and the furthest end so far: both never fall, so bisect finds where overlaps can be
    return [s.start for s in spans], list(accumulate((s.end for s in spans), max))


def _overlapping(spans: list[Span], index: tuple[list[int], list[int]], start: int, end: int) -> list[Span]:
    """The spans of ``spans`` (in document order, by start) that overlap ``[start, end)``, in order."""
    # scanning every span for every missed or spurious one was quadratic over a long document
    starts, reach = index
    lo, hi = bisect_right(reach, start), bisect_left(starts, end)
    return [s for s in spans[lo:hi] if s.start < end and start < s.end]


def find_errors(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    scheme: LabelScheme,
    layers: Sequence[str] | None = None,
    context: int = 40,
) -> list[dict]:
    """Error records of all documents (paired by id, in gold order), ``context`` characters each side."""
    layers = layer_names(scheme, layers)
    out: list[dict] = []
    for g, p in align(gold, pred, scheme=scheme):
        out.extend(document_errors(g, p, scheme=scheme, layers=layers, context=context))
    return out


def error_counts(errors: Iterable[dict]) -> dict[str, dict[str, int]]:
    """``{layer: {category: n}}`` with every category present (zeros included)."""
    counts: dict[str, Counter] = {}
    for e in errors:
        counts.setdefault(e["layer"], Counter())[e["category"]] += 1
    return {layer: {c: counts[layer][c] for c in CATEGORIES} for layer in counts}


def errors_jsonl(errors: Iterable[dict]) -> str:
    """Error records as JSON Lines, one record a line."""
    return "".join(json_line(e) for e in errors)


def write_errors(errors: Iterable[dict], path: str | Path) -> None:
    """Write error records as JSONL, atomically (temp file in the same folder, then rename)."""
    atomic_write(path, errors_jsonl(errors))
