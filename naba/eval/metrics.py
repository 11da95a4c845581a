"""Span metrics as pure functions: a table of per-document counts, then scores from summed counts.

Every metric family is computed per layer and per label, with micro and macro averages, and is
named after its mode so that no number is ever shown without it:

``seqeval_strict``  seqeval, IOB2 strict mode, over word-level BIO tags
``seqeval_default`` seqeval's default (conlleval-like) mode over the same tags
``span_exact``      character spans, exact start, end and label (tokenizer-independent)
``semeval_strict`` / ``semeval_exact`` / ``semeval_partial`` / ``semeval_type``
                    the SemEval-2013 task 9.1 schemes that nervaluate popularised, over
                    character spans (categories correct, incorrect, partial, missed, spurious)

Scores are computed from *counts* that add up over documents (tp/fp/fn, or the five SemEval
categories), which naba.eval.matching takes from each document pair. A :class:`CountTable` holds
one row of counts per document, so the bootstrap (naba.eval.bootstrap) only has to sum rows
instead of re-running seqeval on every resample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from naba.corpus.document import Document
from naba.corpus.labels import LabelScheme
from naba.eval.matching import (
    PRF_COUNTS,
    SEMEVAL_COUNTS,
    align,
    layer_names,
    semeval_counts,
    span_counts,
    tag_counts,
    word_tags,
    words,
)

SEQEVAL_FAMILIES = ("seqeval_strict", "seqeval_default")
PRF_FAMILIES = (*SEQEVAL_FAMILIES, "span_exact")
SEMEVAL_FAMILIES = ("semeval_strict", "semeval_exact", "semeval_partial", "semeval_type")
FAMILIES = (*PRF_FAMILIES, *SEMEVAL_FAMILIES)


# --- per-document count table ----------------------------------------------------------------


@dataclass(frozen=True)
class CountTable:
    """Counts per document: ``matrix[d, k]`` is counter ``names[k]`` of document ``doc_ids[d]``.

    A name is ``(layer, family, label, counter)``; ``labels`` lists each layer's labels in order.
    """

    doc_ids: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]
    names: tuple[tuple[str, str, str, str], ...]
    matrix: np.ndarray

    def index(self) -> dict[tuple[str, str, str, str], int]:
        """The column of each counter name."""
        return {name: k for k, name in enumerate(self.names)}


def _names(labels: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, str, str, str], ...]:
    names = []
    for layer, layer_labels in labels.items():
        for family in FAMILIES:
            counters = PRF_COUNTS if family in PRF_FAMILIES else SEMEVAL_COUNTS
            for label in layer_labels:
                names.extend((layer, family, label, c) for c in counters)
    return tuple(names)


def count_table(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    scheme: LabelScheme,
    layers: Sequence[str] | None = None,
) -> CountTable:
    """Per-document counts of every metric family for ``layers`` (default: all of ``scheme``'s).

    Gold and predicted documents are paired by id (:func:`align`); spans whose label is in no
    evaluated layer are ignored.
    """
    labels = {layer: tuple(scheme.layers[layer]) for layer in layer_names(scheme, layers)}
    names = _names(labels)
    col = {name: k for k, name in enumerate(names)}
    pairs = align(gold, pred, scheme=scheme)
    matrix = np.zeros((len(pairs), len(names)), dtype=np.int64)
    for d, (g_doc, p_doc) in enumerate(pairs):
        offsets = words(g_doc.text)
        for layer, layer_labels in labels.items():
            wanted = frozenset(layer_labels)
            g_spans, p_spans = g_doc.spans_of(wanted), p_doc.spans_of(wanted)
            g_tags = word_tags(g_doc.text, g_spans, word_offsets=offsets)
            p_tags = word_tags(p_doc.text, p_spans, word_offsets=offsets)
            for family, counts in (
                ("seqeval_strict", tag_counts(g_tags, p_tags, mode="strict")),
                ("seqeval_default", tag_counts(g_tags, p_tags, mode="default")),
                ("span_exact", span_counts(g_spans, p_spans)),
            ):
                for label, values in counts.items():
                    for counter, v in zip(PRF_COUNTS, values, strict=True):
                        matrix[d, col[(layer, family, label, counter)]] = v
            for sem, per_label in semeval_counts(g_spans, p_spans).items():
                for label, cats in per_label.items():
                    for counter, v in cats.items():
                        matrix[d, col[(layer, f"semeval_{sem}", label, counter)]] = v
    return CountTable(tuple(g.id for g, _ in pairs), labels, names, matrix)


def tag_scores(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, mode: str) -> dict:
    """Scores of raw tag sequences: ``{label|"micro"|"macro": {precision, recall, f1, ...}}``."""
    labels: list[str] = []
    rows = []
    for t, p in zip(true, pred, strict=True):
        if isinstance(t, str) or isinstance(p, str):
            # a str is a sequence of str: one sentence's tags passed flat were scored as sentences
            # of characters (nothing found, or KeyError: '-')
            raise TypeError(
                "tag_scores takes a list of tag sequences (one per sentence), got a str: wrap one sentence's "
                "tags in a list ([tags])"
            )
        counts = tag_counts(t, p, mode=mode)
        labels.extend(label for label in counts if label not in labels)
        rows.append(counts)
    labels.sort()
    totals = np.zeros(3 * len(labels), dtype=np.int64)
    for counts in rows:
        for i, label in enumerate(labels):
            totals[3 * i : 3 * i + 3] += counts.get(label, (0, 0, 0))
    return to_python(_prf_block(labels, totals.reshape(len(labels), 3).T))


# --- scores from counts (vectorised: totals may be one row or a stack of resampled rows) -------


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # seqeval's zero_division default: an undefined ratio counts as 0
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _scores(tp_like: np.ndarray, actual: np.ndarray, possible: np.ndarray, *, empty: float) -> dict[str, np.ndarray]:
    p, r = _div(tp_like, actual), _div(tp_like, possible)
    scores = {"precision": p, "recall": r, "f1": _div(2 * p * r, p + r)}
    if empty != 0.0:
        nothing = (np.asarray(actual) == 0) & (np.asarray(possible) == 0)
        scores = {k: np.where(nothing, empty, v) for k, v in scores.items()}
    return scores


def _prf_block(labels: Sequence[str], counts: np.ndarray, *, empty: float = 0.0) -> dict:
    """``counts[c, label, ...]`` with c = tp, fp, fn -> per-label, micro and macro scores."""
    tp, fp, fn = counts[0], counts[1], counts[2]
    out: dict = {}
    for i, label in enumerate(labels):
        out[label] = {**_scores(tp[i], tp[i] + fp[i], tp[i] + fn[i], empty=empty), "tp": tp[i], "fp": fp[i], "fn": fn[i]}
        out[label]["support"] = tp[i] + fn[i]
    t, f_p, f_n = tp.sum(0), fp.sum(0), fn.sum(0)
    out["micro"] = {**_scores(t, t + f_p, t + f_n, empty=empty), "tp": t, "fp": f_p, "fn": f_n, "support": t + f_n}
    out["macro"] = _macro(out, labels, counts.sum(0) > 0, support=t + f_n, empty=empty)
    return out


def _semeval_block(labels: Sequence[str], counts: np.ndarray, *, weight: float, empty: float = 0.0) -> dict:
    """``counts[c, label, ...]`` with c in SEMEVAL_COUNTS -> per-label, micro and macro scores."""
    out: dict = {}

    def row(c: np.ndarray) -> dict:
        cats = dict(zip(SEMEVAL_COUNTS, c, strict=True))
        actual = cats["correct"] + cats["incorrect"] + cats["partial"] + cats["spurious"]
        possible = cats["correct"] + cats["incorrect"] + cats["partial"] + cats["missed"]
        credit = cats["correct"] + weight * cats["partial"]
        return {**_scores(credit, actual, possible, empty=empty), **cats, "actual": actual, "possible": possible}

    for i, label in enumerate(labels):
        out[label] = row(counts[:, i])
    out["micro"] = row(counts.sum(1))
    out["macro"] = _macro(out, labels, counts.sum(0) > 0, support=out["micro"]["possible"], empty=empty)
    return out


def _macro(block: dict, labels: Sequence[str], present: np.ndarray, *, support: np.ndarray, empty: float) -> dict:
    """seqeval's macro average: the plain mean of per-label scores over the labels seen anywhere.

    ``present[label, ...]`` says which labels occur (in gold or predictions) in each row of counts,
    so on a bootstrap resample the mean runs over that resample's labels, as seqeval rerun on it
    would; a row with no label at all gets ``empty``.
    """
    n = present.sum(0)
    out = {}
    for k in ("precision", "recall", "f1"):
        total = np.sum([np.where(present[i], block[label][k], 0.0) for i, label in enumerate(labels)], axis=0)
        out[k] = np.where(n > 0, _div(total, n), empty)
    return {**out, "support": support}


def scores_from_totals(table: CountTable, totals: np.ndarray, *, empty: float = 0.0) -> dict:
    """Nested scores ``{layer: {family: {label|micro|macro: {metric: value}}}}`` from summed counts.

    ``totals`` is one row of counts (``table.matrix.sum(0)``) or a stack ``[samples, counters]``;
    values are then scalars or arrays of length ``samples``. Each row is scored on its own: macro
    averages run over the labels that occur in that row. A score with no gold and no predicted
    span under it (a label absent from a row, or a row with no spans) is undefined: it gets
    ``empty``, 0 as seqeval reports it, or NaN for the bootstrap to leave out.
    """
    totals = np.asarray(totals)
    col = table.index()
    out: dict = {}
    for layer, labels in table.labels.items():
        out[layer] = {}
        for family in FAMILIES:
            counters = PRF_COUNTS if family in PRF_FAMILIES else SEMEVAL_COUNTS
            idx = np.array([[col[(layer, family, label, c)] for label in labels] for c in counters])
            counts = totals[..., idx]  # [..., counters, labels]
            counts = np.moveaxis(counts, (-2, -1), (0, 1))  # [counters, labels, ...]
            if family in PRF_FAMILIES:
                out[layer][family] = _prf_block(labels, counts, empty=empty)
            else:
                weight = 0.5 if family == "semeval_partial" else 0.0
                out[layer][family] = _semeval_block(labels, counts, weight=weight, empty=empty)
    return out


def flatten(tree: Mapping, *, prefix: str = "") -> dict[str, float]:
    """``{"a/b/c": number}`` for every numeric leaf of a nested mapping (lists and strings skipped)."""
    flat: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}/"))
        elif isinstance(value, (bool, str)) or value is None:
            continue
        elif isinstance(value, (int, float, np.integer, np.floating)):
            flat[name] = float(value)
    return flat


def to_python(tree: Any) -> Any:
    """The same nested structure with numpy scalars turned into int/float (for JSON)."""
    if isinstance(tree, Mapping):
        return {k: to_python(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [to_python(v) for v in tree]
    if isinstance(tree, np.ndarray):
        return to_python(tree.tolist()) if tree.ndim else to_python(tree.item())
    if isinstance(tree, np.integer):
        return int(tree)
    if isinstance(tree, np.floating):
        return float(tree)
    return tree


def score(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    scheme: LabelScheme,
    layers: Sequence[str] | None = None,
) -> dict:
    """Point scores of every family, layer and label (no intervals; see naba.eval.evaluate)."""
    table = count_table(gold, pred, scheme=scheme, layers=layers)
    return to_python(scores_from_totals(table, table.matrix.sum(0)))
