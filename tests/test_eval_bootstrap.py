"""naba.eval.bootstrap and core: intervals, the fast path against brute force, paired test, folds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.eval import aggregate_folds, compare, evaluate
from naba.eval.bootstrap import intervals, resample_weights, resampled_totals
from naba.eval.metrics import count_table, score


def _corpus(n: int, seed: int, *, noise: float) -> tuple[list[Document], list[Document]]:
    """``n`` small documents and predictions that miss, shift or relabel a ``noise`` share of spans."""
    rng = random.Random(seed)
    gold, pred = [], []
    for i in range(n):
        text = " ".join(rng.choice(["قال", "الجيش", "حماة", "المرصد", "أن", "القوات"]) for _ in range(12))
        spans, guess = [], []
        for w in range(0, 12, 3):
            start = sum(len(t) + 1 for t in text.split(" ")[:w])
            end = start + len(text.split(" ")[w])
            span = Span(start, end, rng.choice(["ACTOR", "LOCATION"]))
            spans.append(span)
            r = rng.random()
            if r > noise:
                guess.append(span)
            elif r > noise / 2:
                guess.append(Span(span.start, span.end, "ACTOR" if span.label == "LOCATION" else "LOCATION"))
        gold.append(Document(f"d{i}", text, spans))
        pred.append(Document(f"d{i}", text, guess))
    return gold, pred


def test_weights_draw_n_documents_per_sample():
    batches = list(resample_weights(7, samples=25, seed=3))
    weights = np.concatenate(batches)
    assert weights.shape == (25, 7)
    assert (weights.sum(1) == 7).all()


def test_fast_resampling_equals_rescoring_the_resampled_documents():
    gold, pred = _corpus(15, 0, noise=0.5)
    table = count_table(gold, pred, scheme=DEFAULT_SCHEME)
    totals = resampled_totals(table, samples=5, seed=11)
    weights = np.concatenate(list(resample_weights(15, samples=5, seed=11)))
    for row, w in zip(totals, weights, strict=True):
        # the same resample done the slow way: duplicate documents (fresh ids) and score them
        picks = [d for d, k in enumerate(w) for _ in range(k)]
        g = [Document(f"{n}", gold[d].text, gold[d].spans) for n, d in enumerate(picks)]
        p = [Document(f"{n}", pred[d].text, pred[d].spans) for n, d in enumerate(picks)]
        slow = count_table(g, p, scheme=DEFAULT_SCHEME).matrix.sum(0)
        assert np.array_equal(row, slow)


def test_same_seed_same_intervals_other_seed_other_intervals():
    gold, pred = _corpus(20, 1, noise=0.6)
    table = count_table(gold, pred, scheme=DEFAULT_SCHEME)
    a = intervals(table, samples=300, seed=5)
    b = intervals(table, samples=300, seed=5)
    c = intervals(table, samples=300, seed=6)
    assert a == b
    assert a != c


def test_evaluate_puts_intervals_around_point_estimates():
    gold, pred = _corpus(40, 2, noise=0.5)
    got = evaluate(gold, pred, samples=400, seed=0)
    micro = got["scores"]["entity"]["span_exact"]["micro"]
    lo, hi = micro["f1_ci"]
    assert 0.0 < lo < micro["f1"] < hi < 1.0
    assert got["bootstrap"] == {"samples": 400, "seed": 0, "confidence": 0.95, "method": got["bootstrap"]["method"]}
    assert got["scores"]["entity"]["span_exact"]["micro"]["f1"] == score(gold, pred, scheme=DEFAULT_SCHEME)[
        "entity"
    ]["span_exact"]["micro"]["f1"]


def test_no_bootstrap_means_no_intervals():
    gold, pred = _corpus(3, 3, noise=0.5)
    got = evaluate(gold, pred, samples=0)
    assert "bootstrap" not in got
    assert "f1_ci" not in got["scores"]["entity"]["span_exact"]["micro"]


def test_compare_a_system_with_itself_gives_p_one():
    gold, pred = _corpus(25, 4, noise=0.5)
    result = compare(gold, pred, pred, samples=300, seed=1)
    assert result["metrics"]
    for name, r in result["metrics"].items():
        assert r["diff"] == 0.0, name
        assert r["p_value"] == pytest.approx(1.0), name


def test_compare_finds_a_clearly_better_system():
    gold, weak = _corpus(40, 5, noise=0.9)
    result = compare(gold, weak, gold, samples=500, seed=2)
    r = result["metrics"]["entity/span_exact/micro/f1"]
    assert r["b"] == 1.0
    assert r["diff"] > 0.5
    assert r["diff_ci"][0] > 0
    assert r["p_value"] < 0.01


@pytest.mark.parametrize("samples", [1, 20, 500])
def test_compare_p_value_is_never_zero(samples):
    # no resample is as extreme as the observed difference: p was 0.0 ("0.000" in the table), a
    # certainty R resamples cannot give; a Monte Carlo p-value is (1 + r) / (1 + R), here 1 / (1 + R)
    gold, weak = _corpus(40, 5, noise=0.9)
    r = compare(gold, weak, gold, samples=samples, seed=2)["metrics"]["entity/span_exact/micro/f1"]
    assert r["p_value"] == pytest.approx(1 / (1 + samples))


def test_compare_small_difference_is_not_significant():
    gold, a = _corpus(30, 6, noise=0.5)
    # B differs from A in one document only
    b = list(a)
    b[0] = gold[0]
    r = compare(gold, a, b, samples=500, seed=3)["metrics"]["entity/span_exact/micro/f1"]
    assert r["diff"] > 0
    assert r["p_value"] > 0.05


@pytest.mark.parametrize(
    ("folds", "mean", "sd"),
    [
        ([{"f1": 0.5}, {"f1": 0.7}], 0.6, 0.1414213562373095),
        ([{"f1": 0.5}, {"f1": 0.5}, {"f1": 0.5}], 0.5, 0.0),
        ([{"f1": 0.25}], 0.25, None),
    ],
)
def test_aggregate_folds_by_hand(folds, mean, sd):
    got = aggregate_folds(folds)["metrics"]["f1"]
    assert got["mean"] == pytest.approx(mean)
    assert got["sd"] == (pytest.approx(sd) if sd is not None else None)


def test_aggregate_folds_of_evaluations():
    runs = []
    for seed in range(3):
        gold, pred = _corpus(5, seed, noise=0.5)
        runs.append(evaluate(gold, pred, samples=0))
    agg = aggregate_folds(runs)
    key = "scores/entity/seqeval_strict/micro/f1"
    values = [r["scores"]["entity"]["seqeval_strict"]["micro"]["f1"] for r in runs]
    assert agg["folds"] == 3
    assert agg["metrics"][key]["mean"] == pytest.approx(np.mean(values))
    assert agg["metrics"][key]["sd"] == pytest.approx(np.std(values, ddof=1))


def test_aggregate_folds_needs_folds():
    with pytest.raises(ValueError):
        aggregate_folds([])


def test_compare_scores_each_system_as_evaluate_does() -> None:
    # B adds a LOCATION nobody else has: its macro F1 counts it, A's must not (as in evaluate)
    text = "قال الرئيس في دمشق"
    gold = [Document("d1", text, [Span(4, 10, "ACTOR")]), Document("d2", text, [Span(4, 10, "ACTOR")])]
    b = [Document("d1", text, [Span(4, 10, "ACTOR"), Span(14, 18, "LOCATION")]), Document("d2", text, [Span(4, 10, "ACTOR")])]
    own = {name: evaluate(gold, docs, layers=["entity"], samples=0)["scores"]["entity"]["span_exact"]["macro"]["f1"]
           for name, docs in (("a", gold), ("b", b))}
    got = compare(gold, gold, b, layers=["entity"], samples=200)["metrics"]["entity/span_exact/macro/f1"]
    assert (got["a"], got["b"]) == pytest.approx((own["a"], own["b"])) == (1.0, 0.5)
    assert got["diff"] == pytest.approx(-0.5)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95, -0.5])
def test_compare_refuses_a_confidence_outside_0_1_as_evaluate_does(confidence):
    gold, pred = _corpus(3, 0, noise=0.5)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        evaluate(gold, pred, samples=10, confidence=confidence)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        compare(gold, pred, gold, samples=10, confidence=confidence)


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(lambda docs: docs[::-1], id="reversed (a brat folder reads back sorted by file name)"),
        pytest.param(lambda docs: docs[1::2] + docs[::2], id="interleaved"),
    ],
)
@pytest.mark.parametrize("run", ["evaluate", "compare"])
def test_intervals_do_not_depend_on_the_order_of_the_gold_documents(order, run):
    # the same gold read from JSONL and from a brat folder (sorted by file name) gave other intervals
    gold, pred = _corpus(12, 4, noise=0.5)
    other = [Document(g.id, g.text, g.spans[k % 3:]) for k, g in enumerate(gold)]
    if run == "evaluate":
        assert evaluate(order(gold), pred, samples=50, seed=3) == evaluate(gold, pred, samples=50, seed=3)
    else:
        assert compare(order(gold), pred, other, samples=50, seed=3) == compare(gold, pred, other, samples=50, seed=3)


# --- undefined scores on a resample -----------------------------------------------------------

_TEXT = "قال الرئيس في دمشق اليوم"
_ACTOR, _PLACE, _OTHER = Span(4, 10, "ACTOR"), Span(14, 18, "LOCATION"), Span(19, 24, "ACTOR")


def _docs(spans_per_doc: list[list[Span]]) -> list[Document]:
    return [Document(f"d{i:02}", _TEXT, spans) for i, spans in enumerate(spans_per_doc)]


@pytest.mark.parametrize(
    "gold",
    [
        # LOCATION in one document of 20: a third of the resamples lack it
        pytest.param(_docs([[_ACTOR, _PLACE]] + [[_ACTOR]] * 19), id="rare-label"),
        # one document of 20 holds any span: a third of the resamples hold none
        pytest.param(_docs([[_ACTOR]] + [[]] * 19), id="rare-spans"),
    ],
)
def test_a_system_equal_to_gold_has_intervals_of_one_point(gold):
    # every resample of a perfect system scores 1 wherever there is anything to score; a resample
    # that lacked a label scored that label 0 (LOCATION 1.0 [0.0, 1.0]) and averaged the 0 into
    # macro F1 (1.0 [0.5, 1.0]), a resample without spans scored micro F1 0 (1.0 [0.0, 1.0])
    got = evaluate(gold, gold, layers=["entity"], samples=300, seed=0)["scores"]["entity"]
    for family, block in got.items():
        for label, node in block.items():
            for metric in ("precision", "recall", "f1"):
                assert node[f"{metric}_ci"] == [node[metric]] * 2, (family, label, metric)


def _reference_replicates(gold, pred, weights) -> dict[str, list[float]]:
    """Per metric, ``score`` of each resample's documents; None where nothing is under the score."""
    out: dict[str, list[float]] = {}
    for w in weights:
        picks = [d for d, k in enumerate(w) for _ in range(k)]
        tree = score([Document(f"{n}", gold[d].text, gold[d].spans) for n, d in enumerate(picks)],
                     [Document(f"{n}", pred[d].text, pred[d].spans) for n, d in enumerate(picks)],
                     scheme=DEFAULT_SCHEME, layers=["entity"])
        for layer, families in tree.items():
            for family, block in families.items():
                for label, node in block.items():
                    under = block["micro" if label == "macro" else label]
                    nothing = sum(under.get(c, 0) for c in ("tp", "fp", "fn", "actual", "possible")) == 0
                    for metric in ("precision", "recall", "f1"):
                        out.setdefault(f"{layer}/{family}/{label}/{metric}", []).append(None if nothing else node[metric])
    return out


def _kept(values: list) -> np.ndarray:
    kept = [v for v in values if v is not None]
    return np.array(kept if kept else [0.0])


def _rare_corpus() -> tuple[list[Document], list[Document], list[Document]]:
    """Gold with a rare LOCATION and documents without spans, and two systems that err differently."""
    gold = _docs([[_ACTOR, _PLACE], [_ACTOR], [], [_ACTOR], [], [_ACTOR], [_ACTOR], []])
    a = _docs([[_ACTOR, _PLACE], [_ACTOR, _OTHER], [], [], [], [_ACTOR], [_ACTOR], [_OTHER]])
    b = _docs([[_ACTOR], [_ACTOR], [Span(14, 18, "ACTOR")], [_ACTOR], [], [_ACTOR], [], []])
    return gold, a, b


def test_intervals_are_percentiles_of_evaluate_on_the_resampled_documents():
    # an independent reference: score each resample's documents with score(), leave out the scores
    # with nothing under them, take the percentiles
    gold, pred, _ = _rare_corpus()
    weights = np.concatenate(list(resample_weights(len(gold), samples=80, seed=4)))
    reference = _reference_replicates(gold, pred, weights)
    got = intervals(count_table(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"]), samples=80, seed=4)
    assert set(got) == set(reference)
    for name, values in reference.items():
        assert got[name] == pytest.approx(tuple(np.percentile(_kept(values), [2.5, 97.5]))), name


def test_paired_bootstrap_equals_a_brute_force_one():
    # the same resamples scored document by document; a metric undefined for both systems on a
    # resample is left out, undefined for one counts as its 0; p = share with |d_i - d| >= |d|
    gold, a, b = _rare_corpus()
    weights = np.concatenate(list(resample_weights(len(gold), samples=80, seed=9)))
    ref_a, ref_b = _reference_replicates(gold, a, weights), _reference_replicates(gold, b, weights)
    got = compare(gold, a, b, layers=["entity"], samples=80, seed=9)["metrics"]
    assert set(got) == set(ref_a)
    for name, r in got.items():
        diffs = [(y or 0.0) - (x or 0.0) for x, y in zip(ref_a[name], ref_b[name], strict=True)
                 if x is not None or y is not None]
        diffs = np.array(diffs if diffs else [0.0])
        p = (1 + np.sum(np.abs(diffs - r["diff"]) >= abs(r["diff"]) - 1e-12)) / (1 + diffs.size)
        assert r["p_value"] == pytest.approx(p), name
        assert r["diff_ci"] == pytest.approx(list(np.percentile(diffs, [2.5, 97.5]))), name
