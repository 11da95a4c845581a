"""Predictions out to annotation tools: Label Studio pre-annotations, brat folders, CoNLL files.

Each export takes ``(id, text, spans)`` triples as the tagger makes them. Label Studio gets
``predictions`` (what annotators start from), with offsets in code points or, on request, in
UTF-16 code units (what Label Studio's browser side counts), each region carrying its ``text``
so that readers can tell the unit. brat and CoNLL go through naba.corpus's writers; CoNLL holds
one layer on whitespace tokens, so spans are widened to whole tokens there (lossy by nature).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from naba.corpus.document import Document, Span
from naba.corpus.fileio import atomic_open, external_id, staged_files, utf16_offsets
from naba.corpus.labels import LabelScheme
from naba.errors import ConfigError, DataError, Problem

OFFSETS = ("codepoints", "utf16")
FORMATS = ("jsonl", "labelstudio", "brat", "conll")

Row = tuple[str, str, list[dict[str, Any]]]


def labelstudio_task(
    doc_id: str,
    text: str,
    spans: list[dict[str, Any]],
    *,
    offsets: str = "codepoints",
    model_version: str = "naba",
    from_name: str = "label",
    to_name: str = "text",
) -> dict[str, Any]:
    """One Label Studio task with the spans as a ``predictions`` entry.

    The prediction's ``score`` is the mean span score (0.0 without spans), so that Label
    Studio's uncertainty ordering puts the least sure documents first.
    """
    if offsets not in OFFSETS:
        raise ConfigError(f"offsets must be one of {OFFSETS}, got {offsets!r}")
    units = utf16_offsets(text, [x for s in spans for x in (s["start"], s["end"])]) if offsets == "utf16" else None
    result = []
    for k, span in enumerate(spans):
        start, end = span["start"], span["end"]
        if units is not None:
            start, end = units[start], units[end]
        value = {"start": start, "end": end, "text": text[span["start"] : span["end"]], "labels": [span["label"]]}
        region: dict[str, Any] = {
            "id": f"p{k}", "from_name": from_name, "to_name": to_name, "type": "labels", "value": value,
        }
        if "score" in span:
            region["score"] = span["score"]
        result.append(region)
    scores = [float(s["score"]) for s in spans if "score" in s]
    score = round(sum(scores) / len(scores), 4) if scores else 0.0
    return {
        "id": external_id(doc_id),
        "data": {"text": text, "id": external_id(doc_id)},  # Label Studio replaces the task's id on import
        "predictions": [{"model_version": model_version, "score": score, "result": result}],
    }


def write_labelstudio(rows: Iterable[Row], path: str | Path, **options: Any) -> tuple[int, int]:
    """Write a Label Studio import file (a JSON list of tasks), streaming; returns (written, skipped empty)."""
    count = skipped = 0
    with atomic_open(path) as out:
        out.write("[")
        for doc_id, text, spans in rows:
            if not text.strip():
                skipped += 1  # naba.corpus refuses empty documents: the file would not read back
                continue
            out.write(",\n" if count else "\n")
            out.write(json.dumps(labelstudio_task(doc_id, text, spans, **options), ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    return count, skipped


def to_document(doc_id: str, text: str, spans: list[dict[str, Any]]) -> Document:
    """A corpus Document of a prediction (scores and layers dropped: the scheme knows layers)."""
    return Document(doc_id, text, [Span(s["start"], s["end"], s["label"]) for s in spans])


def write_brat(rows: Iterable[Row], folder: str | Path, *, scheme: LabelScheme) -> tuple[int, int]:
    """``<id>.txt`` + ``<id>.ann`` per document under ``folder``; returns (written, skipped empty).

    The files are written as one set (naba.corpus.fileio.staged_files): a failure part way (a full
    disk, an id found unfit here by naba.corpus.brat.id_problem) leaves none of them. Where the rows
    can be read twice, :func:`check_brat_ids` finds unfit ids before any document is written. A
    folder holding brat documents of other ids (an earlier export) is a DataError, nothing written.
    """
    from naba.corpus.brat import brat_files, id_problem, other_documents

    check_brat_folder(folder)
    written = skipped = 0
    seen: dict[str, str] = {}
    with staged_files(folder) as put:
        for number, (doc_id, text, spans) in enumerate(rows):
            if not text.strip():
                skipped += 1  # naba.corpus refuses empty documents
                continue
            reason = id_problem(doc_id, seen)
            if reason is not None:
                raise DataError(Problem(str(folder), f"document {number} (id={doc_id})", reason))
            # one document at a time, its files staged on disk: memory stays flat
            for path, content in brat_files([to_document(doc_id, text, spans)], Path(folder), scheme=scheme):
                put(path, content)
            written += 1
        # a brat folder is not replaced like a file: an earlier export's documents would stay and read
        # back beside these (naba data convert refuses such a folder too); raised here, nothing is moved in
        stale = other_documents(folder, set(seen.values()))
        if stale:
            more = ", ..." if len(stale) > 5 else ""
            reason = f"holds brat documents not in the predictions ({', '.join(stale[:5])}{more}); write to a new or empty folder"
            raise DataError(Problem(str(folder), "", reason), about="the output")
    return written, skipped


def check_brat_folder(folder: str | Path) -> None:
    """A DataError if ``folder`` cannot take a brat export: a file stands there, or its name ends in
    ``.ann``/``.txt``, which naba.corpus.brat.write_brat takes for one document's file (each
    document would overwrite the one before)."""
    from naba.corpus.brat import has_suffix

    folder = Path(folder)
    if has_suffix(folder, ".ann") or has_suffix(folder, ".txt"):
        reason = "a brat export is a folder of files, and this name is one brat file's; choose a folder name"
        raise DataError(Problem(str(folder), "", reason))
    if folder.exists() and not folder.is_dir():
        raise DataError(Problem(str(folder), "", "a brat export is a folder, and a file stands there"))


def check_brat_ids(rows: Iterable[Row], folder: str | Path) -> None:
    """A DataError naming every document of ``rows`` (empty ones aside, as :func:`write_brat`
    leaves them out) whose id cannot have brat files of its own under ``folder``."""
    from naba.corpus.brat import id_problem

    seen: dict[str, str] = {}
    problems = [
        Problem(str(folder), f"document {number} (id={doc_id})", reason)
        for number, (doc_id, text, _) in enumerate(rows)
        if text.strip() and (reason := id_problem(doc_id, seen)) is not None
    ]
    if problems:
        raise DataError(problems)


_TOKEN = re.compile(r"\S+")


def token_aligned(text: str, spans: list[dict[str, Any]], *, layer: str) -> list[dict[str, Any]]:
    """The spans of one ``layer`` widened to whole whitespace tokens of one line, without overlaps.

    A span whose boundary falls inside a token (a clitic: و + حماة) takes the whole token; a span
    running over a line break is cut at it (CoNLL sentences are lines); a span that then overlaps
    an earlier one is dropped.
    """
    out: list[dict[str, Any]] = []
    for span in sorted((s for s in spans if s.get("layer") == layer), key=lambda s: (s["start"], -s["end"])):
        start = _token_start(text, span["start"])
        # the line the span's first token is on: from a start on the line break before it, the cut
        # at that break left nothing, and the span was dropped
        line_end = text.find("\n", start)
        end = span["end"] if line_end < 0 else min(span["end"], line_end)
        end = _token_end(text, end)
        if start >= end or (out and start < out[-1]["end"]):
            continue
        out.append({**span, "start": start, "end": end, "text": text[start:end]})
    return out


def _token_start(text: str, pos: int) -> int:
    # past the whitespace first: a start on the space after a token is not inside that token
    while pos < len(text) and text[pos].isspace():
        pos += 1
    while pos > 0 and not text[pos - 1].isspace():
        pos -= 1
    return pos


def _token_end(text: str, pos: int) -> int:
    # back over the whitespace first: an end on the space before a token is not inside that token
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1
    while pos < len(text) and not text[pos].isspace():
        pos += 1
    return pos


def _conll_text(text: str) -> str:
    """``text`` with the tokens a CoNLL file cannot hold (direction marks alone, ``-DOCSTART-``)
    blanked to spaces of the same length, so that every offset stays where it was."""
    from naba.corpus.conll import is_docstart, strip_marks

    def blank(m: re.Match) -> str:
        token = m.group()
        return token if strip_marks(token) and not is_docstart(token) else " " * len(token)

    return _TOKEN.sub(blank, text)


def write_conll(rows: Iterable[Row], path: str | Path, *, layer: str, scheme: LabelScheme) -> tuple[int, int]:
    """An IOB2 file of one layer's spans (``-DOCSTART-`` between documents); (written, skipped empty).

    naba.corpus's writer takes the documents at once, so this export holds them in memory.
    """
    from naba.corpus.conll import write_conll as write_all

    if layer not in scheme.layers:
        raise ConfigError(f"no layer {layer!r} to export; the model has {list(scheme.layers)}")
    docs, skipped = [], 0
    for doc_id, text, spans in rows:
        text = _conll_text(text)
        if not text.strip():  # empty, or nothing but tokens a CoNLL file cannot hold
            skipped += 1
            continue
        docs.append(to_document(doc_id, text, token_aligned(text, spans, layer=layer)))
    write_all(docs, path, scheme=scheme.restrict([layer]), docstart=True)
    return len(docs), skipped


def read_rows(path: str | Path) -> Iterator[Row]:
    """``(id, text, spans)`` from a predictions JSONL file written with its text (``--with-text``)."""
    path = Path(path)
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                yield str(obj["id"]), obj["text"], obj["spans"]
            except (UnicodeDecodeError, ValueError, KeyError, TypeError):
                raise DataError(
                    Problem(str(path), f"line {number}", "not a prediction line with 'id', 'text' and 'spans'")
                ) from None
