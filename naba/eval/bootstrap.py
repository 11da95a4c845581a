"""Uncertainty by resampling documents: percentile confidence intervals and the paired bootstrap.

Both work on a :class:`~naba.eval.metrics.CountTable` (counts per document). A bootstrap sample
draws ``n`` documents with replacement; its counts are ``weights @ matrix`` where ``weights[d]``
says how often document ``d`` was drawn, so 1,000 samples cost one matrix product, not 1,000
runs of seqeval.

Paired test (``compare``): both systems are scored on the SAME resamples. The p-value is the
two-sided paired bootstrap of Berg-Kirkpatrick, Burkett and Klein (2012, "An Empirical
Investigation of Statistical Significance in NLP"): the resampled differences are centred on
the observed one to approximate the null distribution, and ``p = (1 + r) / (1 + R)`` where ``r``
of the ``R`` samples have ``|delta_i - delta| >= |delta|`` (the +1 of Monte Carlo p-values: never 0). (Their paper states the one-sided ``delta_i > 2 * delta``;
the two-sided form makes no assumption about which system is better.) A system compared with
itself has ``delta = 0`` on every resample, so ``p = 1``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from naba.eval.metrics import CountTable, scores_from_totals

METRICS = ("precision", "recall", "f1")
# at most this many (sample x document) weights are held in memory at once
_CHUNK = 4_000_000


def resample_weights(n_docs: int, *, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Batches of ``[batch, n_docs]`` draw counts, ``samples`` rows in all, from ``default_rng(seed)``."""
    if n_docs <= 0:
        raise ValueError("cannot resample an empty set of documents")
    rng = np.random.default_rng(seed)
    batch = max(1, min(samples, _CHUNK // n_docs))
    done = 0
    while done < samples:
        b = min(batch, samples - done)
        idx = rng.integers(0, n_docs, size=(b, n_docs))
        flat = (idx + np.arange(b)[:, None] * n_docs).ravel()
        yield np.bincount(flat, minlength=b * n_docs).reshape(b, n_docs)
        done += b


def resampled_totals(table: CountTable, *, samples: int, seed: int) -> np.ndarray:
    """``[samples, counters]`` summed counts of ``samples`` document resamples."""
    matrix = table.matrix.astype(np.float64)
    return np.concatenate([w @ matrix for w in resample_weights(len(table.doc_ids), samples=samples, seed=seed)])


def metric_arrays(tree: Mapping, *, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"layer/family/label/metric": values}`` for the precision/recall/f1 leaves of a score tree."""
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(metric_arrays(value, prefix=f"{prefix}{key}/"))
        elif key in METRICS:
            flat[f"{prefix}{key}"] = np.asarray(value, dtype=float)
    return flat


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def _defined(values: np.ndarray) -> np.ndarray:
    """The resamples on which a score is defined (not NaN); all zeros when it is defined on none.

    A score with nothing under it on every resample is one the full data lacks too, reported as 0
    (or one so rare that no resample drew it): its interval is then [0, 0], as before.
    """
    kept = values[~np.isnan(values)]
    return kept if kept.size else np.zeros(1)


def intervals(
    table: CountTable, *, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile confidence intervals of every precision/recall/F1 in the table's score tree.

    Each resample is scored as :func:`naba.eval.evaluate` scores a set of documents (macro averages
    over the labels that occur in it); a score with no gold and no predicted span under it in a
    resample (a label the resample lacks) is undefined there and left out, not counted as 0.
    """
    _check_confidence(confidence)
    stack = resampled_totals(table, samples=samples, seed=seed)
    arrays = metric_arrays(scores_from_totals(table, stack, empty=np.nan))
    return {name: _percentiles(_defined(values), confidence) for name, values in arrays.items()}


def paired(
    table_a: CountTable,
    table_b: CountTable,
    *,
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Per metric: ``a``, ``b``, ``diff`` (B - A), its percentile interval and the p-value.

    Both tables must describe the same documents in the same order with the same counters. Each
    system is scored on each resample as :func:`intervals` scores it; a resample on which the
    metric is undefined for both systems is left out, one on which it is undefined for one of
    them counts that one as 0 (as a report would show it).
    """
    if table_a.doc_ids != table_b.doc_ids or table_a.names != table_b.names:
        raise ValueError("paired bootstrap needs two count tables over the same documents and labels")
    _check_confidence(confidence)
    # each system's macro averages run over ITS labels (gold or its own predictions), as in evaluate:
    # a label only B predicts is no 0-F1 label of A's (that would hide B's spurious spans)
    point_a = metric_arrays(scores_from_totals(table_a, table_a.matrix.sum(0)))
    point_b = metric_arrays(scores_from_totals(table_b, table_b.matrix.sum(0)))
    # the same seed gives both systems the same resamples: that is what makes the test paired
    res_a = resampled_totals(table_a, samples=samples, seed=seed)
    res_b = resampled_totals(table_b, samples=samples, seed=seed)
    arrays_a = metric_arrays(scores_from_totals(table_a, res_a, empty=np.nan))
    arrays_b = metric_arrays(scores_from_totals(table_b, res_b, empty=np.nan))
    out: dict[str, dict[str, Any]] = {}
    for name in point_a:
        a, b = float(point_a[name]), float(point_b[name])
        delta = b - a
        both_nan = np.isnan(arrays_a[name]) & np.isnan(arrays_b[name])
        diffs = _defined(np.where(both_nan, np.nan, np.nan_to_num(arrays_b[name]) - np.nan_to_num(arrays_a[name])))
        # tolerance: identical systems give exactly 0, but sums of floats may differ in the last bit
        # (1 + r) / (1 + R), as Monte Carlo p-values are (Davison & Hinkley 1997, eq. 4.11): no resample
        # as extreme as d is p < 1/R, not p = 0
        p = float((1 + np.sum(np.abs(diffs - delta) >= abs(delta) - 1e-12)) / (1 + diffs.size))
        lo, hi = _percentiles(diffs, confidence)
        out[name] = {"a": a, "b": b, "diff": delta, "diff_ci": [lo, hi], "p_value": p}
    return out
