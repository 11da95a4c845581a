"""Label Studio JSON: a list of tasks with ``data.text`` and ``annotations[].result[]`` (or ``predictions``).

Offsets: some Label Studio versions wrote JavaScript UTF-16 code-unit offsets, later ones code
points (label-studio issues #1347, #1559, #4988). With ``offsets="auto"`` (default) the reader
decides per task: it reads every region both ways and keeps the reading under which every
``value.text`` equals the text at the offsets (or, where no reading fits exactly, equals it but for
runs of whitespace, which Label Studio writes in ``value.text`` as one space: issues #3078, #5338);
UTF-16 offsets are converted to code points here, at the edge. A task where neither reading fits is an error naming its regions, and so is one where
both fit at different places (text repeated after emoji: in "🇪🇬🇪🇬 مصر مصر", two flags of two
code points each, the first مصر at UTF-16 [9, 12) is the second one at code points [9, 12)),
which no check can settle. A region
without ``value.text`` is accepted only where both readings agree (no character outside the BMP
before its end). ``offsets="codepoints"`` or ``"utf16"`` says the unit instead: every region is
read in it, and must still match its ``value.text`` where it has one.

Annotations or predictions: ``source="annotations"`` reads a task's ``annotations`` (old exports
that call them ``completions`` are read the same way); ``source="predictions"`` its
``predictions``, the pre-annotations a model made (``[{"model_version", "score", "result"}]``,
what ``naba predict --format labelstudio`` writes); ``source="auto"`` (default) decides per task:
its annotations when it has any (even cancelled ones: a person has looked at it), else its
predictions. A file where some tasks are annotated and others only pre-annotated is an error
under ``"auto"``, which would mix people's spans with a model's (read as gold, a model would be
scored against or trained on its own output): say which to read. Offsets of
predictions are decoded as those of annotations (code points or UTF-16, checked against
``value.text``).

``annotation="first"`` (default) takes the first annotation (or prediction) not marked
``was_cancelled``; ``"last"`` the last such one; an integer picks the i-th whatever its state. A
task with none is a document without spans. Only results of ``type`` ``"labels"`` (a Text
object's) are spans; spans of a HyperText or Paragraphs object (``"hypertextlabels"``,
``"paragraphlabels"``) are an error, not dropped; other results (choices, relations, text areas)
are ignored; a region's ``score`` is ignored. A region with several labels gives one span each.
``data.meta`` (an object) becomes :attr:`Document.meta`. The id is ``str(data["id"])``, else
``str(task["id"])``, else ``f"{file stem}-{i:05d}"`` (0-based task index) for a task without one
(an import file): Label Studio replaces a task's own ``id`` with one of its own on import, so
naba's writers put the document's id in ``data.id`` too, where it survives a round trip.

One text per task: ``data[text_key]``, shown by one Text object, the ``to_name`` of its regions. A
labelling config with two (a title and a body) places each region in its object's text, so regions
are read from one object only: ``to_name`` names it (the others' regions are skipped), else it is
the one object a task's regions are on; regions on several objects are an error, and so is a file
where none is on the object named (a misspelt name). Regions on an object whose name is another
string field of ``data`` (``to_name`` "title" beside ``data.title``, read in ``data.text``) are an
error too: say ``text_key``; or, where that object does show ``data[text_key]`` (``<Text name="text"
value="$body"/>`` beside a ``data.text`` of its own), name both ``to_name`` and ``text_key``. A region without ``to_name``, or with a null one (a hand-written import), is on the one read.
"""

from __future__ import annotations

import json
import re
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
    finish,
    flags,
    is_int,
    map_label,
    meta_of,
    parse_json,
    read_text,
    utf16_offsets,
    utf16_to_cp,
)
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError, DataError, Problem

OFFSETS = ("codepoints", "utf16")
# span results of the other text-like objects, which naba cannot place in data.text
_NOT_TEXT = {"hypertextlabels": "HyperText", "paragraphlabels": "Paragraphs"}
SOURCES = ("auto", "annotations", "predictions")
_SPACES = re.compile(r"\s+")  # a run of whitespace, which Label Studio's value.text holds as one space


def read_labelstudio(
    path: str | Path,
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    annotation: str | int = "first",
    text_key: str | None = None,
    to_name: str | None = None,
    source: str = "auto",
    offsets: str = "auto",
) -> list[Document]:
    """Read a Label Studio JSON export or import file.

    ``text_key`` names the ``data`` field holding the text (default ``"text"``), ``to_name`` the
    Text object whose regions are read (default: the one object a task's regions are on); ``source`` (``"auto"``,
    ``"annotations"`` or ``"predictions"``) and ``annotation`` say which result is read;
    ``offsets`` (``"auto"``, ``"codepoints"`` or ``"utf16"``) their unit (see the module's
    documentation).
    """
    if annotation not in ("first", "last") and not is_int(annotation):
        raise ConfigError(f"annotation must be 'first', 'last' or an index, got {annotation!r}")
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {SOURCES}, got {source!r}")
    if offsets not in ("auto", *OFFSETS):
        raise ConfigError(f"offsets must be one of {('auto', *OFFSETS)}, got {offsets!r}")
    said = text_key is not None and to_name is not None  # both named: the object shows data[text_key]
    text_key = "text" if text_key is None else text_key
    path = Path(path)
    file = str(path)
    tasks = parse_json(read_text(path), source=file)
    if not isinstance(tasks, list):
        raise DataError(Problem(file, "", f"expected a JSON list of tasks, got {type(tasks).__name__}"))
    problems: list[Problem] = []
    found: list[tuple[str, Document]] = []
    sources: dict[str, list[str]] = {"annotations": [], "predictions": []}
    objects: set[str] = set()  # the to_name of every span region in the file
    for i, task in enumerate(tasks):
        task_id = task.get("id") if isinstance(task, dict) else None
        where = f"task {i} (id={task_id})" if task_id is not None else f"task {i}"
        if source == "auto" and isinstance(task, dict):
            key = _results_key(task, source)
            if task.get(key):
                sources["predictions" if key == "predictions" else "annotations"].append(where)

        def bad(reason: str, where: str = where) -> None:
            problems.append(Problem(file, where, reason))

        doc = _document(
            task, scheme, bad, annotation=annotation, source=source, text_key=text_key, offsets=offsets,
            default_id=f"{path.stem}-{i:05d}", to_name=to_name, objects=objects, said=said,
        )
        if doc is not None:
            found.append((where, doc))
    if sources["annotations"] and sources["predictions"]:
        # people's spans in some tasks and a model's in others: read as one corpus (gold to train or
        # score on), the model would be scored against, or trained on, its own output
        fallback = sources["predictions"]
        problems.append(Problem(file, "", (
            f"{len(fallback)} task(s) have no annotation but predictions (a model's pre-annotations; first: "
            f"{', '.join(fallback[:3])}), beside {len(sources['annotations'])} annotated task(s): say which to read, "
            f"source='annotations' ({flags(('source', 'annotations'))}: the unannotated tasks get no spans) or "
            "'predictions', or "
            "export the annotated tasks alone")))
    if to_name is not None and objects and to_name not in objects:
        # every region skipped as another object's: a misspelt name would read the file as unannotated
        problems.append(Problem(file, "", f"no region is on object to_name={to_name!r}; the regions are on "
                                f"{', '.join(map(repr, sorted(objects)))}"))
    return finish(found, problems, scheme, source=file)


def _document(
    task: Any,
    scheme: LabelScheme,
    bad: Report,
    *,
    annotation: str | int,
    source: str,
    text_key: str,
    offsets: str,
    default_id: str,
    to_name: str | None,
    objects: set[str],
    said: bool,
) -> Document | None:
    if not isinstance(task, dict):
        bad(f"expected a task object, got {type(task).__name__}")
        return None
    data = task.get("data")
    if not isinstance(data, dict) or not isinstance(data.get(text_key), str):
        if data is None and isinstance(task.get(text_key), str):
            bad(f"task needs 'data.{text_key}' as a string: this one has '{text_key}' at the top level, as "
                "Label Studio's JSON-MIN export writes tasks: export as JSON (the full format) instead")
        else:
            bad(f"task needs 'data.{text_key}' as a string")
        return None
    text = data[text_key]
    # Label Studio gives imported tasks ids of its own: the document's id travels in data.id
    field = "data.id" if data.get("id") is not None else "id"
    task_id = data["id"] if field == "data.id" else task.get("id", default_id)
    if not (isinstance(task_id, str) or is_int(task_id)):
        bad(f"'{field}' must be a string or an integer, got {task_id!r}")
        return None
    meta = meta_of(data, bad, name="data.meta")
    result = _chosen(task, _results_key(task, source), annotation, bad)
    regions = _regions(_on_one_object(result, bad, data=data, text_key=text_key, to_name=to_name, objects=objects,
                                      said=said), bad)
    spans = []
    for name, start, end, label in _decode_offsets(text, regions, bad, offsets=offsets):
        mapped = map_label(label, scheme, bad, name)
        if mapped is not None:
            spans.append(Span(start, end, mapped))
    return Document(str(task_id), text, spans, meta)


def _results_key(task: dict, source: str) -> str:
    """The task's key whose list the result is read from: annotations, completions or predictions."""
    if source == "predictions":
        return "predictions"
    key = "annotations" if "annotations" in task else "completions"
    if source == "auto" and task.get(key) in (None, []) and "predictions" in task:
        return "predictions"
    return key


def _chosen(task: dict, key: str, annotation: str | int, bad: Report) -> list:
    """The ``result`` list of the chosen item of ``task[key]`` (empty when there is none)."""
    anns = task.get(key, [])
    if not isinstance(anns, list) or not all(isinstance(a, dict) for a in anns):
        bad(f"'{key}' must be a list of objects")
        return []
    if is_int(annotation):
        if not -len(anns) <= annotation < len(anns):
            bad(f"annotation index {annotation} out of range: the task has {len(anns)} {key[:-1]}(s)")
            return []
        picked: dict | None = anns[annotation]
    else:
        live = [a for a in anns if not a.get("was_cancelled")]
        picked = (live[0] if annotation == "first" else live[-1]) if live else None
    if picked is None:
        return []
    result = picked.get("result", [])
    if not isinstance(result, list):
        bad(f"'result' must be a list, got {type(result).__name__}")
        return []
    return result


def _on_one_object(
    result: list, bad: Report, *, data: dict, text_key: str, to_name: str | None, objects: set[str], said: bool
) -> list:
    """``result`` less the span regions of other objects than the one read (its ``to_name``).

    A task's Text objects (a title and a body) each have their own text: a region placed in one
    and read in another would be a span at the wrong place. ``said``: the caller named both the
    object and the field (``<Text name="text" value="$body"/>`` beside a ``data.text`` of its own).
    """
    spans = [(k, item) for k, item in enumerate(result)
             if isinstance(item, dict) and item.get("type") in ("labels", *_NOT_TEXT)]
    on: dict[str, list[str]] = {}
    for k, item in spans:
        if isinstance(item.get("to_name"), str):
            on.setdefault(item["to_name"], []).append(repr(item.get("id", k)))
    objects.update(on)
    if to_name is not None:
        # a region without to_name (a hand-written import; or null) is taken to be on the object named
        other = {id(item) for _, item in spans if item.get("to_name") is not None and item["to_name"] != to_name}
        result = [item for item in result if id(item) not in other]
        kept = [repr(item.get("id", k)) for k, item in spans if id(item) not in other]
        on = {to_name: kept} if kept else {}
    elif len(on) > 1:
        bad("regions on several objects (" + "; ".join(f"to_name {o!r}: region(s) {', '.join(ids[:3])}"
                                                       for o, ids in sorted(on.items()))
            + f"): naba reads the spans of one Text object, in data.{text_key}: say which with to_name= "
            f"({flags(('to_name', None))}) and, where its text is in another data field, text_key= "
            f"({flags(('text_key', None))})")
        return []
    for obj in on:
        if not said and obj != text_key and isinstance(data.get(obj), str):
            bad(f"regions of object {obj!r} (to_name; region(s) {', '.join(on[obj][:3])}) would be read "
                f"in data.{text_key}, but data.{obj} is a text of its own: read them with text_key={obj!r} "
                f"({flags(('text_key', obj))}), or, where object {obj!r} shows data.{text_key}, say both "
                f"to_name={obj!r} and text_key={text_key!r} ({flags(('to_name', obj), ('text_key', text_key))})")
            return []
    return result


def _regions(result: list, bad: Report) -> list[tuple[str, Any, Any, str | None, str]]:
    """``(name, start, end, value.text or None, label)`` for each label of each ``labels`` region."""
    out = []
    for k, item in enumerate(result):
        if not isinstance(item, dict) or item.get("type") not in ("labels", *_NOT_TEXT):
            continue
        name = f"region {item.get('id', k)!r}" if isinstance(item.get("id", k), str | int) else f"region {k}"
        if item["type"] in _NOT_TEXT:
            # labelled spans all the same, but placed by XPath or paragraph, not by offsets into the
            # text: skipping them would read the task as one without spans
            bad(f"{name}: a {item['type']!r} region ({_NOT_TEXT[item['type']]} object) is not read; naba reads "
                "spans of a Text object (type 'labels')")
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            bad(f"{name}: 'value' must be an object")
            continue
        start, end, labels, shown = value.get("start"), value.get("end"), value.get("labels"), value.get("text")
        if not is_int(start) or not is_int(end):
            bad(f"{name}: value.start and value.end must be integers, got {start!r} and {end!r}")
            continue
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            bad(f"{name}: value.labels must be a non-empty list of strings, got {labels!r:.80}")
            continue
        if shown is not None and not isinstance(shown, str):
            bad(f"{name}: value.text must be a string, got {type(shown).__name__}")
            continue
        out.extend((name, start, end, shown, label) for label in labels)
    return out


def _decode_offsets(text: str, regions: list, bad: Report, *, offsets: str = "auto") -> list[tuple[str, int, int, str]]:
    """Regions in code points: read in the unit ``offsets`` names, or with ``"auto"`` in the one
    unit under which every region's ``value.text`` is the text at its offsets."""
    if not regions:
        return []
    to_cp = utf16_to_cp(text)

    def as_cp(start: int, end: int) -> tuple[int, int]:
        return start, end

    def as_utf16(start: int, end: int) -> tuple[int, int] | None:
        if start not in to_cp or end not in to_cp:
            return None
        return to_cp[start], to_cp[end]

    readings = {"codepoints": as_cp, "utf16": as_utf16}
    units = {"codepoints": "code points", "utf16": "UTF-16 code units"}

    def matches(got: tuple[int, int] | None, start: int, end: int, shown: str | None, loose: bool = True) -> bool:
        if got is None:
            return False
        if shown is None:
            # Without the text only the unit given, or agreement of both readings, makes the offsets safe.
            return offsets != "auto" or as_utf16(start, end) == (start, end)
        if not 0 <= got[0] < got[1] <= len(text):
            return False
        there = text[got[0] : got[1]]
        # Label Studio writes value.text with each run of whitespace as one space (label-studio issues
        # #3078, #5338: "4   cm" shown as "4 cm", the offsets the text's): equal but for that, loose. Each run
        # becomes one space, none is dropped: whitespace at an edge of one and not the other is an offset
        # off by one (the space before a word taken in), not Label Studio's doing
        return there == shown or loose and _SPACES.sub(" ", there) == _SPACES.sub(" ", shown)

    def fits(unit: str, loose: bool) -> bool:
        return all(matches(readings[unit](s, e), s, e, shown, loose) for _, s, e, shown, _ in regions)

    tried = list(readings) if offsets == "auto" else [offsets]
    # an exact match first: whitespace alone does not make a second unit fit where one fits exactly
    fitting = [unit for unit in tried if fits(unit, False)] or [unit for unit in tried if fits(unit, True)]
    moved = [] if len(fitting) < 2 else [f"{name} [{s}, {e})" for name, s, e, _, _ in regions if as_cp(s, e) != as_utf16(s, e)]
    if moved:
        # every value.text is found both ways, at different places (repeated text after characters
        # outside the BMP): either choice would be a guess
        bad("offsets fit the text both as code points and as UTF-16 code units, at different places ("
            + "; ".join(moved[:5]) + "): say which with offsets='codepoints' or 'utf16' "
            f"({flags(('offsets', None))})")
        return []
    if fitting:
        reading = readings[fitting[0]]
        return [(name, *reading(s, e), label) for name, s, e, _, label in regions]
    wrong = []
    length16 = max(to_cp)  # the text's length in UTF-16 code units
    limit = max(len(text) if unit == "codepoints" else length16 for unit in tried)
    size = f"{len(text)} characters" + (f", {length16} UTF-16 code units" if length16 != len(text) else "")
    for name, start, end, shown, _ in regions:
        got = readings[tried[0]](start, end)
        if matches(got, start, end, shown):
            continue
        if not 0 <= start < end or end > limit:
            wrong.append(f"{name} [{start}, {end}) is not a non-empty range within the text ({size})")
        elif shown is None:
            wrong.append(f"{name} [{start}, {end}) has no value.text to tell UTF-16 from code-point offsets: say "
                         f"which with offsets='codepoints' or 'utf16' ({flags(('offsets', None))})")
        elif got is None:
            wrong.append(f"{name} [{start}, {end}) splits a character outside the BMP")
        else:
            wrong.append(f"{name} [{start}, {end}) value.text {shown!r} but the text there is {text[got[0] : got[1]]!r}")
    unit = "match the text neither as code points nor as UTF-16 code units" if offsets == "auto" else (
        f"do not match the text as {units[offsets]}")
    hint = ""
    if _LINK.fullmatch(text):
        # <Text valueType="url">: Label Studio showed (and the annotator marked) the text behind the link
        hint = (f"; the task's text is a link ({text[:80]!r}): a Text object with valueType=\"url\" loads its "
                "text from there, which naba does not fetch: put the text itself in the task")
    bad(f"offsets {unit}: " + "; ".join(wrong[:5]) + hint)
    return []


# a task's "text" that is a link to the text (Label Studio's valueType="url" and its uploaded files)
_LINK = re.compile(r"(?:https?|s3|gs|azure-blob)://\S+|/data/(?:upload|local-files)/\S+")


def write_labelstudio(
    docs: Iterable[Document],
    path: str | Path,
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    offsets: str = "codepoints",
    from_name: str = "label",
    to_name: str = "text",
) -> None:
    """Write a Label Studio JSON import/export file, offsets as code points or ``"utf16"``.

    Every region carries ``value.text`` so that a reader can tell the offset unit.
    ``from_name``/``to_name`` must match the labelling config's control and object names.
    """
    if offsets not in OFFSETS:
        raise ConfigError(f"offsets must be one of {OFFSETS}, got {offsets!r}")
    tasks = []
    for i, doc in enumerate(check_for_write(docs, scheme)):
        result = []
        ends = [x for s in doc.spans for x in (s.start, s.end)]
        units = utf16_offsets(doc.text, ends) if offsets == "utf16" else None
        for k, span in enumerate(doc.spans):
            start, end = (span.start, span.end) if units is None else (units[span.start], units[span.end])
            value = {"start": start, "end": end, "text": doc.span_text(span), "labels": [span.label]}
            result.append(
                {"id": f"r{k}", "type": "labels", "from_name": from_name, "to_name": to_name, "value": value}
            )
        data: dict[str, Any] = {"text": doc.text, "id": external_id(doc.id)}  # kept by Label Studio, unlike the task's id
        if doc.meta:
            # meta is the one part that may not be JSON; checked here to name its document
            document_line(doc.meta, where=f"document {i} (id={doc.id})")
            data["meta"] = doc.meta
        tasks.append({"id": external_id(doc.id), "data": data, "annotations": [{"result": result}]})
    atomic_write(path, json.dumps(tasks, ensure_ascii=False, allow_nan=False, indent=1) + "\n")
