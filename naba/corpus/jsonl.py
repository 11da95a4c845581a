"""naba's native JSON Lines format: one document per line.

``{"id": str, "text": str, "spans": [{"start": int, "end": int, "label": str}], "meta": {...}}``;
``spans`` and ``meta`` may be left out. A span may carry ``"text"`` (checked against the document
text) and other keys such as a score (ignored). Unknown top-level keys are an error, so a typo such
as ``"span"`` cannot silently drop annotations. Blank lines are skipped; a BOM at the start of a line
(files saved with one and joined with ``cat``) is dropped.

The writer is canonical: spans sorted, ``meta`` only when not empty, ``json.dumps`` with
``ensure_ascii=False``, ``\\n`` line ends; reading a file it wrote and writing again gives the
same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from naba.corpus.document import Document, Span
from naba.corpus.fileio import (
    Report,
    atomic_write,
    check_for_write,
    document_line,
    flags,
    is_int,
    map_label,
    meta_of,
    read_jsonl_documents,
)
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme

_KEYS = {"id", "text", "spans", "meta"}


def read_jsonl(path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME) -> list[Document]:
    """Read a native JSONL file; raise one :class:`DataError` listing every problem found."""
    return read_jsonl_documents(path, scheme, lambda record, bad, _line: _document(record, scheme, bad))


def _document(record: Any, scheme: LabelScheme, bad: Report) -> Document | None:
    if not isinstance(record, dict):
        bad(f"expected a JSON object, got {type(record).__name__}")
        return None
    unknown = sorted(set(record) - _KEYS)
    if unknown:
        hint = ""
        if {"label", "labels", "entities"} & set(unknown) and "spans" not in record:
            # doccano's export has .jsonl too, so a file named by its extension lands here
            hint = f": a doccano export? read it as doccano ({flags(('format', 'doccano'))}, format='doccano')"
        bad(f"unknown key(s) {unknown}; a native record has {sorted(_KEYS)}{hint}")
    doc_id, text = record.get("id"), record.get("text")
    if not isinstance(doc_id, str) or not doc_id:
        bad(f"'id' must be a non-empty string, got {doc_id!r}")
        return None
    if not isinstance(text, str):
        bad(f"'text' must be a string, got {type(text).__name__}")
        return None
    meta = meta_of(record, bad)
    raw_spans = record.get("spans", [])
    if not isinstance(raw_spans, list):
        bad(f"'spans' must be a list, got {type(raw_spans).__name__}")
        raw_spans = []
    spans = []
    for k, item in enumerate(raw_spans):
        span = parse_span(item, text, scheme, bad, f"span {k}")
        if span is not None:
            spans.append(span)
    return Document(doc_id, text, spans, meta)


def parse_span(item: Any, text: str, scheme: LabelScheme, bad: Report, name: str) -> Span | None:
    """The span of a ``{"start", "end", "label", "text"?}`` object over ``text``, or ``None``.

    ``None`` when the scheme drops the label, or when something is wrong, which is reported
    through ``bad`` prefixed with ``name``. Other keys (a score) are left to the caller.
    """
    if not isinstance(item, dict):
        bad(f"{name}: expected an object with start, end, label, got {type(item).__name__}")
        return None
    start, end, label = item.get("start"), item.get("end"), item.get("label")
    if not is_int(start) or not is_int(end):
        bad(f"{name}: 'start' and 'end' must be integers, got {start!r} and {end!r}")
        return None
    if not isinstance(label, str):
        bad(f"{name}: 'label' must be a string, got {label!r}")
        return None
    if "text" in item and 0 <= start < end <= len(text) and item["text"] != text[start:end]:
        bad(f"{name} [{start}, {end}): 'text' is {item['text']!r} but the document has {text[start:end]!r}")
        return None
    mapped = map_label(label, scheme, bad, name)
    return None if mapped is None else Span(start, end, mapped)


def write_jsonl(docs: Iterable[Document], path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME) -> None:
    """Write documents as native JSONL (canonical form, atomic); invalid documents raise DataError."""
    atomic_write(path, jsonl_text(docs, scheme=scheme))


def jsonl_text(docs: Iterable[Document], *, scheme: LabelScheme = DEFAULT_SCHEME) -> str:
    """The text :func:`write_jsonl` writes for ``docs``; invalid documents raise DataError."""
    return "".join(
        document_line(doc.to_dict(), where=f"document {i} (id={doc.id})")
        for i, doc in enumerate(check_for_write(docs, scheme))
    )
