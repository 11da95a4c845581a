"""The annotators' tool for the CLAIM layer on ANERcorp: show sentences, draw the agreement sample,
check a raw annotation file. It prints ANERcorp text, so what it prints stays outside git.

  python scripts/anercorp_annotate.py dump SPLIT START END         sentences START..END-1 ("index<TAB>text")
  python scripts/anercorp_annotate.py candidates SPLIT START END   only those with a reporting verb, quote or colon
  python scripts/anercorp_annotate.py sample SPLIT N --seed S      N candidate indices drawn at random (sorted)
  python scripts/anercorp_annotate.py show SPLIT INDEX_FILE        the sentences whose indices the file lists
  python scripts/anercorp_annotate.py check FILE                   validate a raw annotation file

Raw annotation files (read by ``scripts/anercorp_claims.py build``) hold one line per READ sentence:
``SPLIT<TAB>INDEX<TAB>CLAIM_1 ||| CLAIM_2`` with each claim an exact substring of the sentence (suffix
``@@N`` for the N-th occurrence of a repeated substring), or ``SPLIT<TAB>INDEX<TAB>`` for "read, no
claim". Sentence text is naba's rebuild (naba.corpus.conll: tokens joined by one space), the text
the stand-off offsets and hashes refer to.

How the files in data/anercorp-claims were made: pass A read all test sentences (``dump``) and the
train candidates of 0-1093 and 2000-2998 (``candidates``); pass B read ``sample test 100 --seed 2026``
(the indices are in data/anercorp-claims/sample_B.indices) without seeing pass A.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # naba, also from a checkout not installed
from naba.corpus.anercorp import SPLITS, find_shared  # noqa: E402
from naba.corpus.conll import read_conll  # noqa: E402
from naba.corpus.fileio import read_text  # noqa: E402
from naba.errors import DataError, Problem  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/anercorp_claims.py
# ``claim @@N`` (the N-th occurrence), as build reads it
from anercorp_claims import _OCCURRENCE as OCCURRENCE  # noqa: E402

# Reporting verbs in common inflections, complementizers, quote marks and the colon: the places a
# claim can start. A filter for what to read first, not a claim finder (see naba.claims for that).
CANDIDATE = re.compile(
    r"(قال|قالت|يقول|تقول|أعلن|اعلن|يعلن|أكد|اكد|يؤكد|أفاد|افاد|ذكر|ذكرت|يذكر|أوضح|اوضح|أشار|اشار|نفى|نفت|ينفي"
    r"|حذر|حذّر|اعتبر|صرح|أضاف|اضاف|مضيفا|أضافت|تابع|رأى|يرى|زعم|أكدت|أعلنت|أوضحت|أشارت|أفادت|صرّح|ادعى|اتهم"
    r"|طالب|دعا|شدد|كشف|أبلغ|أعرب|رجح|توقع|أن |إن |«|»|\"|:)"
)



def sentences(split: str) -> list[str]:
    """The rebuilt text of every sentence of ANERcorp ``split``, in file order."""
    path = find_shared() / "corpora" / "anercorp" / f"{split}.txt"
    return [doc.text for doc in read_conll(path, bio_repair="begin")]


def check(path: Path) -> int:
    """Print every problem in a raw annotation file; the number of problems."""
    cache: dict[str, list[str]] = {}
    errors = read = claims = 0
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        # read as scripts/anercorp_claims.py build reads it, so that what passes here builds there
        parts = line.rstrip("\r").split("\t")
        if len(parts) not in (2, 3) or not parts[1].strip().isdecimal():
            print(f"line {n}: need SPLIT<TAB>INDEX<TAB>claims")
            errors += 1
            continue
        split, index = parts[0], int(parts[1])
        if split not in SPLITS:
            print(f"line {n}: unknown split {split!r} (known: {', '.join(SPLITS)})")
            errors += 1
            continue
        if split not in cache:  # once per split, not once per line
            cache[split] = sentences(split)
        texts = cache[split]
        if index >= len(texts):
            print(f"line {n}: sentence index {index} is not in 0..{len(texts) - 1}")
            errors += 1
            continue
        text = texts[index]
        read += 1
        for claim in (c.strip() for c in (parts[2] if len(parts) > 2 else "").split("|||")):
            if not claim:
                continue
            occurrence = None
            if m := OCCURRENCE.fullmatch(claim):
                claim, occurrence = m["claim"], int(m["n"])
            count = text.count(claim)
            if count == 0:
                problem = "claim not found in the sentence"
            elif count > 1 and occurrence is None:
                problem = f"claim occurs {count} times; add @@N"
            elif occurrence is not None and not 1 <= occurrence <= count:
                problem = f"@@{occurrence}, but the claim occurs {count} time(s)"
            else:
                claims += 1
                continue
            print(f"line {n} ({split} {index}): {problem}: {claim[:60]}")
            errors += 1
    print(f"{read} sentences, {claims} claims, {errors} errors")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("dump", "candidates"):
        p = sub.add_parser(name)
        p.add_argument("split", choices=SPLITS)
        p.add_argument("start", type=int)
        p.add_argument("end", type=int)
    p = sub.add_parser("sample")
    p.add_argument("split", choices=SPLITS)
    p.add_argument("n", type=int)
    p.add_argument("--seed", type=int, default=2026)
    p = sub.add_parser("show")
    p.add_argument("split", choices=SPLITS)
    p.add_argument("indices", type=Path)
    p = sub.add_parser("check")
    p.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    # ANERcorp not found, an unreadable file, an index or sample size the split lacks: one message, no traceback
    try:
        return _run(args)
    except DataError as exc:
        print(f"anercorp_annotate: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `dump train 0 5000 | head`: the reader left; say nothing more (Python's documented recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        return 1 if check(args.file) else 0
    texts = sentences(args.split)
    if args.command in ("dump", "candidates"):
        for i in range(args.start, min(args.end, len(texts))):
            if args.command == "dump" or CANDIDATE.search(texts[i]):
                print(f"{i}\t{texts[i]}")
    elif args.command == "sample":
        pool = [i for i, text in enumerate(texts) if CANDIDATE.search(text)]
        if not 0 <= args.n <= len(pool):
            raise DataError(Problem(f"ANERcorp {args.split}", "sample", f"cannot draw {args.n} of its {len(pool)} candidate sentences"))
        random.seed(args.seed)
        print("\n".join(map(str, sorted(random.sample(pool, args.n)))))
    else:
        # every index checked before any is printed
        words = read_text(args.indices).split()
        bad = [Problem(str(args.indices), f"item {k}", f"{word!r} is not a sentence index in 0..{len(texts) - 1}")
               for k, word in enumerate(words, 1) if not (word.isdecimal() and int(word) < len(texts))]
        if bad:
            raise DataError(bad)
        for i in map(int, words):
            print(f"{i}\t{texts[i]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
