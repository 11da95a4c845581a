"""Trainer data plumbing: length-grouped batches, sharding, dev carving, padding, span scores."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest
import torch

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.errors import ConfigError
from naba.train.data import (
    Collator,
    Splits,
    carve_dev,
    eval_batches,
    keep_labels,
    labelled_tokens,
    length_grouped_batches,
    seen_in_training,
    shard,
)
from naba.train.evaluate import scores, span_counts

_RNG = random.Random(7)
LENGTHS = [_RNG.randint(5, 200) for _ in range(301)]


@pytest.mark.parametrize(("batch_size", "batch_tokens"), [(1, 0), (8, 0), (16, 0), (500, 0), (1, 400), (1, 2000)])
def test_every_item_once_and_budget_kept(batch_size: int, batch_tokens: int) -> None:
    batches = length_grouped_batches(LENGTHS, batch_size=batch_size, batch_tokens=batch_tokens, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    for b in batches:
        if batch_tokens:
            assert len(b) == 1 or max(LENGTHS[i] for i in b) * len(b) <= batch_tokens
        else:
            assert len(b) <= batch_size


def test_grouping_pads_far_less_than_random_batches() -> None:
    def padding(batches: list[list[int]]) -> int:
        return sum(max(LENGTHS[i] for i in b) * len(b) - sum(LENGTHS[i] for i in b) for b in batches)

    grouped = length_grouped_batches(LENGTHS, batch_size=16, seed=3, epoch=0)
    order = list(range(len(LENGTHS)))
    random.Random(3).shuffle(order)
    plain = [order[i : i + 16] for i in range(0, len(order), 16)]
    assert padding(grouped) * 5 < padding(plain)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [((1, 0), (1, 0), True), ((1, 0), (1, 1), False), ((1, 0), (2, 0), False)],
)
def test_order_depends_only_on_seed_and_epoch(a: tuple[int, int], b: tuple[int, int], same: bool) -> None:
    first = length_grouped_batches(LENGTHS, batch_size=8, seed=a[0], epoch=a[1])
    second = length_grouped_batches(LENGTHS, batch_size=8, seed=b[0], epoch=b[1])
    assert (first == second) is same


def test_equal_lengths_are_still_shuffled() -> None:
    batches = length_grouped_batches([10] * 64, batch_size=8, seed=0, epoch=0)
    assert [i for b in batches for i in b] != list(range(64))


def test_eval_batches_are_sorted_and_complete() -> None:
    batches = eval_batches(LENGTHS, batch_size=32)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(LENGTHS)))
    assert [LENGTHS[i] for i in flat] == sorted(LENGTHS)


@pytest.mark.parametrize(("n", "world"), [(10, 1), (10, 2), (11, 2), (9, 4), (4, 4)])
def test_shards_are_disjoint_and_equal_sized(n: int, world: int) -> None:
    batches = [[i] for i in range(n)]
    parts = [shard(batches, rank=r, world=world) for r in range(world)]
    assert len({len(p) for p in parts}) == 1
    seen = [b[0] for p in parts for b in p]
    assert len(seen) == len(set(seen)) == (n // world) * world


def test_too_few_batches_for_the_processes() -> None:
    with pytest.raises(ConfigError, match="cannot feed 4 processes"):
        shard([[0], [1]], rank=0, world=4)


def docs(n: int) -> list[Document]:
    return [Document(f"d{i}", "نص عربي") for i in range(n)]


@pytest.mark.parametrize(("n", "ratio", "n_dev"), [(2, 0.1, 1), (10, 0.1, 1), (10, 0.25, 2), (100, 0.1, 10), (3, 0.9, 2)])
def test_carve_dev(n: int, ratio: float, n_dev: int) -> None:
    train, dev = carve_dev(docs(n), ratio=ratio, seed=5)
    assert len(dev) == n_dev and len(train) == n - n_dev
    assert {d.id for d in train} | {d.id for d in dev} == {f"d{i}" for i in range(n)}
    assert [d.id for d in carve_dev(docs(n), ratio=ratio, seed=5)[1]] == [d.id for d in dev]


def test_carve_dev_from_one_document_is_an_error() -> None:
    with pytest.raises(ConfigError, match="data.dev_ratio"):
        carve_dev(docs(1), ratio=0.1, seed=0)


def test_keep_labels_drops_other_layers_and_keeps_text() -> None:
    doc = Document("a", "الجيش قال إن حماة سقطت", [Span(0, 5, "ACTOR"), Span(10, 22, "CLAIM"), Span(13, 17, "LOCATION")])
    kept = keep_labels(doc, DEFAULT_SCHEME.restrict(["entity"]))
    assert kept.text == doc.text
    assert [s.label for s in kept.spans] == ["ACTOR", "LOCATION"]


@dataclass
class FakeWindow:
    input_ids: list[int]
    labels: list[list[int]] | None


def test_collator_pads_to_the_batch_max_only() -> None:
    batch = Collator(pad_id=0, n_layers=2)([FakeWindow([5, 6, 7], [[-100, -100], [1, 0], [-100, -100]]),
                                             FakeWindow([5, 7], None)])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 7, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].shape == (2, 3, 2)
    assert batch["labels"][0, 1].tolist() == [1, 0]
    assert bool((batch["labels"][1] == -100).all())
    assert batch["input_ids"].dtype == torch.long


@pytest.mark.parametrize(
    ("labels", "counts"),
    [
        ([[-100, -100], [1, 0], [2, -100], [-100, -100]], [2, 1]),  # [CLS]/[SEP] and a claim-less token
        ([[-100, -100], [0, 0], [-100, -100]], [1, 1]),
        ([[-100, -100], [-100, -100]], [0, 0]),  # an empty window
        (None, [0, 0]),  # a window without labels (dev/test)
    ],
)
def test_labelled_tokens_count_each_layers_loss_positions(labels: list | None, counts: list[int]) -> None:
    window = FakeWindow([5] * (len(labels) if labels else 3), labels)
    assert labelled_tokens([window, window], 2).tolist() == [counts, counts]


@dataclass
class Pred:
    start: int
    end: int
    label: str
    layer: str


LAYER = {"ACTOR": "entity", "LOCATION": "entity", "CLAIM": "claim"}.__getitem__
GOLD = Document("g", "x" * 40, [Span(0, 5, "ACTOR"), Span(10, 15, "LOCATION"), Span(0, 30, "CLAIM")])


@pytest.mark.parametrize(
    ("predicted", "entity", "claim"),
    [
        ([Pred(0, 5, "ACTOR", "entity"), Pred(10, 15, "LOCATION", "entity"), Pred(0, 30, "CLAIM", "claim")],
         (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
        ([], (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        # a boundary off by one is wrong, so is the right range with the wrong label
        ([Pred(0, 4, "ACTOR", "entity"), Pred(10, 15, "ACTOR", "entity"), Pred(0, 30, "CLAIM", "claim")],
         (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
        ([Pred(0, 5, "ACTOR", "entity"), Pred(20, 25, "ACTOR", "entity"), Pred(31, 35, "CLAIM", "claim")],
         (0.5, 0.5, 0.5), (0.0, 0.0, 0.0)),
        ([Pred(0, 5, "ACTOR", "entity")], (1.0, 0.5, 2 / 3), (0.0, 0.0, 0.0)),
    ],
)
def test_exact_span_scores_per_layer(predicted: list[Pred], entity: tuple, claim: tuple) -> None:
    result = scores(span_counts([GOLD], [predicted], ["entity", "claim"], LAYER))
    for layer, want in (("entity", entity), ("claim", claim)):
        got = result[layer]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(want, abs=1e-6)
    tp = sum(result[k]["tp"] for k in ("entity", "claim"))
    assert result["micro"]["tp"] == tp and result["micro"]["gold"] == 3


@pytest.mark.parametrize(
    ("name", "content", "advice", "fix"),
    [
        # naba train takes no --source or --format: its config keys are what the reader's advice must name
        ("export.json", [{"id": 1, "data": {"text": "قال محمد"}, "annotations": [{"result": []}]},
                         {"id": 2, "data": {"text": "قال محمد"}, "predictions": [{"result": []}]}],
         "(data.read_options={source: annotations}: ", "data.read_options={source: annotations}"),
        ("train.jsonl", {"id": 1, "text": "قال محمد", "label": [[4, 8, "ACTOR"]]},
         "(data.format=doccano, format='doccano')", "data.format=doccano"),
        ("train.conll", "قال O\nالجيش I-ACTOR\n", "(data.read_options={bio_repair: begin})",
         "data.read_options={bio_repair: begin}"),
    ],
)
def test_read_file_advice_names_train_config_keys(tmp_path, name: str, content, advice: str, fix: str) -> None:
    from naba.errors import DataError
    from naba.train.config import load_config
    from naba.train.data import read_file

    path = tmp_path / name
    raw = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False) + "\n"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_file(str(path), fmt=None, scheme=DEFAULT_SCHEME)
    assert advice in str(caught.value) and "(--" not in str(caught.value)
    data = load_config(None, [fix, f"data.train={path}"], cwd=tmp_path).data
    assert len(read_file(str(path), fmt=data.format, scheme=DEFAULT_SCHEME, options=data.read_options)) >= 1


def _docs(*pairs: tuple[str, str]) -> list[Document]:
    return [Document(doc_id, text, []) for doc_id, text in pairs]


@pytest.mark.parametrize(
    ("train", "dev", "test", "expected"),
    [
        # nothing shared
        ([("a", "قال الرئيس")], [("b", "زار حماة")], [], {}),
        # the same text under another id, in dev and in test
        ([("a", "قال الرئيس")], [("b", "قال الرئيس")], [("c", "قال الرئيس")], {"dev": ["b"], "test": ["c"]}),
        # equal up to whitespace (a line break, a double space, an edge space) is the same article
        ([("a", "قال  الرئيس\n")], [("b", " قال الرئيس")], [], {"dev": ["b"]}),
        # the same id with the same text: a dev file cut from the training file
        ([("a", "x y"), ("b", "z")], [("a", "x y")], [], {"dev": ["a"]}),
        # dev and test sharing a text no training document has: not a training leak
        ([("a", "x")], [("b", "y")], [("c", "y")], {}),
        # two training documents with one text are no leak either
        ([("a", "x"), ("b", "x")], [("c", "y")], [], {}),
        # empty texts share nothing a model could learn
        ([("a", "  ")], [("b", "")], [], {}),
        # a difference inside a word is another text
        ([("a", "الرئيس")], [("b", "الرئيس.")], [], {}),
    ],
)
def test_dev_and_test_documents_seen_in_training(train: list, dev: list, test: list, expected: dict) -> None:
    splits = Splits(DEFAULT_SCHEME, _docs(*train), _docs(*dev), _docs(*test))
    assert seen_in_training(splits) == expected
