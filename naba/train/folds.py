"""Cross-validation: ``naba train CONFIG --folds K`` trains K ordinary runs and averages them.

The training documents (``data.train`` as read) go into K folds by
:func:`naba.corpus.split.kfold` with seed ``data.dev_seed`` (so ``run.seed`` changes the models,
never the folds); a text held under several ids in different folds is warned of, as ``naba data split``
does. Fold ``i`` trains on the other K-1 folds and is tested on fold ``i``: its
documents are written as native JSONL to ``RUN_DIR/data/fold-i/`` and a copy of the config points
at them; the run itself is a normal run in ``RUN_DIR/folds/fold-i/`` (dev: ``data.dev`` when
given, else carved from the fold's training documents as usual; ``data.test`` is not used). A
killed cross-validation resumes fold by fold, as a killed run does. ``RUN_DIR/cv.json`` holds
:func:`naba.eval.aggregate_folds` of the folds' final metrics: mean, sd and values per metric, and the
fold runs relative to it. The whole folder may be moved, copied or renamed: its fold runs keep their data
paths relative (:mod:`naba.train.portable`), so it resumes and is read at its new place.
"""

from __future__ import annotations

import copy
import filecmp
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from naba.corpus.fileio import write_error
from naba.corpus.jsonl import write_jsonl
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.split import empty_fold, kfold, split_texts
from naba.errors import ConfigError, DataError, Problem
from naba.train.config import TrainConfig
from naba.train.data import read_file
from naba.train.files import write_json_atomic


def cross_validate(cfg: TrainConfig, k: int, *, show_progress: bool = True) -> dict[str, Any]:
    """Train ``k`` folds of the run ``cfg`` describes; returns (and writes) ``cv.json``'s content."""
    from naba.eval import aggregate_folds
    from naba.train.loop import train

    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"--folds: cross-validation needs at least 2 folds, got {k!r}")
    d, run_dir = cfg.data, cfg.run_dir
    if (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} holds a single training run, not a cross-validation; choose another run.name")
    scheme = LabelScheme.load(d.labels) if d.labels else DEFAULT_SCHEME
    # every label of the scheme is kept in the fold files; each fold run drops what data.layers leaves out
    docs = _read_unique(cfg, "data.train", scheme)
    if k > len(docs):
        raise ConfigError(f"--folds {k}: data.train holds only {len(docs)} document(s); use at most {len(docs)} folds")
    folds = kfold(docs, k, seed=d.dev_seed)
    empty = empty_fold(folds)
    if empty is not None:
        raise ConfigError(f"--folds {k}: fold {empty} gets none of the {len(docs)} documents (folds are drawn "
                          "by hashing document ids); use fewer folds or another data.dev_seed")
    leaks = split_texts({f"fold-{i}": test for i, (_, test) in enumerate(folds)})
    if leaks:  # ids decide the folds, so one article under two ids is trained on and tested, as naba data split warns
        first = ", ".join(f"{i} ({name})" for i, name in leaks[0][:5]) + (", ..." if len(leaks[0]) > 5 else "")
        _say(f"naba train: warning: {len(leaks)} text(s) under several ids in different folds (first: {first}); "
             "a fold tests text another fold trains on unless each text keeps one id")
    dev_docs = _read_unique(cfg, "data.dev", scheme)
    if cfg.run.overwrite:  # all input is read: bad input costs nothing
        _check_clearable(run_dir)
        if _main():
            _clear(run_dir, k, keep_dev=bool(d.dev))
    dev = []
    if d.dev:
        dev = [str(run_dir / "data" / "dev.jsonl")]
        _write(dev_docs, Path(dev[0]), scheme, check=not cfg.run.overwrite)

    for i, (train_docs, test_docs) in enumerate(folds):  # all files first: a changed fold stops before any training
        _write(train_docs, run_dir / "data" / f"fold-{i}" / "train.jsonl", scheme, check=not cfg.run.overwrite)
        _write(test_docs, run_dir / "data" / f"fold-{i}" / "test.jsonl", scheme, check=not cfg.run.overwrite)

    results = []
    for i, (train_docs, test_docs) in enumerate(folds):
        data = run_dir / "data" / f"fold-{i}"
        fold = copy.deepcopy(cfg)
        fold.data.train, fold.data.dev, fold.data.test = [str(data / "train.jsonl")], list(dev), [str(data / "test.jsonl")]
        fold.data.format, fold.data.read_options = "jsonl", {}
        fold.run.dir, fold.run.name = str(run_dir / "folds"), f"fold-{i}"
        _say(f"naba train: fold {i + 1}/{k}: {len(train_docs)} training / {len(test_docs)} test documents")
        # the fold runs move with this folder, which holds their data: config.yaml keeps those paths relative
        results.append(train(fold, show_progress=show_progress, root=run_dir)["final"])

    cv = {"folds": k, "seed": d.dev_seed, "documents": len(docs),
          "test_documents": [len(test) for _, test in folds],
          "runs": [f"folds/fold-{i}" for i in range(k)],  # relative to cv.json's folder, which may move
          "metrics": aggregate_folds(results)["metrics"]}
    if _main():
        write_json_atomic(run_dir / "cv.json", cv)
        print(table(cv))
        print(f"naba train: wrote {run_dir / 'cv.json'}")
    return cv


def table(cv: dict[str, Any], split: str = "test") -> str:
    """Precision, recall and F1 (mean ± sd over the folds) of every layer and ``micro`` on ``split``."""
    metrics = cv["metrics"]
    rows = [name.split("/")[1] for name in metrics if name.startswith(f"{split}/") and name.endswith("/f1")]
    lines = [f"{cv['folds']}-fold cross-validation, exact-span scores on the {split} folds, mean ± sd",
             f"{'layer':<10}" + "".join(f"{m:>18}" for m in ("precision", "recall", "f1"))]
    for row in sorted(rows, key=lambda r: r == "micro"):
        cells = []
        for m in ("precision", "recall", "f1"):
            value = metrics[f"{split}/{row}/{m}"]
            cells.append(f"{value['mean']:.4f} ± {value['sd']:.4f}")
        lines.append(f"{row:<10}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def _read_unique(cfg: TrainConfig, key: str, scheme: LabelScheme) -> list:
    """The documents of the files at ``key`` (data.train or data.dev); an id in two of them is a ConfigError.

    Each reader refuses a repeated id within its file; the fold files (JSONL) hold several files' documents.
    """
    d, docs, seen = cfg.data, [], {}
    for path in getattr(d, key.split(".")[1]):
        for doc in read_file(path, fmt=d.format, scheme=scheme, options=d.read_options):
            if doc.id in seen:
                raise ConfigError(f"--folds: {key}: document id {doc.id!r} is in {seen[doc.id]} and in {path}; "
                                  "a fold's documents go to one JSONL file, where ids must be unique")
            seen[doc.id] = path
            docs.append(doc)
    return docs


def _write(docs: list, path: Path, scheme: LabelScheme, *, check: bool) -> None:
    """Write a fold file; with ``check``, refuse to change one an earlier start wrote differently."""
    new = path.with_name(f".{path.name}.{os.getpid()}.new")  # one per process: all processes write the same
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(docs, new, scheme=scheme)
    except OSError as exc:
        raise write_error(path, exc) from None
    except DataError as exc:
        if any(p.source != str(new) for p in exc.problems):
            raise
        # a full disk: name the fold file, not the temporary one (atomic_write left nothing of it)
        raise DataError([Problem(str(path), p.where, p.reason) for p in exc.problems], about="the output") from None
    if check and path.is_file() and not filecmp.cmp(new, path, shallow=False):
        new.unlink()
        raise ConfigError(f"{path} holds other documents than this cross-validation gives it (the data, --folds "
                          "or data.dev_seed changed); choose another run.name, or set run.overwrite=true")
    try:
        os.replace(new, path)
    except OSError as exc:
        new.unlink(missing_ok=True)
        raise write_error(path, exc) from None


def _check_clearable(run_dir: Path) -> None:
    """Refuse run.overwrite on a folder that holds more than a cross-validation's files (as a single run does)."""
    def other(folder: Path, allowed: Callable[[str], bool]) -> list[str]:
        return [p.name for p in folder.iterdir() if not p.name.startswith(".") and not allowed(p.name)]

    found = other(run_dir, {"cv.json", "folds", "data"}.__contains__) if run_dir.is_dir() else []
    if not found and (run_dir / "data").is_dir():
        found = other(run_dir / "data", lambda name: name == "dev.jsonl" or re.fullmatch(r"fold-\d+", name) is not None)
    if found:
        raise ConfigError(f"{run_dir} is not a naba cross-validation (it holds {', '.join(sorted(found)[:3])}); "
                          "run.overwrite=true will not delete it")


def _clear(run_dir: Path, k: int, *, keep_dev: bool) -> None:
    """For run.overwrite: remove the old cv.json, fold runs and fold files, before anything is written.

    Fold runs are only replaced as each fold is reached: a start killed before then would leave the old
    runs (of other data, K or seed) beside the new fold files, and a resume would take them as finished.
    The fold files this start writes are left to it (every process writes them).
    """
    (run_dir / "cv.json").unlink(missing_ok=True)
    shutil.rmtree(run_dir / "folds", ignore_errors=True)
    keep = {f"fold-{i}" for i in range(k)} | ({"dev.jsonl"} if keep_dev else set())
    for entry in sorted((run_dir / "data").iterdir()) if (run_dir / "data").is_dir() else []:
        if entry.name in keep or entry.name.startswith("."):  # ".dev.jsonl.PID.new": another process's
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _say(line: str) -> None:
    if _main():
        print(line, file=sys.stderr, flush=True)
