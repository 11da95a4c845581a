"""The ``naba data`` command: validate, stats, convert and split corpora in any supported format.

Nothing here imports torch; only ``stats --tokenizer`` loads the ML core, lazily.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from naba.corpus import formats
from naba.corpus.brat import beside, has_suffix, other_documents
from naba.corpus.conll import docstart_needed, rebuilt_text
from naba.corpus.document import Document
from naba.corpus.fileio import remove_temp_files, same_file, spelled, staged_files
from naba.corpus.jsonl import jsonl_text
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.corpus.split import PARTS, empty_fold, kfold, split, split_texts
from naba.corpus.stats import corpus_stats
from naba.corpus.validate import character_warnings
from naba.errors import ConfigError, DataError, Problem


def register(subparsers: Any) -> None:
    """Add ``naba data`` and its subcommands to the ``naba`` command's subparsers."""
    data = subparsers.add_parser("data", help="validate, describe, convert and split corpora")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    sub = data.add_subparsers(dest="data_command", metavar="{validate,stats,convert,split}")

    p = sub.add_parser("validate", help="check files or folders; print every problem (and warn of spans that split a character)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (searched recursively)")
    p.add_argument("--format", help=f"read every file as this format ({', '.join(formats.FORMATS)})")
    _common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("stats", help="corpus statistics (of all the files and folders given, together)")
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    p.add_argument("--format", help="input format (default: from the extension)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--tokenizer", metavar="MODEL_OR_PATH", help="also count spans a tokenizer cannot represent")
    _common(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("convert", help="convert between formats (writes nothing on invalid input)")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    p.add_argument("--from", dest="from_format", metavar="F", help="input format (default: from the extension)")
    p.add_argument("--to", dest="to_format", metavar="F", help="output format (default: from the extension)")
    p.add_argument("--offsets", choices=["codepoints", "utf16"],
                   help="Label Studio output offsets (default codepoints); doccano's (default utf16)")
    p.add_argument("--shape", choices=["label", "entities"], help="doccano output shape")
    _common(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("split", help="deterministic train/dev/test split or k folds, as native JSONL")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--format", help="input format (default: from the extension)")
    p.add_argument("--ratios", default="0.8,0.1,0.1", help="train,dev,test ratios (default 0.8,0.1,0.1)")
    p.add_argument("--seed", default="13", help="hash seed (default 13)")
    p.add_argument("--folds", type=int, metavar="K", help="write K (2 or more) folds (fold-I/train.jsonl, fold-I/test.jsonl) instead")
    _common(p)
    p.set_defaults(func=cmd_split)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=Path, metavar="PATH", help="label scheme YAML (default: naba's built-in scheme)")
    p.add_argument("--bio-repair", choices=["begin"], help="CoNLL: a stray I- tag starts a span instead of an error")
    p.add_argument("--discontinuous", choices=["error", "merge", "split"], help="brat: discontinuous span policy")
    p.add_argument("--annotation", help="Label Studio: 'first' (default), 'last' or an index")
    p.add_argument("--text-key", help="Label Studio: the data field holding the text (default 'text')")
    p.add_argument(
        "--to-name", help="Label Studio: the Text object (to_name) whose regions are read, those of others skipped "
        "(default: the one object a task's regions are on; regions on several are an error)",
    )
    p.add_argument(
        "--input-offsets", dest="offsets_in", choices=["auto", "codepoints", "utf16"],
        help="Label Studio: the input's offset unit (default 'auto': the one under which every region's "
        "value.text is the text at its offsets); doccano: codepoints or utf16 (default utf16, doccano's own)",
    )
    p.add_argument(
        "--source", choices=["auto", "annotations", "predictions"],
        help="Label Studio: read annotations, predictions (pre-annotations), or 'auto' (default: "
        "a task's annotations when it has any, else its predictions)",
    )


def _scheme(args: argparse.Namespace) -> LabelScheme:
    return LabelScheme.load(args.labels) if args.labels else DEFAULT_SCHEME


def _reader_opts(args: argparse.Namespace, fmt: str) -> dict[str, Any]:
    """The reader options given on the command line that the format ``fmt`` has."""
    annotation = args.annotation
    # one minus sign at most ("--1" made int() fail), and isdecimal, not isdigit: int("²") fails
    if annotation is not None and annotation.removeprefix("-").isdecimal():
        annotation = int(annotation)
    given = {
        "bio_repair": args.bio_repair,
        "discontinuous": args.discontinuous,
        "annotation": annotation,
        "text_key": args.text_key,
        "to_name": args.to_name,
        "source": args.source,
        "offsets": args.offsets_in,
    }
    accepted = formats.options(fmt)
    return {k: v for k, v in given.items() if v is not None and k in accepted}


def _read(path: Path, fmt: str | None, args: argparse.Namespace, scheme: LabelScheme) -> list[Document]:
    fmt = formats.canonical(fmt) if fmt else formats.detect(path)
    return formats.read(path, format=fmt, scheme=scheme, **_reader_opts(args, fmt))


def _identity(path: Path, how: str | None) -> object:
    """What makes two of ``_collect``'s paths one input: the file itself, whatever its name (a hard link, or
    X.jsonl and x.jsonl on a disk that ignores case, which ``Path.resolve()`` leaves apart); a brat pair's
    ``.txt`` counts as its ``.ann`` (``naba data stats b/*`` names each pair twice)."""
    if how in (None, "brat") and path.suffix.lower() == ".txt" and (anns := beside(path, ".ann")):
        path = anns[0]
    try:
        info = path.stat()
    except OSError:
        return path.resolve()
    return (info.st_dev, info.st_ino)


def _collect(paths: list[Path], format: str | None) -> tuple[list[tuple[Path, str | None]], list[Problem]]:
    """The files to read for ``paths`` (folders searched), and problems with the paths themselves."""
    files: list[tuple[Path, str | None]] = []
    problems: list[Problem] = []
    fmt = formats.canonical(format) if format else None
    seen: set[object] = set()

    def add(found: list[tuple[Path, str | None]]) -> None:
        # a file reached twice (given, and in a folder given; or given twice) is read once: read twice, stats
        # counted its documents twice and validate printed its problems twice
        for path, how in found:
            if (key := _identity(path, how)) not in seen:
                seen.add(key)
                files.append((path, how))

    for path in paths:
        # a brat folder is one corpus; any other folder is searched for files to read one by one
        if path.is_dir() and fmt != "brat":
            found = formats.discover(path, format=fmt)
            if not found:
                problems.append(Problem(str(path), "", "no file of a recognised format in this folder"))
            add(list(found))
        elif not path.exists():
            problems.append(Problem(str(path), "", "no such file or folder"))
        else:
            add([(path, fmt)])
    return files, problems


def cmd_validate(args: argparse.Namespace) -> int:
    """Print every problem in every file; exit 1 when there is any, 0 otherwise.

    Valid files' spans that split a user-perceived character are printed as warnings
    (naba.corpus.validate.character_warnings), which leave the exit status alone."""
    scheme = _scheme(args)
    files, problems = _collect(args.paths, args.format)
    warnings: list[Problem] = []
    docs = records = 0
    for path, fmt in files:
        try:
            if fmt in (None, "jsonl") and _is_standoff(path):
                from naba.corpus.anercorp import read_standoff

                records += len(read_standoff(path))
            else:
                read = _read(path, fmt, args, scheme)
                docs += len(read)
                for doc in read:
                    warnings.extend(character_warnings(doc, source=str(path)))
        except DataError as exc:
            problems.extend(exc.problems)
    for problem in problems:
        print(problem)
    for warning in warnings:
        print(f"{warning.source}: {warning.where}: warning: {warning.reason}")
    where = len({p.source for p in problems})
    layers = f" and {records} stand-off record(s)" if records else ""
    warned = f"; {len(warnings)} warning(s) in {len({w.source for w in warnings})} file(s)" if warnings else ""
    print(
        f"checked {len(files)} file(s), {docs} document(s){layers} in valid files: "
        + (f"{len(problems)} problem(s) in {where} file(s)" if problems else "no problems")
        + warned
    )
    return 1 if problems else 0


def _is_standoff(path: Path) -> bool:
    """Whether ``path`` is a stand-off claim layer (naba.corpus.anercorp), not a corpus.

    Such files point into a corpus kept elsewhere (``{"sentence", "sha1", "claims"}`` records, no
    text), so they are checked by their own reader. Only the first record is looked at; a file
    that is neither kind fails in the native reader with its own messages.
    """
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    try:
        # utf-8-sig: a layer saved with a BOM (Notepad, Excel) is still one, as its reader drops the BOM
        with path.open(encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
        record = json.loads(first) if first else None
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and {"sentence", "sha1", "claims"} <= record.keys()


def cmd_stats(args: argparse.Namespace) -> int:
    """Print corpus statistics as a table or JSON."""
    scheme = _scheme(args)
    files, problems = _collect(args.paths, args.format)
    docs: list[Document] = []
    for path, fmt in files:
        if fmt in (None, "jsonl") and _is_standoff(path):
            continue  # a claim layer over a corpus kept elsewhere: no documents of its own
        try:
            docs.extend(_read(path, fmt, args, scheme))
        except DataError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    stats = corpus_stats(docs, scheme=scheme)
    if args.tokenizer:
        stats["unrepresentable"] = _unrepresentable(docs, args.tokenizer)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print(format_stats(stats))
    return 0


def _unrepresentable(docs: list[Document], tokenizer_name: str) -> dict[str, int]:
    # Loaded lazily: the ML core pulls in transformers (and torch), which `naba data` avoids.
    try:
        from naba.encode import unrepresentable
        from naba.model import load_tokenizer
    except ImportError as exc:
        raise ConfigError(f"--tokenizer needs naba.encode and naba.model, which cannot be imported: {exc}") from None
    path = Path(tokenizer_name)
    if path.is_dir() and not (path / "tokenizer.json").is_file():
        # a run folder, as naba eval/tag/predict take: the tokenizer of its model (best/), or its own
        inner = next((path / sub for sub in ("best", "tokenizer") if (path / sub / "tokenizer.json").is_file()), None)
        tokenizer_name = str(inner or path)
    # the text is prepared as the run that made the tokenizer prepares it (model.preset), not always AraBERT's way
    preset = _run_preset(Path(tokenizer_name)) if Path(tokenizer_name).is_dir() else None
    # a run's tokenizer as it was trained with; another (a base model's) as training would load it
    tokenizer = load_tokenizer(tokenizer_name) if preset is None else load_tokenizer(tokenizer_name, never_split=False)
    return dict(unrepresentable(docs, tokenizer) if preset is None else unrepresentable(docs, tokenizer, preset=preset))


def _run_preset(folder: Path) -> str | None:
    """The preparation preset of a naba checkpoint folder (naba.json) or of a run's ``tokenizer/``
    (the run's config.yaml); None for a tokenizer that is neither."""
    import yaml

    from naba.text import PRESETS

    info, config = folder / "naba.json", folder.parent / "config.yaml"
    try:
        if info.is_file():
            data = json.loads(info.read_text(encoding="utf-8"))
            preset = data.get("preset", "arabertv02") if isinstance(data, dict) else None
        elif folder.name == "tokenizer" and config.is_file():
            data = yaml.safe_load(config.read_text(encoding="utf-8"))
            model = data.get("model") if isinstance(data, dict) else None
            preset = model.get("preset", "arabertv02") if isinstance(model, dict) else None
        else:
            return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"--tokenizer: cannot read the preparation preset from {folder}: {exc}") from None
    if preset not in PRESETS:
        raise ConfigError(f"--tokenizer: {folder}: preset must be one of {list(PRESETS)}, got {preset!r}")
    return preset


def format_stats(stats: dict) -> str:
    """The human-readable table ``naba data stats`` prints."""

    def dist(d: dict) -> str:
        if d["min"] is None:
            return "-"
        return f"{d['min']} / {d['median']} / {d['mean']} / {d['max']}"

    rows = [
        f"documents          {stats['documents']} ({stats['documents_without_spans']} without spans)",
        f"characters         {stats['characters']}",
        f"whitespace tokens  {stats['tokens']}",
        f"spans              {stats['spans']}",
        "  per layer        " + ", ".join(f"{k} {v}" for k, v in stats["spans_per_layer"].items()),
        "  per label        " + ", ".join(f"{k} {v}" for k, v in stats["spans_per_label"].items()),
        "span length        min / median / mean / max",
    ]
    for label in stats["spans_per_label"]:
        rows.append(f"  {label:<16} chars {dist(stats['span_length_characters'][label])}")
        rows.append(f"  {'':<16} words {dist(stats['span_length_words'][label])}")
    cross = stats["cross_layer"]
    rows.append("cross-layer        " + (", ".join(f"{k}: {v}" for k, v in cross.items()) or "none"))
    if "unrepresentable" in stats:
        shown = ", ".join(f"{k} {v}" for k, v in stats["unrepresentable"].items()) or "none"
        rows.append(f"unrepresentable    {shown}")
    return "\n".join(rows)


def cmd_convert(args: argparse.Namespace) -> int:
    """Read IN completely (any problem: nothing written), then write OUT atomically."""
    scheme = _scheme(args)
    with spelled({"format": "--from {value}"}):  # convert names the input's format with --from, not --format
        docs = _read(args.input, args.from_format, args, scheme)
    out = args.output
    try:
        to = formats.output_format(out, format=args.to_format)
    except DataError:  # detect() speaks of an input: this is the output's name, and --to names its format
        raise DataError(Problem(str(out), "", f"cannot tell the format from {out.suffix.lower()!r}; name it with --to "
                                f"({', '.join(formats.FORMATS)})"), about="the output") from None
    opts = {k: v for k, v in {"offsets": args.offsets, "shape": args.shape}.items() if v is not None}
    for key, value in opts.items():
        if key not in formats.options(to, writer=True):
            # dropped, it left a file in another form than asked (--shape entities to out.jsonl: native JSONL)
            fits = [f for f in formats.FORMATS if key in formats.options(f, writer=True)]
            raise ConfigError(f"--{key} {value} is for --to {' or '.join(fits)}, not {to} (the format of {out}"
                              f"{'' if args.to_format else ', from its name'})")
    remove_temp_files(out)  # what a conversion killed part way (SIGKILL) left: its temporary file or folders
    if to == "brat" and out.is_dir():
        # a brat folder is not replaced like a file: documents already there would stay and read back
        stale = other_documents(out, {d.id for d in docs})
        if stale:
            raise DataError(Problem(str(out), "", f"holds brat documents not in the input ({', '.join(stale[:5])}"
                                    f"{', ...' if len(stale) > 5 else ''}); write to a new or empty folder"))
    try:
        formats.write(docs, out, format=to, scheme=scheme, **opts)
    except DataError as exc:
        if not any(p.source == "<documents>" for p in exc.problems):
            raise
        # the writer knows documents, not where they came from: these are IN's, so name its file
        raise DataError([Problem(str(args.input), p.where, p.reason) if p.source == "<documents>" else p
                         for p in exc.problems]) from None
    if to == "conll":
        # CoNLL holds tokens, not the text between them: say so when that loses something
        changed = [d.id for d in docs if rebuilt_text(d.text) != d.text]
        if changed:
            print(f"naba data convert: warning: the text of {len(changed)} of {len(docs)} document(s) (first: "
                  f"id={changed[0]}) reads back from CoNLL with its spacing rebuilt (one space between tokens, "
                  "a line per sentence, direction marks dropped)", file=sys.stderr)
    if to in ("conll", "brat"):
        _warn_dropped(docs, to, out)
    if to == "conll" and has_suffix(out, ".txt") and (ann := beside(out, ".ann")):
        # read by its name alone, a .txt with an .ann beside is that brat pair's text, not this file
        print(f"naba data convert: warning: {ann[0].name} beside it: naba reads {out.name} as the text of "
              f"that brat pair unless told --format conll (--from conll); move or rename one of them",
              file=sys.stderr)
    print(f"wrote {len(docs)} document(s) to {out} ({to})", file=sys.stderr)
    return 0


def _warn_dropped(docs: list[Document], to: str, out: Path) -> None:
    # brat keeps no meta, CoNLL neither meta nor ids: a corpus converted there and back loses them silently
    own = {"sentence", "sentences"} if to == "conll" else set()  # CoNLL's record of its sentences, read back anew
    lost = []
    meta = [d.id for d in docs if set(d.meta) - own]
    if meta:
        lost.append(f"{len(meta)} of {len(docs)} document(s) lose their meta (first: id={meta[0]})")
    if to == "conll":
        # the reader names documents by position: f"{stem}-doc{j:04d}" between markers, else f"{stem}-{j:05d}"
        form = "{stem}-doc{j:04d}" if docstart_needed(docs) else "{stem}-{j:05d}"
        ids = [(d.id, new) for j, d in enumerate(docs) if d.id != (new := form.format(stem=out.stem, j=j))]
        if ids:
            lost.append(f"{len(ids)} of {len(docs)} document(s) their id (first: id={ids[0][0]}, read back as "
                        f"id={ids[0][1]})")
    single = to == "brat" and has_suffix(out, ".ann")  # one document, read back under the file's stem
    if single and docs and docs[0].id != out.stem:
        lost.append(f"1 of 1 document(s) its id (first: id={docs[0].id}, read back as id={out.stem})")
    if lost:
        kept = "ids or meta" if to == "conll" or single else "meta"
        print(f"naba data convert: warning: {'CoNLL' if to == 'conll' else 'brat'} keeps no document {kept}: "
              f"{'; '.join(lost)}", file=sys.stderr)


def _parse_ratios(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--ratios must be three numbers like 0.8,0.1,0.1, got {text!r}") from None


def _refuse_input(input: Path, outputs: list[Path]) -> None:
    """A ConfigError when one of ``outputs`` is the ``input`` file: writing it would replace the corpus."""
    for out in outputs:
        if same_file(out, input):
            raise ConfigError(f"--out {out.parent}: {out} is the input {input}; write the split to another folder")


def _warn_split_texts(parts: dict[str, list[Document]]) -> None:
    # ids decide the parts, so one article under two ids can be trained on and tested: say so
    leaks = split_texts(parts)
    if leaks:
        first = ", ".join(f"{i} ({name})" for i, name in leaks[0][:5]) + (", ..." if len(leaks[0]) > 5 else "")
        print(f"naba data split: warning: {len(leaks)} text(s) under several ids in different parts (first: {first}); "
              "a part tests text another trains on unless each text keeps one id", file=sys.stderr)


def cmd_split(args: argparse.Namespace) -> int:
    """Write train/dev/test (or K folds) as native JSONL under ``--out``."""
    if args.folds is not None and args.folds < 2:  # before the input is read; kfold's message names its k, not --folds
        raise ConfigError(f"--folds: a split into folds needs at least 2, got {args.folds}")
    scheme = _scheme(args)
    docs = _read(args.input, args.format, args, scheme)
    remove_temp_files(args.out)  # the staging folder a split killed part way (SIGKILL) left
    if args.folds is not None:
        _refuse_input(args.input, [args.out / f"fold-{i}" / f"{name}.jsonl"
                                   for i in range(args.folds) for name in ("train", "test")])
    else:
        _refuse_input(args.input, [args.out / f"{name}.jsonl" for name in PARTS])
    if args.folds is not None:
        folds = kfold(docs, args.folds, seed=args.seed)
        empty = empty_fold(folds)
        if empty is not None:  # as naba train --folds: a fold without test documents is no fold
            raise ConfigError(f"--folds {args.folds}: fold {empty} gets none of the {len(docs)} document(s) "
                              "(folds are drawn by hashing ids); use fewer folds or another --seed")
        # a fold-J left by a split into more folds would be read as one of these (its documents twice)
        stale = sorted(int(m[1]) for p in (args.out.iterdir() if args.out.is_dir() else [])
                       if (m := re.fullmatch(r"fold-(\d+)", p.name)) and int(m[1]) >= args.folds)
        if stale:
            raise ConfigError(f"--out {args.out} holds {', '.join(f'fold-{j}' for j in stale)} of another split "
                              f"(more folds than {args.folds}); write to a new or empty folder")
        _warn_split_texts({f"fold-{i}": test for i, (_, test) in enumerate(folds)})
        # all the folds or, on a failure part way, none: a fold-0 of this split beside an older fold-1 mixes two
        with staged_files(args.out) as put:
            for i, (train, test) in enumerate(folds):
                for name, part in (("train", train), ("test", test)):
                    put(args.out / f"fold-{i}" / f"{name}.jsonl", jsonl_text(part, scheme=scheme))
        for i, (train, test) in enumerate(folds):
            print(f"fold-{i}: train {len(train)}, test {len(test)}", file=sys.stderr)
        return 0
    ratios = _parse_ratios(args.ratios)
    parts = split(docs, ratios=ratios, seed=args.seed)
    _warn_split_texts(parts)
    for (name, part), ratio in zip(parts.items(), ratios, strict=False):
        if ratio > 0 and not part:  # each document is its own draw: a small corpus can leave a part empty
            print(f"naba data split: warning: {name} gets none of the {len(docs)} document(s) (ratio {ratio:g}; "
                  f"parts are drawn by hashing ids); {name}.jsonl is empty: try another --seed", file=sys.stderr)
    # all three parts or none: a new train beside an older test would share documents with it
    with staged_files(args.out) as put:
        for name, part in parts.items():
            put(args.out / f"{name}.jsonl", jsonl_text(part, scheme=scheme))
    print(", ".join(f"{name} {len(part)}" for name, part in parts.items()), file=sys.stderr)
    return 0
