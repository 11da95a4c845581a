"""What callers hand the Tagger, checked before anything is tagged.

A notebook passes anything: ``None``, bytes, a dict, a DataFrame, a pandas Series with a NaN, ``batch_size=0``.
Each is an error that says what was given and what to pass, naming list items by their index in
the input, instead of a traceback from deep inside (or, for bytes, dicts and DataFrames, a quiet
wrong answer: iterated, bytes are ints and a dict or a DataFrame is its keys).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from naba.errors import DataError, Problem

T = TypeVar("T")
# documents encoded, tagged and decoded together by default: the unit of streaming (and of the
# batch job's writes)
CHUNK_DOCS = 256


def text_of(item: Any) -> Any:
    """The text of a tagger input: a str, an object or named tuple with ``.text`` (Document, Record, a
    DataFrame.itertuples() row) or an ``(id, text)`` pair."""
    if isinstance(item, str):
        return item
    # a named tuple with a text field (DataFrame.itertuples()) is read by name: as a pair, one of
    # (text, id) tagged its id
    if isinstance(item, tuple) and len(item) == 2 and "text" not in getattr(item, "_fields", ()):
        return item[1]
    return getattr(item, "text", item)


def texts_of(items: list[T], text: Callable[[T], str], *, first: int = 0) -> list[str]:
    """The texts of ``items`` (the ``first``-th of the input onwards); a DataError names each item
    whose text is not a str by its index, and why."""
    texts = [text(item) for item in items]
    problems = [
        Problem("<memory>", f"item {first + i} ({item!r:.60})", not_a_text(t))
        for i, (item, t) in enumerate(zip(items, texts, strict=True))
        if not isinstance(t, str)
    ]
    if problems:
        raise DataError(problems)
    return texts


def not_a_text(value: Any) -> str:
    reason = f"text must be a str, got {type(value).__name__}"
    if isinstance(value, bytes | bytearray):
        return reason + ": decode it first (value.decode('utf-8'))"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return reason + " (a missing text?)"
    return reason


def iterable_of_texts(texts: Any, name: str) -> Iterable[Any]:
    """``texts`` if it is an iterable of texts; a TypeError saying what it is and what to pass if not."""
    kind = type(texts).__name__
    if isinstance(texts, bytes | bytearray | memoryview):
        # iterated, bytes are ints: the error named "item 0: got int"
        raise TypeError(f"{name} must be a str or an iterable of str, got {kind}: decode it first (.decode('utf-8'))")
    if isinstance(texts, Mapping):
        # iterated, a dict gives its keys: {"text": ...} tagged the word "text"
        raise TypeError(
            f"{name} must be a str or an iterable of str, got {kind}: pass list(d.values()), or "
            "tag_documents(d.items()) for (key, text) pairs"
        )
    if kind == "DataFrame" and type(texts).__module__.startswith("pandas"):
        # iterated, a pandas DataFrame gives its column names: tagger(df) tagged the word "text"
        raise TypeError(f"{name} must be a str or an iterable of str, got DataFrame: pass one column, df['text']")
    if not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a str or an iterable of str, got {kind}")
    return texts


def check_switch(name: str, value: Any) -> None:
    """``value`` is True, False or None (where it applies): ``fast_path=0`` or ``"off"``, not ``False``,
    left the fast path on."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be True, False or None, not {value!r}")


def check_counts(**counts: Any) -> None:
    """Each of ``counts`` is None (the default) or a whole number, 1 or more (``workers``: 0 or more).

    ``batch_size=0`` or a negative one ran one window a batch, and ``chunk_docs=0`` tagged nothing.
    """
    for name, value in counts.items():
        least = 0 if name == "workers" else 1
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"{name} must be a whole number, {least} or more (None: the default), not {value!r}")
