"""Deterministic document-level splits and folds."""

from __future__ import annotations

import pytest

from naba.corpus.document import Document
from naba.corpus.split import fold_of, kfold, part_of, split, split_texts
from naba.errors import ConfigError


def _docs(n: int, prefix: str = "doc") -> list[Document]:
    return [Document(f"{prefix}-{i}", f"نص رقم {i}") for i in range(n)]


def _ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


def test_split_is_a_partition_close_to_the_ratios() -> None:
    docs = _docs(2000)
    parts = split(docs, ratios=(0.8, 0.1, 0.1), seed=13)
    assert sorted(_ids(sum(parts.values(), []))) == sorted(_ids(docs))
    sizes = {name: len(part) for name, part in parts.items()}
    assert 1520 <= sizes["train"] <= 1680 and 140 <= sizes["dev"] <= 260 and 140 <= sizes["test"] <= 260


def test_adding_documents_never_moves_existing_ones() -> None:
    before = split(_docs(300), seed=5)
    after = split(_docs(300) + _docs(200, "new"), seed=5)
    for name in before:
        assert set(_ids(before[name])) == {i for i in _ids(after[name]) if i.startswith("doc-")}


def test_order_does_not_matter_and_seed_does() -> None:
    docs = _docs(200)
    a = split(docs, seed=1)
    b = split(list(reversed(docs)), seed=1)
    assert {k: sorted(_ids(v)) for k, v in a.items()} == {k: sorted(_ids(v)) for k, v in b.items()}
    assert a != split(docs, seed=2)
    assert split(docs, seed="7") == split(docs, seed=7)  # the CLI passes the seed as text


@pytest.mark.parametrize(
    ("ratios", "only"),
    [((1.0, 0.0, 0.0), "train"), ((0.0, 1.0, 0.0), "dev"), ((0.0, 0.0, 1.0), "test")],
)
def test_degenerate_ratios(ratios: tuple, only: str) -> None:
    assert {part_of(f"x{i}", ratios=ratios) for i in range(100)} == {only}


@pytest.mark.parametrize(
    "ratios", [(0.8, 0.1), (0.8, 0.1, 0.2), (1.2, -0.1, -0.1), (0.5, 0.5, 0.0, 0.0)]
)
def test_bad_ratios(ratios: tuple) -> None:
    with pytest.raises(ConfigError, match="ratios must be 3 numbers"):
        split(_docs(3), ratios=ratios)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_kfold_partitions_and_is_stable(k: int) -> None:
    docs = _docs(100)
    folds = kfold(docs, k, seed=3)
    assert len(folds) == k
    tests = [set(_ids(test)) for _, test in folds]
    assert set().union(*tests) == set(_ids(docs)) and sum(map(len, tests)) == len(docs)
    for train, test in folds:
        assert not set(_ids(train)) & set(_ids(test)) and len(train) + len(test) == len(docs)
    grown = kfold(docs + _docs(50, "new"), k, seed=3)
    for (_, old), (_, new) in zip(folds, grown, strict=True):
        assert set(_ids(old)) == {i for i in _ids(new) if i.startswith("doc-")}
    assert all(0 <= fold_of(d.id, k, seed=3) < k for d in docs)


@pytest.mark.parametrize("k", [1, 0, True, 2.5])
def test_bad_k(k: object) -> None:
    with pytest.raises(ConfigError, match="k must be an integer >= 2"):
        kfold(_docs(3), k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({"train": [("a", "خبر اليوم")], "test": [("b", " خبر\nاليوم\n")]}, [[("a", "train"), ("b", "test")]]),
        ({"train": [("a", "خبر"), ("b", "خبر")], "test": [("c", "آخر")]}, []),  # copies in one part: no leak
        ({"train": [("a", "خبر")], "dev": [("b", "خبر")], "test": [("c", "خبر")]},
         [[("a", "train"), ("b", "dev"), ("c", "test")]]),
        ({"train": [("a", "خبر")], "test": [("b", "خبرٌ")]}, []),  # another text, however close
        ({"train": [("a", "")], "test": [("b", " \n")]}, []),  # empty documents share no text
    ],
    ids=["whitespace-aside", "same-part", "three-parts", "different", "empty"],
)
def test_split_texts(parts: dict, expected: list) -> None:
    docs = {name: [Document(i, text) for i, text in pairs] for name, pairs in parts.items()}
    assert split_texts(docs) == expected
