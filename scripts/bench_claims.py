"""Benchmark of the claim layer on ANERcorp test; rewrites the ``bench:claims`` section of BENCHMARKS.md.

  python scripts/bench_claims.py [--steps 600] [--out runs/bench-claims] [--bootstrap 1000]

Trains two small models from scratch (``naba-small``: a BERT of the shape below with a WordPiece
vocabulary trained on the training texts, no pre-training; the only kind that trains offline in
minutes on a CPU) on the same documents, the ANERcorp train sentences read for claims plus the demo
corpus (data/demo/train.jsonl):

* joint: layers entity (ACTOR, LOCATION) and claim (CLAIM);
* entity-only: layer entity.

Both are scored on the ANERcorp test sentences read for claims. CLAIM: the joint model and the rule
baseline (naba.claims), exact and overlap span F1 (scripts/anercorp_claims.py's definitions) with
95% intervals from a bootstrap over sentences. ACTOR and LOCATION: joint against entity-only with
``naba.eval`` (span_exact), its document-bootstrap intervals and paired test. The figures are
printed and written between ``<!-- bench:claims -->`` and ``<!-- /bench:claims -->``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # naba, also from a checkout not installed
from naba.claims import find_claims  # noqa: E402
from naba.corpus.anercorp import load_anercorp  # noqa: E402
from naba.corpus.document import Document, Span  # noqa: E402
from naba.corpus.fileio import atomic_write  # noqa: E402
from naba.corpus.jsonl import read_jsonl, write_jsonl  # noqa: E402
from naba.corpus.labels import DEFAULT_SCHEME  # noqa: E402
from naba.errors import ConfigError, DataError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py
from reportlib import at_least, cpu_name, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("anercorp_claims", ROOT / "scripts" / "anercorp_claims.py")
ac = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ac)

SECTION = "bench:claims"
# Test sentences 0-330 were read while the rules of naba.claims were written (before the claim
# layer existed); the rule baseline is also reported on the rest, which it never saw.
RULES_SEEN_UNTIL = 330
SHAPE = {"hidden_size": 128, "num_layers": 2, "heads": 2, "intermediate": 512, "vocab_size": 8000}
# the options besides --steps that change the figures, and their defaults: the section's command
# line shows each one set otherwise, so that it reruns what was run
DEFAULTS = {"bootstrap": 1000, "seed": 0, "runs": 3, "claims_dir": None}


def train_model(
    name: str, layers: list[str], train_file: Path, out: Path, *, steps: int, seed: int, reuse: bool = False
) -> tuple[Path, float]:
    """Train one naba-small run; returns its folder and the wall-clock seconds it took.

    ``reuse``: keep a run this script finished before (to re-score after a failure) instead of
    training it again.
    """
    from naba.train.config import load_config
    from naba.train.loop import train

    timing = out / name / "bench_seconds.json"
    if reuse and timing.is_file() and (out / name / "best" / "naba.json").is_file():
        return out / name, json.loads(timing.read_text(encoding="utf-8"))["seconds"]

    overrides = [
        f"data.train=[{train_file}]",
        f"data.layers=[{', '.join(layers)}]",
        "data.dev_ratio=0.1",
        "model.name_or_path=naba-small",
        "model.max_length=128",
        "model.stride=32",
        *(f"model.{k}={v}" for k, v in SHAPE.items()),
        "optim.lr=1e-3",
        "optim.batch_size=32",
        f"optim.max_steps={steps}",
        "optim.mixed_precision='no'",
        f"run.dir={out}",
        f"run.name={name}",
        f"run.seed={seed}",
        f"run.eval_every={max(steps // 5, 1)}",
        "run.tracker=none",
        "run.overwrite=true",
    ]
    cfg = load_config(None, overrides)
    started = time.perf_counter()
    train(cfg, show_progress=False)
    took = time.perf_counter() - started
    atomic_write(timing, json.dumps({"seconds": took}) + "\n")
    return cfg.run_dir, took


def predict(run_dir: Path, docs: list[Document]) -> list[Document]:
    from naba.predict import Tagger

    tagger = Tagger.from_pretrained(run_dir, device="cpu")
    found = tagger([d.text for d in docs])
    return [
        Document(d.id, d.text, [Span(s["start"], s["end"], s["label"]) for s in spans], {})
        for d, spans in zip(docs, found, strict=True)
    ]


def claim_scores(gold: list[Document], pred: list[Document], *, samples: int, seed: int) -> dict:
    """CLAIM exact and overlap P/R/F1 with 95% sentence-bootstrap intervals."""
    rows = np.array(
        [
            ac.sentence_counts(
                [(s.start, s.end) for s in g.spans_of({"CLAIM"})], [(s.start, s.end) for s in p.spans_of({"CLAIM"})]
            )
            for g, p in zip(gold, pred, strict=True)
        ],
        dtype=float,
    )
    return {"sentences": len(rows), **ac.scores_with_ci(rows, samples=samples, seed=seed)}


def rules(docs: list[Document]) -> list[Document]:
    return [Document(d.id, d.text, [Span(c["start"], c["end"], "CLAIM") for c in find_claims(d.text)]) for d in docs]


def entity_scores(gold: list[Document], joint: list[Document], entity: list[Document], *, samples: int, seed: int) -> dict:
    from naba.eval.core import compare, evaluate

    kw = {"scheme": DEFAULT_SCHEME, "layers": ["entity"], "samples": samples, "seed": seed}
    return {
        "joint": evaluate(gold, joint, **kw)["scores"]["entity"]["span_exact"],
        "entity_only": evaluate(gold, entity, **kw)["scores"]["entity"]["span_exact"],
        "paired": compare(gold, entity, joint, **kw)["metrics"],
    }


def spread(gold: list[Document], preds: dict[str, list[list[Document]]]) -> dict:
    """Point F1 of every training run: joint CLAIM exact/overlap, ACTOR/LOCATION/micro of both models."""
    from naba.eval.core import evaluate

    out: dict[str, list[float]] = {}
    for joint in preds["joint"]:
        c = claim_scores(gold, joint, samples=0, seed=0)
        out.setdefault("CLAIM exact", []).append(c["exact"]["f1"])
        out.setdefault("CLAIM overlap", []).append(c["overlap"]["f1"])
    for name, runs in preds.items():
        for docs in runs:
            scores = evaluate(gold, docs, scheme=DEFAULT_SCHEME, layers=["entity"], samples=0)
            for label in ("ACTOR", "LOCATION", "micro"):
                out.setdefault(f"{name} {label}", []).append(scores["scores"]["entity"]["span_exact"][label]["f1"])
    return out


def _range(values: list[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _f1(node: dict, ci_key: str = "f1_ci95") -> str:
    low, high = node[ci_key]
    return f"{node['f1']:.3f} [{low:.3f}, {high:.3f}]"


def command_line(result: dict) -> str:
    """The command that made ``result``: --steps, and every other option that changes the figures
    where it is not the default."""
    given = {"bootstrap": result["bootstrap"], "seed": result["seeds"][0], "runs": result["runs"],
             "claims_dir": result.get("claims_dir")}
    return f"python scripts/bench_claims.py --steps {result['steps']}" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in given.items() if v != DEFAULTS[k]
    )


def render(result: dict) -> str:
    c, e, d = result["claims"], result["entities"], result["data"]
    lines = [
        "## Claims: joint model vs rule baseline, and what the claim layer does to entities",
        "",
        f"`{command_line(result)}` on {result['machine']}. "
        f"Training: {d['train_anercorp']} ANERcorp train sentences read for claims "
        f"({d['train_anercorp_with_claims']} with claims) + {d['train_demo']} demo documents, 10% of them "
        f"carved off as dev. Test: the {d['test']} ANERcorp test sentences with the adjudicated claim gold "
        f"({d['test_claims']} claims). Both models are `naba-small` trained from scratch (no pre-training: "
        f"no pre-trained weights are reachable offline), {SHAPE['num_layers']} layers, hidden {SHAPE['hidden_size']}, "
        f"{result['steps']} steps of 32 windows of up to 128 subwords, lr 1e-3, best dev checkpoint; "
        f"training took {result['seconds']['joint']:.0f} s (joint) and {result['seconds']['entity']:.0f} s "
        "(entity-only) a run. These are small-model figures for comparing systems, not AraBERT's.",
        "",
        "CLAIM (exact: same span; overlap: shares a character; 95% CI: bootstrap over sentences, "
        f"{result['bootstrap']} resamples):",
        "",
        "| system | sentences | exact P | exact R | exact F1 [95% CI] | overlap P | overlap R | overlap F1 [95% CI] |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for name, node in c.items():
        x, o = node["exact"], node["overlap"]
        lines.append(
            f"| {name} | {node['sentences']} | {x['precision']:.3f} | {x['recall']:.3f} | {_f1(x)} "
            f"| {o['precision']:.3f} | {o['recall']:.3f} | {_f1(o)} |"
        )
    lines += [
        "",
        f"Caveats on the rule baseline: its first rules were written while reading test sentences "
        f"0-{RULES_SEEN_UNTIL} (the last row scores it only on the sentences it never saw), and some "
        "rules encode guideline decisions that were sharpened while adjudicating the test annotations; "
        "later rules were tuned on the train annotations. The joint model finds a share of the claims "
        f"(overlap recall {c['joint model']['overlap']['recall']:.2f}) but seldom their exact boundaries.",
        "",
        "ACTOR / LOCATION (span_exact, `naba.eval`; 95% CI: bootstrap over documents; Δ = joint − entity-only, "
        "paired bootstrap):",
        "",
        "| label | entity-only F1 [95% CI] | joint F1 [95% CI] | Δ F1 [95% CI] | p |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for label in ("ACTOR", "LOCATION", "micro"):
        a, b = e["entity_only"][label], e["joint"][label]
        pair = e["paired"][f"entity/span_exact/{label}/f1"]
        lo, hi = pair["diff_ci"]
        lines.append(
            f"| {label} | {_f1(a, 'f1_ci')} | {_f1(b, 'f1_ci')} | {pair['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] "
            f"| {pair['p_value']:.3f} |"
        )
    sp = result["spread"]
    lines += [
        "",
        f"The tables show the first of {result['runs']} training run(s) per model (seeds "
        f"{', '.join(map(str, result['seeds']))}; each run also "
        "retrains the WordPiece vocabulary, which is not deterministic). Their intervals cover test "
        "sampling only; the F1 range over the runs shows the training variance: joint CLAIM exact "
        f"{_range(sp['CLAIM exact'])}, overlap {_range(sp['CLAIM overlap'])}; ACTOR entity-only "
        f"{_range(sp['entity ACTOR'])} vs joint {_range(sp['joint ACTOR'])}; LOCATION entity-only "
        f"{_range(sp['entity LOCATION'])} vs joint {_range(sp['joint LOCATION'])}; micro entity-only "
        f"{_range(sp['entity micro'])} vs joint {_range(sp['joint micro'])}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=at_least(1), default=600, help="optimizer steps per model")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-claims")
    # at least 1: the paired test of the entity layers needs resamples (0 failed after all the training)
    parser.add_argument("--bootstrap", type=at_least(1), default=DEFAULTS["bootstrap"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of the first run and of the bootstrap")
    parser.add_argument("--runs", type=at_least(1), default=DEFAULTS["runs"],
                        help="training runs per model (seeds seed, seed+1, ...)")
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--claims-dir", type=Path, default=None, help="stand-off folder (default: data/anercorp-claims)")
    parser.add_argument("--render-only", action="store_true", help="rewrite the section from OUT/bench_claims.json")
    parser.add_argument("--reuse-runs", action="store_true", help="score runs this script finished before instead of retraining")
    args = parser.parse_args(argv)
    if args.render_only:
        result = json.loads((args.out / "bench_claims.json").read_text(encoding="utf-8"))
        return _publish(result, args.benchmarks)
    try:
        train_anercorp = load_anercorp("train", claims_dir=args.claims_dir, only_annotated=True)
        test = load_anercorp("test", claims_dir=args.claims_dir, only_annotated=True)
        demo = read_jsonl(ROOT / "data" / "demo" / "train.jsonl")
    except (DataError, ConfigError) as exc:
        print(f"bench_claims: {exc}", file=sys.stderr)
        return 1
    # ANERcorp text goes to the run folder (outside git), never next to the stand-off files.
    train_file = args.out / "data" / "train.jsonl"
    write_jsonl(train_anercorp + demo, train_file)
    # One thread: on a shared 2-core machine a second thread makes every step slower, not faster.
    torch.set_num_threads(1)
    preds: dict[str, list[list[Document]]] = {"joint": [], "entity": []}
    seconds: dict[str, list[float]] = {"joint": [], "entity": []}
    for seed in range(args.seed, args.seed + args.runs):
        for name, layers in (("joint", ["entity", "claim"]), ("entity", ["entity"])):
            run_dir, took = train_model(
                f"{name}-seed{seed}", layers, train_file, args.out, steps=args.steps, seed=seed, reuse=args.reuse_runs
            )
            preds[name].append(predict(run_dir, test))
            seconds[name].append(took)
    # The tables show the first run with bootstrap intervals over test sentences; the spread
    # over runs shows what the intervals leave out (training variance).
    joint, entity = preds["joint"][0], preds["entity"][0]
    rule_pred = rules(test)
    unseen = [i for i, d in enumerate(test) if d.meta["sentence"] > RULES_SEEN_UNTIL]
    kw = {"samples": args.bootstrap, "seed": args.seed}
    result = {
        "steps": args.steps,
        "bootstrap": args.bootstrap,
        "machine": f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)",
        "seconds": {name: round(sum(v) / len(v), 1) for name, v in seconds.items()},
        "runs": args.runs,
        "seeds": list(range(args.seed, args.seed + args.runs)),
        "claims_dir": None if args.claims_dir is None else str(args.claims_dir),
        "spread": spread(test, preds),
        "data": {
            "train_anercorp": len(train_anercorp),
            "train_anercorp_with_claims": sum(1 for d in train_anercorp if d.spans_of({"CLAIM"})),
            "train_demo": len(demo),
            "test": len(test),
            "test_claims": sum(len(d.spans_of({"CLAIM"})) for d in test),
        },
        "claims": {
            "joint model": claim_scores(test, joint, **kw),
            "rule baseline": claim_scores(test, rule_pred, **kw),
        },
        "entities": entity_scores(test, joint, entity, **kw),
    }
    if unseen:
        result["claims"][f"rule baseline, test sentences > {RULES_SEEN_UNTIL}"] = claim_scores(
            [test[i] for i in unseen], [rule_pred[i] for i in unseen], **kw
        )
    atomic_write(args.out / "bench_claims.json", json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return _publish(result, args.benchmarks)


def _publish(result: dict, benchmarks: Path) -> int:
    """Rewrite this benchmark's section of ``benchmarks`` (only it) and print it."""
    section = render(result)
    write_section(benchmarks, SECTION.removeprefix("bench:"), section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
