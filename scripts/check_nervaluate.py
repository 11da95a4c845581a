"""Check naba's SemEval-2013 span counts against nervaluate 1.2.1's on random span sets.

Each set is one 60-character document with 0-5 gold and 0-5 predicted spans (random start, length
1-10 and label; no two spans of one side overlap, as naba scores one layer's non-overlapping
spans). naba (naba.eval.matching.semeval_counts) and nervaluate both count correct / incorrect /
partial / missed / spurious under the four schemes (nervaluate calls `type` `ent_type`), in total
and per label. Printed: how many sets agree in all four schemes; for the rest, those whose totals
agree but not every label's (nervaluate 1.2.1 scores a label on that label's spans alone, naba
counts a pair under its gold label), and those where nervaluate made fewer pairs
(correct+incorrect+partial) in some scheme, more, or as many paired differently; and three
disagreeing sets. nervaluate is not a dependency of naba, only of this check.

    pip install nervaluate==1.2.1
    python scripts/check_nervaluate.py                  # 2,000 sets, seed 0
    python scripts/check_nervaluate.py --sets 200 --seed 1 --labels ACTOR,LOCATION,TIME
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # naba, also from a checkout not installed
from naba.corpus.document import Span  # noqa: E402
from naba.eval.matching import SEMEVAL_COUNTS, SEMEVAL_SCHEMES, semeval_counts  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py
from reportlib import at_least, listing  # noqa: E402

NERVALUATE = {"strict": "strict", "exact": "exact", "partial": "partial", "type": "ent_type"}
DOC_LEN, MAX_SPANS, MAX_LEN = 60, 5, 10
ZERO = (0,) * len(SEMEVAL_COUNTS)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
# checked here: --sets -5 printed "totals differ: -5", and --labels , died on random.choice([])
parser.add_argument("--sets", type=at_least(1), default=2000, help="random span sets (default 2000)")
parser.add_argument("--seed", type=int, default=0, help="random.Random seed (default 0)")
parser.add_argument("--labels", type=listing(str), default="ACTOR,LOCATION",
                    help="comma-separated labels (default ACTOR,LOCATION)")
args = parser.parse_args()
labels = args.labels

# after the options: --help and a bad option need no nervaluate
try:
    from nervaluate import Evaluator
except ImportError:
    sys.exit("check_nervaluate.py needs nervaluate: pip install nervaluate==1.2.1")

rng = random.Random(args.seed)


def random_spans() -> list[Span]:
    """0-5 non-overlapping spans, in the order a naba Document keeps them (start, longest first)."""
    spans: list[Span] = []
    for _ in range(rng.randint(0, MAX_SPANS)):
        length = rng.randint(1, MAX_LEN)
        start = rng.randint(0, DOC_LEN - length)
        if all(start >= s.end or start + length <= s.start for s in spans):  # else one span fewer
            spans.append(Span(start, start + length, rng.choice(labels)))
    return sorted(spans, key=lambda s: (s.start, -s.end, s.label))


def naba_counts(gold: list[Span], pred: list[Span]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """``{(scheme, label or None for the total): counts}`` from naba.eval.matching."""
    out = {}
    for scheme, by_label in semeval_counts(gold, pred).items():
        rows = {label: tuple(row[c] for c in SEMEVAL_COUNTS) for label, row in by_label.items()}
        out.update({(scheme, label): r for label, r in rows.items()})
        out[scheme, None] = tuple(map(sum, zip(ZERO, *rows.values(), strict=False)))
    return out


def nervaluate_counts(gold: list[Span], pred: list[Span]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """The same from nervaluate's Evaluator: one document, the dict loader's format.

    nervaluate's ``end`` is inclusive (its overlap is ``min(end) - max(start) + 1``, and its CoNLL
    loader gives an entity's last token as ``end``); naba's is exclusive, so ``end - 1`` here. The
    loader is named: "default" infers it from ``true[0][0]``, which fails when gold is empty.
    """
    def docs(spans: list[Span]) -> list[list[dict]]:
        return [[{"label": s.label, "start": s.start, "end": s.end - 1} for s in spans]]

    res = Evaluator(docs(gold), docs(pred), tags=labels, loader="dict").evaluate()
    out = {}
    for scheme, theirs in NERVALUATE.items():
        out[scheme, None] = tuple(getattr(res["overall"][theirs], c) for c in SEMEVAL_COUNTS)
        for label, by_scheme in res["entities"].items():
            out[scheme, label] = tuple(getattr(by_scheme[theirs], c) for c in SEMEVAL_COUNTS)
    return out


def pairs(row: tuple[int, ...]) -> int:
    return sum(row[SEMEVAL_COUNTS.index(c)] for c in ("correct", "incorrect", "partial"))


def show(spans: list[Span]) -> str:
    return "  ".join(f"[{s.start},{s.end}) {s.label}" for s in spans) or "(none)"


kinds = {"agree": 0, "per label only": 0, "fewer pairs": 0, "more pairs": 0, "paired differently": 0}
schemes = dict.fromkeys(SEMEVAL_SCHEMES, 0)  # sets whose totals differ in each scheme
alone = 0  # sets where naba, given each label's spans alone, gives nervaluate's per-label counts
examples: dict[str, tuple] = {}
for n in range(args.sets):
    gold, pred = random_spans(), random_spans()
    ours, theirs = naba_counts(gold, pred), nervaluate_counts(gold, pred)
    keys = sorted(set(ours) | set(theirs), key=lambda k: (SEMEVAL_SCHEMES.index(k[0]), k[1] or ""))
    differ = [k for k in keys if ours.get(k, ZERO) != theirs.get(k, ZERO)]
    totals = [k for k in differ if k[1] is None]
    for scheme, _ in totals:
        schemes[scheme] += 1
    alone += all(
        naba_counts([s for s in gold if s.label == label], [s for s in pred if s.label == label])[scheme, None]
        == theirs.get((scheme, label), ZERO)
        for label in labels
        for scheme in SEMEVAL_SCHEMES
    )
    if not differ:
        kinds["agree"] += 1
        continue
    if not totals:
        kind = "per label only"
    elif any(pairs(theirs[k]) < pairs(ours[k]) for k in totals):
        kind = "fewer pairs"
    elif any(pairs(theirs[k]) > pairs(ours[k]) for k in totals):
        kind = "more pairs"  # naba maximises pairs: this would be a bug in naba
    else:
        kind = "paired differently"
    kinds[kind] += 1
    examples.setdefault(kind, (n, gold, pred, ours, theirs, differ))

print(f"{args.sets} random span sets (seed {args.seed}, labels {','.join(labels)}), naba against nervaluate 1.2.1")
print(f"counts agree in all four schemes, totals and per label: {kinds['agree']}")
print(f"totals agree, per-label counts differ: {kinds['per label only']}")
print(f"totals differ: {args.sets - kinds['agree'] - kinds['per label only']} (nervaluate made fewer pairs: "
      f"{kinds['fewer pairs']}, more: {kinds['more pairs']}, as many, paired differently: {kinds['paired differently']})")
print("  sets whose totals differ, by scheme: " + ", ".join(f"{s} {k}" for s, k in schemes.items()))
print(f"per label, naba's counts of each label's spans alone equal nervaluate's in {alone} sets "
      "(nervaluate scores a label on its own spans: a pair of two labels is missed + spurious there)")
cols = " ".join(f"{c[:3]:>3}" for c in SEMEVAL_COUNTS)
for kind, (n, gold, pred, ours, theirs, differ) in list(examples.items())[:3]:
    print(f"\nset {n} ({kind})\n  gold: {show(gold)}\n  pred: {show(pred)}")
    print(f"  {'scheme':<8} {'label':<9} naba {cols} | nervaluate {cols}")
    for scheme, label in differ:
        a, b = (" ".join(f"{x:3d}" for x in d.get((scheme, label), ZERO)) for d in (ours, theirs))
        print(f"  {scheme:<8} {label or 'total':<9}      {a} |            {b}")
