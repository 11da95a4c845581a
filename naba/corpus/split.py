"""Deterministic document-level splits: train/dev/test parts and k folds.

Each document goes to a part chosen from a hash of ``seed`` and its id alone, so a document's
part never depends on the other documents: adding documents never moves existing ones, and the
order of the input does not matter. A document is never cut between parts. With few documents the
parts only approximate the ratios (each document is an independent draw). Documents are told apart
by id alone: one text under two ids is two draws (:func:`split_texts` finds those that fell apart).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from naba.corpus.document import Document
from naba.errors import ConfigError

PARTS = ("train", "dev", "test")


def position(doc_id: str, *, seed: int | str) -> float:
    """A stable pseudo-random number in [0, 1) for ``doc_id`` under ``seed``."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != len(PARTS) or any(not 0 <= r <= 1 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(f"ratios must be {len(PARTS)} numbers in [0, 1] summing to 1 (train, dev, test), got {ratios}")
    return ratios


def part_of(doc_id: str, *, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int | str = 13) -> str:
    """The part (``"train"``, ``"dev"`` or ``"test"``) a document id belongs to."""
    ratios = _check_ratios(ratios)
    x, edge = position(doc_id, seed=seed), 0.0
    for name, ratio in zip(PARTS, ratios, strict=True):
        edge += ratio
        if x < edge:
            return name
    # Rounding can leave the sum a hair under 1; the last non-empty part takes the remainder.
    return [name for name, ratio in zip(PARTS, ratios, strict=True) if ratio > 0][-1]


def split(
    docs: Iterable[Document], *, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int | str = 13
) -> dict[str, list[Document]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` keeping the input order inside each part."""
    ratios = _check_ratios(ratios)
    out: dict[str, list[Document]] = {name: [] for name in PARTS}
    for doc in docs:
        out[part_of(doc.id, ratios=ratios, seed=seed)].append(doc)
    return out


def fold_of(doc_id: str, k: int, *, seed: int | str = 13) -> int:
    """The fold (0 to k-1) a document id belongs to."""
    return min(int(position(doc_id, seed=seed) * k), k - 1)


def kfold(docs: Iterable[Document], k: int, *, seed: int | str = 13) -> list[tuple[list[Document], list[Document]]]:
    """``k`` pairs ``(train, test)``: fold ``i`` tests on the documents hashed to ``i``, trains on the rest."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"k must be an integer >= 2, got {k!r}")
    docs = list(docs)
    folds = [fold_of(d.id, k, seed=seed) for d in docs]
    return [
        ([d for d, f in zip(docs, folds, strict=True) if f != i], [d for d, f in zip(docs, folds, strict=True) if f == i])
        for i in range(k)
    ]


def empty_fold(folds: list[tuple[list[Document], list[Document]]]) -> int | None:
    """The first fold of ``kfold``'s that tests on no document (ids hash unevenly), or ``None``."""
    return next((i for i, (_, test) in enumerate(folds) if not test), None)


def split_texts(parts: dict[str, list[Document]]) -> list[list[tuple[str, str]]]:
    """Texts (equal up to whitespace) held under several ids in different ``parts``: ``(id, part)`` pairs each.

    The same article exported twice under two ids is drawn twice, so a test part may hold text that
    train also holds; this is how ``naba data split`` finds such leaks to warn about them.
    """
    seen: dict[str, list[tuple[str, str]]] = {}
    for name, docs in parts.items():
        for doc in docs:
            key = " ".join(doc.text.split())
            if key:  # documents without text share nothing a model could learn
                seen.setdefault(key, []).append((doc.id, name))
    return [where for where in seen.values() if len({name for _, name in where}) > 1]
