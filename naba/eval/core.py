"""naba.eval's entry points: evaluate one system, compare two, aggregate cross-validation folds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from naba.corpus.document import Document
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.eval import bootstrap
from naba.eval.metrics import count_table, flatten, scores_from_totals, to_python

MODES = {
    "seqeval_strict": "seqeval mode='strict', scheme=IOB2, over whitespace-word BIO tags",
    "seqeval_default": "seqeval default (conlleval-like) mode over whitespace-word BIO tags",
    "span_exact": "character spans: start, end and label all equal",
    "semeval_strict": "SemEval-2013 9.1 strict: exact boundaries and label",
    "semeval_exact": "SemEval-2013 9.1 exact: exact boundaries, any label",
    "semeval_partial": "SemEval-2013 9.1 partial: overlap counts half, any label",
    "semeval_type": "SemEval-2013 9.1 type (ent_type): any overlap with the right label",
}
BOOTSTRAP_METHOD = "percentile intervals over documents resampled with replacement (numpy default_rng(seed))"
PAIRED_METHOD = (
    "paired bootstrap over documents; p = (1 + r) / (1 + R), r of R resamples with |d_i - d| >= |d| "
    "(two-sided, differences centred on the observed d; Berg-Kirkpatrick et al. 2012)"
)


def evaluate(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    layers: Sequence[str] | None = None,
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Scores of ``pred`` against ``gold`` for every layer, family and label, with intervals.

    Returns ``{"documents", "layers", "modes", "bootstrap", "scores"}`` where
    ``scores[layer][family][label | "micro" | "macro"]`` holds precision, recall, f1, the counts
    behind them and, when ``samples > 0``, ``precision_ci``/``recall_ci``/``f1_ci`` = [low, high].
    """
    # resampled in id order: the same gold read from JSONL or from a brat folder (sorted by file
    # name) must give the same intervals for the same seed
    table = count_table(_by_id(gold), pred, scheme=scheme, layers=layers)
    scores = to_python(scores_from_totals(table, table.matrix.sum(0)))
    out = {
        "documents": len(table.doc_ids),
        "layers": list(table.labels),
        "modes": dict(MODES),
        "scores": scores,
    }
    if samples > 0 and table.doc_ids:
        cis = bootstrap.intervals(table, samples=samples, seed=seed, confidence=confidence)
        for name, (lo, hi) in cis.items():
            *path, metric = name.split("/")
            node = scores
            for key in path:
                node = node[key]
            node[f"{metric}_ci"] = [lo, hi]
        out["bootstrap"] = {"samples": samples, "seed": seed, "confidence": confidence, "method": BOOTSTRAP_METHOD}
    return out


def compare(
    gold: Sequence[Document],
    pred_a: Sequence[Document],
    pred_b: Sequence[Document],
    *,
    scheme: LabelScheme = DEFAULT_SCHEME,
    layers: Sequence[str] | None = None,
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Paired bootstrap of system B against system A on the same gold documents.

    Returns ``{"documents", "layers", "bootstrap", "metrics": {"layer/family/label/metric":
    {"a", "b", "diff", "diff_ci", "p_value"}}}`` with ``diff = b - a``.
    """
    if samples <= 0:
        raise ValueError("compare needs at least one bootstrap sample")
    table_a = count_table(_by_id(gold), pred_a, scheme=scheme, layers=layers)
    table_b = count_table(_by_id(gold), pred_b, scheme=scheme, layers=layers)
    return {
        "documents": len(table_a.doc_ids),
        "layers": list(table_a.labels),
        "bootstrap": {"samples": samples, "seed": seed, "confidence": confidence, "method": PAIRED_METHOD},
        "metrics": bootstrap.paired(table_a, table_b, samples=samples, seed=seed, confidence=confidence),
    }


def _by_id(docs: Sequence[Document]) -> list[Document]:
    return sorted(docs, key=lambda d: d.id)


def aggregate_folds(folds: Sequence[Mapping]) -> dict:
    """Mean and sample standard deviation of every numeric leaf across cross-validation folds.

    ``folds`` are metrics dicts of the same shape (:func:`evaluate` results, or any nested dict
    of numbers); leaves are named ``"a/b/c"``; a leaf missing from any fold is left out (interval
    lists are not numbers and are skipped). Returns ``{"folds": k, "metrics": {name: {"mean",
    "sd", "values"}}}``; ``sd`` is ``None`` for a single fold.
    """
    if not folds:
        raise ValueError("aggregate_folds needs at least one fold")
    flats = [flatten(f) for f in folds]
    names = [n for n in flats[0] if all(n in f for f in flats[1:])]
    out = {}
    for name in names:
        values = [f[name] for f in flats]
        mean = math.fsum(values) / len(values)
        sd = None
        if len(values) > 1:
            sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
        out[name] = {"mean": mean, "sd": sd, "values": values}
    return {"folds": len(folds), "metrics": out}
