"""Spans <-> subword labels in layers, overlapping windows, and BIO-constrained decoding.

A document is prepared (:mod:`naba.text`) and tokenized once; each subword gets the ORIGINAL
character range it stands for. Every subword that intersects a span gets that span's tag in the
span's layer (B on the first, I on the rest), so a span that starts inside a word (حماة in بحماة)
survives wherever the tokenizer cuts: exactly if it cuts at the span's boundary, otherwise on the
whole containing subword (counted by :func:`unrepresentable`). Long documents are sliced into
windows of ``max_length`` tokens (with [CLS]/[SEP]) that overlap by ``stride`` tokens; each subword
is scored by the window where it sits most centrally (``Window.core``). Decoding the model's
scores back into spans is :mod:`naba.decode`'s job.
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from naba.corpus.document import Document, Span
from naba.corpus.labels import LabelScheme
from naba.errors import ConfigError
from naba.text import Prepared, prepare

if TYPE_CHECKING:  # transformers is heavy, and only its tokenizers' call interface is used here
    from transformers import PreTrainedTokenizerFast

IGNORE = -100
# the char_spans row of [CLS] and [SEP]: they stand for no text
_NO_TEXT = np.zeros((1, 2), dtype=np.int64)


class LabelSpace:
    """All layers' BIO tags side by side in one logits vector.

    Layer ``entity`` with labels ACTOR, LOCATION has tags ``("O", "B-ACTOR", "I-ACTOR",
    "B-LOCATION", "I-LOCATION")``; the model's labels are named ``"entity:O"``, ``"entity:B-ACTOR"``
    ..., then the next layer's; ``slices[layer]`` is that layer's part of the logits.
    """

    def __init__(self, scheme: LabelScheme) -> None:
        self._scheme = scheme
        self.layers: tuple[str, ...] = tuple(scheme.layers)
        self._tags: dict[str, tuple[str, ...]] = {}
        self.slices: dict[str, slice] = {}
        names: list[str] = []
        for layer, labels in scheme.layers.items():
            tags = ("O",) + tuple(f"{p}-{label}" for label in labels for p in ("B", "I"))
            self._tags[layer] = tags
            self.slices[layer] = slice(len(names), len(names) + len(tags))
            names += [f"{layer}:{tag}" for tag in tags]
        self.id2label: dict[int, str] = dict(enumerate(names))
        self.label2id: dict[str, int] = {name: i for i, name in enumerate(names)}
        self.num_labels = len(names)
        self._layer_of = {label: layer for layer, labels in scheme.layers.items() for label in labels}

    def tags(self, layer: str) -> tuple[str, ...]:
        """The BIO tags of ``layer``, ``"O"`` first."""
        return self._tags[layer]

    @property
    def scheme(self) -> LabelScheme:
        """The label scheme this space was built from."""
        return self._scheme

    def layer_of(self, label: str) -> str | None:
        """The layer holding span label ``label``, or ``None`` if this space has no such label."""
        return self._layer_of.get(label)

    @classmethod
    def from_scheme(cls, scheme: LabelScheme) -> LabelSpace:
        """The space of ``scheme``'s layers and labels (the same as ``LabelSpace(scheme)``)."""
        return cls(scheme)

    @classmethod
    def from_id2label(cls, id2label: dict[int, str] | dict[str, str]) -> LabelSpace:
        """Rebuild the space from a checkpoint's ``config.id2label`` (keys may be strings)."""
        try:
            names = [id2label[k] for k in sorted(id2label, key=int)]
            if sorted(int(k) for k in id2label) != list(range(len(names))):
                raise ValueError("ids are not 0..n-1")
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"id2label is not a naba label space: {exc}") from None
        layers: dict[str, list[str]] = {}
        for name in names:
            layer, _, tag = name.partition(":")
            if not tag or (tag != "O" and tag[:2] not in ("B-", "I-")):
                raise ConfigError(f"id2label entry {name!r} is not of the form 'layer:O' / 'layer:B-LABEL'")
            labels = layers.setdefault(layer, [])
            if tag.startswith("B-"):
                labels.append(tag[2:])
        space = cls(LabelScheme({layer: tuple(labels) for layer, labels in layers.items()}))
        if space.id2label != dict(enumerate(names)):
            raise ConfigError(f"id2label is not in naba's order (layer by layer, O, B-X, I-X): {names}")
        return space

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSpace) and self.id2label == other.id2label

    def __repr__(self) -> str:
        return f"LabelSpace({ {layer: self._tags[layer] for layer in self.layers} })"


@dataclass
class Window:
    """One model input: a slice of one document's subwords between [CLS] and [SEP].

    ``char_spans`` (int64, ``[tokens, 2]``: one ``(start, end)`` row per token) are ORIGINAL-text
    ranges (``(0, 0)`` for [CLS]/[SEP]); an array, not tuples, because decoding wants one and a
    million tuples cost a decode's worth of CPU to make and unmake; ``labels[t][k]`` is the
    index of token ``t``'s tag within layer ``k``'s tags (-100 for [CLS]/[SEP]); ``core`` is the
    half-open range of positions whose scores this window owns.
    """

    doc_index: int
    input_ids: list[int]
    char_spans: np.ndarray
    labels: list[list[int]] | None
    core: tuple[int, int]

    def __eq__(self, other: object) -> bool:
        # by value, as a dataclass compares, but an array's == is elementwise
        if not isinstance(other, Window):
            return NotImplemented
        return (self.doc_index, self.input_ids, self.labels, self.core) == (
            other.doc_index, other.input_ids, other.labels, other.core
        ) and np.array_equal(self.char_spans, other.char_spans)


@dataclass
class _Tokenized:
    ids: list[int]
    starts: np.ndarray  # original start of each subword
    ends: np.ndarray  # original end of each subword


def _tokenize(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast, preset: str) -> list[_Tokenized]:
    """Prepare and tokenize every text in one batch call; map subwords to original ranges."""
    prepared: list[Prepared] = [prepare(t, preset=preset) for t in texts]
    if not prepared:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and backend.truncation is None and backend.padding is None:
        # the Rust tokenizer as it is: transformers' wrapper would only repack its output
        encodings = backend.encode_batch([p.text for p in prepared], add_special_tokens=False)
        pairs = [(e.ids, e.offsets) for e in encodings]
    else:
        enc = tokenizer(
            [p.text for p in prepared],
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        pairs = list(zip(enc["input_ids"], enc["offset_mapping"], strict=True))
    out = []
    for p, (ids, offsets) in zip(prepared, pairs, strict=True):
        if not ids:
            out.append(_Tokenized([], np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        # fromiter over the flattened pairs: about twice as fast as asarray on a list of tuples
        om = np.fromiter(itertools.chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets)).reshape(-1, 2)
        starts, ends = p.char_ranges(om[:, 0], om[:, 1])
        # a subword that stands for nothing (empty offsets) or starts/ends on a space (not seen with
        # BERT tokenizers) goes through the careful path
        odd = np.flatnonzero((om[:, 1] <= om[:, 0]) | _on_space(p, om))
        for i in odd:
            starts[i], ends[i] = p.to_original(int(om[i, 0]), int(om[i, 1]))
        out.append(_Tokenized(list(ids), starts, ends))
    return out


def _on_space(p: Prepared, om: np.ndarray) -> np.ndarray:
    if not p.text:
        return np.zeros(len(om), dtype=bool)
    inserted = p._ends_np == p._starts_np
    last = np.clip(om[:, 1] - 1, 0, len(p.text) - 1)
    first = np.clip(om[:, 0], 0, len(p.text) - 1)
    return inserted[first] | inserted[last]


def _assign(
    spans: Sequence[Span], tok: _Tokenized, space: LabelSpace
) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Per-layer tag indices of every subword, and (label, why it is not exact or None) for each
    span of the space: ``"subword"`` (learnt on a larger subword range), ``"edge"`` (its subwords lie
    inside it: it starts or ends on text no subword holds, such as whitespace) or ``"removed"`` (no subword)."""
    tags = np.zeros((len(tok.ids), len(space.layers)), dtype=np.int64)
    report = []
    for span in spans:
        layer = space.layer_of(span.label)
        if layer is None:
            continue  # a label of a layer this model does not learn
        k = space.layers.index(layer)
        first = int(np.searchsorted(tok.ends, span.start, side="right"))
        last = int(np.searchsorted(tok.starts, span.end, side="left")) - 1
        # subwords with empty ranges never carry a span
        while first <= last and tok.ends[first] <= tok.starts[first]:
            first += 1
        while last >= first and tok.ends[last] <= tok.starts[last]:
            last -= 1
        if first > last:
            report.append((span.label, "removed"))  # its text is deleted by the preparation
            continue
        if tags[first : last + 1, k].any():
            report.append((span.label, "subword"))  # its subword already carries another span
            continue
        tag_names = space.tags(layer)
        tags[first, k] = tag_names.index(f"B-{span.label}")
        tags[first + 1 : last + 1, k] = tag_names.index(f"I-{span.label}")
        if tok.starts[first] == span.start and tok.ends[last] == span.end:
            report.append((span.label, None))
        elif tok.starts[first] >= span.start and tok.ends[last] <= span.end:
            # no subword cuts it, but its edge holds text no subword does (a space an annotation tool
            # took in, an RLM): no predicted span holds that text, so the data, not the tokenizer, is to fix
            report.append((span.label, "edge"))
        else:
            report.append((span.label, "subword"))
    return tags, report


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: building millions of small label lists otherwise triggers it over and
    over (more than doubling encode's time) although none of them can form a cycle."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _window_bounds(n: int, content: int, stride: int) -> list[tuple[int, int]]:
    if n <= content:
        return [(0, n)]
    step = content - stride
    bounds = []
    start = 0
    while True:
        bounds.append((start, min(start + content, n)))
        if start + content >= n:
            return bounds
        start += step


def _owners(n: int, bounds: list[tuple[int, int]]) -> np.ndarray:
    """For each subword, the window where it is farthest from both edges (earlier wins ties)."""
    best = np.full(n, -1, dtype=np.int64)
    owner = np.zeros(n, dtype=np.int64)
    for k, (a, b) in enumerate(bounds):
        pos = np.arange(a, b)
        centrality = np.minimum(pos - a, b - 1 - pos)
        better = centrality > best[a:b]
        best[a:b] = np.where(better, centrality, best[a:b])
        owner[a:b] = np.where(better, k, owner[a:b])
    return owner


def encode(
    docs: Sequence[Document] | Sequence[str],
    tokenizer: PreTrainedTokenizerFast,
    space: LabelSpace,
    *,
    max_length: int = 512,
    stride: int = 128,
    preset: str = "arabertv02",
    with_labels: bool = True,
) -> list[Window]:
    """Cut documents (or plain texts) into labelled model windows.

    ``max_length`` counts [CLS] and [SEP]; consecutive windows share ``stride`` subwords. Every
    document yields at least one window (an empty one is just [CLS] [SEP]). Plain strings, and
    documents without spans, are labelled all-O when ``with_labels`` is true. Span labels that are
    not in ``space`` are ignored (a model of fewer layers).
    """
    content = max_length - 2
    if content < 1:
        raise ConfigError(f"max_length must be at least 3 (got {max_length})")
    if not 0 <= stride < content:
        raise ConfigError(f"stride must be in [0, max_length - 2) = [0, {content}) (got {stride})")
    texts = [d if isinstance(d, str) else d.text for d in docs]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:
        raise ConfigError("the tokenizer has no [CLS]/[SEP] token")
    windows: list[Window] = []
    tokenized = _tokenize(texts, tokenizer, preset)
    with _gc_paused():
        for doc_index, (doc, tok) in enumerate(zip(docs, tokenized, strict=True)):
            windows += _windows(doc_index, doc, tok, space, content, stride, with_labels, cls_id, sep_id)
    return windows


def _windows(
    doc_index: int,
    doc: Document | str,
    tok: _Tokenized,
    space: LabelSpace,
    content: int,
    stride: int,
    with_labels: bool,
    cls_id: int,
    sep_id: int,
) -> list[Window]:
    """One document's windows."""
    n_layers = len(space.layers)
    tags = None
    if with_labels:
        tags, _ = _assign([] if isinstance(doc, str) else doc.spans, tok, space)
    bounds = _window_bounds(len(tok.ids), content, stride)
    owner = _owners(len(tok.ids), bounds)
    char_spans = np.stack([tok.starts, tok.ends], axis=1)
    windows = []
    for k, (a, b) in enumerate(bounds):
        owned = np.flatnonzero(owner[a:b] == k)
        core = (int(owned[0]) + 1, int(owned[-1]) + 2) if len(owned) else (1, 1)
        labels = None
        if tags is not None:
            labels = [[IGNORE] * n_layers] + tags[a:b].tolist() + [[IGNORE] * n_layers]
        windows.append(
            Window(
                doc_index=doc_index,
                input_ids=[cls_id] + tok.ids[a:b] + [sep_id],
                char_spans=np.concatenate([_NO_TEXT, char_spans[a:b], _NO_TEXT]),
                labels=labels,
                core=core,
            )
        )
    return windows


def unrepresentable(
    docs: Sequence[Document], tokenizer: PreTrainedTokenizerFast, *, preset: str = "arabertv02"
) -> dict[str, int]:
    """Spans per label that subword labels cannot reproduce exactly.

    A span is unrepresentable when one of its boundaries falls inside a subword (it will be
    learnt and predicted on the whole subword), when it starts or ends on text no subword holds
    (whitespace, which predicted spans never hold), or when no subword stands for it at all. Every
    label present in ``docs`` is a key.
    """
    labels = sorted({s.label for d in docs for s in d.spans})
    counts: Counter[str] = Counter({label: 0 for label in labels})
    for label, why in _reports(docs, tokenizer, preset):
        counts[label] += why is not None
    return dict(counts)


def unrepresentable_reasons(
    docs: Sequence[Document], tokenizer: PreTrainedTokenizerFast, *, preset: str = "arabertv02"
) -> tuple[int, dict[str, int]]:
    """All spans of ``docs``, and how many :func:`unrepresentable` counts for each reason:
    ``"subword"`` (a boundary inside a subword), ``"edge"`` (no boundary inside a subword, but one on
    text no subword holds: whitespace, or a mark the preparation deletes, at the span's start or end) and
    ``"removed"`` (all of it on text the preparation removes)."""
    reports = list(_reports(docs, tokenizer, preset))
    counts = Counter(why for _, why in reports if why is not None)
    return len(reports), {why: counts[why] for why in ("subword", "edge", "removed")}


def _reports(docs: Sequence[Document], tokenizer: PreTrainedTokenizerFast, preset: str) -> Iterator[tuple[str, str | None]]:
    labels = sorted({s.label for d in docs for s in d.spans})
    if not labels:
        return
    # one layer per label: boundaries are a matter of each span alone
    space = LabelSpace(LabelScheme({label: (label,) for label in labels}))
    for doc, tok in zip(docs, _tokenize([d.text for d in docs], tokenizer, preset), strict=True):
        yield from _assign(doc.spans, tok, space)[1]
