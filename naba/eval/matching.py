"""Matching gold against predictions: documents by id, spans one to one, and what each metric
family counts in one document pair.

Word level: the whitespace words of a text get IOB2 tags from a layer's spans, and seqeval's two
modes find the entities in them (:func:`tag_counts`). Character level: exact spans
(:func:`span_counts`), and a one-to-one alignment of gold and predicted spans (:func:`match_spans`)
whose pairs fall into the SemEval-2013 9.1 categories (:func:`semeval_counts`); the error report
(naba.eval.errors) reads the same alignment. naba.eval.metrics turns the counts into scores.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np

from naba.corpus.document import Document, Span
from naba.corpus.labels import LabelScheme
from naba.corpus.validate import check_spans
from naba.errors import ConfigError, DataError, Problem

PRF_COUNTS = ("tp", "fp", "fn")
SEMEVAL_COUNTS = ("correct", "incorrect", "partial", "missed", "spurious")
SEMEVAL_SCHEMES = ("strict", "exact", "partial", "type")

_WORD = re.compile(r"\S+")


# --- documents -------------------------------------------------------------------------------


def layer_names(scheme: LabelScheme, layers: Sequence[str] | None) -> list[str]:
    """``layers`` as a list, each once (default: all of ``scheme``'s); ConfigError names any the scheme lacks."""
    if layers is None:
        return list(scheme.layers)
    # a string is a sequence of one-letter "layers": say so, not KeyError: 'e'
    if isinstance(layers, str):
        raise ConfigError(f"layers must be a list of layer names, got the string {layers!r}")
    unknown = [x for x in layers if x not in scheme.layers]
    if unknown:
        raise ConfigError(f"unknown layer(s) {unknown} (the label scheme has {list(scheme.layers)})")
    # a layer named twice (--layers entity,entity) was judged twice: every error of it written twice
    return list(dict.fromkeys(layers))


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
    # each problem names the file and the record it is in: the gold one for a missing prediction
    by_id: dict[str, tuple[str, Document]] = {}
    for n, doc in enumerate(pred, 1):
        where = f"record {n} (id={doc.id})"
        if doc.id in by_id:
            problems.append(Problem(pred_source, where, "duplicate document id"))
        by_id[doc.id] = (where, doc)
    pairs = []
    seen = set()
    for n, doc in enumerate(gold, 1):
        where = f"record {n} (id={doc.id})"
        if doc.id in seen:
            problems.append(Problem(gold_source, where, "duplicate document id"))
        seen.add(doc.id)
        found = by_id.get(doc.id)
        if found is None:
            problems.append(Problem(gold_source, where, f"no prediction for this gold document in {pred_source}"))
        elif found[1].text != doc.text:
            problems.append(Problem(pred_source, found[0], "text differs from the gold document's text"))
        else:
            pairs.append((doc, found[1]))
    extra = [where for doc_id, (where, _) in by_id.items() if doc_id not in seen]
    problems.extend(Problem(pred_source, where, "no gold document with this id") for where in extra[:20])
    if problems:
        raise DataError(problems)
    return pairs


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
    # imported here: seqeval imports scikit-learn and scipy, seconds that `naba --help` should not wait
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2, Tokens

    if mode == "strict":
        # seqeval copies the rest of the sequence for every entity it finds (quadratic over a long
        # document), so each run of tags between O tags goes to it alone: no strict IOB2 entity
        # crosses an O, and seqeval reads an O before and after a sequence, as around a run
        found: set[tuple[str, int, int]] = set()
        start = 0
        for end in [i for i, tag in enumerate(tags) if tag == "O"] + [len(tags)]:
            if end > start:
                run = Tokens(list(tags[start:end]), scheme=IOB2, sent_id=0).entities
                found.update((e.tag, start + e.start, start + e.end) for e in run)
            start = end + 1
        return found
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
    return _prf_counts(_entities(true, mode=mode), _entities(pred, mode=mode))


# --- character spans -------------------------------------------------------------------------


def span_counts(gold: Sequence[Span], pred: Sequence[Span]) -> dict[str, tuple[int, int, int]]:
    """``{label: (tp, fp, fn)}`` for exact character-span matches (start, end and label)."""
    return _prf_counts({(s.label, s.start, s.end) for s in gold}, {(s.label, s.start, s.end) for s in pred})


def _prf_counts(
    gold: set[tuple[str, int, int]], guess: set[tuple[str, int, int]]
) -> dict[str, tuple[int, int, int]]:
    """``{label: (tp, fp, fn)}`` of two sets of ``(label, start, end)``; found means in both."""
    out: dict[str, list[int]] = {}
    for label, *_ in gold | guess:
        out.setdefault(label, [0, 0, 0])
    for part, k in ((gold & guess, 0), (guess - gold, 1), (gold - guess, 2)):
        for label, *_ in part:
            out[label][k] += 1
    return {label: (tp, fp, fn) for label, (tp, fp, fn) in out.items()}


def match_spans(gold: Sequence[Span], pred: Sequence[Span]) -> list[tuple[int | None, int | None]]:
    """One-to-one alignment of gold and predicted spans of one layer: ``(gold_i, pred_i)`` pairs.

    Spans with the same boundaries are paired first. The rest are paired among overlapping spans
    by an optimal assignment: as many pairs as possible, then as many with the same label, then
    the largest overlaps. Unpaired spans come back as ``(i, None)`` (missed) and ``(None, j)``
    (spurious). Each span is used once, so ``possible`` is the number of gold spans and ``actual``
    the number of predicted ones. (nervaluate pairs greedily in prediction order instead, which
    can leave a pair unmade or, in its ``ent_type`` scheme, give a gold span to a prediction of
    another label that a later same-label prediction fits; otherwise the counts agree: 23 of
    scripts/check_nervaluate.py's 2,000 sets differ, all in that scheme.)
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
    # spans pair only with spans they overlap, so the assignment splits into groups of spans whose
    # ranges chain together; solving each on its own keeps the optimum and avoids a matrix (and an
    # assignment) over every leftover span of a long document, quadratic in memory and worse in time
    matched: list[tuple[int, int]] = []
    for rows, cols in _overlap_groups(gold, pred, left, rest):
        matched.extend(_assign(gold, pred, rows, cols))
    used: set[int] = set()
    for i, j in sorted(matched):
        pairs.append((i, j))
        free_gold.discard(i)
        used.add(j)
    pairs.extend((None, j) for j in rest if j not in used)
    pairs.extend((i, None) for i in sorted(free_gold))
    return pairs


def _overlap_groups(
    gold: Sequence[Span], pred: Sequence[Span], left: list[int], rest: list[int]
) -> list[tuple[list[int], list[int]]]:
    """``left`` gold and ``rest`` predicted indices in groups that no overlap crosses (one sweep by start)."""
    items = sorted([(gold[i].start, gold[i].end, 0, i) for i in left] + [(pred[j].start, pred[j].end, 1, j) for j in rest])
    groups: list[tuple[list[int], list[int]]] = []
    reach = None
    for start, end, side, k in items:
        if reach is None or start >= reach:
            groups.append(([], []))
            reach = end
        reach = max(reach, end)
        groups[-1][side].append(k)
    return [(sorted(g), sorted(p)) for g, p in groups if g and p]


def _assign(gold: Sequence[Span], pred: Sequence[Span], left: list[int], rest: list[int]) -> list[tuple[int, int]]:
    """The optimal pairs of one group of overlapping gold (``left``) and predicted (``rest``) spans."""
    g_start, g_end = (np.array([getattr(gold[i], k) for i in left], dtype=float).reshape(-1, 1) for k in ("start", "end"))
    p_start, p_end = (np.array([getattr(pred[j], k) for j in rest], dtype=float).reshape(1, -1) for k in ("start", "end"))
    overlap = np.minimum(g_end, p_end) - np.maximum(g_start, p_start)
    same_label = np.array([[gold[i].label == pred[j].label for j in rest] for i in left], dtype=float)
    # lexicographic: a same-label bonus outweighs all overlap bonuses (each <= 1) together, and a
    # pair outweighs all label and overlap bonuses together: most pairs, then same labels, then overlap
    m = min(len(left), len(rest))
    label_weight = m + 1.0
    pair_weight = m * label_weight + m + 1.0
    longer = np.maximum(g_end - g_start, p_end - p_start)
    weights = np.where(overlap > 0, pair_weight + label_weight * same_label + overlap / longer, 0.0)
    if not weights.any():
        return []
    from scipy.optimize import linear_sum_assignment  # here: scipy takes a second to import

    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(left[a], rest[b]) for a, b in zip(rows, cols, strict=True) if weights[a, b] > 0]


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
    "missed": dict.fromkeys(SEMEVAL_SCHEMES, "missed"),
    "spurious": dict.fromkeys(SEMEVAL_SCHEMES, "spurious"),
}


def semeval_counts(gold: Sequence[Span], pred: Sequence[Span]) -> dict[str, dict[str, dict[str, int]]]:
    """``{scheme: {label: {category: n}}}`` for the four SemEval schemes over one layer's spans.

    A paired gold/predicted span is counted under the GOLD span's label (a type error lowers the
    gold label's scores), a spurious one under its predicted label. nervaluate 1.2.1 instead scores
    each label on its own spans alone (a type error is a miss of the gold label and a spurious span
    of the other); totals agree but where the two pair spans otherwise (:func:`match_spans`).
    """
    out: dict[str, dict[str, dict[str, int]]] = {s: {} for s in SEMEVAL_SCHEMES}
    for i, j in match_spans(gold, pred):
        g = gold[i] if i is not None else None
        p = pred[j] if j is not None else None
        kind = pair_kind(g, p)
        label = g.label if g is not None else p.label  # type: ignore[union-attr]
        for scheme, category in _SEMEVAL[kind].items():
            row = out[scheme].setdefault(label, dict.fromkeys(SEMEVAL_COUNTS, 0))
            row[category] += 1
    return out
