"""HTML helpers shared by the pages naba writes (predictions in naba.predict.render, reports).

The one hard part is turning character spans, which may nest and cross (a CLAIM holding an ACTOR;
an ACTOR running past a CLAIM's end), into properly nested elements: :func:`nest_spans` cuts the
text at every span boundary and opens and closes elements between the pieces, splitting a span
into continued parts where it crosses another. All text is escaped.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Sequence


def escape(text: str) -> str:
    """Text or attribute value escaped for HTML (``<``, ``>``, ``&``, both quotes)."""
    return html.escape(text, quote=True)


def nest_spans(
    text: str,
    spans: Sequence[tuple[int, int]],
    open_tag: Callable[[int, bool], str],
    *,
    close_tag: str = "</span>",
    rank: Callable[[int], int] | None = None,
) -> str:
    """``text`` as escaped HTML with an element around each ``(start, end)`` span.

    ``open_tag(i, continued)`` gives the opening tag of span ``i``; ``continued`` is true for the
    second and later parts of a span split where it crosses another. Where spans have the same
    start, the longer one is outside; for equal extents, the lower ``rank(i)`` is outside.
    Empty spans and spans outside the text are left out.
    """
    n = len(text)
    valid = [i for i, (s, e) in enumerate(spans) if 0 <= s < e <= n]
    outer = {i: (spans[i][0], -spans[i][1], rank(i) if rank else 0, i) for i in valid}
    cuts = sorted({0, n, *(spans[i][0] for i in valid), *(spans[i][1] for i in valid)})
    starting: dict[int, list[int]] = {}
    ending: dict[int, list[int]] = {}
    for i in valid:
        starting.setdefault(spans[i][0], []).append(i)
        ending.setdefault(spans[i][1], []).append(i)
    parts: list[str] = []
    # the open elements, outermost first, always in ``outer`` order; ``depth`` is each one's index
    stack: list[int] = []
    depth: dict[int, int] = {}
    opened: set[int] = set()
    for a, b in itertools.pairwise(cuts):
        # spans start and end only at cuts. Work is kept to what changes at a cut (not a sort of
        # every open span at every cut, quadratic for thousands of nested claims): the spans that
        # end here are closed with all inside them, and those still open are opened again; the
        # spans that start here sort after every open one (a later start), so they go innermost.
        ended = ending.get(a, ())
        keep = min((depth[i] for i in ended), default=len(stack))
        gone = set(ended)
        reopen = [i for i in stack[keep:] if i not in gone]
        for i in stack[keep:]:
            del depth[i]
        parts.append(close_tag * (len(stack) - keep))
        del stack[keep:]
        for i in reopen + sorted(starting.get(a, ()), key=outer.__getitem__):
            parts.append(open_tag(i, i in opened))
            opened.add(i)
            depth[i] = len(stack)
            stack.append(i)
        piece = escape(text[a:b])
        if text[b - 1] == "\r" and text[b : b + 1] == "\n":
            # a CR LF cut by a tag is two line breaks to an HTML parser (a CR alone is one); as a
            # reference the CR stays a CR, which is drawn as a space
            piece = piece[:-1] + "&#13;"
        parts.append(piece)
    parts.append(close_tag * len(stack))
    return "".join(parts)
