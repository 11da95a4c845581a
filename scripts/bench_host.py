"""How many tokens a second the host side of ``naba predict`` feeds a model, with 0..N workers.

On a GPU the model is the fast part; what bounds a job is the CPU work around it: reading JSONL,
preparing the text, tokenizing, cutting windows, decoding scores into spans, writing JSONL. This
script runs naba's batch job (``run_job``, JSONL in and out) with the model replaced by a stand-in
that returns fixed random scores at once, so what it reports is the ceiling the host puts on a
job, with the host work in 0, 1, 2, ... worker processes (naba.predict.host). The main process
still builds every batch and moves every score, as it would for a GPU.

Documents: 50 to 1,500 words from ANERcorp train sentences (../shared), else from data/demo.
Labels: the full scheme, so both layers (entity, claim) are decoded. The scores are random, with
O favoured (``--o-bias``) so that spans are about as sparse as a trained model's; where the argmax
path breaks BIO (often, with random scores; seldom, with a trained model's) it goes through the
Viterbi, so decoding here is on the slow side. CPU time is counted apart for the main process
and for the workers: the main process's share per token is what caps a job however many cores
it is given, the workers' share is how many cores a given rate needs.

Prints the figures and rewrites the ``<!-- bench:host -->`` section of BENCHMARKS.md.

    python scripts/bench_host.py                       # 960 documents, workers 0,1,2
    python scripts/bench_host.py --docs 64 --workers 0,2 --rounds 1 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py

# the worker processes import this module again (spawn): torch and the Tagger are imported in
# main() only, so that they start as small as under `naba predict`
from reportlib import at_least, cpu_name, documents, listing, sentences, write_corpus, write_section  # noqa: E402

MAX_LENGTH, STRIDE = 512, 128


def instant_model(space, *, o_bias: float, seed: int = 0):
    """A stand-in model: the same random scores for every window (O favoured by ``o_bias``), at once."""
    import torch

    labels = space.num_labels

    class Instant(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            table = torch.randn(MAX_LENGTH, labels, generator=torch.Generator().manual_seed(seed))
            for layer in space.layers:
                table[:, space.label2id[f"{layer}:O"]] += o_bias
            self.register_buffer("table", table)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
            batch, length = input_ids.shape
            return SimpleNamespace(logits=self.table[:length].expand(batch, length, -1))

    return Instant()


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=at_least(1), default=960, help="documents of 50-1,500 words (default 960)")
    ap.add_argument("--workers", type=listing(at_least(0)), default="0,1,2", help="worker counts to compare (default 0,1,2)")
    ap.add_argument("--chunk-docs", type=at_least(1), default=64, help="documents per chunk (default 64)")
    ap.add_argument("--rounds", type=at_least(1), default=3, help="timed rounds; the best of each count counts")
    ap.add_argument("--o-bias", type=float, default=3.0, help="added to the O scores (default 3.0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    counts = args.workers

    import torch

    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.model import build_small_tokenizer
    from naba.predict.batch import run_job
    from naba.predict.tagger import Tagger

    sents, origin = sentences()
    texts = documents(sents, args.docs, lo=50, hi=1500, seed=args.seed)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME)
    tokenizer = build_small_tokenizer(sents[:4000], vocab_size=8000)
    info = {"max_length": MAX_LENGTH, "stride": STRIDE}
    tagger = Tagger(instant_model(space, o_bias=args.o_bias, seed=args.seed), tokenizer, space, info,
                    device=torch.device("cpu"), dtype=torch.float32, fast_path=False)
    best: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="naba-bench-host-") as tmp:
        src, out = Path(tmp) / "docs.jsonl", Path(tmp) / "out.jsonl"
        write_corpus(src, texts)
        reference = None
        for r in range(args.rounds):
            for n in counts:  # alternating, so that the machine's slow spells hit every count alike
                out.unlink(missing_ok=True)
                tagger.workers = n
                own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
                result = run_job(tagger, src, out, chunk_docs=args.chunk_docs, progress=False)
                main_cpu = cpu_seconds(resource.RUSAGE_SELF) - (own.ru_utime + own.ru_stime)
                worker_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - (kids.ru_utime + kids.ru_stime)
                produced = out.read_bytes()
                reference = reference or produced
                if produced != reference:
                    raise SystemExit(f"workers={n}: the output differs from the first run's")
                print(f"round {r + 1}: workers={n}: {result.seconds:.2f} s, {result.tokens / result.seconds:,.0f} tok/s")
                if n not in best or result.seconds < best[n]["seconds"]:
                    best[n] = {"seconds": result.seconds, "tokens": result.tokens, "docs": result.written,
                               "main": main_cpu, "workers": worker_cpu}
        spans = [json.loads(line)["spans"] for line in reference.decode("utf-8").splitlines()]

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    base = best[counts[0]]["tokens"] / best[counts[0]]["seconds"]
    rows = [
        f"| {n} | {b['docs'] / b['seconds']:,.1f} | {b['tokens'] / b['seconds']:,.0f} | "
        f"{b['tokens'] / b['seconds'] / base:.2f}x | {b['main'] / b['tokens'] * 1e6:.2f} | "
        f"{b['workers'] / b['tokens'] * 1e6:.2f} |"
        for n, b in best.items()
    ]
    tokens = best[counts[0]]["tokens"]
    in_spans = {layer: sum(s["end"] - s["start"] for doc in spans for s in doc if s["layer"] == layer) for layer in space.layers}
    chars = sum(len(t) for t in texts)
    pooled = [b for n, b in best.items() if n > 0]
    words = sum(len(t.split()) for t in texts)
    body = "\n".join([
        "## Host side of `naba predict`: what the CPU work feeds a model, by worker processes",
        "",
        f"Command: `{' '.join(['python', 'scripts/bench_host.py', *sys.argv[1:]])}` "
        f"({time.strftime('%Y-%m-%d')}); CPU: {cpu_name()}, "
        f"{cores} core(s) for this process; torch {torch.__version__}.",
        "",
        f"naba's batch job (`run_job`, JSONL in and out, {args.chunk_docs} documents a chunk) over {len(texts)} documents "
        f"of 50 to 1,500 words ({words:,} words, {best[counts[0]]['tokens']:,} subword tokens) from {origin}, with "
        f"the model replaced by a stand-in that returns fixed random scores at once (max_length {MAX_LENGTH}, "
        f"stride {STRIDE}, entity and claim layers decoded; random scores send nearly every path through the "
        "Viterbi, so decoding is on the slow side). What is timed is the host's share of a job: reading, "
        "preparing, tokenizing, windows, building batches, moving scores, decoding, writing. Workers are "
        "naba.predict.host's processes (`naba predict --workers N`); 0 is the job in one process, with "
        "encoding on a background thread. Every run wrote the same file. Best of "
        f"{args.rounds} round(s), the counts alternating.",
        "",
        f"Spans found: {sum(map(len, spans)) / tokens * 1000:.1f} per 1,000 tokens, covering "
        + ", ".join(f"{100 * n / chars:.0f}% of the characters ({layer})" for layer, n in in_spans.items())
        + f" (O scores raised by {args.o_bias}).",
        "",
        "| workers | docs/s | subword tok/s | vs first row | main process CPU µs/token | workers' CPU µs/token |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "CPU time is per subword token, from getrusage (the main process's threads; the workers once they "
        "have exited). With workers, the main process only reads, batches, moves scores and writes.",
        *([
            f"At {min(b['main'] for b in pooled) / tokens * 1e6:.2f} µs of main-process CPU a token, one job "
            f"process can feed at most ~{tokens / min(b['main'] for b in pooled) / 1e6:.1f}M tokens/s on this CPU, "
            f"given ~{min(b['workers'] for b in pooled) / min(b['main'] for b in pooled):.0f} cores for its workers; "
            "without workers the whole host side shares one interpreter.",
        ] if pooled else []),
        "",
        "A GPU job runs at most this fast on such a host; on a GPU, `naba predict` starts as many workers "
        "as the process's cores less one (shared among the job's processes), up to 16.",
    ])
    print()
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "host", body)
        print(f"\nwrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
