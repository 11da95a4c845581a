"""Benchmark naba's training loop against the Hugging Face Trainer's run_ner recipe.

Three loops train the same small BERT (same shape, same seed, same tokenizer) for one epoch on the
same sampled sentences with the same batch size, one layer (entity: ACTOR/LOCATION, because
the Trainer recipe has one label set):

- naba: ``naba.train.train`` (length-grouped batches, each padded to its own longest window);
- Trainer, default: run_ner's recipe (first-subword labels, DataCollatorForTokenClassification,
  random batches padded to their longest sentence);
- Trainer, grouped by length (``group_by_length=True``; ``train_sampling_strategy=
  "group_by_length"`` in transformers 5).

Each loop runs in its own process so that peak RSS (``ru_maxrss``) is its own. Reported: non-pad
tokens per second and seconds per optimizer step over the whole training loop, the share of batch
positions that are real tokens, and peak RSS. The section ``<!-- bench:train -->`` of BENCHMARKS.md
is rewritten and the figures are printed.

    pip install -e '.[bench]'                     # datasets, for the Trainer recipe
    python scripts/bench_train.py                 # ANERcorp train (../shared), else data/demo
    python scripts/bench_train.py --sentences 500 --repeats 1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # naba, also from a checkout not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py
from reportlib import at_least, cpu_name, write_section  # noqa: E402

ANERCORP = ROOT.parent / "shared" / "corpora" / "anercorp" / "train.txt"
DEMO = ROOT / "data" / "demo" / "train.jsonl"
VARIANTS = ("naba", "trainer", "trainer_grouped")
NAMES = {"naba": "naba", "trainer": "Trainer, default", "trainer_grouped": "Trainer, group_by_length"}
SHAPE = {"hidden_size": 256, "num_layers": 4, "heads": 4, "intermediate": 1024}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=at_least(1), default=1600,
                        help="sentences sampled (seeded) from the data; every loop trains one epoch on them")
    parser.add_argument("--batch-size", type=at_least(1), default=16)
    parser.add_argument("--threads", type=at_least(1), default=1, help="torch threads in each loop's process")
    parser.add_argument("--repeats", type=at_least(1), default=1,
                        help="runs per loop, interleaved; the fastest counts (the machine may be shared)")
    parser.add_argument("--vocab-size", type=at_least(1), default=8000)
    parser.add_argument("--data", type=Path, default=None, help="default: ANERcorp train, else data/demo")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def documents(path: Path):
    """The data's documents, entity layer only (CLAIM spans dropped)."""
    from naba.corpus.formats import read
    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.train.data import keep_labels

    entity = DEFAULT_SCHEME.restrict(["entity"])
    return [keep_labels(d, entity) for d in read(path, scheme=DEFAULT_SCHEME, **read_options(path))]


def read_options(path: Path) -> dict:
    # ANERcorp has a few stray I- tags after O; they start a span
    return {"bio_repair": "begin"} if path.suffix == ".txt" else {}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_naba(args: argparse.Namespace) -> dict:
    from naba.train import load_config, train

    overrides = [
        f"data.train={args.data}", "data.layers=[entity]", "data.dev_ratio=0",
        "model.name_or_path=naba-small", f"model.tokenizer={args.workdir / 'tokenizer'}",
        *(f"model.{k}={v}" for k, v in SHAPE.items()), "model.max_length=512", "model.stride=128",
        f"optim.batch_size={args.batch_size}", f"optim.max_steps={args.steps}", "optim.lr=5e-5",
        "optim.mixed_precision=no", f"run.dir={args.workdir / 'runs'}", "run.name=naba", "run.overwrite=true",
        "run.tracker=none", f"run.threads={args.threads}",
    ]
    train(load_config(None, overrides), show_progress=False)
    speed = json.loads((args.workdir / "runs" / "naba" / "logs" / "speed.json").read_text())
    return {k: speed[k] for k in ("steps", "seconds", "cpu_seconds", "tokens", "padded_tokens")}


def run_trainer(args: argparse.Namespace, *, grouped: bool) -> dict:
    import inspect

    import torch
    from datasets import Dataset
    from transformers import DataCollatorForTokenClassification, Trainer, TrainerCallback, TrainingArguments

    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.model import build_small_model, load_tokenizer

    torch.set_num_threads(args.threads)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME.restrict(["entity"]))
    tags = space.tags("entity")
    tokenizer = load_tokenizer(str(args.workdir / "tokenizer"))
    # run_ner's input: words and one BIO tag per word (ANERcorp's own tokens, or space-split text)
    words, word_tags = [], []
    for doc in documents(args.data):
        pos, row, row_tags = 0, [], []
        for word in doc.text.split(" "):
            start, end = pos, pos + len(word)
            pos = end + 1
            if not word:
                continue
            span = next((s for s in doc.spans if s.start < end and start < s.end), None)
            row.append(word)
            row_tags.append("O" if span is None else ("B-" if span.start >= start else "I-") + span.label)
        words.append(row)
        word_tags.append(row_tags)
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=512)
    labels = []
    for i, row_tags in enumerate(word_tags):
        previous, row = None, []
        for word_id in enc.word_ids(i):
            # run_ner with label_all_tokens=False: the first subword of a word carries its tag
            row.append(-100 if word_id is None or word_id == previous else tags.index(row_tags[word_id]))
            previous = word_id
        labels.append(row)
    dataset = Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                                 "labels": labels})
    model = build_small_model(space, vocab_size=len(tokenizer), max_position=512, seed=42, **SHAPE)

    options = dict(output_dir=str(args.workdir / "hf"), per_device_train_batch_size=args.batch_size,
                   max_steps=args.steps, learning_rate=5e-5, weight_decay=0.01, warmup_steps=0.1,
                   logging_strategy="no", save_strategy="no", eval_strategy="no", report_to="none",
                   use_cpu=True, seed=42, disable_tqdm=True, dataloader_num_workers=0)
    fields = inspect.signature(TrainingArguments.__init__).parameters
    if "group_by_length" in fields:
        options["group_by_length"] = grouped
    elif grouped:
        options["train_sampling_strategy"] = "group_by_length"
    counted = {"tokens": 0, "padded_tokens": 0}
    clock: dict[str, float] = {}

    class Counting(Trainer):
        def training_step(self, model, inputs, num_items_in_batch=None):
            counted["tokens"] += int(inputs["attention_mask"].sum())
            counted["padded_tokens"] += inputs["attention_mask"].numel()
            return super().training_step(model, inputs, num_items_in_batch)

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            clock["start"], clock["cpu_start"] = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            clock["end"], clock["cpu_end"] = time.perf_counter(), time.process_time()

    trainer = Counting(model=model, args=TrainingArguments(**options), train_dataset=dataset,
                       data_collator=DataCollatorForTokenClassification(tokenizer), callbacks=[Clock()])
    trainer.train()
    return {"steps": trainer.state.global_step, "seconds": clock["end"] - clock["start"],
            "cpu_seconds": clock["cpu_end"] - clock["cpu_start"], **counted}


def child(args: argparse.Namespace) -> None:
    result = run_naba(args) if args.variant == "naba" else run_trainer(args, grouped=args.variant == "trainer_grouped")
    result["peak_rss_mb"] = peak_rss_mb()
    print("BENCH " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data is None:
        args.data = ANERCORP if ANERCORP.is_file() else DEMO
    args.data = args.data.resolve()
    if args.variant:
        child(args)
        return 0

    import importlib.util

    if importlib.util.find_spec("datasets") is None:
        raise SystemExit("bench_train.py needs datasets for the Trainer recipe: pip install -e '.[bench]'")
    import torch
    import transformers

    from naba.model import build_small_tokenizer

    corpus = documents(args.data)
    docs = random.Random(0).sample(corpus, min(args.sentences, len(corpus)))
    args.steps = -(-len(docs) // args.batch_size)  # one epoch: every loop sees every sentence once
    with tempfile.TemporaryDirectory(prefix="naba-bench-") as tmp:
        workdir = Path(tmp)
        sample = workdir / "sentences.jsonl"
        sample.write_text("".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        # one tokenizer for all three loops (training one is not deterministic)
        build_small_tokenizer([d.text for d in docs], vocab_size=args.vocab_size).save_pretrained(workdir / "tokenizer")
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for variant in [v for _ in range(args.repeats) for v in VARIANTS]:
            command = [sys.executable, __file__, "--variant", variant, "--workdir", str(workdir),
                       "--data", str(sample), "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                       "--threads", str(args.threads)]
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
            if done.returncode != 0 or not lines:
                print(done.stderr[-4000:], file=sys.stderr)
                print(f"bench_train: the {variant} loop failed (exit {done.returncode})", file=sys.stderr)
                return 1
            r = json.loads(lines[-1][6:])
            r["tokens_per_s"] = r["tokens"] / r["seconds"]
            r["tokens_per_cpu_s"] = r["tokens"] / r["cpu_seconds"]
            r["seconds_per_step"] = r["seconds"] / r["steps"]
            print(f"{NAMES[variant]:26s} {r['tokens_per_s']:7.0f} tok/s  {r['tokens_per_cpu_s']:7.0f} tok/CPU-s  "
                  f"{r['seconds_per_step']:.3f} s/step  {r['tokens'] / r['padded_tokens']:6.1%} real  "
                  f"{r['peak_rss_mb']:6.0f} MB", flush=True)
            runs[variant].append(r)

    # each loop's fastest run by wall time, and its best CPU-time figure
    best = {v: max(rs, key=lambda r: r["tokens_per_s"]) for v, rs in runs.items()}
    cpu_best = {v: max(r["tokens_per_cpu_s"] for r in rs) for v, rs in runs.items()}
    wall = {v: r["tokens_per_s"] for v, r in best.items()}
    ratio = {f"{k}_{v}": figures["naba"] / figures[v]
             for k, figures in (("wall", wall), ("cpu", cpu_best)) for v in ("trainer", "trainer_grouped")}
    for k in ("wall", "cpu"):
        print(f"{k:4s}: naba / Trainer default {ratio[k + '_trainer']:.2f}x, "
              f"naba / Trainer group_by_length {ratio[k + '_trainer_grouped']:.2f}x")

    shown = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    data_name = "ANERcorp train (../shared, CAMeL Lab split)" if args.data == ANERCORP.resolve() else str(
        args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data)
    rows = "\n".join(
        f"| {NAMES[v]} | {r['tokens_per_s']:,.0f} | {cpu_best[v]:,.0f} | {r['seconds_per_step']:.3f} | "
        f"{r['tokens']:,} | {r['tokens'] / r['padded_tokens']:.1%} | {max(x['peak_rss_mb'] for x in runs[v]):,.0f} |"
        for v, r in best.items()
    )

    def verdict(x: float, target: float) -> str:
        return f"**{x:.2f}x** ({'meets' if x >= target else 'misses'} >= {target}x)"

    body = f"""## Training loop: naba vs Hugging Face Trainer (`scripts/bench_train.py`)

Command: `python scripts/bench_train.py{' ' + shown if shown else ''}` ({time.strftime('%Y-%m-%d')})

Machine: {cpu_name()}, {os.cpu_count()} cores, shared with other work (load average
{os.getloadavg()[0]:.1f} at the end); torch {torch.__version__}, transformers {transformers.__version__},
{args.threads} torch thread(s) per loop, fp32.

Same for all three: {len(docs)} sentences sampled (seed 0) from {data_name}, entity layer
(ACTOR/LOCATION), one epoch; BERT with {SHAPE['num_layers']} layers, hidden {SHAPE['hidden_size']},
{SHAPE['heads']} heads, intermediate {SHAPE['intermediate']}, a {args.vocab_size}-entry WordPiece vocabulary
trained on the sentences; batch {args.batch_size} sequences, {args.steps} optimizer steps, AdamW lr 5e-5,
max length 512. Times cover the whole training loop (data loading and collation included, no
evaluation or saving). Each loop ran {args.repeats} time(s), interleaved with the others, each in a
fresh process. Wall figures are each loop's fastest run; CPU figures (tokens per second of the
process's own CPU time, which other work on the machine disturbs far less) are each loop's best.

| loop | non-pad tokens/s (wall) | non-pad tokens/CPU-s | s/step (wall) | non-pad tokens | real tokens in batches | peak RSS MB |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

naba / Trainer default: {verdict(ratio['cpu_trainer'], 1.5)} per CPU-second, {ratio['wall_trainer']:.2f}x wall.
naba / Trainer group_by_length: {verdict(ratio['cpu_trainer_grouped'], 1.0)} per CPU-second,
{ratio['wall_trainer_grouped']:.2f}x wall.

Every loop trains one epoch over the same sentences; naba counts a few more tokens because it
tokenizes after AraBERT preparation (which splits punctuation off words), while the Trainer recipe
tokenizes ANERcorp's words as they are.
"""
    write_section(args.output, "train", body)
    print(f"wrote the bench:train section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
