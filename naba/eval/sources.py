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
from naba.corpus.fileio import finish, is_int, json_line, parse_json, read_text, unknown_label
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
    """Predicted documents from ``path``: ``naba predict`` JSONL (``.jsonl``) or any corpus format.

    ``options`` go to the corpus reader (e.g. ``{"bio_repair": "begin"}`` for CoNLL files).
    """
    path = Path(path)
    if format in (None, "predictions") and path.suffix.lower() == ".jsonl":
        return _read_prediction_jsonl(path, gold, scheme=scheme)
    if format == "predictions":
        raise DataError(Problem(str(path), "", "the predictions format is JSON Lines (.jsonl)"))
    from naba.corpus.formats import read

    return by_position(read(path, format=format, scheme=scheme, **(options or {})), gold)


def by_position(pred: list[Document], gold: Sequence[Document]) -> list[Document]:
    """``pred`` with the gold ids when no id matches but the texts match in the same order.

    Token-file formats (CoNLL) name documents after the file (``pred-00003``), so a predictions
    file of the same sentences has other ids than the gold file; the texts still pair them.
    """
    gold_ids = {d.id for d in gold}
    if any(d.id in gold_ids for d in pred) or len(pred) != len(gold):
        return pred
    if any(p.text != g.text for p, g in zip(pred, gold, strict=True)):
        return pred
    return [Document(g.id, p.text, p.spans, p.meta) for p, g in zip(pred, gold, strict=True)]


def _read_prediction_jsonl(path: Path, gold: Sequence[Document], *, scheme: LabelScheme) -> list[Document]:
    source = str(path)
    texts = {d.id: d.text for d in gold}
    problems: list[Problem] = []
    found: list[tuple[str, Document]] = []
    for n, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            record = parse_json(line, source=source, line=n)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        doc = _prediction(record, texts, scheme, problems, source=source, where=where)
        if doc is not None:
            found.append((where, doc))
    return finish(found, problems, scheme, source=source)


def _prediction(
    record: Any, texts: dict[str, str], scheme: LabelScheme, problems: list[Problem], *, source: str, where: str
) -> Document | None:
    def bad(reason: str) -> None:
        problems.append(Problem(source, where, reason))

    if not isinstance(record, dict):
        bad(f"expected a JSON object, got {type(record).__name__}")
        return None
    doc_id = record.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        bad(f"'id' must be a non-empty string, got {doc_id!r}")
        return None
    text = record.get("text", texts.get(doc_id))
    if not isinstance(text, str):
        bad(f"no 'text' in the record and no gold document with id {doc_id!r}")
        return None
    raw = record.get("spans", [])
    if not isinstance(raw, list):
        bad(f"'spans' must be a list, got {type(raw).__name__}")
        return None
    spans, scores = [], []
    for k, item in enumerate(raw):
        if not isinstance(item, dict):
            bad(f"span {k}: expected an object, got {type(item).__name__}")
            continue
        start, end, label = item.get("start"), item.get("end"), item.get("label")
        if not is_int(start) or not is_int(end) or not isinstance(label, str):
            bad(f"span {k}: needs integer 'start', 'end' and a string 'label', got {start!r}, {end!r}, {label!r}")
            continue
        if "text" in item and 0 <= start < end <= len(text) and item["text"] != text[start:end]:
            bad(f"span {k} [{start}, {end}): 'text' is {item['text']!r} but the document has {text[start:end]!r}")
            continue
        try:
            mapped = scheme.normalize(label)
        except KeyError:
            bad(f"span {k}: {unknown_label(label, scheme)}")
            continue
        if mapped is None:
            continue
        spans.append(Span(start, end, mapped))
        score = item.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            scores.append({"start": start, "end": end, "label": mapped, "score": float(score)})
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


def predictions_jsonl(docs: Sequence[Document]) -> str:
    """Predicted documents as JSONL that :func:`read_predictions` (and the native reader) read back."""
    lines = []
    for doc in docs:
        scores = {(s["start"], s["end"], s["label"]): s["score"] for s in doc.meta.get("scores", [])}
        spans = []
        for s in doc.spans:
            item: dict[str, Any] = s.to_dict()
            if (s.start, s.end, s.label) in scores:
                item["score"] = scores[(s.start, s.end, s.label)]
            spans.append(item)
        lines.append(json_line({"id": doc.id, "text": doc.text, "spans": spans}))
    return "".join(lines)
