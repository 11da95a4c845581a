"""``naba predict`` end to end at AraBERT v0.2's shape on a GPU: subword tokens/s (issue #5: >= 1M in bf16).

Builds a random-initialised BERT token classifier of AraBERT v0.2 base's shape (12 layers, hidden
768, 12 heads, FFN 3072, vocabulary 64,000: naba.model.ARABERT_SHAPE) with naba's own WordPiece
tokenizer (AraBERT's vocabulary is not to be had offline; the model's cost does not depend on it),
both layers (entity, claim), saved as a safetensors checkpoint. Writes N documents of 50 to 1,500
words (ANERcorp train sentences from ../shared, else data/demo) as JSONL, and times ``run_job``,
what ``naba predict`` runs: reading, host workers (``--workers``, default auto), batches under a
token budget, the model in bf16 with SDPA attention, decoding, writing. The model alone over the
same windows (encoded beforehand) is timed too: the ceiling of the end-to-end figure on this device.

Several batch budgets and chunk sizes can be timed in one run (``--batch-tokens``, ``--chunk-docs``:
comma lists, every pair is run): the budget sets how full the device is, and the chunk how long the
start goes (the workers spawn, then the first chunks are encoded before the model has anything to
do, a second or more at hundreds of documents a chunk), so one run on a lent machine says which
settings to use as well as how fast they are. A job over millions of documents pays that start
once; so each setting also runs over the first quarter of the documents, and the difference of the
two runs (tokens over seconds) gives the steady rate, start excluded. The best pair gives the
verdict; all are tabled. Each runs with naba's GPU encoder and with transformers' forward
(``--fast-path on,off``), whose padding-mask check waits for the device once a batch.

Prints the figures and rewrites the ``<!-- bench:gpu -->`` section of BENCHMARKS.md.

    python scripts/bench_gpu.py                      # on a GPU: 16,000 documents, bf16 (device_check.sh allows 420 s)
    python scripts/bench_gpu.py --device cpu --shape tiny --docs 8 --rounds 1 --no-write   # smoke test

On a lent device machine (its image has torch, transformers, tokenizers and accelerate; naba's
batch job needs nothing else), the working tree's BENCHMARKS.md is rewritten there and must come
back through $OUT::

    PYTHONUNBUFFERED=1 python3 scripts/bench_gpu.py 2>&1 | tee $OUT/bench_gpu.log; cp BENCHMARKS.md $OUT/
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py

# spawned host workers import this module again: torch and naba's model code only inside main()
from reportlib import at_least, cpu_name, documents, listing, one_of, sentences, write_corpus, write_section  # noqa: E402

TARGET = 1_000_000  # subword tokens/s, issue #5


def build(root: Path, sents: list[str], shape: str, *, o_bias: float, seed: int):
    """A checkpoint folder: AraBERT-shaped (or a tiny one for smoke tests), random weights, each
    layer's O score raised by ``o_bias``: an untrained head tags nearly every token (over 1,000
    spans per 1,000 tokens at the AraBERT shape), a load of decoding and JSON no trained model
    makes; at 1.3, 62 on ANERcorp documents here and 95 on data/demo ones on the H200 machine
    (the run reports it), near the 58 that scripts/bench_host.py takes for a trained model's."""
    import torch
    from transformers import BertForTokenClassification

    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.model import arabert_shape_config, build_small_model, build_small_tokenizer, save_checkpoint

    space = LabelSpace.from_scheme(DEFAULT_SCHEME)
    tok = build_small_tokenizer(sents[:4000], vocab_size=16000)
    torch.manual_seed(seed)
    if shape == "arabert":
        model = BertForTokenClassification(arabert_shape_config(space))
    else:
        model = build_small_model(space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=2, intermediate=128)
    with torch.no_grad():
        for layer in space.layers:
            model.classifier.bias[space.label2id[f"{layer}:O"]] += o_bias
    return save_checkpoint(root / "model", model, tok, space, extra={"max_length": 512, "stride": 128}), model.config


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


def target_text(figures: dict, documents: int) -> str:
    """The verdict on issue #5's target from ``figures`` (setting -> ``rate``, ``steady``): the best
    end-to-end rate and the best steady rate, each with the setting that made it (often not the same)."""
    def setting(key: tuple) -> str:
        fast, budget, size, overlap, ramp, compact = key
        return (f"{'naba' if fast else 'transformers'} forward, {budget:,} tokens a batch, {size} documents a chunk, "
                f"overlap {on_off(overlap)}, ramp {on_off(ramp)}, compact {on_off(compact)}")

    def verdict(x: float) -> str:
        return "met" if x >= TARGET else "missed"

    best, rate = max(((k, f["rate"]) for k, f in figures.items()), key=lambda kv: kv[1])
    # NaN where the quarter's run was not the shorter one (too few documents to tell)
    timed = [(k, f["steady"]) for k, f in figures.items() if f["steady"] == f["steady"]]
    steady_key, steady = max(timed, key=lambda kv: kv[1]) if timed else (None, float("nan"))
    return (f"Target (issue #5: >= {TARGET:,} subword tokens/s end to end in bf16): {rate:,.0f} over all "
            f"{documents:,} documents ({setting(best)}), {verdict(rate)}; steady, the start excluded, as in a job "
            f"over millions of documents: {steady:,.0f}"
            + (f" ({setting(steady_key)})" if steady_key is not None else "") + f", {verdict(steady)}.")


def timed_job(tagger: Any, path: Path, out: Path, **options: Any) -> Any:
    """``run_job``'s result, with where its time went: ``cpu`` (this process's CPU seconds),
    ``workers`` (the host workers', counted once they have exited, as the job ends) and ``waits``."""
    import resource

    from naba.predict.batch import run_job

    def usage() -> tuple[float, float, dict[str, float]]:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, dict(tagger.waits)

    cpu0, kids0, waits0 = usage()
    job = run_job(tagger, path, out, progress=False, **options)
    cpu1, kids1, waits1 = usage()
    return SimpleNamespace(**vars(job), cpu=cpu1 - cpu0, workers=kids1 - kids0,
                           waits={k: waits1[k] - waits0[k] for k in waits1})


def where(result: Any, *, table: bool = False) -> str:
    """Where a job's time went, per token and in waits."""
    per = 1e6 / max(result.tokens, 1)
    w = result.waits
    if table:
        return (f"{result.cpu * per:.2f}, {result.workers * per:.2f}; "
                f"{w['encode']:.2f}, {w['device']:.2f}, {w['decode']:.2f}")
    return (f"CPU {result.cpu * per:.2f} us/token (main), {result.workers * per:.2f} (workers); waited "
            f"{w['encode']:.2f} s encode, {w['device']:.2f} s device, {w['decode']:.2f} s decode")


def profile(tagger: Any, path: Path, out: Path, report: Path, **options: Any) -> None:
    """One job under cProfile, its top functions written to ``report``: where the feeding
    process's CPU goes (cProfile slows pure-Python code more than the rest: read proportions)."""
    import cProfile
    import io
    import pstats

    from naba.predict.batch import run_job

    out.unlink(missing_ok=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    result = run_job(tagger, path, out, progress=False, **options)
    profiler.disable()
    text = io.StringIO()
    print(f"run_job under cProfile, {options}: {result.tokens:,} tokens in {time.perf_counter() - started:.2f} s", file=text)
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(40)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text.getvalue(), encoding="utf-8")
    print(f"profile of one run: {report}", flush=True)


def read_rates(path: Path, rounds: int = 3) -> dict[str, float]:
    """Microseconds a document to read ``path`` as the batch job does, with naba's read buffer and
    with Python's default (the file system's block size): the best of ``rounds``."""
    import naba.predict.io as io_module
    from naba.predict.io import read_inputs

    kept = io_module.READ_BUFFER
    rates: dict[str, float] = {}
    try:
        for label, size in ((f"{kept >> 10} KiB buffer (naba's)", kept), ("Python's default buffer", -1)):
            io_module.READ_BUFFER = size
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                count = sum(1 for _ in read_inputs(path))
                best = min(best, (time.perf_counter() - started) / max(count, 1))
            rates[label] = best * 1e6
    finally:
        io_module.READ_BUFFER = kept
    print("reading alone: " + "; ".join(f"{k}: {v:.1f} us a document" for k, v in rates.items()), flush=True)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    # naba's names (naba.predict.setup): checked here, not after the model is built
    ap.add_argument("--dtype", default="bf16", type=str.lower,
                    choices=("bf16", "fp16", "fp32", "bfloat16", "float16", "float32"))
    ap.add_argument("--shape", default="arabert", choices=["arabert", "tiny"])
    ap.add_argument("--docs", type=at_least(1), default=16000,
                    help="documents of 50-1,500 words (default 16000: on an H200, ~15 s a run, the start ~1.5 s of it)")
    ap.add_argument("--model-docs", type=at_least(1), default=2000,
                    help="documents whose windows time the model alone (default 2000: encoding them is one process's work)")
    ap.add_argument("--workers", type=lambda x: x if x == "auto" else at_least(0)(x), default="auto", help="host worker processes (default auto)")
    ap.add_argument("--batch-tokens", type=listing(at_least(1)), default="16384,65536",
                    help="padded tokens per batch, a comma list to compare (default 16384,65536)")
    ap.add_argument("--chunk-docs", type=listing(at_least(1)), default="128,256",
                    help="documents per chunk, a comma list to compare (default 128,256; 512 started 5 s later on an H200)")
    ap.add_argument("--overlap", type=listing(one_of("on", "off")), default="on",
                    help="collect a chunk's scores after the next chunk is launched: on, off, or on,off to compare")
    ap.add_argument("--ramp", type=listing(one_of("on", "off")), default="on",
                    help="with workers, chunks smaller at the start and end of the stream (naba's default; "
                         "naba.predict.tagger.worker_chunks): on, off, or on,off to compare")
    ap.add_argument("--compact", type=listing(one_of("on", "off")), default="on",
                    help="with workers, a GPU's scores go to them in the model's dtype (bf16: half the bytes) and "
                         "are widened there (naba's default); off: widened to float32 first. on, off, or on,off")
    ap.add_argument("--fast-path", type=listing(one_of("on", "off")), default="on,off",
                    help="naba's GPU encoder (naba.predict.gpupath; on) or transformers' forward (off), or on,off "
                         "to compare (default)")
    ap.add_argument("--o-bias", type=float, default=1.3,
                    help="added to each layer's O score, so that spans are as sparse as a trained model's (default 1.3)")
    ap.add_argument("--rounds", type=at_least(1), default=2, help="timed end-to-end runs; the best counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("--profile", type=Path, default=None,
                    help="after the timed runs, one more over the first quarter (first setting) under cProfile: "
                         "the feeding process's functions by own time and by cumulative time, into this text file")
    args = ap.parse_args()

    import torch

    from naba.predict.batch import run_job
    from naba.predict.tagger import Tagger, text_of

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine, or pass --device cpu for a smoke test")
    # comma lists, checked by argparse (a bad item was a KeyError or ValueError traceback)
    budgets, chunk_sizes = args.batch_tokens, args.chunk_docs
    overlaps, ramps, compacts, encoders = ([x == "on" for x in xs] for xs in (args.overlap, args.ramp, args.compact,
                                                                               args.fast_path))
    sents, origin = sentences()
    texts = documents(sents, args.docs, lo=50, hi=1500, seed=args.seed)
    workers = args.workers
    with tempfile.TemporaryDirectory(prefix="naba-bench-gpu-") as tmp:
        work = Path(tmp)
        ckpt, config = build(work, sents, args.shape, o_bias=args.o_bias, seed=args.seed)
        tagger = Tagger.from_pretrained(ckpt, device=device, dtype=args.dtype, workers=workers)
        own = tagger.fast  # naba's GPU encoder (None where the model or device has none)
        if True in encoders and own is None:
            raise SystemExit("--fast-path on: no naba encoder for this model on this device")

        def use(fast: bool) -> str:
            tagger.fast = own if fast else None
            return "naba" if fast else "transformers"
        src = write_corpus(work / "docs.jsonl", texts)
        quarter = write_corpus(work / "quarter.jsonl", texts[: max(1, len(texts) // 4)])
        # a warm-up as long as a quarter's run, with each budget: on the lent machines the first
        # job of a process ran up to 2.6x slower than the next (its memory growing into place)
        for fast in encoders:
            use(fast)
            for budget in budgets:
                run_job(tagger, quarter, work / f"warm-{budget}.jsonl", batch_tokens=budget, chunk_docs=chunk_sizes[0],
                        progress=False)

        reading = read_rates(src)

        # (encoder, budget, chunk, overlap, ramp, compact, input) -> the best of its rounds; rounds
        # go round the settings, so that a drift of the machine touches all of them alike
        runs: dict[tuple[bool, int, int, bool, bool, bool, str], Any] = {}
        peak = 0.0
        settings = list(itertools.product(encoders, budgets, chunk_sizes, overlaps, ramps, compacts))
        for r in range(args.rounds):
            for fast, budget, size, overlap, ramp, compact in settings:
                for name, path in (("all", src), ("quarter", quarter)):
                    out = work / "out.jsonl"
                    out.unlink(missing_ok=True)
                    if cuda:
                        torch.cuda.reset_peak_memory_stats(device)
                    tagger._overlap, tagger._ramp, tagger._compact = overlap, ramp, compact
                    encoder = use(fast)
                    result = timed_job(tagger, path, out, batch_tokens=budget, chunk_docs=size)
                    if cuda:
                        peak = max(peak, torch.cuda.max_memory_allocated(device) / 2**30)
                    key = (fast, budget, size, overlap, ramp, compact, name)
                    if key not in runs or result.seconds < runs[key].seconds:
                        runs[key] = result
                    print(f"round {r + 1}, {encoder} forward, {budget:,} tokens a batch, {size} documents a chunk, "
                          f"overlap {on_off(overlap)}, ramp {on_off(ramp)}, compact {on_off(compact)}, {name}: {result.written} docs, {result.tokens:,} "
                          f"tokens in {result.seconds:.2f} s: {result.tokens / result.seconds:,.0f} tok/s; "
                          f"{where(result)}", flush=True)

        # how much the model tags (decoding and JSON grow with it): the last run's output
        with (work / "out.jsonl").open(encoding="utf-8") as fh:
            spans = sum(len(json.loads(line)["spans"]) for line in fh)
        density = 1000 * spans / max(result.tokens, 1)

        # the model alone: windows encoded beforehand, through the same batching
        sample = texts[: args.model_docs]
        chunk = tagger._encode(sample, text_of)
        doc_tokens = sum(w.core[1] - w.core[0] for w in chunk.windows)
        window_tokens = sum(len(w.input_ids) for w in chunk.windows)
        # (encoder, budget) -> (seconds, this process's CPU seconds) of the fastest round
        model_best = {(fast, budget): (float("inf"), 0.0) for fast in encoders for budget in budgets}
        for _ in range(max(1, args.rounds)):
            for fast, budget in model_best:
                use(fast)
                if cuda:
                    torch.cuda.synchronize(device)
                started, cpu = time.perf_counter(), time.process_time()
                tagger._forward(chunk.windows, budget=budget, batch_size=None)
                if cuda:
                    torch.cuda.synchronize(device)
                seconds = time.perf_counter() - started
                if seconds < model_best[fast, budget][0]:
                    model_best[fast, budget] = (seconds, time.process_time() - cpu)

        if args.profile is not None:
            use(encoders[0])
            tagger._overlap, tagger._ramp, tagger._compact = overlaps[0], ramps[0], compacts[0]
            profile(tagger, quarter, work / "out.jsonl", args.profile, batch_tokens=budgets[0], chunk_docs=chunk_sizes[0])

    settings = sorted({key[:6] for key in runs}, key=lambda k: (not k[0], k[1], k[2], not k[3], not k[4], not k[5]))
    figures = {}
    for key in settings:
        whole, part = runs[(*key, "all")], runs[(*key, "quarter")]
        extra_seconds = whole.seconds - part.seconds
        steady = (whole.tokens - part.tokens) / extra_seconds if extra_seconds > 0 else float("nan")
        start = part.seconds - part.tokens / steady if steady == steady else float("nan")
        figures[key] = {"whole": whole, "rate": whole.tokens / whole.seconds, "steady": steady, "start": start}
    gpu = torch.cuda.get_device_name(device) if cuda else f"CPU ({cpu_name()})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    words = sum(len(t.split()) for t in texts)
    shape = (f"{config.num_hidden_layers} layers, hidden {config.hidden_size}, {config.num_attention_heads} heads, "
             f"FFN {config.intermediate_size}, vocabulary {config.vocab_size:,}")
    rows = []
    for (fast, budget, size, overlap, ramp, compact), f in figures.items():
        whole = f["whole"]
        rows.append(f"| `naba predict` | {use(fast)} | {budget:,} | {size} | {on_off(overlap)} | "
                    f"{on_off(ramp)} | {on_off(compact)} | {whole.seconds:.2f} | "
                    f"{whole.written / whole.seconds:,.0f} | {f['rate']:,.0f} | {f['start']:.2f} | {f['steady']:,.0f} | "
                    f"{where(whole, table=True)} |")
    for (fast, budget), (seconds, cpu) in model_best.items():
        rows.append(f"| the model alone (windows of {len(sample):,} documents encoded beforehand) | {use(fast)} | "
                    f"{budget:,} | - | - | - | - | {seconds:.2f} | {len(sample) / seconds:,.0f} | {doc_tokens / seconds:,.0f} | - | - | "
                    f"{cpu * 1e6 / doc_tokens:.2f}, -; - |")

    body = "\n".join([
        f"## `naba predict` on {'a GPU' if cuda else 'CPU'}, {'AraBERT v0.2 shape' if args.shape == 'arabert' else 'tiny model'}",
        "",
        f"Command: `{' '.join(['python', 'scripts/bench_gpu.py', *sys.argv[1:]])}` "
        f"({time.strftime('%Y-%m-%d')}); device: {gpu}; host: {cpu_name()}, {cores} core(s); "
        f"torch {torch.__version__}.",
        "",
        f"Model: random-initialised BERT token classifier ({shape}; entity and claim layers), {args.dtype}, "
        f"SDPA attention, max_length 512, stride 128. Documents: {len(texts):,} of 50 to 1,500 words "
        f"({words:,} words) from {origin}, JSONL in and out. `run_job` with {tagger.workers} host worker(s), "
        f"for each pair of padded tokens a batch and documents a chunk the best of {args.rounds} run(s) after a "
        "warm-up, over all the documents and over the first quarter of them; the start (workers spawned, first "
        "chunks encoded, last ones decoded) is what the quarter's run took beyond its tokens at the steady rate, "
        "the steady rate the two runs' difference in tokens over their difference in seconds. tok/s counts the "
        "documents' subword tokens once (window overlap not counted). Overlap on: a chunk's scores are collected "
        "after the next chunk's batches are queued on the device (naba's default), off: one chunk at a time. "
        "Ramp on: the first rounds of chunks (one per worker, and one) hold 1/16, 1/8, ... of the chunk size, so "
        "that the device starts after a small chunk is encoded, and the last (workers + 1) chunks' worth of "
        "documents goes in quarter chunks, so that the job does not end waiting for a whole chunk to be decoded "
        "(naba's default, naba.predict.tagger.worker_chunks); off: every chunk the same. "
        "Compact on: the scores go from the device to the workers in the model's dtype (bf16: 2 bytes a score, "
        "widened to float32 in the worker; naba's default), off: as float32. "
        "Forward: naba's own encoder (on a GPU naba.predict.gpupath, the Tagger's default there), or transformers' "
        "(`fast_path=False`), which waits for the device once a batch (its padding-mask check). "
        "Where the time went: the feeding process's CPU time and the workers' (µs a token), and the seconds the "
        "feeding process waited for the workers' encoding, for the device (a wait inside transformers' forward "
        "not counted), for the workers' decoding (Tagger.waits); for the model alone, the CPU time of the "
        "process queuing it.",
        "",
        "| measure | forward | tokens a batch | documents a chunk | overlap | ramp | compact | seconds | docs/s | "
        "subword tok/s | start (s) | steady tok/s | CPU µs/token: main, workers; waited (s): encode, device, decode |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Spans tagged: {density:.1f} per 1,000 tokens (both layers; O scores raised by {args.o_bias}). "
        f"Window tokens run by the model alone: {window_tokens:,} for {doc_tokens:,} document tokens."
        + (f" Peak GPU memory: {peak:.1f} GiB." if cuda else ""),
        "",
        "Reading the input alone (naba.predict.io.read_inputs over the JSONL file, the feeding process's share, "
        "best of 3): " + "; ".join(f"{label}: {us:.1f} µs a document" for label, us in reading.items()) + ".",
        "",
        target_text(figures, len(texts)),
    ])
    print()
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "gpu", body)
        print(f"\nwrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
