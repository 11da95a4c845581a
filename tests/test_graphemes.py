"""naba.graphemes: the cluster around an offset, found near it, is the one ``\\X`` finds over the whole text."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from naba.graphemes import cluster, is_boundary, snap

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man ZWJ woman ZWJ girl: one emoji
SA, EG = "\U0001F1F8\U0001F1E6", "\U0001F1EA\U0001F1EC"  # two regional indicators each


def clusters(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in regex.finditer(r"\X", text)]


def owner(text: str, i: int) -> tuple[int, int]:
    return next(span for span in clusters(text) if span[0] <= i < span[1])


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        # NFD Latin: the combining accent belongs to the letter before it, at either edge
        ("Jose\u0301 x", 0, 4, (0, 5)),
        ("E\u0301mile", 0, 1, (0, 2)),
        ("E\u0301mile", 1, 6, (0, 6)),
        ("Jose\u0301 Mari\u0301a", 0, 10, (0, 11)),
        # an Arabic letter and a mark outside naba's deleted list (Arabic Extended-A)
        ("محمد\u08f0 قال", 0, 4, (0, 5)),
        ("مح\u08d3\u08f0مد", 0, 2, (0, 4)),
        ("مح\u08f0مد", 3, 5, (3, 5)),  # the letter after the mark starts a cluster of its own
        # emoji ZWJ sequence: any member is the whole family
        (f"x {FAMILY} y", 2, 3, (2, 7)),
        (f"x {FAMILY} y", 4, 5, (2, 7)),
        (f"x {FAMILY} y", 6, 7, (2, 7)),
        # flags: regional indicators pair from the start of their run
        (f"{SA}{EG}", 1, 2, (0, 2)),
        (f"{SA}{EG}", 1, 3, (0, 4)),
        (f"{SA}{EG}", 2, 3, (2, 4)),
        # keycaps
        ("1\ufe0f\u20e3 #\ufe0f\u20e3", 0, 1, (0, 3)),
        ("1\ufe0f\u20e3 #\ufe0f\u20e3", 4, 5, (4, 7)),
        # Hangul jamo (L V T) make one syllable; a precomposed syllable is one already
        ("\u1100\u1161\u11a8\uac00", 1, 2, (0, 3)),
        ("\u1100\u1161\u11a8\uac00", 3, 4, (3, 4)),
        # a Prepend mark (end of ayah) joins the digit after it
        ("\u06dd١٢", 1, 3, (0, 3)),
        # CR LF is one cluster
        ("a\r\nb", 2, 4, (1, 4)),
        # ordinary Arabic with diacritics and tatweel: its edges are already boundaries
        ("قالَ الجَيشُ", 5, 12, (5, 12)),
        ("قالَ الجَيشُ", 5, 11, (5, 12)),  # cutting the damma off the shin: it comes back
        ("الجيـــش", 0, 8, (0, 8)),
        ("الجيـــش", 0, 4, (0, 4)),  # tatweel is a letter of its own to UAX #29
    ],
)
def test_snap_widens_to_whole_clusters(text: str, start: int, end: int, expected: tuple[int, int]) -> None:
    assert snap(text, start, end) == expected
    assert expected == (owner(text, start)[0], owner(text, end - 1)[1])
    a, b = expected
    assert is_boundary(text, a) and is_boundary(text, b)


def test_cluster_and_is_boundary_at_the_edges_of_the_text() -> None:
    assert is_boundary("", 0)
    assert is_boundary("e\u0301", 0) and not is_boundary("e\u0301", 1) and is_boundary("e\u0301", 2)
    assert cluster("e\u0301", 1) == (0, 2) == cluster("e\u0301", 0)
    assert cluster("\u0301x", 0) == (0, 1)  # a mark with nothing before it is a cluster of its own
    with pytest.raises(ValueError, match="outside"):
        cluster("ab", 2)


def test_the_search_back_stops_at_the_floor() -> None:
    # a run of regional indicators: pairs count from the run's start, or from a boundary given as floor
    text = "\U0001F1E6" * 9
    assert cluster(text, 7) == (6, 8)
    assert cluster(text, 7, floor=6) == (6, 8)
    assert snap(text, 5, 6, floor=4) == (4, 6)
    assert snap(text, 5, 6, floor=6) == (4, 6)  # a floor after the start is no bound on it: ignored


# characters that make or break clusters: letters, marks, ZWJ, emoji, regional indicators, keycap
# parts, Hangul jamo and syllables, Prepend, CR LF, whitespace, an Indic conjunct, a SpacingMark
ALPHABET = [
    "a", "e", "\u0301", " ", "\r", "\n", "\t", "1", "#", "\u0628", "\u064e", "\u0640", "\u08f0", "\u200d",
    "\u200c", "\u200f", "\U0001F468", "\U0001F469", "\U0001F3FB", "\u00a9", "\U0001F1F8", "\U0001F1E6",
    "\ufe0f", "\u20e3", "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01", "\u0600", "\u06dd", "\u0915",
    "\u094d", "\u0937", "\u093f", "\u0903", "\u0b4d", "\u0e33",
]


@settings(max_examples=400, deadline=None)
@given(chars=st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=16), data=st.data())
def test_property_agrees_with_X_over_the_whole_text(chars: list[str], data: st.DataObject) -> None:
    text = "".join(chars)
    spans = clusters(text)
    bounds = {0} | {b for _, b in spans}
    assert [is_boundary(text, i) for i in range(len(text) + 1)] == [i in bounds for i in range(len(text) + 1)]
    i = data.draw(st.integers(0, len(text) - 1))
    floor = data.draw(st.sampled_from(sorted(b for b in bounds if b <= i)))
    assert cluster(text, i, floor) == owner(text, i)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assert snap(text, start, end) == (owner(text, start)[0], owner(text, end - 1)[1])
