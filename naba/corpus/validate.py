"""Checks shared by every reader: offsets, labels, same-layer overlaps, ids, empty documents.

Besides these problems, which make a file invalid, :func:`character_warnings` finds what is allowed
but suspicious: a span whose start or end falls inside a user-perceived character (``naba data
validate`` prints such spans as warnings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from naba.corpus.document import Document, Span
from naba.corpus.labels import LabelScheme, origin_note
from naba.errors import Problem

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (U+D800-U+DFFF): no character, and UTF-8 cannot encode it."""
    return _SURROGATE.search(text) is not None


def check_spans(
    text: str,
    spans: Iterable[Span],
    scheme: LabelScheme,
    *,
    source: str,
    where: str,
    span_where: Sequence[str] | None = None,
) -> list[Problem]:
    """Problems with ``spans`` over ``text``: range, order, unknown label, same-layer overlap.

    ``span_where``: a locator per span (a brat file's ``line 3 (T3)``); an overlap is then placed
    at the two spans' locators instead of at ``where``."""
    problems: list[Problem] = []
    good: list[tuple[Span, str]] = []
    for i, span in enumerate(spans):
        desc = f"span [{span.start}, {span.end}) {span.label}"
        # bool is an int to Python, but JSON writes it as true, which no reader takes for an offset
        wrong = [x for x in (span.start, span.end) if not isinstance(x, int) or isinstance(x, bool)]
        if wrong:
            kind = type(wrong[0])
            # pandas and numpy hand out numpy integers, which print like ints
            hint = " (int(x) makes one)" if kind.__module__ == "numpy" and "int" in kind.__name__ else ""
            problems.append(Problem(source, where, f"{desc}: offsets must be integers, got {kind.__name__}{hint}"))
            continue
        if span.start < 0 or span.end > len(text):
            problems.append(
                Problem(source, where, f"{desc}: out of range for a text of {len(text)} characters")
            )
            continue
        if span.start >= span.end:
            problems.append(Problem(source, where, f"{desc}: start must be before end"))
            continue
        if span.label not in scheme.labels:
            known = f"(known: {list(scheme.labels)}){origin_note(scheme)}"
            problems.append(Problem(source, where, f"{desc}: unknown label {span.label!r} {known}"))
            continue
        good.append((span, where if span_where is None else span_where[i]))
    by_layer: dict[str, list[tuple[Span, str]]] = {}
    for span, at in good:
        by_layer.setdefault(scheme.layer_of(span.label), []).append((span, at))
    for layer, layer_spans in by_layer.items():
        layer_spans.sort(key=lambda pair: pair[0])
        # the span reaching furthest so far: every later span inside it overlaps
        reach: tuple[Span, str] | None = None
        for b, at_b in layer_spans:
            prior, reach = reach, (b, at_b) if reach is None or b.end > reach[0].end else reach
            if prior is not None and b.start < prior[0].end:
                a, at_a = prior
                problems.append(
                    Problem(
                        source,
                        at_a if at_a == at_b else f"{at_a} and {at_b}",
                        f"spans overlap in layer {layer!r}: [{a.start}, {a.end}) {a.label} "
                        f"{text[a.start:a.end]!r} and [{b.start}, {b.end}) {b.label} {text[b.start:b.end]!r}",
                    )
                )
    return problems


def check_document(
    doc: Document, scheme: LabelScheme, *, source: str, where: str, span_where: Sequence[str] | None = None
) -> list[Problem]:
    """Problems with one document: empty or non-string text, bad id, lone surrogates, meta that JSON
    would not give back (:func:`meta_problem`), :func:`check_spans` (``span_where`` as there)."""
    problems: list[Problem] = []
    if not isinstance(doc.id, str) or not doc.id:
        problems.append(Problem(source, where, f"document id must be a non-empty string, got {doc.id!r}"))
    if not isinstance(doc.text, str):
        problems.append(Problem(source, where, "document text must be a string"))
        return problems
    if not doc.text.strip():
        problems.append(Problem(source, where, "empty document (no text)"))
    for name, value in (("id", doc.id), ("text", doc.text)):
        # possible only for documents made in memory: the readers reject lone surrogates
        found = _SURROGATE.search(value) if isinstance(value, str) else None
        if found:
            reason = f"document {name} holds a lone surrogate at {found.start()}: not a character"
            problems.append(Problem(source, where, reason))
    reason = meta_problem(doc.meta)
    if reason is not None:
        problems.append(Problem(source, where, reason))
    problems.extend(check_spans(doc.text, doc.spans, scheme, source=source, where=where, span_where=span_where))
    return problems


def meta_problem(meta: object) -> str | None:
    """Why ``meta`` would not read back as itself from a JSON format, or ``None``: not a dict (the
    readers refuse anything else, and the CoNLL writer looks keys up in it), or a key somewhere that
    is not a string (JSON writes ``1`` as ``"1"``, silently)."""
    if not isinstance(meta, dict):
        return f"meta must be a dict, got {type(meta).__name__}"
    stack: list[object] = [meta]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            bad = [k for k in item if not isinstance(k, str)]
            if bad:
                return f"meta key {bad[0]!r} is not a string: JSON would write it as {json.dumps(bad[0])!r}"
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def check_unique_ids(docs: Iterable[tuple[str, Document]], *, source: str) -> list[Problem]:
    """Duplicate ids across documents; ``docs`` pairs each document with its locator."""
    first: dict[str, str] = {}
    problems = []
    for where, doc in docs:
        if doc.id in first:
            problems.append(Problem(source, where, f"duplicate id {doc.id!r} (first seen at {first[doc.id]})"))
        else:
            first[doc.id] = where
    return problems


def character_warnings(doc: Document, *, source: str) -> list[Problem]:
    """Spans of ``doc`` whose start or end falls inside a user-perceived character (an extended
    grapheme cluster, UAX #29): after ``e`` but before its combining accent in an NFD ``é``, between
    an Arabic letter and a mark such as U+08F0, inside an emoji ZWJ sequence, a flag or a keycap.

    Such a span is valid (its offsets are fine), so this is a warning, not a problem: but a model's
    predicted spans never split a character (naba.decode widens them to whole ones), so a gold span
    that does can never be matched exactly, and an annotation tool most likely cut it by mistake.
    Each warning names the document (``where``: its id), the span and the character, with its range,
    its code points and the span widened to whole characters. ``doc`` is one a reader returned
    (offsets checked); spans whose offsets are not in range are skipped.
    """
    from naba.graphemes import cluster, snap

    # a cluster boundary at or before the next span's start (spans come sorted by start): without it each
    # search back ran to the text's start, quadratic in a long run of emoji, which has no surer boundary
    text, out, floor = doc.text, [], 0
    for span in doc.spans:
        start, end = span.start, span.end
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            continue
        # widened to whole clusters: an edge that moves splits one (a table lookup each, for most edges)
        a, b = snap(text, start, end, floor if floor <= start else 0)
        floor = a
        if (a, b) == (start, end):
            continue
        inside = [("starts", cluster(text, start, a))] if a != start else []
        if b != end:
            inside.append(("ends", cluster(text, end - 1, a)))
        parts = [f"{how} inside the character {_shown(text, x, y)}" for how, (x, y) in inside]
        out.append(
            Problem(
                source,
                f"document {doc.id!r}",
                f"span [{start}, {end}) {span.label} {text[start:end]!r} {' and '.join(parts)}; "
                f"predicted spans never split one, so none can match this span exactly "
                f"(in whole characters: [{a}, {b}) {text[a:b]!r})",
            )
        )
    return out


def _shown(text: str, a: int, b: int) -> str:
    """A cluster as warnings show it: its range, its text and its code points (at most 8)."""
    points = " ".join(f"U+{ord(c):04X}" for c in text[a : min(b, a + 8)]) + (" ..." if b - a > 8 else "")
    return f"[{a}, {b}) {text[a:b]!r} ({points})"
