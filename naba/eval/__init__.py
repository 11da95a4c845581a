"""Evaluation: span metrics per layer and label, bootstrap intervals, paired tests, error reports.

Entry points: :func:`evaluate` (one system), :func:`compare` (paired bootstrap of two systems),
:func:`aggregate_folds` (cross-validation mean and sd), :func:`find_errors` (error analysis),
:func:`write_report` (report.md and report.html). ``naba eval`` is in naba.eval.commands.
"""

from naba.eval.core import MODES, aggregate_folds, compare, evaluate
from naba.eval.errors import CATEGORIES, find_errors
from naba.eval.matching import word_tags, words
from naba.eval.metrics import count_table, flatten, score, tag_scores
from naba.eval.report import write_report

__all__ = [
    "CATEGORIES",
    "MODES",
    "aggregate_folds",
    "compare",
    "count_table",
    "evaluate",
    "find_errors",
    "flatten",
    "score",
    "tag_scores",
    "word_tags",
    "words",
    "write_report",
]
