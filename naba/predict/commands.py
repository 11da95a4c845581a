"""The ``naba predict``, ``naba tag`` and ``naba render`` subcommands."""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from naba.predict.exports import FORMATS, OFFSETS
from naba.predict.inputs import CHUNK_DOCS


def register_predict(subparsers: argparse._SubParsersAction) -> None:
    """Add ``naba predict MODEL INPUT -o OUTPUT``."""
    p = subparsers.add_parser(
        "predict",
        help="tag documents with a trained model (streaming, resumable)",
        description=(
            "Tag every document of INPUT (JSONL, a .txt file, a folder of .txt files, or Parquet) and write "
            "one JSONL line per document, {id, spans}, in input order. JSONL may be compressed (.jsonl.gz, "
            ".jsonl.bz2, .jsonl.xz; .jsonl.zst with the zstandard package): it is decompressed as it is "
            "read. Run it again after a crash, or after repairing a truncated compressed file (the job "
            "tags what came before the damage, then stops naming the line): it skips the ids already "
            "written (a corrupt one's may have been read damaged: tag the repaired file into a new "
            "output). Bad records go to a rejects file. Under torchrun or accelerate launch the input is "
            "shared out among the processes."
        ),
    )
    p.add_argument("model", help="a run folder (uses best/), a checkpoint folder, or a hub id in the local cache")
    p.add_argument("input", help="JSONL file (.jsonl, or compressed: .jsonl.gz, .jsonl.bz2, .jsonl.xz, .jsonl.zst), "
                   ".txt file, folder of .txt files, or .parquet file")
    p.add_argument("-o", "--output", required=True, help="output file (a folder for --format brat)")
    p.add_argument("--id-field", default="id", help="id field of JSONL/Parquet records (default: id)")
    p.add_argument("--text-field", default="text", help="text field of JSONL/Parquet records (default: text)")
    p.add_argument("--batch-tokens", type=int, default=None, help="padded tokens per model batch (default: 65536 on GPUs, 2048 on CPU)")
    p.add_argument("--chunk-docs", type=int, default=CHUNK_DOCS, help=f"documents read, tagged and written per chunk (default {CHUNK_DOCS})")
    p.add_argument("--rejects", default=None, help="where bad records go (default: OUTPUT's stem + .rejects.jsonl)")
    p.add_argument("--rules", action="store_true", help="claims from the rule-based finder (naba.claims)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    p.add_argument(
        "--dtype", default=None, choices=["fp32", "bf16", "fp16"],
        help="compute precision (default: bf16 on GPUs that have it, fp16 on other GPUs, fp32 on CPU)",
    )
    p.add_argument("--format", default="jsonl", choices=FORMATS, help="output format (default: jsonl)")
    p.add_argument("--offsets", default=None, choices=OFFSETS,
                   help="offset unit of --format labelstudio (default: codepoints; the other formats count code points)")
    p.add_argument("--layer", default=None, help="the one layer written by --format conll (default: entity)")
    p.add_argument("--with-text", action="store_true", help="put each document's text in its JSONL line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--workers", default="auto", type=_workers,
        help="processes that prepare, encode and decode texts beside the model, so that the host keeps up "
        "with a GPU (default: auto = none on CPU; on a GPU, this process's cores less one, up to 16)",
    )
    p.add_argument(
        "--no-fast-path", action="store_true",
        help="run transformers' forward instead of naba's own encoder (naba.predict.fastpath on CPU, gpupath on GPUs)",
    )
    p.set_defaults(func=_predict)


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    if not value.isdecimal():  # not isdigit: int("²") fails, and argparse said "invalid _workers value"
        raise argparse.ArgumentTypeError(f"a count (0 or more) or auto, not {value!r}")
    return int(value)


def register_render(subparsers: argparse._SubParsersAction) -> None:
    """Add ``naba render INPUT -o page.html``."""
    p = subparsers.add_parser(
        "render",
        help="draw tagged documents as an HTML page",
        description="An HTML page of predictions (JSONL) or of any corpus file: right to left, a colour per label.",
    )
    p.add_argument("input", help="predictions JSONL, or a corpus file naba reads")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--source", default=None, help="the predicted input, for predictions written without text")
    p.add_argument("--limit", type=int, default=None, help="draw only the first N documents")
    p.add_argument("--title", default=None, help="page title (default: the input's name)")
    p.add_argument("--bio-repair", choices=["begin"], help="CoNLL input: a stray I- tag starts a span instead of an error")
    p.add_argument(
        "--labels", default=None, help="label scheme YAML of a corpus file (default: naba's built-in scheme)"
    )
    p.set_defaults(func=_render)


def register_tag(subparsers: argparse._SubParsersAction) -> None:
    """Add ``naba tag MODEL [FILE ...] [--text TEXT]``: print spans for a few documents."""
    p = subparsers.add_parser(
        "tag",
        help="print the spans a model finds in a few texts (for a corpus, use 'naba predict')",
        description=(
            "Tag each FILE (a .txt file is one document; any other file is read as a corpus in the "
            "format its name says) or each --text, and print the spans in the original text's "
            "code-point offsets: layer, label, [start, end), score and the span's text."
        ),
    )
    p.add_argument("model", help="a run folder (uses best/), a checkpoint folder, or a hub id in the local cache")
    p.add_argument("files", nargs="*", help=".txt files or corpus files")
    p.add_argument("--text", action="append", default=[], help="a text to tag (repeatable)")
    p.add_argument("--format", default=None, help="corpus format of FILES (default: from the file name)")
    p.add_argument("--rules", action="store_true", help="claims from the rule-based finder (naba.claims)")
    p.add_argument("--json", action="store_true", help="one JSON line per document instead of a table")
    p.add_argument("--width", type=int, default=70, help="longest span text shown in the table (default 70)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: a GPU if there is one)")
    p.set_defaults(func=_tag)


def _tag(args: argparse.Namespace) -> int:
    import torch

    from naba.corpus.brat import beside, has_suffix
    from naba.corpus.fileio import CONVERT_FIRST, read_text, spelled
    from naba.corpus.formats import read
    from naba.errors import ConfigError
    from naba.predict.host import with_rule_claims
    from naba.predict.setup import files_scheme
    from naba.predict.tagger import Tagger

    if args.width < 2:  # room for one character and the ellipsis
        raise ConfigError(f"--width must be at least 2, got {args.width}")
    docs: list[tuple[str, str]] = [(f"text-{i}", _argv_text(t)) for i, t in enumerate(args.text)]
    # a corpus annotated with the model's own labels (EVENT, DENIAL, ...) was refused under naba's
    # built-in scheme, though tag reads only its texts
    scheme = files_scheme([args.model])
    # naba tag takes no reader option but --format: the readers' advice says to convert the file first
    with spelled({"*": CONVERT_FIRST, "format": "{flags}"}):
        for name in args.files:
            path = Path(name)
            if has_suffix(path, ".txt") and args.format is None and not beside(path, ".ann"):
                # line ends kept as in the file (no CRLF translation), so offsets count the file's characters
                docs.append((path.stem, read_text(path, keep_bom=True)))
            else:
                docs.extend((d.id, d.text) for d in read(path, format=args.format, scheme=scheme))
    if not docs:
        raise ConfigError("nothing to tag: give one or more FILEs or --text TEXT (see naba tag --help)")
    tagger = Tagger.from_pretrained(args.model, device=args.device)
    _export_scheme(args, tagger.space.scheme)  # --rules with a model that has CLAIM outside a claim layer: refused
    try:
        results = tagger([text for _, text in docs])
    # torch.cuda's: torch.OutOfMemoryError (the same class) only exists from torch 2.5 on, and an except
    # clause naming it turned any error raised here into an AttributeError on torch 2.2-2.4
    except torch.cuda.OutOfMemoryError:
        raise _out_of_memory(args.model, tagger, dtype_flag=False) from None
    for (doc_id, text), spans in zip(docs, results, strict=True):
        if args.rules:
            spans = with_rule_claims(text, spans)
        if args.json:
            print(json.dumps({"id": doc_id, "spans": spans}, ensure_ascii=False))
            continue
        print(f"# {_visible(doc_id)}: {len(text)} characters, {len(spans)} span(s)")
        for s in sorted(spans, key=lambda s: (s["start"], -s["end"], s["layer"])):
            shown = _visible(" ".join(s["text"].split()))
            if len(shown) > args.width:
                shown = shown[: args.width - 1] + "…"
            print(f"  {s['layer']:<7} {s['label']:<9} [{s['start']:>5}, {s['end']:>5})  {s['score']:.2f}  {shown}")
    return 0


def _out_of_memory(model: str, tagger: Any, *, kept: Path | None = None, dtype_flag: bool = True) -> Exception:
    """The error for a device that runs out of memory on one window: the Tagger halves a batch that
    does until one window is left, so the model itself does not fit in what the device has free."""
    import torch

    from naba.errors import ConfigError

    so_far = "" if kept is None else f"; the documents tagged so far stay in {kept}, and a rerun resumes after them"
    # only from fp32: a GPU's default is bf16 (fp16 without it) already
    half = "use --dtype bf16 or fp16 on a GPU, " if dtype_flag and tagger.dtype == torch.float32 else ""
    return ConfigError(
        f"{model}: out of memory on {tagger.device} running a single window of up to {tagger.max_length} tokens "
        f"(dtype {str(tagger.dtype).removeprefix('torch.')}){so_far}. Free memory on the device (other "
        f"processes?), {half}or run on a device with more memory"
    )


# C0 and C1 control characters: scraped text can hold terminal escapes ("\x1b[2J", "\x1b]0;title\x07"),
# which printed raw would clear or retitle the terminal, and NUL or mis-decoded C1 bytes, shown as nothing
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _visible(text: str) -> str:
    """``text`` for a terminal: each control character as its ``\\xNN`` escape."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _argv_text(text: str) -> str:
    """``--text`` as typed. Where argv is decoded as ASCII (LC_ALL=C with PYTHONUTF8=0) each UTF-8
    byte of Arabic arrives as a lone surrogate: tagged so, every offset counted bytes."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    try:
        return os.fsencode(text).decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8 bytes: left as the locale gave them
        return text


def _predict(args: argparse.Namespace) -> int:
    import torch

    from naba.corpus.fileio import remove_temp_files
    from naba.errors import ConfigError
    from naba.predict.batch import (
        check_plain_name,
        current_shard,
        default_rejects,
        in_text_folder,
        job_device,
        run_job,
        same_file,
    )
    from naba.predict.io import input_kind
    from naba.predict.jobrecord import record_path
    from naba.predict.setup import local_scheme
    from naba.predict.tagger import Tagger

    if args.batch_tokens is not None and args.batch_tokens < 1:
        raise ConfigError("--batch-tokens must be at least 1")
    if args.chunk_docs < 1:
        raise ConfigError("--chunk-docs must be at least 1")
    # options of one export format given with another: ignored, --offsets utf16 wrote code points into
    # a JSONL output and --layer left every layer in it, with nothing said
    if args.offsets not in (None, "codepoints") and args.format != "labelstudio":
        raise ConfigError(f"--offsets {args.offsets} is for --format labelstudio, not --format {args.format} "
                          "(the other formats' offsets are code points)")
    if args.layer is not None and args.format != "conll":
        raise ConfigError(f"--layer is for --format conll; --format {args.format} writes every layer")
    args.offsets, args.layer = args.offsets or "codepoints", args.layer or "entity"
    output = Path(args.output)
    # the job itself always writes resumable JSONL; other formats are made from it at the end
    exporting = args.format != "jsonl"
    work = output.with_name(output.name + ".work.jsonl") if exporting else output
    # now, not once the model is loaded: the job's own check comes after it
    check_plain_name(output, "the output")
    if args.rejects is not None:
        check_plain_name(Path(args.rejects), "the rejects file")
    if exporting and same_file(output, Path(args.input)):
        raise ConfigError(f"{output}: the output is the input; choose another -o")
    if exporting and in_text_folder(output, Path(args.input)):
        raise ConfigError(f"{output}: the output is a .txt file in the input folder, whose .txt files are its "
                          "documents (a rerun would tag it); choose another name or folder")
    if exporting and args.rejects is not None and same_file(Path(args.rejects), output):
        # the job checks the rejects against its work file; the export would replace them
        raise ConfigError(f"{args.rejects}: the rejects file is the output; choose another --rejects")
    if exporting and args.format != "brat" and output.is_dir():
        # now, not once the whole corpus is tagged
        raise ConfigError(f"{output}: is a folder; --format {args.format} writes a file")
    if args.format == "brat":
        from naba.predict.exports import check_brat_folder

        check_brat_folder(output)  # now, not once the whole corpus is tagged
    # a mistyped or unknown input, now, not once every process has loaded the model (a GPU job's log
    # held the error once per process, then the launcher's traceback)
    input_kind(args.input)
    if args.format == "conll" and (scheme := local_scheme(args.model)) is not None:
        # a local model's naba.json names its layers: a --layer it lacks is refused before it loads
        _check_layer(args, _export_scheme(args, scheme))
    shard = current_shard()
    tagger = Tagger.from_pretrained(
        args.model, device=job_device(args.device, shard), dtype=args.dtype,
        fast_path=False if args.no_fast_path else None, workers=args.workers,
    )
    export_scheme = _export_scheme(args, tagger.space.scheme)
    if args.format == "conll":
        _check_layer(args, export_scheme)  # a hub id's layers are known only now
    check_id = None
    if args.format == "brat":
        from naba.corpus.brat import id_problem

        # brat makes a file of each id: ids that cannot have their own become rejects, not a
        # failed export once the whole corpus is tagged
        files: dict[str, str] = {}
        check_id = functools.partial(id_problem, seen=files)

    def export(_: Any) -> None:
        # under the job's lock: a second naba predict started now would delete this export's temporary
        # file as a killed one's, export too, and delete the work file under this one
        remove_temp_files(output)  # an export killed part way left its temporary file (brat: folder)
        _export(args, tagger, work, output)
        work.unlink()
        # the work file's record: it describes lines that are gone (a rerun starts the work file afresh)
        record_path(work).unlink(missing_ok=True)

    try:
        result = run_job(
            tagger, args.input, work, id_field=args.id_field, text_field=args.text_field,
            rejects=args.rejects or default_rejects(output), batch_tokens=args.batch_tokens,
            chunk_docs=args.chunk_docs, rules=args.rules, with_text=args.with_text or exporting,
            progress=not args.no_progress, shard=shard, check_id=check_id, finish=export if exporting else None,
        )
    except torch.cuda.OutOfMemoryError:  # not torch.OutOfMemoryError: see _tag
        raise _out_of_memory(args.model, tagger, kept=work) from None
    if shard.rank != 0:
        return 0
    rate = result.written / result.seconds if result.seconds else 0.0
    tok_rate = result.tokens / result.seconds if result.seconds else 0.0
    # the documents are the whole job's; the tokens process 0's own
    share, on = (f" by {shard.world} processes", " on process 0") if shard.world > 1 else ("", "")
    print(
        f"naba predict: {result.written} document(s) tagged into {output}{share}"
        f" ({result.skipped} already there), {result.rejected} rejected -> {result.rejects};"
        f" {rate:,.1f} docs/s, {tok_rate:,.0f} tokens/s{on}",
        file=sys.stderr,
    )
    if result.foreign:
        print(f"naba predict: warning: {result.foreign} document(s) already in {output} are not in {args.input} "
              "(written from another input, or with another --id-field?); new lines were added after them",
              file=sys.stderr)
    if result.out_of_order:
        print(f"naba predict: warning: {result.out_of_order} document(s) already in {output} come after new ones "
              f"in {args.input} (it changed?); {output} is not in its order", file=sys.stderr)
    if result.rejected and not result.written and not result.skipped and result.rejects is not None:
        # a wrong --id-field or --text-field rejects every record: say so, not just the count
        with result.rejects.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline())
        print(f"naba predict: every record was rejected; the first, line {first['line']}: {first['reason']}",
              file=sys.stderr)
    if tagger.workers:
        # where a GPU job's time went: a long wait for encoding asks for more workers (or cores)
        w = tagger.waits
        print(f"naba predict: waited {w['encode']:.1f} s for the workers' encoding, {w['device']:.1f} s for the "
              f"device, {w['decode']:.1f} s for the workers' decoding", file=sys.stderr)
    return 0


def _export_scheme(args: argparse.Namespace, scheme: Any) -> Any:
    """The label scheme of what the job writes: the model's ``scheme``, with --rules' CLAIM layer."""
    from naba.corpus.labels import LabelScheme
    from naba.errors import ConfigError
    from naba.predict.host import rules_clash

    layers = dict(scheme.layers)
    if args.rules:
        clash = rules_clash(layers)
        if clash:  # the scheme's own error named neither the model nor --rules
            raise ConfigError(f"{args.model}: {clash}")
        layers["claim"] = ("CLAIM",)
    return LabelScheme(layers)


def _check_layer(args: argparse.Namespace, scheme: Any) -> None:
    """Refuse a --layer that the CoNLL export would not find (now, not once the corpus is tagged)."""
    from naba.errors import ConfigError

    layers = list(scheme.layers)
    if args.layer not in layers:
        raise ConfigError(f"no layer {args.layer!r} to export; the model has {layers}")


def _export(args: argparse.Namespace, tagger: Any, work: Path, output: Path) -> None:
    from naba.predict import exports

    rows = exports.read_rows(work)
    scheme = _export_scheme(args, tagger.space.scheme)
    if args.format == "labelstudio":
        _, skipped = exports.write_labelstudio(rows, output, offsets=args.offsets, model_version=str(args.model))
    elif args.format == "brat":
        exports.check_brat_ids(exports.read_rows(work), output)  # before any file is written
        _, skipped = exports.write_brat(rows, output, scheme=scheme)
    else:
        _, skipped = exports.write_conll(rows, output, layer=args.layer, scheme=scheme)
    if skipped:
        print(f"naba predict: {skipped} empty document(s) left out of the {args.format} export", file=sys.stderr)


def _render(args: argparse.Namespace) -> int:
    from naba.corpus.fileio import CONVERT_FIRST, atomic_open, spelled
    from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
    from naba.errors import ConfigError
    from naba.predict.render import read_tagged, render_page

    if args.limit is not None and args.limit < 0:  # a negative limit drew an empty page, exit 0
        raise ConfigError(f"--limit must be 0 or more, got {args.limit}")
    # a corpus in a scheme of its own was refused (EVENT) or relabelled (ORG drawn as ACTOR), and a
    # claim layer's other labels (DENIAL) drawn as entities
    scheme = LabelScheme.load(args.labels) if args.labels else DEFAULT_SCHEME
    # render's --source is the predicted input, and it takes no other reader option: the readers'
    # advice (--source annotations, --input-offsets ...) says to convert the file first
    with spelled({"*": CONVERT_FIRST, "bio_repair": "{flags}"}):
        docs = list(read_tagged(args.input, source=args.source, limit=args.limit, bio_repair=args.bio_repair,
                                scheme=scheme))
    page = render_page(docs, title=_argv_text(args.title or f"naba: {Path(args.input).name}"))
    with atomic_open(args.output) as out:
        out.write(page)
    print(f"naba render: {len(docs)} document(s) -> {args.output}", file=sys.stderr)
    return 0
