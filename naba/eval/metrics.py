"""Span metrics as pure functions: per-document counts, then scores from summed counts.

Every metric family is computed per layer and per label, with micro and macro averages, and is
named after its mode so that no number is ever shown without it:

``seqeval_strict``  seqeval, IOB2 strict mode, over word-level BIO tags
``seqeval_default`` seqeval's default (conlleval-like) mode over the same tags
``span_exact``      character spans, exact start, end and label (tokenizer-independent)
``semeval_strict`` / ``semeval_exact`` / ``semeval_partial`` / ``semeval_type``
                    the SemEval-2013 task 9.1 schemes that nervaluate popularised, over
                    character spans (categories correct, incorrect, partial, missed, spurious)

Scores are computed from *counts* that add up over documents (tp/fp/fn, or the five SemEval
categories). A :class:`CountTable` holds one row of counts per document, so the bootstrap
(naba.eval.bootstrap) only has to sum rows instead of re-running seqeval on every resample.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Tokens

from naba.corpus.document import Document, Span
from naba.corpus.labels import LabelScheme
from naba.corpus.validate import check_spans
from naba.errors import DataError, Problem

SEQEVAL_FAMILIES = ("seqeval_strict", "seqeval_default")
PRF_FAMILIES = (*SEQEVAL_FAMILIES, "span_exact")
SEMEVAL_FAMILIES = ("semeval_strict", "semeval_exact", "semeval_partial", "semeval_type")
FAMILIES = (*PRF_FAMILIES, *SEMEVAL_FAMILIES)
PRF_COUNTS = ("tp", "fp", "fn")
SEMEVAL_COUNTS = ("correct", "incorrect", "partial", "missed", "spurious")

_WORD = re.compile(r"\S+")


# --- word-level BIO --------------------------------------------------------------------------


def words(text: str) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of the whitespace-separated words of ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


def word_tags(text: str, spans: Sequence[Span], *, word_offsets: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """IOB2 tags, one per word of ``text``, for ``spans`` (which should be of one layer).

    A word takes a span's tag when any of its characters overlaps the span; the first such word
    gets ``B-``. Where two spans touch the same word (``وحماة`` split mid-word), the earlier span
    keeps the word and the later one starts at its next free word, or vanishes at word level.
    """
    offsets = words(text) if word_offsets is None else word_offsets
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    tags = ["O"] * len(offsets)
    for span in sorted(spans):
        # words with end > span.start and start < span.end overlap the span
        first = bisect_right(ends, span.start)
        last = bisect_left(starts, span.end)
        prefix = "B-"
        for i in range(first, last):
            if tags[i] != "O":
                continue
            tags[i] = prefix + span.label
            prefix = "I-"
    return tags


def _entities(tags: Sequence[str], *, mode: str) -> set[tuple[str, int, int]]:
    if mode == "strict":
        return {(e.tag, e.start, e.end) for e in Tokens(list(tags), scheme=IOB2, sent_id=0).entities}
    if mode == "default":
        return set(get_entities(list(tags)))
    raise ValueError(f"unknown seqeval mode {mode!r} (strict or default)")


def tag_counts(true: Sequence[str], pred: Sequence[str], *, mode: str) -> dict[str, tuple[int, int, int]]:
    """``{label: (tp, fp, fn)}`` of one tag sequence pair, as seqeval counts them in ``mode``.

    ``mode`` is ``"strict"`` (seqeval ``mode="strict", scheme=IOB2``) or ``"default"`` (seqeval's
    conlleval-like default, where a stray ``I-X`` starts an entity). Counts of several sequences
    add up to seqeval's own counts over the list of sequences.
    """
    if len(true) != len(pred):
        raise ValueError(f"tag sequences differ in length: {len(true)} gold vs {len(pred)} predicted")
    gold = _entities(true, mode=mode)
    guess = _entities(pred, mode=mode)
    out: dict[str, list[int]] = {}
    for label, *_ in gold | guess:
        out.setdefault(label, [0, 0, 0])
    for entity in gold & guess:
        out[entity[0]][0] += 1
    for entity in guess - gold:
        out[entity[0]][1] += 1
    for entity in gold - guess:
        out[entity[0]][2] += 1
    return {label: (tp, fp, fn) for label, (tp, fp, fn) in out.items()}


def tag_scores(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, mode: str) -> dict:
    """Scores of raw tag sequences: ``{label|"micro"|"macro": {precision, recall, f1, ...}}``."""
    labels: list[str] = []
    rows = []
    for t, p in zip(true, pred, strict=True):
        counts = tag_counts(t, p, mode=mode)
        labels.extend(label for label in counts if label not in labels)
        rows.append(counts)
    labels.sort()
    totals = np.zeros(3 * len(labels), dtype=np.int64)
    for counts in rows:
        for i, label in enumerate(labels):
            totals[3 * i : 3 * i + 3] += counts.get(label, (0, 0, 0))
    return _prf_block(labels, totals.reshape(len(labels), 3).T, active=labels)


# --- character spans -------------------------------------------------------------------------


def span_counts(gold: Sequence[Span], pred: Sequence[Span]) -> dict[str, tuple[int, int, int]]:
    """``{label: (tp, fp, fn)}`` for exact character-span matches (start, end and label)."""
    g = {(s.start, s.end, s.label) for s in gold}
    p = {(s.start, s.end, s.label) for s in pred}
    out: dict[str, list[int]] = {}
    for *_, label in g | p:
        out.setdefault(label, [0, 0, 0])
    for *_, label in g & p:
        out[label][0] += 1
    for *_, label in p - g:
        out[label][1] += 1
    for *_, label in g - p:
        out[label][2] += 1
    return {label: (tp, fp, fn) for label, (tp, fp, fn) in out.items()}


def match_spans(gold: Sequence[Span], pred: Sequence[Span]) -> list[tuple[int | None, int | None]]:
    """One-to-one alignment of gold and predicted spans of one layer: ``(gold_i, pred_i)`` pairs.

    Spans with the same boundaries are paired first. The rest are paired among overlapping spans
    by an optimal assignment: as many pairs as possible, then as many with the same label, then
    the largest overlaps. Unpaired spans come back as ``(i, None)`` (missed) and ``(None, j)``
    (spurious). Each span is used once, so ``possible`` is the number of gold spans and ``actual``
    the number of predicted ones. (nervaluate pairs greedily in prediction order instead, which
    can leave a pair unmade; otherwise the counts agree.)
    """
    pairs: list[tuple[int | None, int | None]] = []
    by_bounds: dict[tuple[int, int], list[int]] = {}
    for i, g in enumerate(gold):
        by_bounds.setdefault((g.start, g.end), []).append(i)
    free_gold = set(range(len(gold)))
    rest = []
    for j, p in enumerate(pred):
        same = [i for i in by_bounds.get((p.start, p.end), []) if i in free_gold]
        if same:
            i = next((i for i in same if gold[i].label == p.label), same[0])
            free_gold.discard(i)
            pairs.append((i, j))
        else:
            rest.append(j)
    left = sorted(free_gold)
    if not left or not rest:
        pairs.extend((None, j) for j in rest)
        pairs.extend((i, None) for i in left)
        return pairs
    g_start, g_end = (np.array([getattr(gold[i], k) for i in left], dtype=float).reshape(-1, 1) for k in ("start", "end"))
    p_start, p_end = (np.array([getattr(pred[j], k) for j in rest], dtype=float).reshape(1, -1) for k in ("start", "end"))
    overlap = np.minimum(g_end, p_end) - np.maximum(g_start, p_start)
    same_label = np.array([[gold[i].label == pred[j].label for j in rest] for i in left], dtype=float)
    # a pair outweighs every label and overlap bonus together, so the assignment first maximises pairs
    pair_weight = 3.0 * (min(len(left), len(rest)) + 1)
    longer = np.maximum(g_end - g_start, p_end - p_start)
    weights = np.where(overlap > 0, pair_weight + 2.0 * same_label + overlap / longer, 0.0)
    if weights.any():
        rows, cols = linear_sum_assignment(weights, maximize=True)
        for a, b in zip(rows, cols, strict=True):
            if weights[a, b] > 0:
                pairs.append((left[a], rest[b]))
                free_gold.discard(left[a])
                rest[b] = -1
    pairs.extend((None, j) for j in rest if j >= 0)
    pairs.extend((i, None) for i in sorted(free_gold))
    return pairs


def pair_kind(g: Span | None, p: Span | None) -> str:
    """What an aligned pair is: correct, type, boundary, type_and_boundary, missed or spurious."""
    if p is None:
        return "missed"
    if g is None:
        return "spurious"
    same_bounds = (g.start, g.end) == (p.start, p.end)
    same_label = g.label == p.label
    if same_bounds:
        return "correct" if same_label else "type"
    return "boundary" if same_label else "type_and_boundary"


# SemEval-2013 9.1 category of each kind of pair under each scheme (Batista's table, as nervaluate).
_SEMEVAL = {
    "correct": {"strict": "correct", "exact": "correct", "partial": "correct", "type": "correct"},
    "type": {"strict": "incorrect", "exact": "correct", "partial": "correct", "type": "incorrect"},
    "boundary": {"strict": "incorrect", "exact": "incorrect", "partial": "partial", "type": "correct"},
    "type_and_boundary": {"strict": "incorrect", "exact": "incorrect", "partial": "partial", "type": "incorrect"},
    "missed": dict.fromkeys(("strict", "exact", "partial", "type"), "missed"),
    "spurious": dict.fromkeys(("strict", "exact", "partial", "type"), "spurious"),
}


def semeval_counts(gold: Sequence[Span], pred: Sequence[Span]) -> dict[str, dict[str, dict[str, int]]]:
    """``{scheme: {label: {category: n}}}`` for the four SemEval schemes over one layer's spans.

    A paired gold/predicted span is counted under the GOLD span's label (a type error lowers the
    gold label's scores), a spurious one under its predicted label; as in nervaluate.
    """
    out: dict[str, dict[str, dict[str, int]]] = {s: {} for s in ("strict", "exact", "partial", "type")}
    for i, j in match_spans(gold, pred):
        g = gold[i] if i is not None else None
        p = pred[j] if j is not None else None
        kind = pair_kind(g, p)
        label = g.label if g is not None else p.label  # type: ignore[union-attr]
        for scheme, category in _SEMEVAL[kind].items():
            row = out[scheme].setdefault(label, dict.fromkeys(SEMEVAL_COUNTS, 0))
            row[category] += 1
    return out


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
        return {name: k for k, name in enumerate(self.names)}


def _names(labels: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, str, str, str], ...]:
    names = []
    for layer, layer_labels in labels.items():
        for family in FAMILIES:
            counters = PRF_COUNTS if family in PRF_FAMILIES else SEMEVAL_COUNTS
            for label in layer_labels:
                names.extend((layer, family, label, c) for c in counters)
    return tuple(names)


def align(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    scheme: LabelScheme | None = None,
    gold_source: str = "gold",
    pred_source: str = "predictions",
) -> list[tuple[Document, Document]]:
    """Pair gold and predicted documents by id, in gold order; every mismatch is a DataError.

    With a ``scheme``, spans are checked too (range, label, same-layer overlap), so documents
    built in memory get the same checks as documents that came through a reader.
    """
    problems = []
    if scheme is not None:
        for source, docs in ((gold_source, gold), (pred_source, pred)):
            for n, doc in enumerate(docs, 1):
                problems.extend(check_spans(doc.text, doc.spans, scheme, source=source, where=f"record {n} (id={doc.id})"))
    by_id: dict[str, Document] = {}
    for n, doc in enumerate(pred, 1):
        if doc.id in by_id:
            problems.append(Problem(pred_source, f"record {n} (id={doc.id})", "duplicate document id"))
        by_id[doc.id] = doc
    pairs = []
    seen = set()
    for n, doc in enumerate(gold, 1):
        where = f"record {n} (id={doc.id})"
        if doc.id in seen:
            problems.append(Problem(gold_source, where, "duplicate document id"))
        seen.add(doc.id)
        other = by_id.get(doc.id)
        if other is None:
            problems.append(Problem(pred_source, where, "no prediction for this gold document"))
        elif other.text != doc.text:
            problems.append(Problem(pred_source, where, "text differs from the gold document's text"))
        else:
            pairs.append((doc, other))
    extra = [i for i in by_id if i not in seen]
    problems.extend(Problem(pred_source, f"id={i}", "no gold document with this id") for i in extra[:20])
    if problems:
        raise DataError(problems)
    return pairs


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
    layers = list(scheme.layers) if layers is None else list(layers)
    labels = {layer: tuple(scheme.layers[layer]) for layer in layers}
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


# --- scores from counts (vectorised: totals may be one row or a stack of resampled rows) -------


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # seqeval's zero_division default: an undefined ratio counts as 0
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _scores(tp_like: np.ndarray, actual: np.ndarray, possible: np.ndarray) -> dict[str, np.ndarray]:
    p, r = _div(tp_like, actual), _div(tp_like, possible)
    return {"precision": p, "recall": r, "f1": _div(2 * p * r, p + r)}


def _prf_block(labels: Sequence[str], counts: np.ndarray, *, active: Sequence[str]) -> dict:
    """``counts[c, label, ...]`` with c = tp, fp, fn -> per-label, micro and macro scores."""
    tp, fp, fn = counts[0], counts[1], counts[2]
    out: dict = {}
    for i, label in enumerate(labels):
        out[label] = {**_scores(tp[i], tp[i] + fp[i], tp[i] + fn[i]), "tp": tp[i], "fp": fp[i], "fn": fn[i]}
        out[label]["support"] = tp[i] + fn[i]
    t, f_p, f_n = tp.sum(0), fp.sum(0), fn.sum(0)
    out["micro"] = {**_scores(t, t + f_p, t + f_n), "tp": t, "fp": f_p, "fn": f_n, "support": t + f_n}
    out["macro"] = _macro(out, active, support=t + f_n)
    return out


def _semeval_block(labels: Sequence[str], counts: np.ndarray, *, weight: float, active: Sequence[str]) -> dict:
    """``counts[c, label, ...]`` with c in SEMEVAL_COUNTS -> per-label, micro and macro scores."""
    out: dict = {}

    def row(c: np.ndarray) -> dict:
        cats = dict(zip(SEMEVAL_COUNTS, c, strict=True))
        actual = cats["correct"] + cats["incorrect"] + cats["partial"] + cats["spurious"]
        possible = cats["correct"] + cats["incorrect"] + cats["partial"] + cats["missed"]
        credit = cats["correct"] + weight * cats["partial"]
        return {**_scores(credit, actual, possible), **cats, "actual": actual, "possible": possible}

    for i, label in enumerate(labels):
        out[label] = row(counts[:, i])
    out["micro"] = row(counts.sum(1))
    out["macro"] = _macro(out, active, support=out["micro"]["possible"])
    return out


def _macro(block: dict, active: Sequence[str], *, support: np.ndarray) -> dict:
    # seqeval's macro average: the plain mean of per-label scores over the labels seen anywhere
    if not active:
        zero = np.zeros_like(np.asarray(support, dtype=float))
        return {"precision": zero, "recall": zero, "f1": zero, "support": support}
    return {
        **{k: np.mean([block[label][k] for label in active], axis=0) for k in ("precision", "recall", "f1")},
        "support": support,
    }


def active_labels(table: CountTable, totals: np.ndarray | None = None) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per layer and family, the labels that occur in gold or predictions (macro averages use them)."""
    totals = table.matrix.sum(0) if totals is None else totals
    seen: dict[str, dict[str, set[str]]] = {}
    for (layer, family, label, _counter), v in zip(table.names, totals, strict=True):
        if v:
            seen.setdefault(layer, {}).setdefault(family, set()).add(label)
    return {
        layer: {f: tuple(x for x in labels if x in seen.get(layer, {}).get(f, set())) for f in FAMILIES}
        for layer, labels in table.labels.items()
    }


def scores_from_totals(
    table: CountTable, totals: np.ndarray, *, active: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> dict:
    """Nested scores ``{layer: {family: {label|micro|macro: {metric: value}}}}`` from summed counts.

    ``totals`` is one row of counts (``table.matrix.sum(0)``) or a stack ``[samples, counters]``;
    values are then scalars or arrays of length ``samples``. ``active`` fixes the labels that
    macro averages run over (default: those seen in ``totals`` if it is one row).
    """
    totals = np.asarray(totals)
    if active is None:
        active = active_labels(table, totals if totals.ndim == 1 else None)
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
                out[layer][family] = _prf_block(labels, counts, active=active[layer][family])
            else:
                weight = 0.5 if family == "semeval_partial" else 0.0
                out[layer][family] = _semeval_block(labels, counts, weight=weight, active=active[layer][family])
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


def to_python(tree):
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
