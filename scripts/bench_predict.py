"""Benchmark ``naba predict``'s batch path against transformers' token-classification pipeline.

Both run, in one process and one run, the same checkpoint (a random-initialised 4-layer,
256-wide BERT with the entity layer only: its predictions are meaningless, its cost is real) on
the same documents (50 to 1,500 words, built from ANERcorp sentences in ../shared, else from
data/demo), in fp32 and in bf16, and with two heads: the random one, which tags nearly half the
tokens (its scores are flat), and the same with its O score raised (``--o-bias``) so that it tags
about as sparsely as a trained model. Both decoders' cost grows with the spans they find (the
pipeline's much more), so the ratio depends on it; where ``runs/anercorp-small`` (a model trained
by scripts/anercorp.sh) is present, the spans it tags on the same documents are counted as the
reference (``--trained``). Reported: documents/s, subword tokens/s (each side's own
subwords of the documents, overlap and padding not counted), peak RSS, the speed ratio, and the
span-level F1 between naba's spans and the pipeline's. The matmul roofline is measured in the
same run: sustained GFLOP/s of the model's own matmul shapes, divided by the model's FLOPs per
token, gives a tokens/s ceiling; naba's share of it is reported. Last, the peak RSS of
``naba predict`` (a subprocess, tiny model) on 1k and 100k short documents shows whether memory
stays flat as the corpus grows.

Prints the figures and rewrites the ``<!-- bench:predict -->`` section of BENCHMARKS.md.

    python scripts/bench_predict.py                 # the full run (long: its 100k-document RSS run alone took 67 s)
    python scripts/bench_predict.py --docs 8 --rss-docs 200 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py

from reportlib import at_least, cpu_name, documents, listing, one_of, sentences, write_corpus, write_section  # noqa: E402

from naba.corpus.labels import DEFAULT_SCHEME  # noqa: E402
from naba.encode import LabelSpace  # noqa: E402
from naba.model import build_small_model, build_small_tokenizer, save_checkpoint  # noqa: E402
from naba.predict import Tagger, fastpath  # noqa: E402
from naba.predict.batch import run_job  # noqa: E402
from naba.predict.tagger import text_of  # noqa: E402

SHAPE = {"hidden_size": 256, "num_layers": 4, "heads": 4, "intermediate": 1024}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def build_checkpoint(root: Path, texts: list[str], *, layers: list[str], shape: dict, vocab: int) -> Path:
    tok = build_small_tokenizer(texts, vocab_size=vocab)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME.restrict(layers))
    model = build_small_model(space, vocab_size=len(tok), **shape)
    return save_checkpoint(root, model, tok, space, extra={"max_length": 512, "stride": 128})


def with_o_bias(ckpt: Path, root: Path, o_bias: float) -> Path:
    """A copy of ``ckpt`` whose O scores (every layer's) are raised by ``o_bias``: fewer spans, the
    same tokenizer and encoder (so the same windows and the same model cost)."""
    from safetensors.torch import load_file, save_file

    if o_bias == 0:
        return ckpt
    shutil.copytree(ckpt, root)
    config = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    weights = load_file(ckpt / "model.safetensors")
    for i, name in config["id2label"].items():
        if name.split(":")[-1] == "O":
            weights["classifier.bias"][int(i)] += o_bias
    save_file(weights, root / "model.safetensors", metadata={"format": "pt"})
    return root


def spans_per_1k(spans: list[list[dict]], tokens: int) -> float:
    return 1000 * sum(len(s) for s in spans) / max(tokens, 1)


def trained_density(run: Path, texts: list[str]) -> float | None:
    """Spans a trained model tags per 1,000 of its subword tokens of ``texts``, or ``None`` if absent."""
    if not run.is_dir():
        return None
    tagger = Tagger.from_pretrained(run, device="cpu")
    found = tagger(texts)
    return spans_per_1k(found, tagger.tokens_done)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naba_runner(ckpt: Path, texts: list[str], dtype: str, work: Path, *, fast_path: bool | None = None):
    """A function that runs naba's batch path (run_job, JSONL in and out) over ``texts`` once."""
    tagger = Tagger.from_pretrained(ckpt, device="cpu", dtype=dtype, fast_path=fast_path)
    src = write_corpus(work / "docs.jsonl", texts)
    warm = write_corpus(work / "warm.jsonl", texts[:4])
    (work / "warm-out.jsonl").unlink(missing_ok=True)
    run_job(tagger, warm, work / "warm-out.jsonl", progress=False)

    def run() -> dict:
        out = work / f"naba-{dtype}-{fast_path}.jsonl"
        out.unlink(missing_ok=True)
        tokens0 = tagger.tokens_done
        started = time.perf_counter()
        run_job(tagger, src, out, progress=False)
        seconds = time.perf_counter() - started
        spans = [json.loads(line)["spans"] for line in out.read_text(encoding="utf-8").splitlines()]
        return {"seconds": seconds, "tokens": tagger.tokens_done - tokens0, "spans": spans}

    return run


def pipeline_runner(ckpt: Path, texts: list[str], dtype: str, *, stride: int):
    """A function ``run(batch_size)`` that runs the transformers pipeline over ``texts`` once."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    tok = AutoTokenizer.from_pretrained(ckpt)
    names = json.loads((ckpt / "config.json").read_text())["id2label"]
    # the pipeline's aggregation reads plain BIO names; naba's are "entity:B-ACTOR"
    plain = {int(i): name.split(":", 1)[1] for i, name in names.items()}
    model = AutoModelForTokenClassification.from_pretrained(
        ckpt, id2label=plain, label2id={v: k for k, v in plain.items()}, dtype=DTYPES[dtype],
        attn_implementation="sdpa", use_safetensors=True,
    ).eval()
    pipe = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple",
                    stride=stride, device="cpu")
    pipe(texts[:4], batch_size=4)
    tokens = sum(len(ids) for ids in tok(texts, add_special_tokens=False, verbose=False)["input_ids"])

    def run(batch_size: int) -> dict:
        started = time.perf_counter()
        found = pipe(texts, batch_size=batch_size)
        seconds = time.perf_counter() - started
        spans = [[{"start": e["start"], "end": e["end"], "label": e["entity_group"]} for e in doc] for doc in found]
        return {"seconds": seconds, "tokens": tokens, "spans": spans, "batch_size": batch_size}

    return run


def span_f1(a: list[list[dict]], b: list[list[dict]]) -> float:
    """Exact-match span F1 of ``a`` against ``b`` (symmetric: 2|a∩b| / (|a| + |b|))."""
    hits = total = 0
    for x, y in zip(a, b, strict=True):
        sx = {(s["start"], s["end"], s["label"]) for s in x}
        sy = {(s["start"], s["end"], s["label"]) for s in y}
        hits += len(sx & sy)
        total += len(sx) + len(sy)
    return 2 * hits / total if total else 1.0


def roofline(dtype: torch.dtype, *, hidden: int, inter: int, heads: int, seq: int = 512, seqs: int = 8,
             seconds: float = 2.0) -> float:
    """Sustained GFLOP/s over one encoder layer's matmuls at ``seqs`` x ``seq`` tokens.

    The linear layers are timed both ways this PyTorch can run them, ``F.linear`` and oneDNN with a
    pre-packed weight (what naba's fused encoder uses), and attention both as two products and
    through PyTorch's fused attention (SDPA); the fastest counts: the ceiling is the machine's, not
    one code path's. For bf16 the same products in fp32 count too (the bf16 values
    widened, which loses nothing): on a CPU without bf16 instructions, fp32 kernels are the faster
    way to compute them, and naba's fused encoder takes it there.
    """
    computes = [dtype, torch.float32] if dtype == torch.bfloat16 else [dtype]
    return max(_roofline(d, hidden=hidden, inter=inter, heads=heads, seq=seq, seqs=seqs, seconds=seconds)
               for d in computes)


def _roofline(dtype: torch.dtype, *, hidden: int, inter: int, heads: int, seq: int, seqs: int, seconds: float) -> float:
    rows, hd = seqs * seq, hidden // heads
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, hidden, generator=g).to(dtype)
    h = torch.randn(rows, inter, generator=g).to(dtype)
    w = torch.randn(hidden, hidden, generator=g).to(dtype)
    w1 = torch.randn(inter, hidden, generator=g).to(dtype)
    w2 = torch.randn(hidden, inter, generator=g).to(dtype)
    q = torch.randn(seqs * heads, seq, hd, generator=g).to(dtype)
    p = torch.randn(seqs * heads, seq, seq, generator=g).to(dtype)
    flops = 2 * rows * (4 * hidden * hidden + 2 * hidden * inter) + 2 * 2 * seqs * heads * seq * seq * hd
    F = torch.nn.functional
    linears = {"F.linear": lambda a, weight: F.linear(a, weight)}
    try:
        mk = torch.ops.mkldnn
        packed = {id(m): mk._reorder_linear_weight(m, rows) for m in (w, w1, w2)}
        mk._linear_pointwise(x, packed[id(w)], None, "none", [], "")
        linears["oneDNN packed"] = lambda a, weight: mk._linear_pointwise(a, packed[id(weight)], None, "none", [], "")
    except (AttributeError, RuntimeError):
        pass
    # attention's two products as such, or through PyTorch's fused attention (which does the softmax
    # too, uncounted), as naba's encoder does for long sequences
    sq = q.view(seqs, heads, seq, hd)
    attentions = {"two products": lambda: (torch.bmm(q, q.transpose(1, 2)), torch.bmm(p, q)),
                  "SDPA": lambda: F.scaled_dot_product_attention(sq, sq, sq, scale=1.0)}
    best = 0.0
    with torch.inference_mode():
        for linear in linears.values():
            for attend in attentions.values():
                def layer(linear=linear, attend=attend) -> None:
                    for _ in range(4):  # query, key, value, attention output
                        linear(x, w)
                    linear(x, w1)
                    linear(h, w2)
                    attend()
                layer()
                runs, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds / (len(linears) * len(attentions)):
                    layer()
                    runs += 1
                best = max(best, flops * runs / (time.perf_counter() - started) / 1e9)
    return best


def breakdown(ckpt: Path, texts: list[str], dtype: str) -> dict:
    """One pass of naba's stages, timed apart, and the forward's operators grouped (torch.profiler)."""
    from torch.profiler import profile

    from naba.predict.host import decode_texts, spans_json

    tagger = Tagger.from_pretrained(ckpt, device="cpu", dtype=dtype)
    tagger(texts[:4])  # warm-up
    best: dict[str, float] = {}
    for _ in range(3):  # the best of three passes per stage: the machine is shared
        started = time.perf_counter()
        chunk = tagger._encode(texts, text_of)
        encoded = time.perf_counter()
        logits = tagger._forward(chunk.windows, budget=tagger.batch_tokens, batch_size=None)
        forward = time.perf_counter()
        # as the batch job decodes: spans, their dicts and the output's JSON
        decode_texts(chunk.texts, chunk.windows, chunk.owner, logits, tagger.space, postprocess=spans_json)
        decoded = time.perf_counter()
        for stage, seconds in (("encode", encoded - started), ("forward", forward - encoded), ("decode", decoded - forward)):
            best[stage] = min(best.get(stage, seconds), seconds)
    groups = {"linear": 0.0, "attention matmuls": 0.0, "softmax": 0.0, "other": 0.0}
    with profile() as prof:
        tagger._forward(chunk.windows, budget=tagger.batch_tokens, batch_size=None)
    for event in prof.key_averages():
        name = event.key
        if name in ("mkldnn::_linear_pointwise", "aten::addmm", "aten::mm", "aten::_addmm_activation"):
            group = "linear"
        elif name == "aten::bmm" or "scaled_dot_product" in name:
            group = "attention matmuls"
        elif name == "aten::_softmax":
            group = "softmax"
        else:
            group = "other"
        groups[group] += event.self_cpu_time_total / 1e6
    total = sum(groups.values())
    return {**best, "shares": {k: v / total for k, v in groups.items()}}


def bf16_instructions() -> list[str]:
    """The bf16 matrix instructions this CPU has, as PyTorch sees them (x86 only; [] elsewhere)."""
    checks = {"AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    return [name for name, fn in checks.items() if getattr(torch.cpu, fn, lambda: False)()]


def bf16_note(native: list[str], *, onednn: bool) -> str:
    """What the section says of bf16 on this CPU: its bf16 instructions (``native``), else how bf16
    products are computed here (``onednn``: whether oneDNN takes bf16, with AVX-512 or AVX-NE-CONVERT)."""
    if native:
        return "bf16 instructions: " + ", ".join(native)
    if onednn:
        return ("this CPU has no bf16 instructions (no AVX512-BF16, no AMX): oneDNN computes bf16 products in its "
                "AVX-512 (or AVX-NE-CONVERT) kernels, widening them to fp32, for PyTorch and naba's fused encoder alike")
    return ("this CPU has no bf16 instructions (no AVX512-BF16, no AMX): PyTorch emulates bf16 products element by "
            "element, and naba's fused encoder computes bf16 through fp32 kernels (its oneDNN takes no bf16 either)")


def flops_per_token(*, hidden: int, inter: int, layers: int, labels: int, seq: int = 512) -> float:
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * inter) + 2 * 2 * seq * hidden
    return layers * per_layer + 2 * hidden * labels


def predict_rss(ckpt: Path, n: int, sents: list[str], work: Path, seed: int) -> dict:
    """Peak RSS and time of ``naba predict`` as a subprocess on ``n`` short documents."""
    rng = random.Random(seed)
    src = work / f"short-{n}.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for i in range(n):
            words = sents[rng.randrange(len(sents))].split()[:12]
            fh.write(json.dumps({"id": f"s{i}", "text": " ".join(words)}, ensure_ascii=False) + "\n")
    out = work / f"short-{n}.out.jsonl"
    out.unlink(missing_ok=True)
    wrapper = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    cmd = [sys.executable, "-c", wrapper, sys.executable, "-m", "naba.cli", "predict", str(ckpt), str(src),
           "-o", str(out), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    lines = sum(1 for _ in out.open("rb"))
    if lines != n:
        raise SystemExit(f"naba predict wrote {lines} lines for {n} documents")
    return {"docs": n, "rss_mib": int(done.stdout.split()[-1]) / 1024, "seconds": seconds}


def compare(ckpt: Path, texts: list[str], dtype: str, work: Path, *, rounds: int, sizes: list[int], fpt: float,
            window_tokens: int) -> dict:
    """naba (its fused encoder and transformers' forward) against the pipeline on one checkpoint."""
    run_naba = naba_runner(ckpt, texts, dtype, work)
    run_hf = naba_runner(ckpt, texts, dtype, work, fast_path=False)
    run_pipe = pipeline_runner(ckpt, texts, dtype, stride=128)
    naba, hf, pipe, gflops, ratios = None, None, None, 0.0, []
    # the pipeline's batch size is picked first, by one timing of each (those timings count too);
    # then the rounds alternate naba and the pipeline at that size, one timing each, so that both
    # sides take their best of as many draws from this shared, noisy machine. The spread of the
    # per-round ratios shows how much the noise moves the figure.
    for bs in sizes:
        p = run_pipe(bs)
        pipe = p if pipe is None or p["seconds"] < pipe["seconds"] else pipe
    best_size = pipe["batch_size"]
    for _ in range(rounds):
        got = run_naba()
        naba = got if naba is None or got["seconds"] < naba["seconds"] else naba
        h = run_hf()
        hf = h if hf is None or h["seconds"] < hf["seconds"] else hf
        p = run_pipe(best_size)
        pipe = p if p["seconds"] < pipe["seconds"] else pipe
        ratios.append((got["tokens"] / got["seconds"]) / (p["tokens"] / p["seconds"]))
        # the ceiling is the faster of 8 and 4 sequences of 512 (naba's CPU batches hold 2048 tokens)
        gflops = max(gflops, *(roofline(DTYPES[dtype], hidden=256, inter=1024, heads=4, seqs=n, seconds=1.5)
                               for n in (8, 4)))
    ceiling = gflops * 1e9 / fpt
    r = {
        "naba_docs_s": len(texts) / naba["seconds"], "naba_tok_s": naba["tokens"] / naba["seconds"],
        "hf_tok_s": hf["tokens"] / hf["seconds"], "pipe_batch": pipe["batch_size"],
        "pipe_docs_s": len(texts) / pipe["seconds"], "pipe_tok_s": pipe["tokens"] / pipe["seconds"],
        "f1": span_f1(naba["spans"], pipe["spans"]), "gflops": gflops, "ceiling": ceiling,
        "tokens": (naba["tokens"], pipe["tokens"]),
        "density": (spans_per_1k(naba["spans"], naba["tokens"]), spans_per_1k(pipe["spans"], pipe["tokens"])),
        "lo": min(ratios), "hi": max(ratios), "median": statistics.median(ratios),
    }
    r["ratio"] = r["naba_tok_s"] / r["pipe_tok_s"]
    r["docs_ratio"] = r["naba_docs_s"] / r["pipe_docs_s"]
    r["roof_pct"] = 100 * r["naba_tok_s"] / ceiling
    # the same, crediting the window tokens the model ran (overlap included), not the documents'
    r["roof_run_pct"] = r["roof_pct"] * window_tokens / naba["tokens"]
    r["where"] = breakdown(ckpt, texts, dtype)
    return r


def head_name(o_bias: float) -> str:
    return "random" if o_bias == 0 else f"O +{o_bias:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=at_least(1), default=24, help="documents of 50-1,500 words (default 24)")
    ap.add_argument("--dtypes", type=listing(one_of(*DTYPES)), default="fp32,bf16")
    ap.add_argument("--o-bias", type=listing(float), default="0,0.6",
                    help="the heads, as what is added to the random head's O score (0: as initialised); "
                         "0.6 tags about 60 spans per 1,000 tokens of these documents (default 0,0.6)")
    ap.add_argument("--trained", default=str(ROOT / "runs" / "anercorp-small"),
                    help="a trained run whose spans per 1,000 tokens on the same documents are reported "
                         "for reference (skipped where absent; scripts/anercorp.sh makes it)")
    ap.add_argument("--rounds", type=at_least(1), default=3, help="timed rounds per system and dtype; the best counts")
    ap.add_argument("--pipeline-batch-sizes", type=listing(at_least(1)), default="1,2,4,8,16", help="the pipeline's best of these counts")
    ap.add_argument("--rss-docs", type=listing(at_least(1)), default="1000,100000", help="short-document counts for the RSS runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()

    sents, origin = sentences()
    texts = documents(sents, args.docs, lo=50, hi=1500, seed=args.seed)
    words = sum(len(t.split()) for t in texts)
    rows, results = [], {}
    sizes, biases = args.pipeline_batch_sizes, args.o_bias  # comma lists, checked by argparse
    with tempfile.TemporaryDirectory(prefix="naba-bench-") as tmp:
        work = Path(tmp)
        base = build_checkpoint(work / "bench-model", sents[:4000], layers=["entity"], shape=SHAPE, vocab=8000)
        ckpts = {b: with_o_bias(base, work / f"bench-model-o{b:g}", b) for b in biases}
        trained = trained_density(Path(args.trained), texts)
        if trained is not None:
            print(f"{args.trained}: {trained:.1f} spans per 1,000 tokens of these documents")
        fpt = flops_per_token(hidden=256, inter=1024, layers=4, labels=5)
        window_tokens = sum(len(w.input_ids) for w in Tagger.from_pretrained(base, device="cpu")._encode(texts, text_of).windows)
        for dtype in args.dtypes:
            for bias in biases:
                r = results[(dtype, bias)] = compare(ckpts[bias], texts, dtype, work, rounds=args.rounds, sizes=sizes,
                                                     fpt=fpt, window_tokens=window_tokens)
                w = r["where"]
                print(f"{dtype}, {head_name(bias)} head ({r['density'][0]:.0f} spans per 1k tokens; the pipeline "
                      f"{r['density'][1]:.0f}): naba {r['naba_docs_s']:.2f} docs/s {r['naba_tok_s']:,.0f} tok/s "
                      f"(transformers forward: {r['hf_tok_s']:,.0f}) | pipeline "
                      f"(batch {r['pipe_batch']}) {r['pipe_docs_s']:.2f} docs/s {r['pipe_tok_s']:,.0f} tok/s | "
                      f"x{r['ratio']:.2f} (rounds: median {r['median']:.2f}, {r['lo']:.2f}-{r['hi']:.2f}; "
                      f"docs/s x{r['docs_ratio']:.2f}) | agreement F1 {r['f1']:.3f} | roofline {r['gflops']:.1f} GFLOP/s = "
                      f"{r['ceiling']:,.0f} tok/s, naba at {r['roof_pct']:.0f}% ({r['roof_run_pct']:.0f}% of window tokens) | "
                      f"encode {w['encode']:.3f} s, forward {w['forward']:.3f} s, decode {w['decode']:.3f} s", flush=True)
                rows.append(
                    f"| {dtype} | {head_name(bias)} | {r['density'][0]:.0f} / {r['density'][1]:.0f} | "
                    f"{r['naba_docs_s']:.2f} | {r['naba_tok_s']:,.0f} | {r['hf_tok_s']:,.0f} | {r['pipe_batch']} | "
                    f"{r['pipe_docs_s']:.2f} | {r['pipe_tok_s']:,.0f} | **{r['ratio']:.2f}x** | "
                    f"{r['median']:.2f}x ({r['lo']:.2f}-{r['hi']:.2f}x) | {r['docs_ratio']:.2f}x | {r['f1']:.3f} | "
                    f"{r['gflops']:.1f} | {r['ceiling']:,.0f} | {r['roof_pct']:.0f}% | {r['roof_run_pct']:.0f}% |"
                )
        naba_budget = Tagger.from_pretrained(base, device="cpu").batch_tokens
        bench_rss = peak_rss_mib()
        tiny = build_checkpoint(work / "tiny-model", sents[:4000], layers=["entity"], vocab=2000,
                                shape={"hidden_size": 64, "num_layers": 2, "heads": 2, "intermediate": 128})
        rss = [predict_rss(tiny, n, sents, work, args.seed) for n in args.rss_docs]
        for r in rss:
            print(f"naba predict on {r['docs']:,} short documents: peak RSS {r['rss_mib']:.0f} MiB, {r['seconds']:.0f} s")
    print(f"peak RSS of this process (both systems, all runs): {bench_rss:.0f} MiB")

    def shown(v) -> str:  # comma lists come parsed: as they are written
        return ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v) if isinstance(v, list) else str(v)

    command = "python scripts/bench_predict.py" + "".join(
        f" --{k.replace('_', '-')} {shown(v)}" for k, v in vars(args).items()
        if shown(v) != str(ap.get_default(k)) and k != "no_write"
    )
    targets = {"fp32": 1.6, "bf16": 2.5}
    verdicts = []
    for (dtype, bias), r in results.items():
        want = targets.get(dtype)
        speed = "" if want is None else (
            f"{r['ratio']:.2f}x against >= {want}x ({'met' if r['ratio'] >= want else 'missed'}"
            + ("" if r["lo"] >= want or r["ratio"] < want else f"; not in every round, {r['lo']:.2f}-{r['hi']:.2f}x")
            + "), "
        )
        # one decimal, rounded down: the table's whole per cents showed 59.6% as "60% ... (missed)", and
        # 59.96% rounded would read "60.0% ... (missed)"
        verdicts.append(f"{dtype}, {head_name(bias)} head: {speed}{math.floor(r['roof_pct'] * 10) / 10:.1f}% of the "
                        "ceiling against >= 60% "
                        f"({'met' if r['roof_pct'] >= 60 else 'missed'})")
    native = bf16_instructions()
    note = bf16_note(native, onednn=fastpath.onednn_takes_bf16())
    if "bf16" in args.dtypes and not native:
        verdicts.append("bf16 on this CPU is not what issue #5's bf16 target assumes (a CPU whose bf16 products run "
                        "about 2.4x faster than fp32): here neither side has bf16 hardware, and the bf16 ratio and "
                        "ceiling measure emulations; the bf16 target is for a CPU with bf16 instructions")
    first = next(iter(results.values()))
    counts = first["tokens"]
    reference = ("" if trained is None else
                 f" For reference, the model scripts/anercorp.sh trains (`{Path(args.trained).name}`, ACTOR and LOCATION "
                 f"on ANERcorp) tags {trained:.1f} spans per 1,000 of its subword tokens of these documents.")
    fpt_m = fpt / 1e6
    section = f"""## Inference: `naba predict` vs the transformers pipeline

Command: `{command}` ({time.strftime('%Y-%m-%d')}); CPU: {cpu_name()}, {torch.get_num_threads()} torch threads;
{note}; torch {torch.__version__}. Model: random-initialised BERT, 4 layers, hidden 256, 4 heads, FFN 1024, entity
layer only (5 tags), max_length 512, stride 128, the same checkpoint for both. Documents: {len(texts)}
of 50 to 1,500 words ({words:,} words in all) from {origin}. The pipeline is
`pipeline("token-classification", aggregation_strategy="simple", stride=128, batch_size=B)`, B the
fastest of {shown(args.pipeline_batch_sizes)} (batch 1 pads nothing; a larger batch pads its windows, taken in input
order, to its longest); naba runs `run_job` (JSONL in and out) with its default padded-token budget on this device
({naba_budget} tokens a batch, windows sorted by length) through its fused CPU encoder
(naba/predict/fastpath.py: oneDNN linear layers with weights packed once, attention per sequence at
its own length, through PyTorch's fused attention from {fastpath.FUSED_FROM} tokens, padding dropped); the "naba, transformers forward" column is the same job with
`fast_path=False`, i.e. transformers' own forward with SDPA attention, as the pipeline runs. Same
weights, same dtype, same max_length and stride for all. After a warm-up, the pipeline ran once at each
batch size to pick its fastest; then {args.rounds} round(s) alternated naba, naba with transformers' forward and the
pipeline at that batch size, one timing each. The best timing of each counts (the machine is shared; the
pipeline's batch-size timings count too); the per-round column gives the median and range of each round's
naba / pipeline ratio (a paired figure: both timings of a round met the same load).
tok/s counts each side's own subword tokens of the documents once (window overlap and padding not
counted): naba {counts[0]:,} (it tokenizes AraBERT-prepared text, which splits punctuation off words),
the pipeline {counts[1]:,} (raw text); the docs/s ratio, which needs no token count, is given too.

Two heads on the same encoder: the random one, whose flat scores tag nearly half the tokens, and
the same with its O score raised (`--o-bias`), which tags about as sparsely as a trained
model.{reference} The spans column gives naba's and the pipeline's spans per 1,000 of their tokens.
Decoding costs grow with the spans found, the pipeline's (its aggregation loops over entities
in Python) much more than naba's, so the random head flatters the ratio; the sparse head's row is
the one a trained model would see.
Agreement is exact-match span F1 between the two outputs (random weights: the two decoders, naba's
BIO-constrained Viterbi over AraBERT-prepared text and the pipeline's argmax + simple aggregation
over raw text, part ways wherever the scores are flat). Roofline: sustained GFLOP/s of one layer's
matmuls ([4096, 256] x [256, 256] x4, [4096, 256] x [256, 1024], [4096, 1024] x [1024, 256], attention
at 512; the faster of 4096 and 2048 rows, of F.linear and oneDNN with packed weights, and of attention's two
products and PyTorch's fused attention (SDPA, its softmax uncounted); for bf16, the faster of
bf16 and fp32 kernels) measured in the same run, divided by the model's {fpt_m:.2f} MFLOP per token (at 512).

| dtype | head | spans per 1k tokens (naba / pipeline) | naba docs/s | naba tok/s | naba, transformers forward tok/s | pipeline batch | pipeline docs/s | pipeline tok/s | naba / pipeline (tok/s, best rounds) | per round: median (range) | docs/s ratio | span F1 | matmul GFLOP/s | ceiling tok/s | naba % of ceiling | same, crediting window tokens |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Targets (issue #5: naba >= 2.5x the pipeline in bf16, >= 1.6x in fp32, >= 60% of the ceiling), this run:
{"; ".join(verdicts)}.

The last column credits naba with the {window_tokens:,} window tokens the model ran instead of the
{counts[0]:,} document tokens: stride 128 makes the windows of long documents overlap, and the
ceiling, per document token, does not pay for that; the target is read on the column before it.

Where the time goes (naba's stages timed apart, best of three passes, and torch.profiler over its
forward, same run): {"; ".join(f"{d}, {head_name(b)} head: encode {r['where']['encode']:.3f} s, forward {r['where']['forward']:.3f} s, decode (spans and their JSON, as the job does) {r['where']['decode']:.3f} s; "
 "forward CPU time " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in r['where']['shares'].items()) for (d, b), r in results.items())}.
Tried in trials outside this script (so no figures here) and not kept: torch.compile (inductor) on
transformers' forward (a few per cent less forward time, for seconds of compilation per process and
per new shape); PyTorch's native `nn.TransformerEncoderLayer` path (slower than naba's encoder in
bf16, and than transformers' forward in fp32); decoding on a second thread while the model runs (no
gain: the two cores are already busy).

Peak RSS of this benchmark process (both systems, all runs): {bench_rss:.0f} MiB.

`naba predict` as a subprocess on short documents (up to 12 words; tiny 2-layer, 64-wide model, so
that the run measures the job's memory rather than the model's):

| documents | peak RSS | wall time |
| --- | --- | --- |
{chr(10).join(f"| {r['docs']:,} | {r['rss_mib']:.0f} MiB | {r['seconds']:.0f} s |" for r in rss)}
"""
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "predict", section)
        print("wrote the bench:predict section of BENCHMARKS.md")


if __name__ == "__main__":
    main()
