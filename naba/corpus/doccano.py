"""doccano sequence-labelling exports (JSON Lines), in the shapes doccano has written.

* ``{"id": 1, "text": "...", "label": [[start, end, "LABEL"], ...]}`` (doccano >= 1.6 "label";
  doccano 1.0-1.5 wrote the same triples under ``"labels"``, read the same way; 1.4-1.5 also wrote the
  text as ``"data"``, read as ``"text"`` in a record without one)
* ``{"id": 1, "text": "...", "entities": [{"id": 7, "start_offset": 0, "end_offset": 5,
  "label": "LABEL"}], "relations": [...]}`` (the relation-aware export)
* ``{"id": 1, "text": "...", "entities": [[start, end, "LABEL"], ...], "cats": [...]}`` (an intent
  detection and slot filling project's export: its spans read, its categories ignored)

doccano 0.x's export, ``"annotations": [{"label": 7, "start_offset": 0, "end_offset": 5, "user": 1}]``,
names each label by the project's id, which the file does not map to a name: a record with
``annotations`` is an error (saying what to do), not a document without spans; so is naba's native
``spans`` (a native JSONL file read as doccano by mistake).

Offsets are UTF-16 code units, as doccano counts them (its browser side: an emoji is 2; doccano
issue #2290), converted to code points here, at the edge; ``offsets="codepoints"`` reads (and
writes) files whose offsets were counted in Python instead. A text without characters outside the
BMP reads the same either way. doccano projects set to count grapheme clusters as one character
use a third unit, which no option here reads.

``id`` is optional: a record without one gets ``f"{file stem}-{line:05d}"`` (1-based line number),
stable as long as the line does not move. ``meta`` (an object, or null: none) is kept; other keys (``Comments``, ``relations``, ...) are ignored. doccano does not store
span text, so spans are checked for range, order, label and same-layer overlap only.
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
    external_id,
    flags,
    is_int,
    map_label,
    meta_of,
    read_jsonl_documents,
    utf16_offsets,
    utf16_to_cp,
)
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError

SHAPES = ("label", "entities")
OFFSETS = ("utf16", "codepoints")


def read_doccano(
    path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME, offsets: str = "utf16"
) -> list[Document]:
    """Read a doccano JSONL export (either shape, even mixed); one DataError lists every problem.

    ``offsets`` is the file's unit: ``"utf16"`` (doccano's) or ``"codepoints"``.
    """
    _check_offsets(offsets)
    stem = Path(path).stem
    return read_jsonl_documents(
        path, scheme,
        lambda record, bad, line: _document(record, scheme, bad, default_id=f"{stem}-{line:05d}", offsets=offsets),
    )


def _check_offsets(offsets: str) -> None:
    if offsets not in OFFSETS:
        raise ConfigError(f"doccano offsets must be one of {OFFSETS}, got {offsets!r}")


def _document(record: Any, scheme: LabelScheme, bad: Report, *, default_id: str, offsets: str) -> Document | None:
    if not isinstance(record, dict):
        bad(f"expected a JSON object, got {type(record).__name__}")
        return None
    # some doccano 1.x versions (about 1.4-1.5) exported the text as "data" (doccano issue #1522)
    key = "text" if "text" in record or "data" not in record else "data"
    text = record.get(key)
    if not isinstance(text, str):
        bad(f"'{key}' must be a string, got {type(text).__name__}")
        return None
    raw_id = record.get("id", default_id)
    if isinstance(raw_id, str) or is_int(raw_id):
        doc_id = str(raw_id)
    else:
        bad(f"'id' must be a string or an integer, got {raw_id!r}")
        return None
    # doccano (>= 1.6) writes its export with pandas, which fills a key that only some records
    # have ("meta" among them, when naba's writer left it out of a document without meta) with null
    meta = meta_of(record, bad) if record.get("meta") is not None else {}
    length16 = len(text.encode("utf-16-le")) // 2
    # only a text with characters outside the BMP has UTF-16 offsets that differ from code points
    to_cp = utf16_to_cp(text) if offsets == "utf16" and length16 != len(text) else None
    spans = []
    for name, start, end, label in _triples(record, bad):
        if not is_int(start) or not is_int(end):
            bad(f"{name}: offsets must be integers, got {start!r} and {end!r}")
            continue
        if not isinstance(label, str):
            bad(f"{name}: label must be a string, got {label!r}")
            continue
        if to_cp is not None:
            if start not in to_cp or end not in to_cp:
                inside = 0 <= start <= length16 and 0 <= end <= length16
                bad(f"{name} [{start}, {end}): " + ("splits a character outside the BMP" if inside else
                    f"out of range for a text of {length16} UTF-16 code units") + " (offsets read as UTF-16 "
                    "code units, doccano's; offsets='codepoints' ("
                    + flags(("offsets", "codepoints")) + ") reads code points)")
                continue
            start, end = to_cp[start], to_cp[end]
        mapped = map_label(label, scheme, bad, name)
        if mapped is not None:
            spans.append(Span(start, end, mapped))
    return Document(doc_id, text, spans, meta)


def _triples(record: dict, bad: Report) -> list[tuple[str, Any, Any, Any]]:
    """``(name, start, end, label)`` from either export shape, reporting malformed items."""
    key = "label" if "label" in record else "labels"  # doccano 1.0-1.5 wrote "labels"
    labels, entities = record.get(key), record.get("entities")
    old = record.get("annotations")
    if isinstance(old, list) and old:
        # doccano 0.x's export: the labels are the project's ids, whose names the file does not hold;
        # ignored like other keys, its spans would be lost and the document read as unannotated
        bad(f"'annotations' ({len(old)} span(s), first {old[0]!r:.80}) is doccano 0.x's export, whose labels are "
            "the project's label ids, not names: naba does not read it; export the project from doccano >= 1.0 "
            "(JSONL: 'label': [[start, end, name]]), or write the label names in as 'label' triples")
        return []
    native = record.get("spans")
    if isinstance(native, list) and native and not labels and not entities:
        # naba's own JSONL named as doccano: ignored like other keys, its spans would be lost and
        # every document read (and validated) as unannotated
        bad(f"'spans' ({len(native)} span(s)) is naba's native JSONL, not a doccano export: read the file "
            f"without {flags(('format', 'doccano'))} (format='jsonl')")
        return []
    if labels and entities:
        bad(f"record has both '{key}' and 'entities'; a doccano export has one of them")
        return []
    out = []
    if entities:
        if not isinstance(entities, list):
            bad(f"'entities' must be a list, got {type(entities).__name__}")
            return []
        for k, item in enumerate(entities):
            if isinstance(item, list) and len(item) == 3:
                # an intent detection and slot filling project exports its spans as triples under "entities"
                out.append((f"entities[{k}]", *item))
                continue
            if not isinstance(item, dict) or not {"start_offset", "end_offset", "label"} <= set(item):
                bad(f"entities[{k}]: expected an object with start_offset, end_offset, label, or [start, end, "
                    f"label], got {item!r:.80}")
                continue
            out.append((f"entities[{k}]", item["start_offset"], item["end_offset"], item["label"]))
    elif labels:
        if not isinstance(labels, list):
            bad(f"'{key}' must be a list of [start, end, label], got {type(labels).__name__}")
            return []
        if all(isinstance(item, str) for item in labels):
            # a text classification project exports each document's categories under the same key
            bad(f"'{key}' holds categories ({labels!r:.80}), not [start, end, label] spans: a doccano text "
                "classification export? naba reads sequence labelling exports")
            return []
        for k, item in enumerate(labels):
            if not isinstance(item, list) or len(item) != 3:
                bad(f"{key}[{k}]: expected [start, end, label], got {item!r:.80}")
                continue
            out.append((f"{key}[{k}]", *item))
    return out


def write_doccano(
    docs: Iterable[Document],
    path: str | Path,
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    shape: str = "label",
    offsets: str = "utf16",
) -> None:
    """Write a doccano JSONL file; ``shape`` is ``"label"`` (triples) or ``"entities"`` (objects),
    ``offsets`` ``"utf16"`` (what doccano counts) or ``"codepoints"``."""
    if shape not in SHAPES:
        raise ConfigError(f"doccano shape must be one of {SHAPES}, got {shape!r}")
    _check_offsets(offsets)
    lines = []
    for i, doc in enumerate(check_for_write(docs, scheme)):
        record: dict[str, Any] = {"id": external_id(doc.id), "text": doc.text}
        ends = [x for s in doc.spans for x in (s.start, s.end)]
        unit = utf16_offsets(doc.text, ends) if offsets == "utf16" else {x: x for x in ends}
        if shape == "label":
            record["label"] = [[unit[s.start], unit[s.end], s.label] for s in doc.spans]
        else:
            record["entities"] = [
                {"id": k, "start_offset": unit[s.start], "end_offset": unit[s.end], "label": s.label}
                for k, s in enumerate(doc.spans)
            ]
            record["relations"] = []
        if doc.meta:
            record["meta"] = doc.meta
        lines.append(document_line(record, where=f"document {i} (id={doc.id})"))
    atomic_write(path, "".join(lines))
