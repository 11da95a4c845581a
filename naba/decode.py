"""Model scores -> spans in the original text's offsets (BIO-constrained Viterbi, per layer).

Each subword is scored by the window that owns it (``Window.core``, see :mod:`naba.encode`); per
layer, a softmax over the layer's slice of the logits and a Viterbi that never lets I-X follow
anything but B-X or I-X pick the tags; spans come back in original offsets, trimmed of whitespace,
scored by the mean probability of their chosen tags.

A span never splits a user-perceived character (an extended grapheme cluster, UAX #29, as the
``regex`` package's ``\\X`` finds them): preparation turns some characters into spaces or tokens
of their own (the combining accent of a decomposed ``é``, a mark outside naba's Arabic list such as
U+08F0, each emoji of a ZWJ sequence, each regional indicator of a flag, the U+FE0F U+20E3 of a
keycap), so a span's subwords can end or start inside one. Its start moves back to the start of
the cluster holding its first character and its end on to the end of the cluster holding its last;
whitespace is then trimmed a whole cluster at a time, so ``text[start:end]`` is always the span's
text, without surrounding whitespace, in whole characters. Two spans of a layer that now meet in one
cluster do not overlap: the earlier keeps it, the later keeps only its subwords after it (from the
start of their own cluster), or goes. Where the characters either side of an edge are letters,
digits, spaces or punctuation they are all that is looked at (naba.graphemes: a table lookup each);
an edge inside a run of joining characters (emoji, marks) is searched back no further than the end of
the layer's span before it, so a layer's walk is linear in the text.

``decode`` takes one document, ``decode_many`` a batch: there the documents whose best tags break
BIO go through the Viterbi together, one numpy step over all of them per position, which is what a
batch job over thousands of documents wants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from naba.graphemes import cluster, snap

if TYPE_CHECKING:
    from naba.encode import LabelSpace, Window

# One Viterbi step over all documents costs a few numpy calls (~8 us here) where plain Python
# spends under 1 us a subword on one document: stepping together pays off once the documents hold
# this many times the longest one's subwords (break-even measured at 9-10, 2 cores, 5 tags).
TOGETHER_FROM = 10
# at most this many (position, tag, document) scores per group stepped together: 32 MiB of
# float64 scores and 8 MiB of back-pointers, whatever the number of tags
TOGETHER_SCORES = 1 << 22


@dataclass(frozen=True)
class ScoredSpan:
    """A predicted span in original offsets with the mean probability of its tags."""

    start: int
    end: int
    label: str
    layer: str
    score: float


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _predecessors(tags: Sequence[str]) -> list[tuple[int, int] | None]:
    """For each tag, ``None`` if any tag may precede it, else the indices of B-X and I-X."""
    out: list[tuple[int, int] | None] = []
    for tag in tags:
        if tag.startswith("I-"):
            out.append((tags.index(f"B-{tag[2:]}"), tags.index(tag)))
        else:
            out.append(None)
    return out


@dataclass(frozen=True)
class _BioTables:
    allowed: np.ndarray  # allowed[j, i + 1]: may tag j follow tag i (i = -1: start the sequence)?
    inside: list[tuple[int, int]]  # (I-X, B-X) index pairs
    is_b: np.ndarray
    is_i: np.ndarray
    step: np.ndarray  # step[i, j]: 0 where tag j may follow tag i, else -inf
    first: np.ndarray  # 0 where a tag may start the sequence, else -inf


@lru_cache(maxsize=64)
def _bio_tables(tags: tuple[str, ...]) -> _BioTables:
    """What decoding needs to know of a layer's tags, built once per tag set."""
    k = len(tags)
    allowed = np.ones((k, k + 1), dtype=bool)
    inside = []
    for j, pred in enumerate(_predecessors(tags)):
        if pred is not None:
            allowed[j] = False
            allowed[j, [pred[0] + 1, pred[1] + 1]] = True
            inside.append((j, pred[0]))
    is_b = np.array([t.startswith("B-") for t in tags])
    is_i = np.array([t.startswith("I-") for t in tags])
    step = np.where(allowed[:, 1:].T, 0.0, -math.inf)
    first = np.where(allowed[:, 0], 0.0, -math.inf)
    return _BioTables(allowed, inside, is_b, is_i, step, first)


def viterbi(log_probs: np.ndarray, tags: Sequence[str]) -> list[int]:
    """The most probable tag sequence that obeys BIO (no I-X after anything but B-X / I-X)."""
    return viterbi_many([log_probs], tags)[0]


def viterbi_many(batch: Sequence[np.ndarray], tags: Sequence[str]) -> list[list[int]]:
    """``viterbi`` of each ``[length, tags]`` array in ``batch``; the same paths, sooner.

    Without transition scores, the best sequence overall is the best valid one whenever it is
    valid, as a trained model's mostly is: that is checked first. The rest go through the
    Viterbi, together when there are enough of them (TOGETHER_FROM), else one by one.
    """
    return [path.tolist() for path in _best_paths(batch, _bio_tables(tuple(tags)))]


def _best_paths(batch: Sequence[np.ndarray], tables: _BioTables) -> list[np.ndarray]:
    """``viterbi_many``'s paths as index arrays (what decoding wants; no round trip through lists)."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in batch]
    todo: list[tuple[int, np.ndarray]] = []
    for i, log_probs in enumerate(batch):
        log_probs = np.asarray(log_probs, dtype=np.float64)
        if not len(log_probs):
            continue
        best_each = log_probs.argmax(axis=1)
        previous = np.concatenate([[-1], best_each[:-1]])
        if tables.allowed[best_each, previous + 1].all():
            out[i] = best_each
        else:
            todo.append((i, log_probs))
    todo.sort(key=lambda item: -len(item[1]))
    start = 0
    while start < len(todo):
        # groups of similar lengths, each within TOGETHER_SCORES (the step arrays' memory)
        longest, stop = len(todo[start][1]), start + 1
        while stop < len(todo) and (stop + 1 - start) * longest * len(tables.is_b) <= TOGETHER_SCORES:
            stop += 1
        group = [lp for _, lp in todo[start:stop]]
        if len(group) > 1 and sum(len(lp) for lp in group) >= TOGETHER_FROM * longest:
            paths = _together(group, tables)
        else:
            paths = [_one(lp, tables) for lp in group]
        for (i, _), path in zip(todo[start:stop], paths, strict=True):
            out[i] = np.asarray(path, dtype=np.int64)
        start = stop
    return out


def _one(log_probs: np.ndarray, tables: _BioTables) -> list[int]:
    """One sequence's Viterbi. O and B-X may follow anything, so each step needs one maximum over
    all tags plus a choice of two for each I-X: plain Python over a handful of tags beats numpy's
    per-call overhead here."""
    rows = log_probs.tolist()
    k = len(rows[0])
    inside = tables.inside
    score = list(rows[0])
    for j, _ in inside:
        score[j] = -math.inf
    back: list[list[int]] = []
    for row in rows[1:]:
        best = max(score)
        arg = score.index(best)
        new = [best + x for x in row]  # right for O and B-X; each I-X is redone below
        ptr = [arg] * k
        for j, b in inside:
            if score[j] > score[b]:
                new[j], ptr[j] = score[j] + row[j], j
            else:
                new[j], ptr[j] = score[b] + row[j], b
        back.append(ptr)
        score = new
    path = [score.index(max(score))]
    for ptr in reversed(back):
        path.append(ptr[path[-1]])
    return path[::-1]


def _together(batch: list[np.ndarray], tables: _BioTables) -> list[list[int]]:
    """Many sequences' Viterbi, one numpy step over all of them per position.

    Sorted longest first, the sequences still running at position t are a prefix of the batch;
    arrays put the documents last, where numpy's loops run fastest. Ties go to the lower tag
    index, as in ``_one`` (B-X before I-X, the first maximum overall).
    """
    order = sorted(range(len(batch)), key=lambda i: -len(batch[i]))
    lengths = np.array([len(batch[i]) for i in order])
    steps, docs, k = int(lengths[0]), len(order), batch[0].shape[1]
    emissions = np.zeros((steps, k, docs))
    for d, i in enumerate(order):
        emissions[: lengths[d], :, d] = batch[i]
    running = (lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1)  # sequences still going at t
    score = emissions[0] + tables.first[:, None]  # [tag, doc]
    back = np.zeros((steps, k, docs), dtype=np.int16)
    step = tables.step[:, :, None]  # [from, to, 1]
    candidates = np.empty((k, k, docs))  # [from, to, doc]
    for t in range(1, steps):
        n = running[t]
        np.add(score[:, None, :n], step, out=candidates[:, :, :n])
        back[t, :, :n] = candidates[:, :, :n].argmax(axis=0)
        np.add(candidates[:, :, :n].max(axis=0), emissions[t, :, :n], out=score[:, :n])
    paths = np.zeros((steps, docs), dtype=np.int64)
    tag = score.argmax(axis=0)  # each sequence's score stopped changing at its last position
    cols = np.arange(docs)
    for t in range(steps - 1, -1, -1):
        n = running[t]
        paths[t, :n] = tag[:n]
        if t:
            tag[:n] = back[t, tag[:n], cols[:n]]
    out: list[list[int]] = [[] for _ in batch]
    for d, i in enumerate(order):
        out[i] = paths[: lengths[d], d].tolist()
    return out


def decode(text: str, windows: Sequence[Window], logits: Sequence[np.ndarray], space: LabelSpace) -> list[ScoredSpan]:
    """Spans of ONE document from its windows' logits (each ``[len(window), num_labels]``).

    Each subword is scored by the window that owns it (``core``); per layer, a softmax over the
    layer's slice and a BIO-constrained Viterbi pick the tags; spans come back in original offsets,
    widened to whole grapheme clusters and trimmed of whitespace (see the module docstring), scored
    by the mean probability of their chosen tags. Spans of one layer never overlap.
    """
    return decode_many([text], [windows], [logits], space)[0]


def decode_many(
    texts: Sequence[str],
    windows: Sequence[Sequence[Window]],
    logits: Sequence[Sequence[np.ndarray]],
    space: LabelSpace,
) -> list[list[ScoredSpan]]:
    """``decode`` of each document (``windows[i]`` and ``logits[i]`` are document i's)."""
    gathered = [_gather(w, lg, space) for w, lg in zip(windows, logits, strict=True)]
    out: list[list[ScoredSpan]] = [[] for _ in texts]
    for layer in space.layers:
        tags = space.tags(layer)
        log_probs = [_log_softmax(g.scores[:, space.slices[layer]]) if g else np.zeros((0, len(tags))) for g in gathered]
        tables, labels = _bio_tables(tuple(tags)), [tag[2:] for tag in tags]
        for i, path in enumerate(_best_paths(log_probs, tables)):
            if len(path):
                out[i] += _spans(texts[i], gathered[i], log_probs[i], path, layer, tables, labels)
    return [sorted(spans, key=lambda s: (s.start, -s.end, s.layer, s.label)) for spans in out]


@dataclass
class _Gathered:
    scores: np.ndarray  # [subwords, num_labels], each from its owning window
    char_starts: np.ndarray  # original range of each subword
    char_ends: np.ndarray
    first_real: np.ndarray  # for each position, the first subword at or after it that stands for text
    last_real: np.ndarray  # ... and the last at or before it


def _gather(windows: Sequence[Window], logits: Sequence[np.ndarray], space: LabelSpace) -> _Gathered | None:
    if len(windows) != len(logits):
        raise ValueError(f"decode: {len(windows)} windows but {len(logits)} logits arrays")
    rows, spans_of_tok = [], []
    for window, scores in zip(windows, logits, strict=True):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(window.input_ids), space.num_labels):
            raise ValueError(
                f"decode: logits of shape {scores.shape} for a window of {len(window.input_ids)} tokens "
                f"and {space.num_labels} labels"
            )
        a, b = window.core
        rows.append(scores[a:b])
        spans_of_tok.append(np.asarray(window.char_spans, dtype=np.int64).reshape(-1, 2)[a:b])
    offsets = np.concatenate(spans_of_tok) if spans_of_tok else np.zeros((0, 2), dtype=np.int64)
    n = len(offsets)
    if not n:
        return None
    # subwords that stand for no text (empty ranges) do not set a span's edges
    real = offsets[:, 1] > offsets[:, 0]
    idx = np.arange(n)
    return _Gathered(
        scores=np.concatenate(rows),
        char_starts=offsets[:, 0],
        char_ends=offsets[:, 1],
        first_real=np.minimum.accumulate(np.where(real, idx, n)[::-1])[::-1],
        last_real=np.maximum.accumulate(np.where(real, idx, -1)),
    )


def _spans(
    text: str, g: _Gathered, log_probs: np.ndarray, path: np.ndarray, layer: str, tables: _BioTables,
    labels: list[str],
) -> list[ScoredSpan]:
    n = len(path)
    # a span is a B-X and the I-X run after it (the Viterbi lets no other I follow it)
    begins = np.flatnonzero(tables.is_b[path])
    not_inside = np.flatnonzero(~tables.is_i[path])
    ends = np.append(not_inside, n)[np.searchsorted(not_inside, begins, side="right")]
    # running sums of the chosen tags' probabilities give each span's mean in O(1)
    cum = np.concatenate([[0.0], np.cumsum(np.exp(log_probs[np.arange(n), path]))])
    means = (cum[ends] - cum[begins]) / (ends - begins)
    lo, hi = g.first_real[begins], g.last_real[ends - 1]
    keep = lo <= hi  # a span of subwords that all stand for no text has no edges
    out = []
    reach = 0  # where the last span of this layer ends (a cluster boundary, as every span edge is)
    for t, start, end, mean, first, stop in zip(
        path[begins[keep]].tolist(), g.char_starts[lo[keep]].tolist(), g.char_ends[hi[keep]].tolist(),
        means[keep].tolist(), lo[keep].tolist(), ends[keep].tolist(), strict=True,
    ):
        if start < reach:
            # subwords that share characters (a tokenizer that cuts [رابط], which stands for a whole URL,
            # into [ رابط ]), or two spans meeting inside one cluster, can start a span inside the one
            # before it: spans of a layer never overlap, so it keeps only its subwords after that one
            # (from the start of their cluster, which is at or after ``reach``), or nothing. Decided before
            # snapping: snapped with a floor past its start, the start's search back ran to the text's start,
            # quadratic over a long run of joining characters (emoji) with such spans in it
            later = [k for k in range(first, stop) if g.char_starts[k] >= reach and g.char_ends[k] > g.char_starts[k]]
            if not later:
                continue
            start, mean = int(g.char_starts[later[0]]), float((cum[stop] - cum[later[0]]) / (stop - later[0]))
        # a span never splits a user-perceived character: its edges go out to the grapheme clusters'
        # (an NFD "é" whose combining accent prepared as a space, an emoji ZWJ sequence or a flag
        # whose emoji are tokens of their own); edges between letters, digits, spaces or punctuation
        # stay where they are after a table lookup each (naba.graphemes); the search back stops at
        # ``reach``, so a layer's walk is linear in the text
        if start < end:
            start, end = snap(text, start, end, reach)
        if start >= end or text[start].isspace() or text[end - 1].isspace():  # rare: subwords seldom edge on spaces
            trimmed = _trim(text, start, end)
            if trimmed is None:
                continue
            start, end = trimmed
        out.append(ScoredSpan(start, end, labels[t], layer, mean))
        reach = end
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``[start, end)`` (both cluster boundaries) without whitespace at its edges, a whole grapheme
    cluster at a time: a cluster that starts with whitespace at the start (a space carrying a stray
    combining mark) or ends with it at the end (a Prepend mark before a space) goes whole, so that
    the edges stay on cluster boundaries."""
    while start < end and text[start].isspace():
        start = cluster(text, start, start)[1]
    while end > start and text[end - 1].isspace():
        end = cluster(text, end - 1, start)[0]
    return (start, end) if start < end else None
