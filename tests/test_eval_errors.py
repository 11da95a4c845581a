"""naba.eval.errors: one record per wrong span, in the right category, with texts and context."""

from __future__ import annotations

import json
import re

import pytest

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.eval.errors import error_counts, find_errors, write_errors

TEXT = "قال الجيش السوري إن القوات دخلت حماة"
# words: قال [0,3) الجيش [4,9) السوري [10,16) إن [17,19) القوات [20,26) دخلت [27,31) حماة [32,36)


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ([Span(4, 16, "ACTOR")], [Span(4, 16, "ACTOR")], []),
        ([], [Span(20, 26, "ACTOR")], [("entity", "false_positive", [], ["القوات"])]),
        ([Span(32, 36, "LOCATION")], [], [("entity", "false_negative", ["حماة"], [])]),
        ([Span(4, 16, "ACTOR")], [Span(4, 9, "ACTOR")], [("entity", "boundary", ["الجيش السوري"], ["الجيش"])]),
        ([Span(32, 36, "LOCATION")], [Span(32, 36, "ACTOR")], [("entity", "type", ["حماة"], ["حماة"])]),
        ([Span(4, 16, "ACTOR")], [Span(10, 19, "LOCATION")],
         [("entity", "type_and_boundary", ["الجيش السوري"], ["السوري إن"])]),
        ([Span(20, 36, "CLAIM")], [Span(20, 31, "CLAIM")], [("claim", "boundary", ["القوات دخلت حماة"], ["القوات دخلت"])]),
        # a CLAIM and an ACTOR inside it are judged in their own layers
        ([Span(20, 36, "CLAIM"), Span(20, 26, "ACTOR")], [Span(20, 36, "CLAIM")],
         [("entity", "false_negative", ["القوات"], [])]),
    ],
)
def test_categories(gold, pred, expected):
    errors = find_errors([Document("d", TEXT, gold)], [Document("d", TEXT, pred)], scheme=DEFAULT_SCHEME)
    got = [(e["layer"], e["category"], [s["text"] for s in e["gold"]], [s["text"] for s in e["pred"]]) for e in errors]
    assert got == expected


def test_record_fields_context_and_scores():
    pred = Document("d", TEXT, [Span(4, 9, "ACTOR")], {"scores": [{"start": 4, "end": 9, "label": "ACTOR", "score": 0.42}]})
    (e,) = find_errors([Document("d", TEXT, [Span(4, 16, "ACTOR")])], [pred], scheme=DEFAULT_SCHEME, context=5)
    assert e["doc_id"] == "d"
    assert e["gold"] == [{"start": 4, "end": 16, "label": "ACTOR", "layer": "entity", "text": "الجيش السوري"}]
    assert e["pred"][0]["score"] == 0.42
    assert (e["start"], e["end"]) == (4, 16)
    assert e["context"] == {"start": 0, "end": 21, "text": TEXT[0:21]}


@pytest.mark.parametrize("scores", [5, "0.9", {"a": 1}, [None, "x", {"start": 4}]])
def test_scores_of_another_shape_in_a_corpus_file_meta_are_ignored(scores):
    # a native JSONL file read with --pred-format jsonl keeps its own meta, whatever "scores" holds
    pred = Document("d", TEXT, [Span(4, 9, "ACTOR")], {"scores": scores})
    (e,) = find_errors([Document("d", TEXT, [Span(4, 16, "ACTOR")])], [pred], scheme=DEFAULT_SCHEME)
    assert "score" not in e["pred"][0]


def test_spurious_span_lists_the_gold_span_it_overlaps():
    # two predictions inside one gold span: one boundary error, one false positive that overlaps it
    gold = [Document("d", TEXT, [Span(4, 16, "ACTOR")])]
    pred = [Document("d", TEXT, [Span(4, 9, "ACTOR"), Span(10, 16, "ACTOR")])]
    errors = find_errors(gold, pred, scheme=DEFAULT_SCHEME)
    # السوري overlaps more of the gold span than الجيش, so it is the pair; الجيش is left over
    assert [(e["category"], [s["text"] for s in e["pred"]]) for e in errors] == [
        ("false_positive", ["الجيش"]),
        ("boundary", ["السوري"]),
    ]
    assert [s["text"] for s in errors[0]["overlapping"]] == ["الجيش السوري"]


def test_counts_and_jsonl(tmp_path):
    gold = [Document("d", TEXT, [Span(4, 16, "ACTOR"), Span(32, 36, "LOCATION")])]
    pred = [Document("d", TEXT, [Span(4, 9, "ACTOR"), Span(20, 26, "ACTOR")])]
    errors = find_errors(gold, pred, scheme=DEFAULT_SCHEME, layers=["entity"])
    counts = error_counts(errors)
    assert counts == {"entity": {"false_positive": 1, "false_negative": 1, "boundary": 1, "type": 0,
                                 "type_and_boundary": 0}}
    path = tmp_path / "errors.jsonl"
    write_errors(errors, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == errors
    assert "الجيش" in lines[0]  # not \u-escaped
    assert [p.name for p in tmp_path.iterdir()] == ["errors.jsonl"]  # no temp file left behind


@pytest.mark.parametrize(
    ("layers", "fragment"),
    [(["entities"], "unknown layer(s) ['entities']"), ("claim", "a list of layer names")],
)
def test_unknown_layers_are_named(layers, fragment):
    for docs in ([Document("d", TEXT, [Span(4, 16, "ACTOR")])], []):
        with pytest.raises(ValueError, match=re.escape(fragment)):
            find_errors(docs, docs, scheme=DEFAULT_SCHEME, layers=layers)


@pytest.mark.parametrize(
    ("layers", "once"),
    [
        # a layer named twice (naba eval --layers entity,entity) wrote every error of it twice, and
        # the reports counted them twice
        (["entity", "entity"], ["entity"]),
        (["claim", "entity", "claim"], ["claim", "entity"]),
    ],
)
def test_a_layer_named_twice_is_judged_once(layers, once):
    gold = [Document("d", TEXT, [Span(4, 16, "ACTOR"), Span(20, 36, "CLAIM")])]
    pred = [Document("d", TEXT, [Span(4, 9, "ACTOR")])]
    errors = find_errors(gold, pred, scheme=DEFAULT_SCHEME, layers=layers)
    assert errors == find_errors(gold, pred, scheme=DEFAULT_SCHEME, layers=once)
    assert len(errors) == len(once)


class _Counted(int):
    """An offset that counts how often it is compared."""

    seen = 0

    def __lt__(self, other):
        _Counted.seen += 1
        return int(self) < int(other)


@pytest.mark.parametrize("n", [40, 160])
def test_overlapping_spans_are_found_without_scanning_every_span(n):
    # every gold span missed and every prediction spurious: each record scanned all spans of the
    # other side for overlaps, n * n comparisons (a long article of 5k spans: seconds, then minutes)
    text = "ب " * (4 * n)
    gold = Document("d", text, [Span(_Counted(4 * k), 4 * k + 1, "ACTOR") for k in range(n)])
    pred = Document("d", text, [Span(_Counted(4 * k + 2), 4 * k + 3, "ACTOR") for k in range(n)])
    _Counted.seen = 0
    errors = find_errors([gold], [pred], scheme=DEFAULT_SCHEME)
    assert [e["category"] for e in errors] == ["false_negative", "false_positive"] * n
    assert all(e["overlapping"] == [] for e in errors)
    assert _Counted.seen < 60 * n


@pytest.mark.parametrize("score", [10**400, -(10**400)], ids=["big", "big-negative"])
def test_scores_past_float_range_in_a_corpus_file_meta_are_ignored(score):
    # a native JSONL file's meta may hold a 400-digit integer (JSON, but no float): ignored, not a traceback
    pred = Document("d", TEXT, [Span(4, 9, "ACTOR")], {"scores": [{"start": 4, "end": 9, "label": "ACTOR", "score": score}]})
    (e,) = find_errors([Document("d", TEXT, [Span(4, 16, "ACTOR")])], [pred], scheme=DEFAULT_SCHEME)
    assert "score" not in e["pred"][0]
