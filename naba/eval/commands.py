"""``naba eval``: score a model or a predictions file; ``naba eval compare``: a paired bootstrap.

    naba eval MODEL_OR_RUN --data FILE [--format F] [--out DIR] [--bootstrap 1000] [--seed 0]
    naba eval --pred FILE --data FILE --out DIR [...]
    naba eval compare A B --data FILE [--out DIR] [...]

A and B of ``compare`` are each a model (a checkpoint or run folder) or a predictions file.
``naba eval`` writes metrics.json, report.md, report.html, errors.jsonl and predictions.jsonl;
without ``--out`` they go to ``MODEL_OR_RUN/eval/<data file stem>/`` (a folder of their own, so
that a run's training metrics.json is never overwritten).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from naba.corpus.document import Document
from naba.corpus.fileio import (
    CONVERT_FIRST,
    atomic_write,
    remove_temp_files,
    same_file,
    spelled,
    staged_files,
    visible_files,
)
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError, DataError, ModelLoadError, Problem

USAGE = (
    "naba eval [MODEL_OR_RUN] --data FILE [--pred FILE] [--format F] [--out DIR] [--bootstrap N] [--seed S]\n"
    "       naba eval compare A B --data FILE [--out DIR] [--bootstrap N] [--seed S]"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``naba eval`` (and its ``compare`` form) to the ``naba`` command."""
    p = subparsers.add_parser(
        "eval",
        help="score predictions against gold spans (per layer and label, with bootstrap intervals)",
        usage=USAGE,
        description="Score a model or a predictions file against gold spans; 'naba eval compare A B' runs a "
        "paired bootstrap of two systems (each a model or a predictions file).",
    )
    p.add_argument("targets", nargs="*", metavar="MODEL_OR_RUN | compare A B", help="a model, or 'compare A B'")
    p.add_argument("--data", required=True, help="gold documents (any corpus format)")
    p.add_argument("--format", help="format of --data (default: from the extension)")
    p.add_argument("--pred", help="a predictions file to score instead of running a model")
    p.add_argument("--pred-format", help="format of the predictions files (default: from the extension)")
    p.add_argument(
        "--labels",
        help="label scheme YAML (default: naba's built-in scheme, or a local model's own where it has other labels)",
    )
    p.add_argument(
        "--bio-repair", choices=["begin"], help="CoNLL files: read a stray I- as B- instead of failing (ANERcorp needs it)"
    )
    p.add_argument("--text-key", help="Label Studio files: the data field holding the text (default 'text')")
    p.add_argument("--to-name", help="Label Studio files: the Text object whose regions are read (see naba data)")
    # the gold's alone: the readers' errors name them, and a predictions file is read as naba wrote it
    p.add_argument(
        "--source", choices=["auto", "annotations", "predictions"],
        help="Label Studio --data: read its annotations or its predictions (default 'auto', see naba data)",
    )
    p.add_argument(
        "--input-offsets", dest="offsets_in", choices=["auto", "codepoints", "utf16"],
        help="Label Studio or doccano --data: its offset unit (see naba data)",
    )
    p.add_argument("--discontinuous", choices=["error", "merge", "split"], help="brat --data: discontinuous spans")
    p.add_argument("--layers", help="comma-separated layers to score (default: a model's layers; for prediction "
                   "files, those where the gold or a prediction has a span)")
    p.add_argument("--out", help="output folder (default: MODEL_OR_RUN/eval/<--data file stem>/; needed with --pred; "
                   "compare writes compare.json there, and nothing without it)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0 or more; default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval confidence level (default 0.95)")
    p.add_argument("--context", type=int, default=40, help="characters of context around each error (default 40)")
    p.add_argument("--max-docs", type=int, default=200, help="documents drawn in report.html (default 200)")
    p.add_argument("--batch-size", type=int, default=None, help="windows per batch when running a model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``naba eval``: score one system and write its metrics, errors, predictions and reports."""
    _check_numbers(args)
    if args.targets[:1] == ["compare"]:
        return run_compare(args)
    if len(args.targets) > 1:
        raise ConfigError(f"naba eval takes one model, got {args.targets}; usage:\n{USAGE}")
    model = args.targets[0] if args.targets else None
    if (model is None) == (args.pred is None):
        raise ConfigError("naba eval needs either a model or --pred FILE (not both)")
    if model is None and not args.out:
        raise ConfigError("--out DIR is required with --pred")
    if model is not None and not args.out and not Path(model).is_dir():
        raise ConfigError(f"{model} is not a local folder: give --out DIR for the results")
    from naba.eval.core import evaluate
    from naba.eval.errors import errors_jsonl, find_errors
    from naba.eval.report import render_html, render_markdown
    from naba.eval.sources import predictions_jsonl

    scheme = _scheme(args)
    gold = _read_gold(args, scheme)
    pred, model_layers = _predictions(
        model or args.pred, gold, scheme=scheme, fmt=args.pred_format, args=args, file_only=model is None
    )
    layers = _layers(args, scheme, model_layers, (gold, pred))
    out = Path(args.out) if args.out else Path(model) / "eval" / Path(args.data).stem
    metrics = evaluate(
        gold, pred, scheme=scheme, layers=layers, samples=args.bootstrap, seed=args.seed, confidence=args.confidence
    )
    metrics["data"] = str(args.data)
    metrics["system"] = str(model or args.pred)
    errors = find_errors(gold, pred, scheme=scheme, layers=layers, context=args.context)
    title = f"naba evaluation: {metrics['system']} on {args.data}"
    # everything is rendered before the first file is written
    files = {
        "metrics.json": _json(metrics),
        "errors.jsonl": errors_jsonl(errors),
        "predictions.jsonl": predictions_jsonl(pred),
        "report.md": render_markdown(metrics, errors, title=title),
        "report.html": render_html(metrics, gold, pred, errors, scheme=scheme, title=title, max_docs=args.max_docs),
    }
    # all five or none: new metrics beside an older report would disagree
    remove_temp_files(out)  # the staging folder an evaluation killed part way (SIGKILL) left
    with staged_files(out) as put:
        for name, text in files.items():
            put(out / name, text)
    print(format_table(metrics))
    print(f"\n{len(errors)} errors; wrote {', '.join(files)} to {out}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``naba eval compare A B``: paired bootstrap of two systems; ``compare.json`` with ``--out``."""
    if len(args.targets) != 3:
        raise ConfigError(f"naba eval compare takes two systems A B; usage:\n{USAGE}")
    if args.pred:
        raise ConfigError("naba eval compare takes its two systems as arguments, not --pred")
    if args.bootstrap <= 0:
        raise ConfigError("naba eval compare needs --bootstrap of at least 1")
    from naba.eval.core import compare

    scheme = _scheme(args)
    gold = _read_gold(args, scheme)
    for system in args.targets[1:]:
        # both before either runs: B's refusal came once A had tagged the whole gold
        _check_labels(args, system, scheme)
    pred_a, layers_a = _predictions(args.targets[1], gold, scheme=scheme, fmt=args.pred_format, args=args)
    pred_b, layers_b = _predictions(args.targets[2], gold, scheme=scheme, fmt=args.pred_format, args=args)
    shared = None
    if layers_a is not None or layers_b is not None:
        shared = tuple(x for x in (layers_a or layers_b) if x in (layers_b or layers_a))
    layers = _layers(args, scheme, shared, (gold, pred_a, pred_b))
    result = compare(
        gold, pred_a, pred_b, scheme=scheme, layers=layers, samples=args.bootstrap, seed=args.seed,
        confidence=args.confidence,
    )
    result.update({"data": str(args.data), "a": args.targets[1], "b": args.targets[2]})
    if args.out:
        atomic_write(Path(args.out) / "compare.json", _json(result))
    print(format_compare(result))
    return 0


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _check_numbers(args: argparse.Namespace) -> None:
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    # numpy's default_rng takes no negative seed: its ValueError came as a traceback, once the files were read
    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    if not 0.0 < args.confidence < 1.0:
        raise ConfigError(f"--confidence must be between 0 and 1, got {args.confidence}")
    for name in ("context", "max_docs"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")


def _scheme(args: argparse.Namespace) -> LabelScheme:
    if args.labels:
        return LabelScheme.load(args.labels)
    from naba.eval.sources import is_model

    # a model trained on its own scheme (ORG, EVENT; a claim layer of CLAIM and DENIAL) was scored
    # under naba's built-in one: its gold refused, or its own predictions ("unknown label 'ORG'")
    models = [t for t in args.targets if t != "compare" and is_model(t)]
    if not models:
        return DEFAULT_SCHEME
    from naba.predict.setup import files_scheme

    return files_scheme(models)


def _read_gold(args: argparse.Namespace, scheme: LabelScheme) -> list[Document]:
    from naba.corpus import formats
    from naba.corpus.formats import read

    options = _reader_options(args, args.data, args.format)
    name = formats.canonical(args.format) if args.format else formats.detect(args.data)
    gold_only = {"source": args.source, "offsets": args.offsets_in, "discontinuous": args.discontinuous}
    options.update({k: v for k, v in gold_only.items() if v and k in formats.options(name)})
    gold = read(args.data, format=args.format, scheme=scheme, **options)
    if not gold:
        # naba eval scored nothing as P = R = F1 = 0.0 in every mode (numbers no data can give), and
        # a paired bootstrap has nothing to resample
        raise DataError(Problem(str(args.data), "", "no documents: there is nothing to score"))
    return gold


def _reader_options(args: argparse.Namespace, path: str | Path, fmt: str | None) -> dict:
    """``--bio-repair`` (CoNLL), ``--text-key`` and ``--to-name`` (Label Studio) for a file whose
    reader has the option; nothing for other formats."""
    from naba.corpus import formats
    from naba.eval.sources import is_prediction_jsonl

    given = {"bio_repair": args.bio_repair, "text_key": args.text_key, "to_name": args.to_name}
    given = {k: v for k, v in given.items() if v}
    if not given or fmt == "predictions" or (fmt is None and is_prediction_jsonl(path)):
        return {}
    name = formats.canonical(fmt) if fmt else formats.detect(path)
    return {k: v for k, v in given.items() if k in formats.options(name)}


def _predictions(
    system: str,
    gold: Sequence[Document],
    *,
    scheme: LabelScheme,
    fmt: str | None,
    args: argparse.Namespace,
    file_only: bool = False,
) -> tuple[list[Document], tuple[str, ...] | None]:
    """Predicted documents of ``system`` and, for a model, its layers (None for a file)."""
    from naba.corpus.brat import has_suffix
    from naba.corpus.formats import SUFFIXES
    from naba.eval.matching import align
    from naba.eval.sources import is_model, predict, read_predictions

    path = Path(system)
    if not file_only and (is_model(path) or (not path.exists() and path.suffix.lower() not in SUFFIXES)):
        _check_labels(args, system, scheme)
        # a model folder, or a hub id, which the Tagger loads from the local cache or refuses clearly
        return predict(system, gold, batch_size=args.batch_size)
    if not path.exists():
        raise DataError(Problem(system, "", "no such predictions file"))
    # as the brat reader looks: .ann files in any case, in subfolders too (ids are relative paths), hidden ones skipped
    if not file_only and path.is_dir() and not any(has_suffix(p, ".ann") for p in visible_files(path)):
        from naba.predict.setup import model_hint  # imports torch: only for this error
        raise ModelLoadError(
            f"{path}: neither a model (no naba.json here or in best/) nor a brat folder of predictions (no .ann files)"
            f"{model_hint(path)}"
        )
    options = _reader_options(args, path, fmt)
    if _is_labelstudio(path, fmt) and same_file(path, Path(args.data)):
        # the gold is this export's annotations: the system is its predictions (read from the
        # annotations as well, as source 'auto' does, it scored them against themselves: 100%)
        options["source"] = "predictions"
    # the gold's own options (--format, --source, --input-offsets) are not the predictions'
    gold_only = dict.fromkeys(("source", "offsets", "discontinuous"), CONVERT_FIRST)
    with spelled({"format": "--pred-format {value}", **gold_only}):
        pred = read_predictions(path, gold, scheme=scheme, format=fmt, options=options)
    # checked here, where the file names are known, so that problems name the files
    align(gold, pred, scheme=scheme, gold_source=str(args.data), pred_source=str(path))
    return pred, None


def _check_labels(args: argparse.Namespace, system: str, scheme: LabelScheme) -> None:
    """A ConfigError where ``--labels`` lacks the labels or layers of the local model ``system``."""
    from naba.eval.sources import is_model

    if args.labels and is_model(system):
        # known now, not once every gold text is tagged, and named: the error was "predictions:
        # record 3 (id=a3): unknown label 'EVENT'", naming neither the model nor the scheme file
        from naba.predict.setup import local_scheme

        own = local_scheme(system)
        missing = [x for x in own.labels if x not in scheme.labels] if own is not None else []
        if missing:
            raise ConfigError(
                f"{args.labels}: the model {system} has label(s) {missing} that this label scheme lacks "
                f"(it has {list(scheme.labels)}); leave out --labels to score it under its own"
            )
        # a layer named otherwise was refused once the gold was tagged, and a label in another layer
        # (LOCATION in 'place') scored nowhere, quietly
        if own is not None and (
            moved := [x for x, labels in own.layers.items() if not set(labels) <= set(scheme.layers.get(x, ()))]
        ):
            raise ConfigError(
                f"{args.labels}: the model {system}'s layer(s) {moved} are not this label scheme's (the model "
                f"has {own.to_dict()['layers']}, the scheme {scheme.to_dict()['layers']}); leave out --labels "
                "to score it under its own"
            )


def _is_labelstudio(path: Path, fmt: str | None) -> bool:
    from naba.corpus import formats

    if fmt == "predictions" or not path.is_file():
        return False
    try:
        return (formats.canonical(fmt) if fmt else formats.detect(path)) == "labelstudio"
    except (ConfigError, DataError):  # an unknown format: read_predictions says so
        return False


def _layers(
    args: argparse.Namespace,
    scheme: LabelScheme,
    model_layers: Sequence[str] | None,
    corpora: Sequence[Sequence[Document]] = (),
) -> list[str]:
    available = list(model_layers) if model_layers is not None else list(scheme.layers)
    unknown = [x for x in available if x not in scheme.layers]
    if unknown:
        raise ConfigError(f"the model has layer(s) {unknown} that the label scheme lacks ({list(scheme.layers)})")
    if not args.layers:
        if model_layers is None:
            # files do not say which layers their system has: a layer without one span in the gold or
            # any system's file (CLAIM, for predictions of an entity-only model on ANERcorp) was
            # reported as P = R = F1 = 0, numbers no data gave, where naba eval MODEL leaves it out
            used = {scheme.layer_of(s.label) for docs in corpora for d in docs for s in d.spans}
            empty = [x for x in available if x not in used]
            if empty and len(empty) < len(available):
                # --layers names every layer scored: the hint "--layers claim" scored claim and dropped entity
                print(f"naba eval: no gold or predicted span in layer(s) {empty}: not scored "
                      f"(--layers {','.join(available)} scores them too)", file=sys.stderr)
                return [x for x in available if x in used]
        return available
    wanted = [x.strip() for x in args.layers.split(",") if x.strip()]
    if not wanted:
        # "," or " " scored no layer at all: empty tables and files, and exit code 0
        raise ConfigError(f"--layers {args.layers!r} names no layer (available: {available})")
    missing = [x for x in wanted if x not in available]
    if missing:
        raise ConfigError(f"--layers {missing}: not available (available: {available})")
    return wanted


def format_table(metrics: dict) -> str:
    """A plain-text table of micro P/R/F1 (with intervals) and macro F1 per layer and mode."""
    lines = []
    ci = "bootstrap" in metrics
    level = f"F1 {100 * metrics['bootstrap']['confidence']:g}% CI" if ci else ""
    for layer in metrics["layers"]:
        lines.append(f"layer {layer} ({metrics['documents']} documents)")
        lines.append(f"  {'mode':<16} {'P':>6} {'R':>6} {'F1':>6}  {level:<15} {'macro F1':>8}")
        for family, block in metrics["scores"][layer].items():
            m = block["micro"]
            interval = f"[{100 * m['f1_ci'][0]:5.1f}, {100 * m['f1_ci'][1]:5.1f}]" if ci else ""
            lines.append(
                f"  {family:<16} {100 * m['precision']:6.1f} {100 * m['recall']:6.1f} {100 * m['f1']:6.1f}  "
                f"{interval:<15} {100 * block['macro']['f1']:8.1f}"
            )
    return "\n".join(lines)


def format_compare(result: dict) -> str:
    """A plain-text table of the micro and macro F1 differences B - A with p-values."""
    lines = [f"B - A over {result['documents']} documents, {result['bootstrap']['method']}"]
    level = f"{100 * result['bootstrap']['confidence']:g}% CI"
    lines.append(f"  {'metric':<44} {'A':>6} {'B':>6} {'B-A':>7}  {level:<17} {'p':>6}")
    for name, r in result["metrics"].items():
        if not name.endswith("/f1") or "/micro/" not in name and "/macro/" not in name:
            continue
        lo, hi = r["diff_ci"]
        lines.append(
            f"  {name:<44} {100 * r['a']:6.1f} {100 * r['b']:6.1f} {100 * r['diff']:+7.1f}  "
            f"[{100 * lo:+6.1f}, {100 * hi:+6.1f}] {r['p_value']:6.3f}"
        )
    return "\n".join(lines)
