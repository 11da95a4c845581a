"""Corpus statistics: counts, length distributions and cross-layer relations."""

from __future__ import annotations

import pytest

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.corpus.stats import corpus_stats, cross_layer, distribution


def test_corpus_stats_on_sample(sample_docs: list[Document]) -> None:
    stats = corpus_stats(sample_docs)
    assert stats["documents"] == 3 and stats["documents_without_spans"] == 1
    assert stats["characters"] == sum(len(d.text) for d in sample_docs) == 36 + 44 + 10
    assert stats["tokens"] == 7 + 8 + 3
    assert stats["spans"] == 5
    assert stats["spans_per_label"] == {"ACTOR": 2, "LOCATION": 2, "CLAIM": 1}
    assert stats["spans_per_layer"] == {"entity": 4, "claim": 1}
    # ACTOR spans: "الجيش السوري" (12 chars, 2 words), "السفارة الصينية" (15 chars, 2 words)
    assert stats["span_length_characters"]["ACTOR"] == {"min": 12, "median": 13.5, "mean": 13.5, "max": 15}
    assert stats["span_length_words"]["ACTOR"] == {"min": 2, "median": 2.0, "mean": 2.0, "max": 2}
    assert stats["span_length_words"]["CLAIM"] == {"min": 3, "median": 3, "mean": 3.0, "max": 3}
    assert stats["cross_layer"] == {"LOCATION inside CLAIM": 1}


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([Span(0, 10, "CLAIM"), Span(2, 5, "ACTOR")], {"ACTOR inside CLAIM": 1}),
        ([Span(0, 5, "CLAIM"), Span(0, 5, "LOCATION")], {"LOCATION same as CLAIM": 1}),
        ([Span(0, 6, "CLAIM"), Span(4, 9, "ACTOR")], {"ACTOR overlaps CLAIM": 1}),
        ([Span(3, 9, "CLAIM"), Span(0, 4, "ACTOR")], {"ACTOR overlaps CLAIM": 1}),
        ([Span(4, 6, "CLAIM"), Span(0, 9, "ACTOR")], {"CLAIM inside ACTOR": 1}),
        ([Span(0, 3, "ACTOR"), Span(5, 9, "CLAIM")], {}),
        ([Span(0, 3, "ACTOR"), Span(3, 9, "LOCATION")], {}),
        ([Span(0, 9, "CLAIM"), Span(0, 3, "ACTOR"), Span(4, 9, "LOCATION")],
         {"ACTOR inside CLAIM": 1, "LOCATION inside CLAIM": 1}),
    ],
    ids=["inside", "same", "overlap-right", "overlap-left", "claim-inside", "apart", "same-layer-touching", "two"],
)
def test_cross_layer(spans: list[Span], expected: dict) -> None:
    assert dict(cross_layer(Document("d", "x" * 10, spans), DEFAULT_SCHEME)) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {"min": None, "median": None, "mean": None, "max": None}),
        ([4], {"min": 4, "median": 4, "mean": 4.0, "max": 4}),
        ([1, 2, 10], {"min": 1, "median": 2, "mean": 4.33, "max": 10}),
    ],
)
def test_distribution(values: list[int], expected: dict) -> None:
    assert distribution(values) == expected
