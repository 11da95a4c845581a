"""naba.eval.matching and naba.eval.metrics: word tags, seqeval modes (checked against seqeval),
exact spans, SemEval schemes."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.errors import DataError
from naba.eval.matching import match_spans, semeval_counts, span_counts, tag_counts, word_tags, words
from naba.eval.metrics import count_table, score, scores_from_totals, tag_scores


@pytest.fixture
def docs() -> list[Document]:
    """Three small documents: entities, a CLAIM holding a LOCATION, and one without spans."""
    return [
        Document("d1", "قال الجيش السوري إن القوات دخلت حماة",
                 [Span(4, 16, "ACTOR"), Span(32, 36, "LOCATION"), Span(20, 36, "CLAIM")]),
        Document("d2", "أعلنت السفارة الصينية في دمشق أن الوضع مستقر", [Span(6, 21, "ACTOR"), Span(25, 29, "LOCATION")]),
        Document("d3", "لا شيء هنا"),
    ]


# --- word-level BIO ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("قال الجيش السوري", [Span(4, 16, "ACTOR")], ["O", "B-ACTOR", "I-ACTOR"]),
        # a span inside a word (clitic outside the span) still tags the whole word
        ("دخلوا بحماة اليوم", [Span(7, 11, "LOCATION")], ["O", "B-LOCATION", "O"]),
        # a span ending mid-word tags that word too
        ("الجيش السوريّ قال", [Span(0, 9, "ACTOR")], ["B-ACTOR", "I-ACTOR", "O"]),
        # two spans touching one word: the earlier keeps it, the later starts at its next free word
        ("وحماةوحلب مدينتان كبيرتان", [Span(1, 5, "LOCATION"), Span(6, 17, "LOCATION")],
         ["B-LOCATION", "B-LOCATION", "O"]),
        # ... or vanishes at word level when it has no word of its own
        ("حماةوحلب", [Span(0, 4, "LOCATION"), Span(5, 8, "LOCATION")], ["B-LOCATION"]),
        ("  a\tb\n\nc  ", [Span(2, 3, "ACTOR"), Span(6, 9, "ACTOR")], ["B-ACTOR", "O", "B-ACTOR"]),
        # a span taking in the space before or after its word does not tag the word on the other side
        ("قال الجيش اليوم", [Span(3, 9, "ACTOR")], ["O", "B-ACTOR", "O"]),
        ("قال الجيش اليوم", [Span(4, 10, "ACTOR")], ["O", "B-ACTOR", "O"]),
        ("", [], []),
    ],
)
def test_word_tags(text, spans, expected):
    assert word_tags(text, spans) == expected


def test_words_are_whitespace_tokens_with_offsets():
    text = "قال\u00a0 الجيش\tالسوري\n"
    assert [text[s:e] for s, e in words(text)] == text.split()


# --- seqeval modes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("true", "pred", "mode", "expected"),
    [
        # the two modes differ on an entity that starts with I-
        (["B-CLAIM", "I-CLAIM"], ["I-CLAIM", "I-CLAIM"], "strict", {"CLAIM": (0, 0, 1)}),
        (["B-CLAIM", "I-CLAIM"], ["I-CLAIM", "I-CLAIM"], "default", {"CLAIM": (1, 0, 0)}),
        (["B-ACTOR", "I-ACTOR", "O"], ["B-ACTOR", "I-ACTOR", "O"], "strict", {"ACTOR": (1, 0, 0)}),
        (["B-ACTOR", "I-ACTOR", "O"], ["B-ACTOR", "O", "O"], "strict", {"ACTOR": (0, 1, 1)}),
        # I-X after B-Y: strict ends ACTOR and finds no LOCATION; default finds both
        (["B-ACTOR", "I-ACTOR"], ["B-ACTOR", "I-LOCATION"], "strict", {"ACTOR": (0, 1, 1)}),
        (["B-ACTOR", "I-ACTOR"], ["B-ACTOR", "I-LOCATION"], "default",
         {"ACTOR": (0, 1, 1), "LOCATION": (0, 1, 0)}),
        (["O", "O"], ["O", "O"], "strict", {}),
    ],
)
def test_tag_counts_hand_cases(true, pred, mode, expected):
    assert tag_counts(true, pred, mode=mode) == expected


@pytest.mark.parametrize(("mode", "f1"), [("strict", 0.0), ("default", 1.0)])
def test_b_claim_vs_i_claim_scores(mode, f1):
    scores = tag_scores([["B-CLAIM", "I-CLAIM"]], [["I-CLAIM", "I-CLAIM"]], mode=mode)
    assert scores["CLAIM"]["f1"] == f1
    assert scores["micro"]["f1"] == f1


@pytest.mark.parametrize(
    ("true", "pred"),
    [
        # one sentence's tags, not wrapped in a list: each tag was read as a sentence of characters, so
        # the default mode scored nothing (support 0, F1 0) and the strict mode raised KeyError: '-'
        (["B-ACTOR", "I-ACTOR", "O"], ["B-ACTOR", "B-ACTOR", "O"]),
        ([["B-ACTOR", "I-ACTOR", "O"]], ["B-ACTOR", "B-ACTOR", "O"]),
        ("B-ACTOR", "B-ACTOR"),
    ],
    ids=["both-flat", "pred-flat", "strings"],
)
@pytest.mark.parametrize("mode", ["strict", "default"])
def test_tag_scores_refuses_one_sentence_not_wrapped_in_a_list(true, pred, mode):
    with pytest.raises(TypeError, match=r"a list of tag sequences .* got a str: wrap one sentence's tags"):
        tag_scores(true, pred, mode=mode)


def _random_tags(rng: random.Random, n: int) -> list[str]:
    tags = ["O", "B-ACTOR", "I-ACTOR", "B-LOCATION", "I-LOCATION", "B-CLAIM", "I-CLAIM"]
    return [rng.choice(tags) for _ in range(n)]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode", ["strict", "default"])
def test_tag_scores_equal_seqeval(seed, mode):
    rng = random.Random(seed)
    true = [_random_tags(rng, rng.randint(1, 12)) for _ in range(rng.randint(1, 6))]
    pred = [_random_tags(rng, len(t)) for t in true]
    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    want = classification_report(true, pred, output_dict=True, zero_division=0, **kwargs)
    got = tag_scores(true, pred, mode=mode)
    for key, theirs in want.items():
        if key == "weighted avg":
            continue
        ours = got[key.replace(" avg", "")]
        for metric, their_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert ours[metric] == pytest.approx(theirs[their_key]), (key, metric)
        assert ours["support"] == theirs["support"]


def test_document_counts_add_up_to_seqeval_over_all_documents(docs):
    pred = [
        Document("d1", docs[0].text, [Span(4, 9, "ACTOR"), Span(20, 36, "CLAIM"), Span(32, 36, "ACTOR")]),
        Document("d2", docs[1].text, [Span(6, 21, "ACTOR"), Span(25, 29, "LOCATION"), Span(33, 44, "CLAIM")]),
        Document("d3", docs[2].text, [Span(0, 2, "LOCATION")]),
    ]
    got = score(docs, pred, scheme=DEFAULT_SCHEME)
    for layer in ("entity", "claim"):
        labels = frozenset(DEFAULT_SCHEME.layers[layer])
        true = [word_tags(d.text, d.spans_of(labels)) for d in docs]
        guess = [word_tags(d.text, d.spans_of(labels)) for d in pred]
        for mode, kwargs in (("strict", {"mode": "strict", "scheme": IOB2}), ("default", {})):
            want = classification_report(true, guess, output_dict=True, zero_division=0, **kwargs)
            ours = got[layer][f"seqeval_{mode}"]
            assert ours["micro"]["f1"] == pytest.approx(want["micro avg"]["f1-score"])
            assert ours["macro"]["f1"] == pytest.approx(want["macro avg"]["f1-score"])
            for label in labels & set(want):
                assert ours[label]["f1"] == pytest.approx(want[label]["f1-score"])


# --- exact character spans ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ([Span(0, 5, "ACTOR")], [Span(0, 5, "ACTOR")], {"ACTOR": (1, 0, 0)}),
        ([Span(0, 5, "ACTOR")], [Span(0, 4, "ACTOR")], {"ACTOR": (0, 1, 1)}),
        ([Span(0, 5, "ACTOR")], [Span(0, 5, "LOCATION")], {"ACTOR": (0, 0, 1), "LOCATION": (0, 1, 0)}),
        ([], [Span(2, 3, "ACTOR")], {"ACTOR": (0, 1, 0)}),
        ([Span(0, 5, "ACTOR"), Span(6, 9, "LOCATION")], [Span(6, 9, "LOCATION")],
         {"ACTOR": (0, 0, 1), "LOCATION": (1, 0, 0)}),
    ],
)
def test_span_counts(gold, pred, expected):
    assert span_counts(gold, pred) == expected


# --- SemEval schemes, computed by hand ----------------------------------------------------------

A = "ACTOR"
L = "LOCATION"


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        # scenario: category under (strict, exact, partial, type)
        ([Span(0, 5, A)], [Span(0, 5, A)], ("correct", "correct", "correct", "correct")),
        ([], [Span(0, 5, A)], ("spurious",) * 4),
        ([Span(0, 5, A)], [], ("missed",) * 4),
        ([Span(0, 5, A)], [Span(0, 5, L)], ("incorrect", "correct", "correct", "incorrect")),
        ([Span(0, 5, A)], [Span(0, 3, A)], ("incorrect", "incorrect", "partial", "correct")),
        ([Span(0, 5, A)], [Span(2, 9, L)], ("incorrect", "incorrect", "partial", "incorrect")),
    ],
)
def test_semeval_scenarios(gold, pred, expected):
    counts = semeval_counts(gold, pred)
    for scheme, category in zip(("strict", "exact", "partial", "type"), expected, strict=True):
        (row,) = counts[scheme].values()
        assert row[category] == 1
        assert sum(row.values()) == 1


def _one_doc(gold, pred, text="x" * 50):
    return [Document("d", text, gold)], [Document("d", text, pred)]


# gold: A[0,5) L[10,15) A[20,25) A[30,35); predicted: exact, type error, boundary error, a spurious
# LOCATION, and A[30,35) missed. By hand (ACT = COR+INC+PAR+SPU = 4, POS = COR+INC+PAR+MIS = 4):
#   strict  COR 1 INC 2 PAR 0 MIS 1 SPU 1 -> P = R = 1/4
#   exact   COR 2 INC 1 PAR 0 MIS 1 SPU 1 -> P = R = 2/4
#   partial COR 2 INC 0 PAR 1 MIS 1 SPU 1 -> P = R = (2 + 0.5) / 4
#   type    COR 2 INC 1 PAR 0 MIS 1 SPU 1 -> P = R = 2/4
MIXED_GOLD = [Span(0, 5, A), Span(10, 15, L), Span(20, 25, A), Span(30, 35, A)]
MIXED_PRED = [Span(0, 5, A), Span(10, 15, A), Span(20, 23, A), Span(40, 45, L)]


@pytest.mark.parametrize(
    ("family", "cats", "p"),
    [
        ("semeval_strict", (1, 2, 0, 1, 1), 0.25),
        ("semeval_exact", (2, 1, 0, 1, 1), 0.5),
        ("semeval_partial", (2, 0, 1, 1, 1), 0.625),
        ("semeval_type", (2, 1, 0, 1, 1), 0.5),
    ],
)
def test_semeval_micro_by_hand(family, cats, p):
    gold, pred = _one_doc(MIXED_GOLD, MIXED_PRED)
    micro = score(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"])["entity"][family]["micro"]
    assert tuple(micro[c] for c in ("correct", "incorrect", "partial", "missed", "spurious")) == cats
    assert (micro["actual"], micro["possible"]) == (4, 4)
    assert micro["precision"] == pytest.approx(p)
    assert micro["recall"] == pytest.approx(p)
    assert micro["f1"] == pytest.approx(p)


def test_semeval_per_label_attribution():
    # a paired span counts under the gold label; a spurious one under its own label
    gold, pred = _one_doc(MIXED_GOLD, MIXED_PRED)
    strict = score(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"])["entity"]["semeval_strict"]
    assert (strict[A]["correct"], strict[A]["incorrect"], strict[A]["missed"]) == (1, 1, 1)
    assert (strict[L]["incorrect"], strict[L]["spurious"]) == (1, 1)
    # ACTOR: P = 1 / (1 + 1) = 0.5, R = 1 / 3; LOCATION: 0
    assert strict[A]["precision"] == pytest.approx(0.5)
    assert strict[A]["recall"] == pytest.approx(1 / 3)
    assert strict["macro"]["f1"] == pytest.approx((2 * 0.5 * (1 / 3) / (0.5 + 1 / 3)) / 2)


@pytest.mark.parametrize(
    ("gold", "pred", "pairs"),
    [
        # exact boundaries are paired first, even when a longer prediction comes earlier
        ([Span(0, 5, A), Span(6, 9, A)], [Span(0, 5, A), Span(6, 9, L)], {(0, 0), (1, 1)}),
        # a prediction overlapping two gold spans takes one (same label first); the other is missed
        ([Span(0, 5, L), Span(6, 9, A)], [Span(3, 8, A)], {(1, 0), (0, None)}),
        # two predictions inside one gold span: the larger overlap pairs, the other is spurious
        ([Span(0, 10, A)], [Span(0, 3, A), Span(5, 10, A)], {(0, 1), (None, 0)}),
        # as many pairs as possible: the first prediction leaves the gold span the second one needs
        ([Span(0, 10, A), Span(10, 20, A)], [Span(8, 15, A), Span(15, 20, A)], {(0, 0), (1, 1)}),
        # ... even when that costs a same-label pair (nervaluate's greedy order makes one pair only)
        ([Span(34, 39, L), Span(40, 44, A)], [Span(35, 41, A), Span(43, 48, L)], {(0, 0), (1, 1)}),
        # ... and a same-label pair with more overlap than the two pairs together
        ([Span(0, 10, L), Span(10, 20, A)], [Span(9, 18, A), Span(18, 30, L)], {(0, 0), (1, 1)}),
        # of two overlapping gold spans with the same label, the larger overlap
        ([Span(0, 5, A), Span(6, 12, A)], [Span(4, 12, A)], {(1, 0), (0, None)}),
        # ... even where the prediction covers the other, shorter one whole
        ([Span(0, 2, A), Span(4, 14, A)], [Span(0, 10, A)], {(1, 0), (0, None)}),
        # a short prediction early in a gold span leaves the later, larger overlap in its group
        ([Span(0, 20, A)], [Span(1, 3, A), Span(5, 25, A)], {(0, 1), (None, 0)}),
        # same-label pairs before overlaps, however many overlaps a relabelled chain would add up
        ([Span(10, 20, A), Span(20, 30, A), Span(30, 40, A)],
         [Span(0, 11, A), Span(11, 21, A), Span(21, 31, A), Span(31, 41, L)],
         {(0, 0), (1, 1), (2, 2), (None, 3)}),
        # three spans a side in one group, but no third pair overlaps: that gold span is missed and
        # that prediction spurious, not paired with each other for want of a better use
        ([Span(0, 10, A), Span(10, 12, A), Span(12, 14, A)], [Span(0, 3, A), Span(4, 6, A), Span(6, 13, A)],
         {(0, 0), (1, 2), (None, 1), (2, None)}),
        ([], [], set()),
    ],
)
def test_match_spans(gold, pred, pairs):
    assert set(match_spans(gold, pred)) == pairs


# --- tables, averages, errors -------------------------------------------------------------------


def test_macro_runs_over_labels_seen_anywhere():
    # no LOCATION in gold or predictions: macro = ACTOR alone, as seqeval does
    gold, pred = _one_doc([Span(0, 5, A)], [Span(0, 5, A), Span(10, 12, A)])
    exact = score(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"])["entity"]["span_exact"]
    assert exact["macro"]["f1"] == pytest.approx(exact[A]["f1"])
    assert exact[L]["support"] == 0


def test_count_table_rows_sum_to_whole_corpus_scores(docs):
    pred = [Document(d.id, d.text, d.spans[:1]) for d in docs]
    table = count_table(docs, pred, scheme=DEFAULT_SCHEME)
    assert table.matrix.shape[0] == len(docs)
    whole = scores_from_totals(table, table.matrix.sum(0))
    stacked = scores_from_totals(table, np.stack([table.matrix.sum(0)] * 3))
    assert np.allclose(stacked["entity"]["span_exact"]["micro"]["f1"], whole["entity"]["span_exact"]["micro"]["f1"])


def test_layers_restrict_what_is_scored(docs):
    got = score(docs, docs, scheme=DEFAULT_SCHEME, layers=["entity"])
    assert list(got) == ["entity"]
    assert got["entity"]["span_exact"]["micro"]["f1"] == 1.0


@pytest.mark.parametrize(
    ("pred", "fragment"),
    [
        ([Document("d1", "قال الجيش السوري إن القوات دخلت حماة")], "no prediction for this gold document"),
        ([Document("d1", "x"), Document("d2", "y"), Document("d3", "لا شيء هنا")], "text differs"),
        ([Document(i, t) for i, t in (("d1", "قال الجيش السوري إن القوات دخلت حماة"),
                                      ("d2", "أعلنت السفارة الصينية في دمشق أن الوضع مستقر"),
                                      ("d3", "لا شيء هنا"), ("d9", "z"))], "no gold document with this id"),
    ],
)
def test_mismatched_documents_are_data_errors(docs, pred, fragment):
    with pytest.raises(DataError, match=fragment):
        score(docs, pred, scheme=DEFAULT_SCHEME)


@pytest.mark.parametrize("side", ["gold", "predictions"])
def test_a_document_id_given_twice_is_a_data_error(docs, side):
    # the later copy was paired (or scored) as well or instead, without a word
    twice = [*docs, docs[0]]
    gold, pred = (twice, docs) if side == "gold" else (docs, twice)
    with pytest.raises(DataError, match=rf"{side}: record 4 \(id=d1\): duplicate document id"):
        score(gold, pred, scheme=DEFAULT_SCHEME)


@pytest.mark.parametrize(
    ("span", "fragment"),
    [
        (Span(0, 99, "ACTOR"), "out of range"),
        (Span(3, 3, "ACTOR"), "start must be before end"),
        (Span(0, 3, "PERSON_X"), "unknown label"),
    ],
)
def test_bad_spans_in_memory_are_data_errors(span, fragment):
    gold = [Document("d", "قال الجيش", [])]
    pred = [Document("d", "قال الجيش", [span])]
    with pytest.raises(DataError, match=fragment) as info:
        score(gold, pred, scheme=DEFAULT_SCHEME)
    assert "predictions: record 1 (id=d)" in str(info.value)


@pytest.mark.parametrize(
    ("gold", "pred", "pairs"),
    [
        ([], [Span(0, 2, A), Span(3, 5, A)], [(None, 0), (None, 1)]),
        ([Span(0, 2, A), Span(3, 5, A)], [], [(0, None), (1, None)]),
        ([Span(0, 2, A)], [Span(0, 2, A), Span(3, 5, A)], [(0, 0), (None, 1)]),
    ],
)
def test_match_spans_one_side_empty(gold, pred, pairs):
    assert match_spans(gold, pred) == pairs


@pytest.mark.parametrize(
    ("layers", "fragment"),
    [
        (["entities"], "unknown layer(s) ['entities']"),
        (["entity", "CLAIM"], "unknown layer(s) ['CLAIM']"),
        ("entity", "a list of layer names"),
    ],
)
def test_unknown_layers_are_named(docs, layers, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        score(docs, docs, scheme=DEFAULT_SCHEME, layers=layers)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        score([], [], scheme=DEFAULT_SCHEME, layers=layers)


@pytest.mark.parametrize(
    ("true", "pred"),
    [
        ([["B-CLAIM", "I-CLAIM"]], [["I-CLAIM", "I-CLAIM"]]),
        ([["O"]], [["O"]]),
        ([], []),
    ],
)
def test_tag_scores_are_plain_numbers_like_score(true, pred):
    got = tag_scores(true, pred, mode="strict")
    assert json.loads(json.dumps(got)) == got
    assert type(got["micro"]["f1"]) is float and type(got["micro"]["tp"]) is int


@pytest.mark.parametrize("reach", [5, 10], ids=["apart", "touching-the-next-gold-span"])
@pytest.mark.parametrize("n", [5, 40])
def test_match_spans_solves_each_group_of_overlapping_spans_alone(monkeypatch, n, reach):
    # a long document whose predictions all miss by a character: one assignment over every
    # leftover span grew as n * n (n = 10k spans: 800 MB and minutes); each pair is its own group,
    # a prediction ending where the next gold span starts too (touching is no overlap)
    import scipy.optimize  # naba.eval.matching imports it when it first pairs spans

    shapes = []
    real = scipy.optimize.linear_sum_assignment

    def spy(weights, **kw):
        shapes.append(weights.shape)
        return real(weights, **kw)

    monkeypatch.setattr(scipy.optimize, "linear_sum_assignment", spy)
    gold = [Span(10 * k, 10 * k + 5, A) for k in range(n)]
    pred = [Span(10 * k + 1, 10 * k + reach, A) for k in range(n)]
    assert match_spans(gold, pred) == [(k, k) for k in range(n)]
    assert max(shapes) == (1, 1)


@pytest.mark.parametrize("n", [5, 40])
def test_strict_tags_go_to_seqeval_a_run_at_a_time(monkeypatch, n):
    # seqeval's strict mode copies the rest of the sequence for every entity: quadratic over a
    # long document (200k words: minutes); it now sees each run between O tags alone
    import seqeval.scheme  # naba.eval.matching imports it when it first reads tags

    lengths = []
    real = seqeval.scheme.Tokens

    def spy(tokens, **kw):
        lengths.append(len(tokens))
        return real(tokens, **kw)

    monkeypatch.setattr(seqeval.scheme, "Tokens", spy)
    tags = ["B-A", "I-A", "O", "I-A", "B-B", "O"] * n
    got = tag_counts(tags, tags, mode="strict")
    assert got == {"A": (n, 0, 0), "B": (n, 0, 0)}
    assert max(lengths) == 2
