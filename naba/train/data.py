"""Training data: documents from the config's files, the dev split, and length-grouped batches.

Length grouping is what makes naba's loop fast: windows are shuffled, stably sorted by length and cut
into batches, so that each batch is padded only to its own longest window, and the batches are
shuffled. The generator is seeded with ``run.seed`` and the epoch's number: every run (and a resumed
one) sees the same order, and each epoch another.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from naba.corpus.document import Document
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.split import split_texts
from naba.encode import IGNORE
from naba.errors import ConfigError
from naba.train.config import DataConfig


@dataclass
class Splits:
    """The documents of a run, already restricted to the layers being trained."""

    scheme: LabelScheme
    train: list[Document]
    dev: list[Document]
    test: list[Document]


def load_scheme(data: DataConfig) -> LabelScheme:
    """The label scheme of ``data.labels`` (or naba's default), restricted to ``data.layers``."""
    scheme = LabelScheme.load(data.labels) if data.labels else DEFAULT_SCHEME
    if data.layers is None:
        return scheme
    try:
        return scheme.restrict(data.layers)
    except ConfigError as exc:
        raise ConfigError(f"data.layers: {exc}") from None


def load_splits(data: DataConfig) -> Splits:
    """Read train/dev/test and carve dev from train when none is given (``dev_ratio`` > 0).

    Files are read with the full scheme, so that labels of layers not being trained are valid
    input, and those spans are then dropped.
    """
    full = LabelScheme.load(data.labels) if data.labels else DEFAULT_SCHEME
    scheme = load_scheme(data)

    def read(paths: list[str]) -> list[Document]:
        return [keep_labels(doc, scheme) for path in paths
                for doc in read_file(path, fmt=data.format, scheme=full, options=data.read_options)]

    train, dev, test = read(data.train), read(data.dev), read(data.test)
    if not train:
        raise ConfigError(f"data.train: the files hold no documents: {', '.join(data.train)}")
    for key, paths, docs in (("data.dev", data.dev, dev), ("data.test", data.test, test)):
        if paths and not docs:
            raise ConfigError(f"{key}: the files hold no documents: {', '.join(paths)}")
    if not dev and data.dev_ratio > 0:
        train, dev = carve_dev(train, ratio=data.dev_ratio, seed=data.dev_seed)
    return Splits(scheme, train, dev, test)


def seen_in_training(splits: Splits) -> dict[str, list[str]]:
    """Ids of the dev and test documents whose text (equal up to whitespace) a training document has.

    One article exported twice under two ids, or a dev file cut from the training file, is scored
    on text the model was trained on: its dev F1 (which picks best/ and stops training early) and
    test F1 flatter the model, as spaCy's ``debug data`` warns. Keys: ``"dev"``, ``"test"``, only
    those with such documents.
    """
    found: dict[str, list[str]] = {}
    for group in split_texts({"train": splits.train, "dev": splits.dev, "test": splits.test}):
        if any(part == "train" for _, part in group):
            for doc_id, part in group:
                if part != "train":
                    found.setdefault(part, []).append(doc_id)
    return {part: found[part] for part in ("dev", "test") if part in found}


def fingerprint(splits: Splits) -> str:
    """sha256 of what shapes a run's weights: the layers and labels, and the train and dev documents
    (ids, texts, spans), in order. A checkpoint keeps it, so that a run resumes only on the data it
    started with (test documents are scored after training only: they may change)."""
    digest = hashlib.sha256(json.dumps(splits.scheme.to_dict()["layers"], ensure_ascii=False).encode())
    for part, docs in (("train", splits.train), ("dev", splits.dev)):
        for d in docs:
            spans = [(s.start, s.end, s.label) for s in d.spans]
            digest.update(json.dumps([part, d.id, d.text, spans], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def read_file(path: str, *, fmt: str | None, scheme: LabelScheme, options: dict | None = None) -> list[Document]:
    """One corpus file through naba's readers (DataError on bad input)."""
    from naba.corpus.fileio import spelled
    from naba.corpus.formats import read

    try:
        # the readers' advice names naba data's flags, which naba train does not take: its config keys
        with spelled({"format": "data.format={value}", "*": "data.read_options={{{keywords}}}"}):
            return list(read(path, format=fmt, scheme=scheme, **(options or {})))
    except ConfigError as exc:
        raise ConfigError(f"data.format / data.read_options: {path}: {exc}") from None


def keep_labels(doc: Document, scheme: LabelScheme) -> Document:
    """``doc`` with only the spans whose label is in ``scheme`` (text untouched)."""
    wanted = set(scheme.labels)
    return Document(doc.id, doc.text, [s for s in doc.spans if s.label in wanted], dict(doc.meta))


def carve_dev(docs: list[Document], *, ratio: float, seed: int) -> tuple[list[Document], list[Document]]:
    """Split ``docs`` into (train, dev) with a seeded shuffle; dev gets ``ratio`` of them (at least one)."""
    if len(docs) < 2:
        raise ConfigError(
            f"data.dev_ratio: cannot carve a dev set from {len(docs)} training document(s); "
            "give data.dev or set data.dev_ratio=0"
        )
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    n_dev = min(len(docs) - 1, max(1, round(ratio * len(docs))))
    dev_ids = set(order[:n_dev])
    return [d for i, d in enumerate(docs) if i not in dev_ids], [d for i, d in enumerate(docs) if i in dev_ids]


def length_grouped_batches(
    lengths: Sequence[int], *, batch_size: int, batch_tokens: int = 0, seed: int, epoch: int
) -> list[list[int]]:
    """Batches of indices of similar length, in a seeded random order.

    A seeded shuffle followed by a stable sort by length puts equal-length items in a random
    order; consecutive items then form batches (``batch_size`` items, or as many as fit in
    ``batch_tokens`` padded tokens), and the batches themselves are shuffled.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = _chunk(order, lengths, batch_size=batch_size, batch_tokens=batch_tokens)
    rng.shuffle(batches)
    return batches


def eval_batches(lengths: Sequence[int], *, batch_size: int, batch_tokens: int = 0) -> list[list[int]]:
    """Length-sorted batches without shuffling, for evaluation."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return _chunk(order, lengths, batch_size=batch_size, batch_tokens=batch_tokens)


def _chunk(order: list[int], lengths: Sequence[int], *, batch_size: int, batch_tokens: int) -> list[list[int]]:
    """Cut ``order`` (ascending by length) into consecutive batches."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # ascending order: lengths[i] is the padded width of current + [i]
        full = lengths[i] * (len(current) + 1) > batch_tokens if batch_tokens else len(current) >= batch_size
        if current and full:
            batches.append(current)
            current = []
        current.append(i)
    return batches + ([current] if current else [])


def labelled_tokens(windows: Sequence, n_layers: int) -> np.ndarray:
    """``[len(windows), n_layers]``: each window's labelled (not -100) subwords per layer, the
    denominators of the loss (summed over an accumulation group's windows)."""
    out = np.zeros((len(windows), n_layers), dtype=np.int64)
    for row, w in enumerate(windows):
        if w.labels:
            out[row] = (np.asarray(w.labels, dtype=np.int64).reshape(-1, n_layers) != IGNORE).sum(0)
    return out


def shard(batches: list[list[int]], *, rank: int, world: int) -> list[list[int]]:
    """This process's batches: every ``world``-th one, the same count on every process."""
    per_rank = len(batches) // world
    if per_rank == 0:
        raise ConfigError(
            f"{len(batches)} training batch(es) cannot feed {world} processes; "
            "lower optim.batch_size or add data"
        )
    return batches[rank::world][:per_rank]


@dataclass(frozen=True)
class Collator:
    """Pads a batch of windows to its own longest window (picklable for DataLoader workers)."""

    pad_id: int
    n_layers: int

    def __call__(self, windows: list) -> dict[str, torch.Tensor]:
        width = max(len(w.input_ids) for w in windows)
        ids = torch.full((len(windows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        labels = torch.full((len(windows), width, self.n_layers), -100, dtype=torch.long)
        for row, w in enumerate(windows):
            n = len(w.input_ids)
            ids[row, :n] = torch.tensor(w.input_ids, dtype=torch.long)
            mask[row, :n] = 1
            if w.labels is not None:
                labels[row, :n] = torch.tensor(w.labels, dtype=torch.long).view(n, self.n_layers)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
