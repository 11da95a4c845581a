"""Where predictions come from: a model (through naba's Tagger) or a predictions file.

A predictions file is any corpus format naba reads, or a JSONL file of ``naba predict``'s output
shape ``{"id", "spans": [{"start", "end", "label", "score"?, ...}], "text"?}`` where a missing
``text`` is taken from the gold document of the same id. Span scores are kept in the predicted
document's ``meta["scores"]`` as ``[{"start", "end", "label", "score"}]`` so the error report
can show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from naba.corpus.document import Document, Span
from naba.corpus.fileio import JSONL_SUFFIXES, Report, json_line, read_jsonl_documents
from naba.corpus.jsonl import parse_span
from naba.corpus.labels import LabelScheme
from naba.errors import DataError, Problem


def is_model(path: str | Path) -> bool:
    """True for a checkpoint folder or a run folder with ``best/`` (what the Tagger loads)."""
    p = Path(path)
    return (p / "naba.json").is_file() or (p / "best" / "naba.json").is_file()


def read_predictions(
    path: str | Path,
    gold: Sequence[Document],
    *,
    scheme: LabelScheme,
    format: str | None = None,
    options: dict[str, Any] | None = None,
) -> list[Document]:
    """Predicted documents from ``path``: ``naba predict`` JSONL (``.jsonl``, ``.ndjson``) or any corpus format.

    ``options`` go to the corpus reader (e.g. ``{"bio_repair": "begin"}`` for CoNLL files).
    """
    path = Path(path)
    if format in (None, "predictions") and is_prediction_jsonl(path):
        return _read_prediction_jsonl(path, gold, scheme=scheme)
    if format == "predictions":
        raise DataError(Problem(str(path), "", f"the predictions format is JSON Lines ({', '.join(JSONL_SUFFIXES)})"))
    from naba.corpus.formats import read

    return by_position(read(path, format=format, scheme=scheme, **(options or {})), gold)


def is_prediction_jsonl(path: str | Path) -> bool:
    """True for a file name that ``naba predict`` output may have (what naba predict and render read as JSONL)."""
    return Path(path).suffix.lower() in JSONL_SUFFIXES


def by_position(pred: list[Document], gold: Sequence[Document]) -> list[Document]:
    """``pred`` with the gold ids when no id matches but the texts match in the same order.

    Token-file formats (CoNLL) name documents after the file (``pred-00003``), so a predictions
    file of the same sentences has other ids than the gold file; the texts still pair them. Where
    some texts match and others do not (a sentence tokenised otherwise), they are paired all the
    same, so that the check that follows names the sentences whose texts differ.
    """
    gold_ids = {d.id for d in gold}
    if any(d.id in gold_ids for d in pred) or len(pred) != len(gold):
        return pred
    if all(p.text != g.text for p, g in zip(pred, gold, strict=True)):
        return pred
    return [Document(g.id, p.text, p.spans, p.meta) for p, g in zip(pred, gold, strict=True)]


def _read_prediction_jsonl(path: Path, gold: Sequence[Document], *, scheme: LabelScheme) -> list[Document]:
    texts = {d.id: d.text for d in gold}
    return read_jsonl_documents(path, scheme, lambda record, bad, _line: _prediction(record, texts, scheme, bad))


def _prediction(record: Any, texts: dict[str, str], scheme: LabelScheme, bad: Report) -> Document | None:
    if not isinstance(record, dict):
        bad(f"expected a JSON object, got {type(record).__name__}")
        return None
    doc_id = record.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        bad(f"'id' must be a non-empty string, got {doc_id!r}")
        return None
    text = record.get("text", texts.get(doc_id))
    if "text" in record and not isinstance(text, str):
        bad(f"'text' must be a string, got {text!r}")
        return None
    if not isinstance(text, str):
        bad(f"no 'text' in the record and no gold document with id {doc_id!r}")
        return None
    raw = record.get("spans", [])
    if not isinstance(raw, list):
        bad(f"'spans' must be a list, got {type(raw).__name__}")
        return None
    spans, scores = [], []
    for k, item in enumerate(raw):
        span = parse_span(item, text, scheme, bad, f"span {k}")
        if span is None:
            continue
        spans.append(span)
        score = item.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            try:
                scores.append({"start": span.start, "end": span.end, "label": span.label, "score": float(score)})
            except OverflowError:  # an integer of 400 digits is JSON, but no float holds it
                bad(f"span {k}: 'score' is out of range")
    meta = {"scores": scores} if scores else {}
    return Document(doc_id, text, spans, meta)


def predict(model: str | Path, gold: Sequence[Document], *, batch_size: int | None = None) -> tuple[list[Document], tuple[str, ...]]:
    """Tag the gold texts with a model; returns predicted documents and the model's layers."""
    # torch and transformers are imported only when a model is actually evaluated
    from naba.predict import Tagger

    tagger = Tagger.from_pretrained(model)
    found = tagger([d.text for d in gold], batch_size=batch_size) if gold else []
    out = []
    for doc, spans in zip(gold, found, strict=True):
        out.append(
            Document(
                doc.id,
                doc.text,
                [Span(s["start"], s["end"], s["label"]) for s in spans],
                {"scores": [{k: s[k] for k in ("start", "end", "label", "score")} for s in spans]},
            )
        )
    return out, tuple(tagger.space.layers)


def span_scores(doc: Document) -> dict[tuple[int, int, str], float]:
    """``{(start, end, label): score}`` of a predicted document's spans, from ``meta["scores"]``."""
    scores: dict[tuple[int, int, str], float] = {}
    found = doc.meta.get("scores")
    # a corpus file's meta may hold anything under "scores"; only naba's own list is read
    for item in found if isinstance(found, list) else []:
        try:
            scores[(int(item["start"]), int(item["end"]), str(item["label"]))] = float(item["score"])
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit integer
            continue
    return scores


def predictions_jsonl(docs: Sequence[Document]) -> str:
    """Predicted documents as JSONL that :func:`read_predictions` (and the native reader) read back."""
    lines = []
    for doc in docs:
        scores = span_scores(doc)
        spans = []
        for s in doc.spans:
            item: dict[str, Any] = s.to_dict()
            if (s.start, s.end, s.label) in scores:
                item["score"] = scores[(s.start, s.end, s.label)]
            spans.append(item)
        lines.append(json_line({"id": doc.id, "text": doc.text, "spans": spans}))
    return "".join(lines)
