"""CoNLL / BIO token files: one ``token TAG`` per line, a blank line between sentences.

Reading rules (other code relies on them exactly):

* A line is fields separated by spaces or tabs: the first is the token, the last the tag (middle
  columns such as POS are ignored). In a line with a tab between fields the token is all before the
  first tab, so that it may hold spaces (``New York<tab>B-LOC``, as TSV exports write one); the rest
  is split at spaces and tabs as ever (a tag holds no space). Other whitespace (a
  no-break space, as in ``مليون\u00a0دولار`` pasted from the web) is part of the token, stripped at
  its edges, not a column break that would drop the token's second half as a middle column. UTF-8
  with or without BOM, LF or CRLF.
* Direction marks U+200E, U+200F, U+202A-U+202E, U+2066-U+2069 are stripped from tokens and tags;
  a line whose token is empty after that is skipped with its tag. Lines that are empty or hold only
  spaces, tabs or such marks separate sentences.
* ``-DOCSTART-`` lines start a new document (also with a U+FEFF before the marker, as ``cat`` of
  files saved with a byte-order mark leaves it).
* TEXT REBUILD RULE: a sentence's text is its tokens joined by one space, and every token's
  offsets are exact in it. Without ``-DOCSTART-`` every sentence is a document with id
  ``f"{stem}-{i:05d}"`` (0-based sentence index) and ``meta={"sentence": i}``. With markers, the
  sentences between two markers form one document, joined by ``"\\n"``, id ``f"{stem}-doc{j:04d}"``
  and ``meta["sentences"] = [[start, end], ...]`` (empty documents are skipped).
* Tags are ``O``, ``B-X``, ``I-X`` (IOB2), and also ``S-X``/``E-X`` (IOBES). ``X`` goes through the
  label scheme (``PERS`` -> ``ACTOR``; ``MISC`` dropped). A broken sequence (``I-X`` or ``E-X``
  after ``O`` or after another type) is an error naming the line and both tags, unless
  ``bio_repair="begin"``: then the stray tag starts a new span, which also reads IOB1 files.

The writer writes IOB2 with naba labels, tokens being the whitespace-split of each sentence (and
a BOM first when the first token starts with U+FEFF, which the reader would take for one). A token
of direction marks alone is left out (its line would read as a sentence break; the rebuild rule
drops it), unless it is a span's first or last token. A span may leave out direction marks at the
edges of its first and last tokens, which the reader strips.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from naba.corpus.document import Document, Span
from naba.corpus.fileio import aside, atomic_write, check_for_write, finish, read_text, unknown_label
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError, DataError, Problem

BIO_REPAIRS = (None, "error", "begin")
DOCSTART = "-DOCSTART-"
_MARKS = dict.fromkeys([0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_MARK_CHARS = "".join(map(chr, _MARKS))
_TOKEN = re.compile(r"\S+")
_FIELDS = re.compile("[ \t\v\f]+")  # what CoNLL tools put between columns
_LINE_END = re.compile(r"\r\n|\r|\n")


def is_docstart(token: str) -> bool:
    """Whether a line's first field is the ``-DOCSTART-`` marker, a U+FEFF before it included: files
    saved with a byte-order mark and joined with ``cat`` have one at each file's first line."""
    return token.lstrip("\ufeff") == DOCSTART


def strip_marks(token: str) -> str:
    """``token`` without the direction marks the CoNLL reader removes."""
    return token.translate(_MARKS)


class _Sentence:
    """Tokens of one sentence with their tags and file lines, as read."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.tags: list[str] = []
        self.lines: list[int] = []


def _parse_lines(text: str, source: str, problems: list[Problem]) -> tuple[list[list[_Sentence]], bool]:
    """Group lines into blocks of sentences, a block per ``-DOCSTART-``; and whether one was seen."""
    docs: list[list[_Sentence]] = [[]]
    marked = False
    current: _Sentence | None = None
    for n, raw in enumerate(_LINE_END.split(text), 1):
        if not any(strip_marks(f) for f in raw.split()):  # blank, whitespace or direction marks only
            current = None
            continue
        fields = [f for f in _FIELDS.split(raw) if f.strip()]
        if is_docstart(fields[0]):
            docs.append([])
            marked = True
            current = None
            continue
        # a tab at an edge, or before a no-break space, parts none; a line without a tab is left as split above
        columns = [f for f in raw.split("\t") if f.strip()] if "\t" in raw else []
        if len(columns) > 1:
            # tab-separated columns (TSV exports): a token may hold spaces ("New York\tB-LOC"), and split at
            # them as well, its second half was a middle column, dropped silently; a tag holds none, so the
            # rest is split as before ("New York\tNNP B-LOC" was 'bad tag' split at tabs alone)
            rest = (f for column in columns[1:] for f in _FIELDS.split(column) if f.strip())
            fields = [columns[0].strip(" \v\f"), *rest]
        if len(fields) < 2:
            problems.append(Problem(source, f"line {n}", f"expected 'token TAG', got one field {fields[0]!r}"))
            continue
        token, tag = strip_marks(fields[0]).strip(), strip_marks(fields[-1]).strip()
        if not token:
            continue
        if current is None:
            current = _Sentence()
            docs[-1].append(current)
        current.tokens.append(token)
        current.tags.append(tag)
        current.lines.append(n)
    return [d for d in docs if d], marked


def _decode(
    sent: _Sentence, offsets: list[int], scheme: LabelScheme, repair: bool, source: str, problems: list[Problem]
) -> list[Span]:
    """Spans of one sentence from its tags; ``offsets`` are the tokens' start characters."""
    spans: list[Span] = []
    open_type: str | None = None
    open_start = 0
    prev_tag = "O"

    def close(end_token: int) -> None:
        nonlocal open_type
        if open_type is not None:
            try:
                label = scheme.normalize(open_type)
            except KeyError:
                label = None  # reported when the tag was read
            if label is not None:
                end = offsets[end_token] + len(sent.tokens[end_token])
                spans.append(Span(offsets[open_start], end, label))
        open_type = None

    for k, (tag, line) in enumerate(zip(sent.tags, sent.lines, strict=True)):
        if tag == "O":
            close(k - 1)
            prev_tag = tag
            continue
        prefix, typ = tag[:2], tag[2:]
        if prefix not in ("B-", "I-", "E-", "S-") or not typ:
            problems.append(Problem(source, f"line {line}", f"bad tag {tag!r}: expected O, B-X, I-X, E-X or S-X"))
            close(k - 1)
            prev_tag = "O"
            continue
        try:
            scheme.normalize(typ)
        except KeyError:
            problems.append(Problem(source, f"line {line}", f"tag {tag!r}: {unknown_label(typ, scheme)}"))
        continues = prefix in ("I-", "E-")
        if continues and open_type != typ:
            if not repair:
                after = f"after {prev_tag!r} on line {sent.lines[k - 1]}" if k else "at the start of a sentence"
                problems.append(
                    Problem(source, f"line {line}", f"broken BIO sequence: {tag!r} {after} "
                            f"(bio_repair='begin'{aside('bio_repair', 'begin')} treats it as B-)")
                )
            continues = False
        if not continues:
            close(k - 1)
            open_type, open_start = typ, k
        if prefix in ("E-", "S-"):
            close(k)
        prev_tag = tag
    close(len(sent.tokens) - 1)
    return spans


def read_conll(
    path: str | Path, *, scheme: LabelScheme = DEFAULT_SCHEME, bio_repair: str | None = None
) -> list[Document]:
    """Read a CoNLL/BIO token file under the rules in this module's docstring."""
    if bio_repair not in BIO_REPAIRS:
        raise ConfigError(f"bio_repair must be one of {BIO_REPAIRS}, got {bio_repair!r}")
    path = Path(path)
    source = str(path)
    problems: list[Problem] = []
    blocks, with_markers = _parse_lines(read_text(path), source, problems)
    found: list[tuple[str, Document]] = []
    sentence_no = 0
    for j, block in enumerate(blocks):
        parts, spans, ranges, pos = [], [], [], 0
        for sent in block:
            offsets = []
            for token in sent.tokens:
                offsets.append(pos)
                pos += len(token) + 1
            spans_here = _decode(sent, offsets, scheme, bio_repair == "begin", source, problems)
            text = " ".join(sent.tokens)
            if with_markers:
                ranges.append([offsets[0], offsets[0] + len(text)])
                parts.append(text)
                spans.extend(spans_here)
            else:
                where = f"line {sent.lines[0]}"
                meta = {"sentence": sentence_no}
                found.append((where, Document(f"{path.stem}-{sentence_no:05d}", text, spans_here, meta)))
                pos = 0
            sentence_no += 1
        if with_markers:
            where = f"line {block[0].lines[0]}"
            doc = Document(f"{path.stem}-doc{j:04d}", "\n".join(parts), spans, {"sentences": ranges})
            found.append((where, doc))
    return finish(found, problems, scheme, source=source)


def _sentences(doc: Document) -> list[tuple[int, int]]:
    """Sentence ranges of a document: its lines (the reader joins sentences with ``\\n``)."""
    out, pos = [], 0
    for line in doc.text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _doc_lines(doc: Document, where: str, source: str) -> tuple[list[str], list[Problem]]:
    """The lines of one document: ``token TAG`` per token, ``""`` between sentences."""
    problems: list[Problem] = []
    tokens = []  # (start, end, sentence index)
    for k, (s, e) in enumerate(_sentences(doc)):
        tokens.extend((s + m.start(), s + m.end(), k) for m in _TOKEN.finditer(doc.text[s:e]))
    starts = {t[0]: i for i, t in enumerate(tokens)}
    ends = {t[1]: i for i, t in enumerate(tokens)}
    for i, (s, e, _) in enumerate(tokens):
        # a span may leave out the direction marks at its token's edges ("\u200fزيد\u200f", common in
        # news text): the reader strips them, so the token reads back as the span's text
        word = doc.text[s:e]
        core = word.strip(_MARK_CHARS)
        if core:
            starts.setdefault(s + word.index(core), i)
            ends.setdefault(s + word.index(core) + len(core), i)
    tags = ["O"] * len(tokens)
    edges: set[int] = set()  # the first and last token of each span
    for span in doc.spans:
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or tokens[first][2] != tokens[last][2]:
            problems.append(
                Problem(source, where, f"span [{span.start}, {span.end}) {span.label} {doc.span_text(span)!r} "
                        "does not start and end on whitespace token boundaries of one sentence")
            )
            continue
        if any(t != "O" for t in tags[first : last + 1]):
            problems.append(
                Problem(source, where, f"span [{span.start}, {span.end}) {span.label} overlaps another span; "
                        "one tag column holds one layer (restrict the label scheme to one layer)")
            )
            continue
        tags[first : last + 1] = [f"B-{span.label}"] + [f"I-{span.label}"] * (last - first)
        edges.update((first, last))
    lines, prev = [], None
    for i, ((s, e, k), tag) in enumerate(zip(tokens, tags, strict=True)):
        token = doc.text[s:e]
        if not strip_marks(token) and i not in edges:
            # a token of direction marks alone (a lone U+200F, common in news text): its line would read
            # as a sentence break, so it is left out, as the TEXT REBUILD RULE drops it; at a span's
            # edge it would move the span, and is refused below
            continue
        if is_docstart(token) or not strip_marks(token):
            problems.append(Problem(source, where, f"token {token!r} at {s} cannot be written to a CoNLL file"))
        if prev is not None and k != prev:
            lines.append("")
        lines.append(f"{token} {tag}")
        prev = k
    if not lines and not problems:
        problems.append(Problem(source, where, "no token a CoNLL file can hold (only direction marks)"))
    return lines, problems


def rebuilt_text(text: str) -> str:
    """The text a document of ``text`` has once :func:`write_conll` wrote it and the reader read it
    back (the TEXT REBUILD RULE): each line's tokens, direction marks stripped, joined by one space;
    the lines that hold tokens joined by ``\n``."""
    lines = (" ".join(t for t in map(strip_marks, _TOKEN.findall(line)) if t) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def docstart_needed(docs: Iterable[Document]) -> bool:
    """Whether :func:`write_conll` writes ``-DOCSTART-`` markers unless told: when a document has several sentences."""
    return any("sentences" in d.meta or "\n" in d.text for d in docs)


def write_conll(
    docs: Iterable[Document],
    path: str | Path,
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    docstart: bool | None = None,
) -> None:
    """Write documents as an IOB2 token file.

    ``docstart=None`` writes ``-DOCSTART-`` markers when any document has several sentences
    (``meta["sentences"]`` or a line break in its text), so that reading the file back gives the
    same documents. Spans must cover whole whitespace tokens of one sentence (direction marks at their
    edges aside) and must not overlap
    (to write one layer, read with ``scheme.restrict([...])``); otherwise a DataError names them.
    """
    docs = check_for_write(docs, scheme)
    if docstart is None:
        docstart = docstart_needed(docs)
    out: list[str] = []
    problems: list[Problem] = []
    for i, doc in enumerate(docs):
        lines, found = _doc_lines(doc, f"document {i} (id={doc.id})", "<documents>")
        problems.extend(found)
        if out:
            out.append("")
        if docstart:
            out.extend([f"{DOCSTART} O", ""])
        out.extend(lines)
    if problems:
        raise DataError(problems)
    text = "\n".join(out) + ("\n" if out else "")
    # the reader drops a leading U+FEFF as a byte-order mark: a first token starting with one (a
    # lone one included) would lose it, or leave its line without a token; a BOM before it is dropped instead
    atomic_write(path, "\ufeff" + text if text.startswith("\ufeff") else text)
