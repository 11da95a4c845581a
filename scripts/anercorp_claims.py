"""Build naba's stand-off CLAIM layer for ANERcorp from raw annotation files, and measure agreement.

  python scripts/anercorp_claims.py build      raw ``SPLIT.PASS.tsv`` files -> data/anercorp-claims/*.jsonl
  python scripts/anercorp_claims.py agreement  pass A vs pass B on the doubly annotated sentences

Raw files (kept outside git because they quote ANERcorp; default folder ../anercorp-ann) hold one
line per read sentence: ``SPLIT<TAB>INDEX<TAB>CLAIM_1 ||| CLAIM_2``, each claim an exact substring of
the sentence as naba rebuilds it, ``@@N`` naming the N-th occurrence when it occurs more than once;
an empty claim field means "read, no claim". ``SPLIT.jsonl``, the file naba loads, is the adjudicated
``SPLIT.gold.tsv`` where there is one and pass A otherwise (``train.A.tsv``, or its parts
``train.A1.tsv``, ``train.A2.tsv`` ...); every other pass keeps its name (``test.A.jsonl``,
``test.B.jsonl``).

``build`` writes nothing unless every line of every file resolves; each problem is reported with
its file, line and sentence. Both commands rewrite their block of data/anercorp-claims/README.md
(``<!-- counts -->``, ``<!-- agreement -->``) and print the same figures.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # naba, also from a checkout not installed
from naba.corpus.anercorp import (  # noqa: E402
    SPLITS,
    ClaimRecord,
    default_claims_dir,
    find_shared,
    read_standoff,
    text_sha1,
    write_standoff,
)
from naba.corpus.conll import read_conll  # noqa: E402
from naba.corpus.fileio import atomic_write, read_text  # noqa: E402
from naba.errors import DataError, Problem  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py
from reportlib import replace_block  # noqa: E402

RAW_NAME = re.compile(r"(?P<split>[a-z]+)\.(?P<pass>[A-Z]|gold)(?P<part>[0-9]*)\.tsv")
GOLD = "gold"
_OCCURRENCE = re.compile(r"(?P<claim>.*?)\s*@@(?P<n>\d+)")
BOOTSTRAP_SAMPLES = 2000
SEED = 13


# --- raw annotation -> stand-off ----------------------------------------------------------------


def occurrences(text: str, part: str) -> list[int]:
    """Start offsets of the non-overlapping occurrences of ``part`` in ``text`` (``str.count``'s)."""
    out, pos = [], text.find(part)
    while pos >= 0:
        out.append(pos)
        pos = text.find(part, pos + len(part))
    return out


def parse_raw(
    lines: Sequence[str], sentences: Sequence[str], *, split: str, annotation_pass: str, source: str
) -> tuple[list[ClaimRecord], list[Problem], list[Problem]]:
    """Records from the lines of one raw file, its problems (fatal) and its notes (trimmed edges).

    Claims are made tight as data/GUIDELINES.md section 2 defines it: space and punctuation at
    either edge (quotation marks, a final ؟, a closing bracket) are moved out of the span; each
    claim so trimmed gets a note.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    records: dict[int, ClaimRecord] = {}
    first_line: dict[int, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        where = f"line {n}"
        if len(fields) not in (2, 3):
            problems.append(Problem(source, where, f"expected SPLIT<TAB>INDEX<TAB>CLAIMS, got {len(fields)} field(s)"))
            continue
        if fields[0] != split:
            problems.append(Problem(source, where, f"split {fields[0]!r} in a file of split {split!r}"))
            continue
        # isdecimal, not isdigit: '²' is a digit that int() refuses
        if not fields[1].strip().isdecimal() or int(fields[1]) >= len(sentences):
            problems.append(Problem(source, where, f"sentence index {fields[1]!r} is not in 0..{len(sentences) - 1}"))
            continue
        index = int(fields[1])
        where = f"line {n} (sentence {index})"
        text = sentences[index]
        spans = []
        for claim in (c.strip() for c in (fields[2] if len(fields) == 3 else "").split("|||")):
            if not claim:
                continue
            span = _resolve(text, claim, source, where, problems)
            if span is None:
                continue
            tight = tighten(text, *span)
            if tight is None:
                problems.append(Problem(source, where, f"claim has no word: {claim!r}"))
                continue
            if tight != span:
                cut = f"{text[span[0]:tight[0]]!r} ... {text[tight[1]:span[1]]!r}"
                warnings.append(Problem(source, where, f"edge punctuation moved out of a claim: {cut}"))
            spans.append(tight)
        spans.sort()
        for a, b in zip(spans, spans[1:], strict=False):
            if b[0] < a[1]:
                problems.append(Problem(source, where, f"claims overlap: {text[a[0]:a[1]][:40]!r} and {text[b[0]:b[1]][:40]!r}"))
        record = ClaimRecord(index, text_sha1(text), tuple(spans), annotation_pass)
        if index in records and records[index] != record:
            problems.append(
                Problem(source, where, f"sentence {index} annotated again, differently (first on line {first_line[index]})")
            )
            continue
        records.setdefault(index, record)
        first_line.setdefault(index, n)
    return [records[i] for i in sorted(records)], problems, warnings


def _edge(ch: str) -> bool:
    return ch.isspace() or (unicodedata.category(ch).startswith("P") and ch not in "%٪")


def tighten(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``[start, end)`` without space or punctuation at its edges; ``None`` if nothing is left."""
    while start < end and _edge(text[start]):
        start += 1
    while end > start and _edge(text[end - 1]):
        end -= 1
    return (start, end) if start < end else None


def _resolve(text: str, claim: str, source: str, where: str, problems: list[Problem]) -> tuple[int, int] | None:
    """The offsets of one raw claim (``substring`` or ``substring @@N``) in ``text``."""
    nth = None
    m = _OCCURRENCE.fullmatch(claim)
    if m:
        claim, nth = m["claim"], int(m["n"])
    found = occurrences(text, claim)
    shown = claim if len(claim) <= 60 else claim[:57] + "..."
    if not found:
        problems.append(Problem(source, where, f"claim not found in the sentence: {shown!r}"))
        return None
    if nth is None and len(found) > 1:
        problems.append(Problem(source, where, f"claim occurs {len(found)} times; add @@N to say which: {shown!r}"))
        return None
    if nth is not None and not 1 <= nth <= len(found):
        problems.append(Problem(source, where, f"@@{nth} but the claim occurs {len(found)} time(s): {shown!r}"))
        return None
    start = found[(nth or 1) - 1]
    return start, start + len(claim)


def build(raw_dir: Path, out_dir: Path, shared: Path | None) -> dict:
    """Convert every ``SPLIT.PASS[PART].tsv`` in ``raw_dir``; write all outputs or none.

    Parts of one pass (``train.A1.tsv``, ``train.A2.tsv``: annotators sharing the work) merge
    into one output; a sentence in two parts must carry the same claims. Returns counts per output.
    """
    files = sorted(p for p in raw_dir.glob("*.tsv") if RAW_NAME.fullmatch(p.name))
    if not files:
        raise DataError(Problem(str(raw_dir), "", "no raw annotation files (SPLIT.PASS.tsv) here"))
    corpus = find_shared(shared) / "corpora" / "anercorp"
    texts: dict[str, list[str]] = {}
    problems: list[Problem] = []
    outputs: dict[str, dict[int, tuple[ClaimRecord, str]]] = {}
    trimmed: dict[str, int] = {}
    for path in files:
        m = RAW_NAME.fullmatch(path.name)
        split, annotation_pass = m["split"], m["pass"]
        if split not in SPLITS:
            problems.append(Problem(str(path), "", f"unknown split {split!r} (known: {SPLITS})"))
            continue
        if split not in texts:
            texts[split] = [d.text for d in read_conll(corpus / f"{split}.txt", bio_repair="begin")]
        lines = read_text(path).split("\n")
        records, found, notes = parse_raw(lines, texts[split], split=split, annotation_pass=annotation_pass, source=str(path))
        problems.extend(found)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        key = f"{split}.{annotation_pass}"
        merged = outputs.setdefault(key, {})
        trimmed[key] = trimmed.get(key, 0) + len(notes)
        for record in records:
            earlier = merged.get(record.sentence)
            if earlier is not None and earlier[0] != record:
                problems.append(
                    Problem(str(path), f"sentence {record.sentence}", f"annotated differently in {earlier[1]}")
                )
            merged.setdefault(record.sentence, (record, path.name))
    if problems:
        raise DataError(problems)
    counts = {}
    for key, merged in outputs.items():
        name = output_name(key, has_gold=f"{key.split('.')[0]}.{GOLD}" in outputs)
        records = [record for record, _ in merged.values()]
        write_standoff(records, out_dir / name)
        counts[name] = {**_counts(records), "edges_trimmed": trimmed[key]}
    return counts


def output_name(key: str, *, has_gold: bool) -> str:
    """Stand-off file of ``"split.pass"``: ``split.jsonl`` is the adjudicated gold where there is
    one, else pass A (what load_anercorp reads); every other pass keeps its letter."""
    split, annotation_pass = key.split(".")
    primary = GOLD if has_gold else "A"
    return f"{split}.jsonl" if annotation_pass == primary else f"{split}.{annotation_pass}.jsonl"


def _counts(records: Sequence[ClaimRecord]) -> dict:
    return {
        "sentences_read": len(records),
        "sentences_with_claims": sum(1 for r in records if r.claims),
        "claims": sum(len(r.claims) for r in records),
    }


# --- agreement ----------------------------------------------------------------------------------


def _prf(tp_pred: float, n_pred: float, tp_gold: float, n_gold: float) -> dict:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_gold / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def sentence_counts(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[int]:
    """Per-sentence counts: [|A|, |B|, exact matches, A overlapped by some B, B overlapping some A]."""
    exact = len(set(a) & set(b))
    a_hit = sum(1 for s, e in a if any(s < e2 and s2 < e for s2, e2 in b))
    b_hit = sum(1 for s, e in b if any(s < e2 and s2 < e for s2, e2 in a))
    return [len(a), len(b), exact, a_hit, b_hit]


def scores(rows: np.ndarray) -> dict:
    """Exact and overlap span P/R/F1 of B against A from summed :func:`sentence_counts` rows.

    Exact: a B span counts when A has the same span. Overlap: a B span counts when it shares any
    character with an A span (precision), and an A span when any B span shares one (recall).
    """
    n_a, n_b, exact, a_hit, b_hit = rows.sum(axis=0).tolist()
    return {"exact": _prf(exact, n_b, exact, n_a), "overlap": _prf(b_hit, n_b, a_hit, n_a)}


def scores_with_ci(rows: np.ndarray, *, samples: int, seed: int) -> dict:
    """:func:`scores` plus ``f1_ci95``: 2.5 and 97.5 percentiles over resampled rows (sentences)."""
    result = scores(rows)
    rng = np.random.default_rng(seed)
    drawn: dict[str, list[float]] = {"exact": [], "overlap": []}
    for _ in range(samples):
        resampled = scores(rows[rng.integers(0, len(rows), len(rows))])
        for kind, values in drawn.items():
            values.append(resampled[kind]["f1"])
    for kind, values in drawn.items():
        low, high = np.percentile(values, [2.5, 97.5]) if values else (float("nan"), float("nan"))
        result[kind]["f1_ci95"] = [float(low), float(high)]
    return result


def cohen_kappa(x: Sequence[bool], y: Sequence[bool]) -> float:
    """Cohen's kappa of two yes/no labelings (here: "the sentence holds a claim")."""
    x, y = np.asarray(x, bool), np.asarray(y, bool)
    observed = float(np.mean(x == y))
    expected = float(x.mean() * y.mean() + (1 - x.mean()) * (1 - y.mean()))
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def agreement(a: dict[int, ClaimRecord], b: dict[int, ClaimRecord], *, source: str) -> dict:
    """Agreement of pass B with pass A on the sentences both read, with 95% bootstrap intervals."""
    both = sorted(set(a) & set(b))
    if not both:
        raise DataError(Problem(source, "", "no sentence was read in both passes"))
    mismatched = [i for i in both if a[i].sha1 != b[i].sha1]
    if mismatched:
        raise DataError([Problem(source, f"sentence {i}", "passes A and B hash different texts") for i in mismatched])
    rows = np.array([sentence_counts(a[i].claims, b[i].claims) for i in both], dtype=float)
    result = {"sentences": len(both), "claims_A": int(rows[:, 0].sum()), "claims_B": int(rows[:, 1].sum())}
    # what differs, claim by claim: sentences whose claims are not the same, and the claims of each
    # pass that the other does not have with the same boundaries (removed, added or moved)
    result["sentences_differing"] = sum(1 for i in both if sorted(a[i].claims) != sorted(b[i].claims))
    result["claims_only_A"] = int(rows[:, 0].sum() - rows[:, 2].sum())
    result["claims_only_B"] = int(rows[:, 1].sum() - rows[:, 2].sum())
    result.update(scores_with_ci(rows, samples=BOOTSTRAP_SAMPLES, seed=SEED))
    result["sentence_has_claim_kappa"] = cohen_kappa([bool(a[i].claims) for i in both], [bool(b[i].claims) for i in both])
    result["bootstrap"] = {"samples": BOOTSTRAP_SAMPLES, "seed": SEED, "unit": "sentence"}
    return result


# --- README blocks ------------------------------------------------------------------------------


def _update_readme(out_dir: Path, name: str, body: str) -> None:
    readme = out_dir / "README.md"
    if readme.is_file():
        try:
            text = replace_block(readme.read_text(encoding="utf-8"), name, body)
        except ValueError as exc:
            raise DataError(f"{readme}: {exc}") from None
        atomic_write(readme, text)


def counts_table(counts: dict) -> str:
    rows = [
        "| file | sentences read | with claims | claims | claims with edge punctuation trimmed |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, c in sorted(counts.items()):
        rows.append(
            f"| `{name}` | {c['sentences_read']} | {c['sentences_with_claims']} | {c['claims']} | {c['edges_trimmed']} |"
        )
    return "\n".join(rows)


def agreement_table(result: dict) -> str:
    def row(kind: str) -> str:
        r = result[kind]
        low, high = r["f1_ci95"]
        return f"| {kind} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | [{low:.3f}, {high:.3f}] |"

    return "\n".join(
        [
            f"Pass B against pass A on the {result['sentences']} sentences both passes read "
            f"({result['claims_A']} claims in A, {result['claims_B']} in B); 95% intervals from "
            f"{result['bootstrap']['samples']} bootstrap resamples of sentences (seed {result['bootstrap']['seed']}).",
            "",
            "| span match | precision | recall | F1 | F1 95% CI |",
            "| --- | ---: | ---: | ---: | --- |",
            row("exact"),
            row("overlap"),
            "",
            f"Sentence level (does the sentence hold a claim?): Cohen's kappa {result['sentence_has_claim_kappa']:.3f}.",
            *_gold_note(result.get("A_vs_gold")),
        ]
    )


def _gold_note(g: dict | None) -> list[str]:
    if g is None:
        return []
    x, o = g["exact"], g["overlap"]
    return [
        "",
        f"Pass A against the adjudicated gold (`test.jsonl`) on all {g['sentences']} sentences "
        f"({g['claims_A']} claims in A, {g['claims_B']} in the gold): exact F1 {x['f1']:.3f} "
        f"[{x['f1_ci95'][0]:.3f}, {x['f1_ci95'][1]:.3f}], overlap F1 {o['f1']:.3f} "
        f"[{o['f1_ci95'][0]:.3f}, {o['f1_ci95'][1]:.3f}]. The gold differs from A in {g['sentences_differing']} "
        f"of the {g['sentences']} sentences: {g['claims_only_A']} claims of A are not in the gold with the same "
        f"boundaries (removed or moved), {g['claims_only_B']} claims of the gold are not in A (added or moved). "
        "The gold was made by correcting A, so this says how much adjudication changed, not how far two "
        "independent annotators agree.",
    ]


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="raw SPLIT.PASS.tsv files -> stand-off jsonl")
    b.add_argument("--raw", type=Path, default=Path(__file__).resolve().parents[2] / "anercorp-ann")
    b.add_argument("--shared", type=Path, default=None, help="folder holding corpora/anercorp (default: ../shared)")
    b.add_argument("--out", type=Path, default=default_claims_dir())
    g = sub.add_parser("agreement", help="pass A vs pass B on the doubly annotated sentences")
    g.add_argument("--out", type=Path, default=default_claims_dir())
    g.add_argument("--split", default="test", choices=SPLITS)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            counts = build(args.raw, args.out, args.shared)
            table = counts_table(counts)
            _update_readme(args.out, "counts", table)
            print(table)
        else:
            a_path, b_path = args.out / f"{args.split}.A.jsonl", args.out / f"{args.split}.B.jsonl"
            gold = None
            if a_path.is_file():  # test.jsonl is the adjudicated gold, test.A.jsonl the raw pass A
                gold = read_standoff(args.out / f"{args.split}.jsonl")
            else:
                a_path = args.out / f"{args.split}.jsonl"
            a_records = read_standoff(a_path)
            result = agreement(a_records, read_standoff(b_path), source=str(b_path))
            if gold is not None:
                result["A_vs_gold"] = agreement(a_records, gold, source=str(a_path))
            # YAML, not JSON: a .json file under data/ would be taken for a Label Studio export
            atomic_write(args.out / "agreement.yaml", yaml.safe_dump(result, sort_keys=False))
            table = agreement_table(result)
            _update_readme(args.out, "agreement", table)
            print(table)
    except DataError as exc:
        print(f"anercorp_claims: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
