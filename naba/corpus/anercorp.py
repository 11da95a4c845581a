"""ANERcorp with naba's CLAIM layer: joins the corpus in ../shared with our stand-off annotations.

ANERcorp's text is third-party and never enters git; the claim annotations do, as stand-off files
``data/anercorp-claims/{split}.jsonl``, one JSON object per sentence that was read::

    {"sentence": 12, "sha1": "<hex>", "claims": [[start, end], ...], "pass": "A"}

``sentence`` is the 0-based sentence index of the split file, ``sha1`` the SHA-1 of the sentence
text as naba rebuilds it (naba.corpus.conll: tokens joined by one space, UTF-8), and ``claims``
code-point offsets into that text. A sentence with no line was not read; a line with no claims was
read and holds none, so "no CLAIM" is known apart from "not annotated" (``meta["claims_read"]``).
The hash pins each annotation to the exact text it was made on: a different copy of the corpus
(``test.as_circulated.txt``, another rebuild) fails loudly instead of shifting spans.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from naba.corpus.conll import read_conll
from naba.corpus.document import Document, Span
from naba.corpus.fileio import atomic_write, is_int, json_line, jsonl_records
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.validate import check_spans
from naba.errors import ConfigError, DataError, Problem

__all__ = [
    "SPLITS",
    "ClaimRecord",
    "default_claims_dir",
    "find_shared",
    "load_anercorp",
    "read_standoff",
    "text_sha1",
    "write_standoff",
]

SPLITS = ("train", "test")
_KEYS = {"sentence", "sha1", "claims", "pass"}
_REPO = Path(__file__).resolve().parents[2]
_CLAIM_ONLY = LabelScheme({"claim": ("CLAIM",)})


@dataclass(frozen=True)
class ClaimRecord:
    """The claim annotation of one read sentence (``annotation_pass`` is "A" or "B")."""

    sentence: int
    sha1: str
    claims: tuple[tuple[int, int], ...]
    annotation_pass: str = "A"

    def to_json(self) -> dict:
        return {
            "sentence": self.sentence,
            "sha1": self.sha1,
            "claims": [list(c) for c in self.claims],
            "pass": self.annotation_pass,
        }


def text_sha1(text: str) -> str:
    """SHA-1 hex digest of ``text`` as UTF-8: the stand-off files' pin on a sentence."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def find_shared(shared: str | Path | None = None) -> Path:
    """The ``shared`` folder holding ``corpora/anercorp``.

    Looks at ``shared`` when given, else ``$NABA_SHARED``, else ``../shared`` from the working
    directory and from the repository. Raises :class:`DataError` saying where it looked.
    """
    if shared is not None:
        candidates = [Path(shared)]
    elif os.environ.get("NABA_SHARED"):
        # a set one is what was asked for: a mistyped one must not fall back to the copy in ../shared
        candidates = [Path(os.environ["NABA_SHARED"])]
    else:
        candidates = [Path.cwd().parent / "shared", _REPO.parent / "shared"]
    for path in candidates:
        if (path / "corpora" / "anercorp").is_dir():
            return path
    looked = ", ".join(str(p) for p in dict.fromkeys(candidates))
    raise DataError(
        Problem(
            str(candidates[0]),
            "",
            f"ANERcorp not found (no corpora/anercorp under: {looked}); "
            "pass shared=... (--shared) or set NABA_SHARED to the folder that holds corpora/anercorp",
        )
    )


def default_claims_dir() -> Path:
    """``data/anercorp-claims`` of the repository naba runs from."""
    return _REPO / "data" / "anercorp-claims"


def read_standoff(path: str | Path) -> dict[int, ClaimRecord]:
    """Stand-off records of one file by sentence index; one :class:`DataError` for every problem."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError(Problem(source, "", "stand-off claim file not found"))
    problems: list[Problem] = []
    records: dict[int, ClaimRecord] = {}
    first_line: dict[int, int] = {}
    for n, obj in jsonl_records(path, problems):
        where = f"line {n}"
        record = _record(obj, source, where, problems)
        if record is None:
            continue
        if record.sentence in records:
            problems.append(
                Problem(source, where, f"sentence {record.sentence} again (first on line {first_line[record.sentence]})")
            )
            continue
        records[record.sentence] = record
        first_line[record.sentence] = n
    if problems:
        raise DataError(problems)
    return records


def _record(obj: object, source: str, where: str, problems: list[Problem]) -> ClaimRecord | None:
    """One parsed line as a record, or ``None`` after adding why it is not one to ``problems``."""
    if not isinstance(obj, dict):
        problems.append(Problem(source, where, "expected a JSON object"))
        return None
    bad = sorted(set(obj) - _KEYS)
    missing = sorted(_KEYS - set(obj) - {"pass"})
    if bad or missing:
        problems.append(Problem(source, where, f"unknown key(s) {bad} / missing key(s) {missing}; keys are {sorted(_KEYS)}"))
        return None
    sentence, sha1, claims = obj["sentence"], obj["sha1"], obj["claims"]
    if not is_int(sentence) or sentence < 0:
        problems.append(Problem(source, where, f"'sentence' must be a non-negative integer, got {sentence!r}"))
        return None
    if not isinstance(sha1, str) or len(sha1) != 40 or any(c not in "0123456789abcdef" for c in sha1):
        problems.append(Problem(source, where, f"sentence {sentence}: 'sha1' must be 40 lowercase hex digits"))
        return None
    pairs = claims if isinstance(claims, list) else None
    if pairs is None or not all(isinstance(c, list) and len(c) == 2 and all(map(is_int, c)) for c in pairs):
        problems.append(Problem(source, where, f"sentence {sentence}: 'claims' must be a list of [start, end] integers"))
        return None
    annotation_pass = obj.get("pass", "A")
    if not isinstance(annotation_pass, str) or not annotation_pass:
        problems.append(Problem(source, where, f"sentence {sentence}: 'pass' must be a non-empty string"))
        return None
    return ClaimRecord(sentence, sha1, tuple((s, e) for s, e in sorted(pairs)), annotation_pass)


def write_standoff(records: Iterable[ClaimRecord], path: str | Path) -> None:
    """Write records sorted by sentence, one JSON line each, atomically."""
    ordered = sorted(records, key=lambda r: r.sentence)
    atomic_write(path, "".join(json_line(r.to_json()) for r in ordered))


def load_anercorp(
    split: str,
    *,
    shared: str | Path | None = None,
    claims_dir: str | Path | None = None,
    scheme: LabelScheme = DEFAULT_SCHEME,
    only_annotated: bool = False,
) -> list[Document]:
    """ANERcorp ``split`` ("train" or "test") as Documents with ACTOR, LOCATION and CLAIM spans.

    Entities come from ANERcorp's tags through ``scheme``'s mapping (PERS/ORG -> ACTOR, LOC ->
    LOCATION, MISC dropped); claims from ``claims_dir/{split}.jsonl`` when ``scheme`` has the
    CLAIM label. Every document has ``meta["claims_read"]``; ``only_annotated`` keeps only the
    sentences that were read for claims. Raises :class:`DataError` when ANERcorp is missing, or
    when a stand-off record does not fit its sentence (hash or offsets), naming file, sentence,
    expected and actual hash.
    """
    if split not in SPLITS:
        raise ConfigError(f"ANERcorp split must be one of {SPLITS}, got {split!r}")
    corpus = find_shared(shared) / "corpora" / "anercorp" / f"{split}.txt"
    if claims_dir is None and not default_claims_dir().is_dir():
        # an installed naba: the default is a folder of the repository, which pip does not install
        raise DataError(
            Problem(
                str(default_claims_dir()),
                "",
                "the claim layer is not here: it lives in a naba checkout's data/anercorp-claims, which an "
                "installed naba does not have; pass claims_dir=... that folder",
            )
        )
    standoff = Path(claims_dir) if claims_dir is not None else default_claims_dir()
    standoff = standoff / f"{split}.jsonl"
    # ANERcorp's train split has sentences that open with I-ORG/I-MISC: read them as B-.
    docs = read_conll(corpus, scheme=scheme, bio_repair="begin")
    records = read_standoff(standoff)
    with_claims = "CLAIM" in scheme.labels
    problems: list[Problem] = []
    for record in records.values():
        if record.sentence >= len(docs):
            problems.append(
                Problem(str(standoff), f"sentence {record.sentence}", f"{corpus} has only {len(docs)} sentences")
            )
    by_sentence = {doc.meta["sentence"]: doc for doc in docs}
    out = []
    for i, doc in by_sentence.items():
        record = records.get(i)
        doc.meta["claims_read"] = record is not None
        if record is not None:
            actual = text_sha1(doc.text)
            if actual != record.sha1:
                problems.append(
                    Problem(
                        str(standoff),
                        f"sentence {i}",
                        f"text hash mismatch: expected sha1 {record.sha1}, {corpus} gives {actual} "
                        "(is this the corpus copy the claims were annotated on?)",
                    )
                )
                continue
            spans = [Span(s, e, "CLAIM") for s, e in record.claims]
            found = check_spans(doc.text, spans, _CLAIM_ONLY, source=str(standoff), where=f"sentence {i}")
            problems.extend(found)
            if with_claims and not found:
                doc = Document(doc.id, doc.text, [*doc.spans, *spans], doc.meta)
        if record is not None or not only_annotated:
            out.append(doc)
    if problems:
        raise DataError(problems)
    return out
