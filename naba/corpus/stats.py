"""Corpus statistics: sizes, spans per label and layer, span lengths, cross-layer nesting.

Pure functions over documents; ``naba data stats`` prints what :func:`corpus_stats` returns.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from naba.corpus.document import Document
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme


def distribution(values: Sequence[int]) -> dict[str, float | int | None]:
    """``min``, ``median``, ``mean`` (2 decimals) and ``max`` of ``values`` (``None`` when empty)."""
    if not values:
        return {"min": None, "median": None, "mean": None, "max": None}
    return {
        "min": min(values),
        "median": statistics.median(values),
        "mean": round(statistics.fmean(values), 2),
        "max": max(values),
    }


def cross_layer(doc: Document, scheme: LabelScheme) -> Counter[str]:
    """How spans of different layers relate in one document.

    Keys read ``"ACTOR inside CLAIM"`` (strictly within), ``"ACTOR same as CLAIM"`` (equal
    ranges) and ``"ACTOR overlaps CLAIM"`` (crossing boundaries; the pair is named in the
    scheme's label order). Spans of one layer never overlap (the readers reject it).
    """
    order = {label: i for i, label in enumerate(scheme.labels)}
    counts: Counter[str] = Counter()
    spans = [s for s in doc.spans if s.label in order]
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            if b.start >= a.end:
                break  # spans are sorted by start: nothing later can touch a
            if scheme.layer_of(a.label) == scheme.layer_of(b.label):
                continue
            if (a.start, a.end) == (b.start, b.end):
                x, y = sorted((a, b), key=lambda s: order[s.label])
                counts[f"{x.label} same as {y.label}"] += 1
            elif a.start <= b.start and b.end <= a.end:
                counts[f"{b.label} inside {a.label}"] += 1
            elif b.start <= a.start and a.end <= b.end:
                counts[f"{a.label} inside {b.label}"] += 1
            else:
                x, y = sorted((a, b), key=lambda s: order[s.label])
                counts[f"{x.label} overlaps {y.label}"] += 1
    return counts


def corpus_stats(docs: Iterable[Document], *, scheme: LabelScheme = DEFAULT_SCHEME) -> dict:
    """A JSON-ready summary of ``docs`` (see the README section on ``naba data stats``)."""
    docs = list(docs)
    per_label: Counter[str] = Counter()
    chars: dict[str, list[int]] = {label: [] for label in scheme.labels}
    words: dict[str, list[int]] = {label: [] for label in scheme.labels}
    nesting: Counter[str] = Counter()
    for doc in docs:
        for span in doc.spans:
            per_label[span.label] += 1
            chars.setdefault(span.label, []).append(span.end - span.start)
            words.setdefault(span.label, []).append(len(doc.span_text(span).split()))
        nesting += cross_layer(doc, scheme)
    per_layer = {
        layer: sum(per_label[label] for label in labels) for layer, labels in scheme.layers.items()
    }
    return {
        "documents": len(docs),
        "documents_without_spans": sum(1 for d in docs if not d.spans),
        "characters": sum(len(d.text) for d in docs),
        "tokens": sum(len(d.text.split()) for d in docs),
        "spans": sum(per_label.values()),
        "spans_per_label": {label: per_label[label] for label in chars},
        "spans_per_layer": per_layer,
        "span_length_characters": {label: distribution(v) for label, v in chars.items()},
        "span_length_words": {label: distribution(v) for label, v in words.items()},
        "cross_layer": dict(sorted(nesting.items())),
    }
