#!/usr/bin/env python3
"""Build naba's gold JSONL files from their inline-markup sources, or check that they are current.

Sources (``data/demo/source/*.markup``, ``data/examples/source/*.markup``) hold items in the markup of
``data/GUIDELINES.md`` section 10: ``=== ID key=value`` starts an item, ``[ACTOR ...]`` and
``[LOCATION ...]`` mark entity spans, ``{CLAIM ...}`` claim spans. This script removes the markup,
keeps exact code-point offsets, validates every span (label, layer bracket, tightness, same-layer
overlap) and writes native JSONL (``data/demo/{train,dev,test}.jsonl``, ``data/examples/ID.jsonl``).

    python scripts/build_gold.py            # rebuild the gold files
    python scripts/build_gold.py --check    # exit 1 if a gold file differs from its source
    python scripts/build_gold.py --stats    # rebuild, then print counts per file and the demo's style coverage

Any markup problem stops the build with the file and line, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing naba
    sys.path.insert(0, str(ROOT))

from naba.corpus.document import Document, Span  # noqa: E402
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme  # noqa: E402
from naba.corpus.validate import check_document, check_unique_ids  # noqa: E402
from naba.errors import DataError, Problem  # noqa: E402

# Which bracket pair marks which layer: a typo such as "[CLAIM" is caught instead of silently
# producing a span in the wrong layer.
LAYER_BRACKETS = {"entity": ("[", "]"), "claim": ("{", "}")}
_CLOSER = {"[": "]", "{": "}"}
_ESCAPABLE = set("[]{}\\")
_LABEL = re.compile(r"([A-Z][A-Z_]*) ")
_HEADER = re.compile(r"=== (\S+)((?: [A-Za-z_]+=\S+)*)\s*$")
# Allowed at a span's end although they are punctuation: they belong to the number before them.
_NUMBER_SIGNS = set("%٪")


@dataclass(frozen=True)
class Gold:
    """One gold collection: a folder of markup sources and where each document is written."""

    sources: str
    target: Callable[[Document], str]
    meta: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


def _demo_target(doc: Document) -> str:
    return f"data/demo/{doc.meta['split']}.jsonl"


def _example_target(doc: Document) -> str:
    return f"data/examples/{doc.id}.jsonl"


GOLD = (
    Gold("data/demo/source", _demo_target, {"corpus": "naba-demo", "synthetic": True}, ("split",)),
    Gold(
        "data/examples/source",
        _example_target,
        {"corpus": "naba-examples", "source": "project brief (shared/seed/hama-article.txt)"},
    ),
)
SPLITS = ("train", "dev", "test")


def parse_markup(
    markup: str, *, scheme: LabelScheme = DEFAULT_SCHEME, source: str = "<memory>", line: int = 1
) -> tuple[str, list[Span]]:
    """Plain text and spans of one item's markup; raise DataError naming the line of each problem.

    ``line`` is the source line of the markup's first character, so that problems point into the
    source file.
    """
    problems: list[Problem] = []
    out: list[str] = []
    n = 0  # code points emitted so far: the offset the next character gets
    stack: list[tuple[str, str, int, int]] = []  # (opener, label, start offset, markup position)
    spans: list[tuple[Span, int]] = []

    def where(pos: int) -> str:
        return f"line {line + markup.count(chr(10), 0, pos)}"

    i = 0
    while i < len(markup):
        ch = markup[i]
        if ch == "\\":
            nxt = markup[i + 1 : i + 2]
            if nxt not in _ESCAPABLE or not nxt:
                problems.append(Problem(source, where(i), f"unknown escape \\{nxt} (escape only []{{}}\\)"))
            out.append(nxt)
            n += len(nxt)
            i += 2
            continue
        if ch in _CLOSER:
            match = _LABEL.match(markup, i + 1)
            label = match.group(1) if match else None
            if label is None or label not in scheme.labels:
                shown = markup[i : i + 12]
                problems.append(
                    Problem(
                        source, where(i), f"{shown!r}: expected a label {list(scheme.labels)} and one space"
                    )
                )
                i += 1
                continue
            layer = scheme.layer_of(label)
            if LAYER_BRACKETS[layer][0] != ch:
                problems.append(
                    Problem(
                        source,
                        where(i),
                        f"{label} is in layer {layer!r}: write {LAYER_BRACKETS[layer][0]}{label} ...",
                    )
                )
            stack.append((ch, label, n, i))
            i = match.end()
            continue
        if ch in _CLOSER.values():
            if not stack:
                problems.append(Problem(source, where(i), f"{ch!r} closes nothing"))
            else:
                opener, label, start, pos = stack.pop()
                if _CLOSER[opener] != ch:
                    problems.append(
                        Problem(source, where(i), f"{ch!r} closes {opener}{label} opened at {where(pos)}")
                    )
                spans.append((Span(start, n, label), pos))
            i += 1
            continue
        out.append(ch)
        n += 1
        i += 1
    for opener, label, _, pos in stack:
        problems.append(Problem(source, where(pos), f"{opener}{label} is never closed"))
    text = "".join(out)
    for span, pos in spans:
        reason = span_shape_problem(text, span)
        if reason:
            problems.append(Problem(source, where(pos), reason))
    if problems:
        raise DataError(problems)
    return text, [span for span, _ in spans]


def span_shape_problem(text: str, span: Span) -> str | None:
    """Why ``span`` is not tight (empty, whitespace or punctuation at an edge, cut diacritics), or None."""
    piece = text[span.start : span.end]
    desc = f"{span.label} {piece!r}"
    if not piece:
        return f"empty {span.label} span"
    first, last = piece[0], piece[-1]
    if first.isspace() or last.isspace():
        return f"{desc}: whitespace at an edge"
    if unicodedata.category(first).startswith("P"):
        return f"{desc}: starts with punctuation {first!r}"
    if unicodedata.category(last).startswith("P") and last not in _NUMBER_SIGNS:
        return f"{desc}: ends with punctuation {last!r}"
    if unicodedata.category(first) == "Mn":
        return f"{desc}: starts with a diacritic"
    if span.end < len(text) and unicodedata.category(text[span.end]) == "Mn":
        return f"{desc}: ends before the diacritic {text[span.end]!r} of its last letter"
    return None


def parse_source(
    path: Path,
    *,
    defaults: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
    source: str | None = None,
) -> list[Document]:
    """The documents of one markup source file; one DataError lists every problem in it."""
    source = source or str(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(Problem(source, "", f"cannot read: {exc}")) from None
    problems: list[Problem] = []
    items: list[tuple[int, str, dict[str, Any], list[str]]] = []
    for n, raw in enumerate(lines, 1):
        if raw.startswith("==="):
            m = _HEADER.match(raw)
            if not m:
                problems.append(
                    Problem(source, f"line {n}", f"bad item header {raw!r} (=== ID key=value ...)")
                )
                continue
            meta = dict(defaults or {})
            meta.update(pair.split("=", 1) for pair in m.group(2).split())
            items.append((n, m.group(1), meta, []))
        elif raw.startswith("#"):
            continue  # a comment; no news line starts with "#"
        elif items:
            items[-1][3].append(raw)
        elif raw.strip():
            problems.append(Problem(source, f"line {n}", "text before the first === header"))
    docs: list[tuple[str, Document]] = []
    for n, doc_id, meta, body in items:
        first = n + 1
        while body and not body[0].strip():  # blank lines around an item are layout, not text
            body.pop(0)
            first += 1
        while body and not body[-1].strip():
            body.pop()
        where = f"line {n} (id={doc_id})"
        missing = [key for key in required if key not in meta]
        if missing:
            problems.append(Problem(source, where, f"header lacks {missing}"))
            continue
        try:
            text, spans = parse_markup("\n".join(body), source=source, line=first)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        doc = Document(doc_id, text, spans, meta)
        problems.extend(check_document(doc, DEFAULT_SCHEME, source=source, where=where))
        docs.append((where, doc))
    if problems:
        raise DataError(problems)
    return [doc for _, doc in docs]


def build(root: Path = ROOT) -> dict[Path, str]:
    """Every gold file's content, keyed by path, computed from the sources under ``root``."""
    outputs: dict[str, list[Document]] = {}
    problems: list[Problem] = []
    for gold in GOLD:
        files = sorted((root / gold.sources).glob("*.markup"))
        if not files:
            problems.append(Problem(str(root / gold.sources), "", "no *.markup sources"))
        docs: list[tuple[str, Document]] = []
        for path in files:
            try:
                found = parse_source(
                    path, defaults=gold.meta, required=gold.required, source=str(path.relative_to(root))
                )
            except DataError as exc:
                problems.extend(exc.problems)
                continue
            docs.extend((f"{path.name}: {doc.id}", doc) for doc in found)
        problems.extend(check_unique_ids(docs, source=gold.sources))
        for _, doc in docs:
            if "split" in doc.meta and doc.meta["split"] not in SPLITS:
                problems.append(Problem(gold.sources, doc.id, f"split {doc.meta['split']!r} not in {SPLITS}"))
                continue
            outputs.setdefault(gold.target(doc), []).append(doc)
    if problems:
        raise DataError(problems)
    return {root / rel: "".join(_json_line(d) for d in docs) for rel, docs in outputs.items()}


def _json_line(doc: Document) -> str:
    return json.dumps(doc.to_dict(), ensure_ascii=False) + "\n"


def _atomic_write(path: Path, content: str) -> None:
    # A temp file in the same folder, then os.replace: a failed build never leaves half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stats(contents: dict[Path, str], *, root: Path = ROOT) -> str:
    """A Markdown table: documents, characters and spans per label for each gold file and in total."""
    labels = DEFAULT_SCHEME.labels
    head = "| file | documents | characters | " + " | ".join(labels) + " |"
    rows = [head, "|" + " --- |" * (3 + len(labels))]
    total: Counter[str] = Counter()
    for path in sorted(contents):
        count: Counter[str] = Counter()
        for line in contents[path].splitlines():
            record = json.loads(line)
            count["documents"] += 1
            count["characters"] += len(record["text"])
            count.update(span["label"] for span in record["spans"])
        total.update(count)
        rows.append(_row(str(path.relative_to(root)), count, labels))
    rows.append(_row("**total**", total, labels))
    return "\n".join(rows)


# What the data card promises about the demo's styles, as patterns over an item's text.
STYLES = {
    "quote «»": "«",
    "quote “”": "“",
    'quote ""': '"',
    "wire dateline (city (agency) -)": r"^\S+( \S+)? \([^)]+\) - ",
    "dated dateline (city - date:)": r"^\S+ - [0-9٠-٩]+ \S+( \S+)?:",
    "Eastern Arabic digits": "[٠-٩]",
    "Western digits": "[0-9]",
    "tatweel": "\u0640",
    "diacritics": "[\u064b-\u0652]",
    "denial (نفى/نفت)": "نف[ىت]",
    "warning (حذر)": "حذّ?ر",
}


def coverage(contents: dict[Path, str], *, folder: str = "data/demo", root: Path = ROOT) -> str:
    """A Markdown table: how many items of ``folder`` show each style, and how many claims items have."""
    records = [
        json.loads(line)
        for path, content in sorted(contents.items())
        if path.parent == root / folder
        for line in content.splitlines()
    ]
    claims = Counter(min(sum(s["label"] == "CLAIM" for s in r["spans"]), 2) for r in records)
    glued = sum(
        1
        for r in records
        for s in r["spans"]
        if s["label"] != "CLAIM" and s["start"] and r["text"][s["start"] - 1] in "وفبلك"
    )
    rows = [f"| {folder}: items with ... | count |", "| --- | --- |"]
    rows += [f"| no claim / one claim / two or more | {claims[0]} / {claims[1]} / {claims[2]} |"]
    rows += [
        f"| {name} | {sum(bool(re.search(p, r['text'], re.M)) for r in records)} |"
        for name, p in STYLES.items()
    ]
    rows += [f"| (entity spans right after an attached clitic) | {glued} |"]
    return "\n".join(rows)


def _row(name: str, count: Counter[str], labels: tuple[str, ...]) -> str:
    cells = [count["documents"], count["characters"], *(count[label] for label in labels)]
    return f"| {name} | " + " | ".join(f"{c:,}" for c in cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a gold file is stale")
    parser.add_argument("--stats", action="store_true", help="print counts per gold file")
    args = parser.parse_args(argv)
    try:
        contents = build()
    except DataError as exc:
        print(f"build_gold: {exc}", file=sys.stderr)
        return 1
    if args.check:
        stale = [p for p, c in contents.items() if not p.exists() or p.read_text(encoding="utf-8") != c]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run scripts/build_gold.py)", file=sys.stderr)
        if stale:
            return 1
    else:
        for path, content in contents.items():
            _atomic_write(path, content)
        print(f"wrote {len(contents)} gold file(s)")
    if args.stats:
        print(stats(contents))
        print()
        print(coverage(contents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
