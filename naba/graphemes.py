"""User-perceived characters (Unicode extended grapheme clusters, UAX #29) near given offsets.

A code-point offset can fall inside one character as a reader sees it: between ``e`` and the
combining acute of a decomposed ``é``, between an Arabic letter and a mark such as U+08F0,
inside an emoji ZWJ sequence (man, ZWJ, woman, ZWJ, girl: one family), a flag (two regional
indicators), a keycap (``1`` U+FE0F U+20E3) or a Hangul syllable spelt in jamo. These helpers
find the cluster holding an offset exactly as the ``regex`` package's ``\\X`` cuts the whole text,
but they look only near it: back to the nearest offset that is surely a boundary, which in
ordinary text is the offset itself.

An offset ``i`` is surely a boundary when ``text[i]`` can never continue the cluster before it
(it is not LF, Extend, ZWJ, SpacingMark, a Hangul jamo or syllable, a regional indicator, an
Extended_Pictographic or an Indic conjunct consonant: every rule of UAX #29 that keeps two
characters together names one of these on its right) and ``text[i - 1]`` is not a Prepend
character (the one rule that names only its left side; CR before LF is covered by LF). Arabic
and Latin letters, digits, spaces and punctuation are all such characters, so in ordinary text the
check is a table lookup for each of the two characters; only a run of joining characters is walked
back (one reverse regex search), and never past ``floor``, a boundary the caller already knows.
That the answers are those of ``\\X`` over the whole text is tested on random strings of such
characters (tests/test_graphemes.py).
"""

from __future__ import annotations

import regex

_JOINS = (
    r"\n\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=L}\p{GCB=V}\p{GCB=T}\p{GCB=LV}\p{GCB=LVT}"
    r"\p{GCB=Regional_Indicator}\p{Extended_Pictographic}\p{InCB=Consonant}"
)
# matched at i: a cluster surely starts at i; searched backwards: the last such i
_SURE = regex.compile(rf"(?<!\p{{GCB=Prepend}})[^{_JOINS}]")
_SURE_BEFORE = regex.compile(rf"(?r)(?<!\p{{GCB=Prepend}})[^{_JOINS}]")
_CLUSTER = regex.compile(r"\X")
# the same two properties for the Basic Multilingual Plane, a byte a code point (_JOINS_BIT: may
# continue the cluster before it; _PREPEND_BIT), built from the same classes on first use (~15 ms): a
# lookup costs a fraction of a regex call, the whole of what checking an ordinary span edge costs
_JOINS_BIT, _PREPEND_BIT = 1, 2
_flags: bytes | None = None


def _bmp_flags() -> bytes:
    """The flags of each code point below U+10000: an offset ``i`` surely lies between two clusters
    when ``flags[ord(text[i])] & _JOINS_BIT`` and ``flags[ord(text[i - 1])] & _PREPEND_BIT`` are 0."""
    global _flags
    if _flags is None:
        chars = "".join(map(chr, range(0x10000)))
        table = bytearray(0x10000)
        for m in regex.finditer(rf"[{_JOINS}]+", chars):
            table[m.start() : m.end()] = bytes([_JOINS_BIT]) * (m.end() - m.start())
        for m in regex.finditer(r"\p{GCB=Prepend}", chars):
            table[m.start()] |= _PREPEND_BIT
        _flags = bytes(table)
    return _flags


def _sure(text: str, i: int) -> bool:
    """Whether a cluster surely starts at ``i`` (``0 < i < len(text)``), judged from ``text[i - 1]``
    and ``text[i]`` alone; ``False`` means "maybe not"."""
    here, before = ord(text[i]), ord(text[i - 1])
    if here < 0x10000 and before < 0x10000:
        flags = _flags or _bmp_flags()
        return not (flags[here] & _JOINS_BIT or flags[before] & _PREPEND_BIT)
    return _SURE.match(text, i) is not None


def cluster(text: str, i: int, floor: int = 0) -> tuple[int, int]:
    """The ``[start, end)`` of the grapheme cluster holding ``text[i]`` (``0 <= i < len(text)``).

    ``floor`` must be a cluster boundary at or before ``i`` (0, the text's start, always is): the
    search for the cluster's start never goes back past it.
    """
    if not 0 <= floor <= i < len(text):
        raise ValueError(f"cluster: offset {i} (floor {floor}) is outside a text of {len(text)} characters")
    if i == floor or _sure(text, i):
        at = i
    else:
        found = _SURE_BEFORE.search(text, floor, i + 1)
        at = found.start() if found else floor
    for m in _CLUSTER.finditer(text, at):
        if m.end() > i:
            return m.start(), m.end()
    raise AssertionError("unreachable: the clusters from a boundary at or before i cover i")


def is_boundary(text: str, i: int, floor: int = 0) -> bool:
    """Whether offset ``i`` lies between two grapheme clusters of ``text`` (0 and ``len(text)`` do);
    ``floor``, a cluster boundary at or before ``i``, bounds the search back (:func:`cluster`)."""
    if i <= 0 or i >= len(text) or _sure(text, i):
        return True
    return cluster(text, i, floor)[0] == i


def snap(text: str, start: int, end: int, floor: int = 0) -> tuple[int, int]:
    """``[start, end)`` widened to whole grapheme clusters: ``start`` back to the start of the
    cluster holding ``text[start]``, ``end`` on to the end of the one holding ``text[end - 1]``.

    ``0 <= start < end <= len(text)``; ``floor``, a cluster boundary, bounds the search back
    (:func:`cluster`; one after ``start`` is ignored). Edges already on boundaries stay where they
    are; telling so takes a table lookup each for letters, digits, spaces and punctuation (called
    once a predicted span, this is the fast path).
    """
    flags, n = _flags or _bmp_flags(), len(text)
    if 0 < start < n:
        here, before = ord(text[start]), ord(text[start - 1])
        if here > 0xFFFF or before > 0xFFFF or flags[here] & _JOINS_BIT or flags[before] & _PREPEND_BIT:
            start = cluster(text, start, floor if floor <= start else 0)[0]
    if 0 < end < n:
        here, before = ord(text[end]), ord(text[end - 1])
        if here > 0xFFFF or before > 0xFFFF or flags[here] & _JOINS_BIT or flags[before] & _PREPEND_BIT:
            end = cluster(text, end - 1, start)[1]
    return start, end
