"""Documents and spans: the one data model every reader produces and every writer consumes.

Offsets are Python code points over the original text, end exclusive. naba never alters
``Document.text``; preparation for a model happens on a copy with an offset map (naba.text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Span:
    """A labelled character range ``text[start:end]`` of a document."""

    start: int
    end: int
    label: str

    def to_dict(self) -> dict[str, Any]:
        """``{"start", "end", "label"}``, as the native JSONL format writes a span."""
        return {"start": self.start, "end": self.end, "label": self.label}


@dataclass
class Document:
    """One annotated text: ``id``, original ``text``, character ``spans`` and free ``meta``."""

    id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spans = sorted(self.spans, key=lambda s: (s.start, -s.end, s.label))

    def span_text(self, span: Span) -> str:
        """The characters ``span`` covers in this document's text."""
        return self.text[span.start : span.end]

    def spans_of(self, labels: set[str] | frozenset[str]) -> list[Span]:
        """The spans with one of ``labels`` (a layer's, say), in document order."""
        return [s for s in self.spans if s.label in labels]

    def to_dict(self) -> dict[str, Any]:
        """The native JSONL record of this document (``meta`` only when not empty)."""
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "spans": [s.to_dict() for s in self.spans],
        }
        if self.meta:
            out["meta"] = self.meta
        return out
