"""The run's model card (``README.md``): labels by layer, data, metrics and how to load the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from naba.train.config import TrainConfig
from naba.train.portable import relative_inside


def _cell(text: str) -> str:
    # label and layer names may hold '|', which would end a table cell
    return text.replace("|", "\\|")


def _literal(path: Path) -> str:
    # a Python string literal of the path: a '"' or '\' in it would break the snippet or change it
    return json.dumps(str(path), ensure_ascii=False)


def _table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| layer | precision | recall | F1 | gold spans |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in results.items():
        lines.append(
            f"| {_cell(name)} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['gold']} |"
        )
    return lines


def model_card(
    cfg: TrainConfig, *, run_dir: Path, space, counts: dict[str, int], metrics: dict[str, Any], git: str,
    root: Path | None = None,
) -> str:
    """Markdown describing a finished run; ``counts`` are document counts per split. Data files inside
    ``root`` (the folder the run moves with, default ``run_dir``) are named relative to the card's folder."""
    name = cfg.run.name
    best = run_dir / "best"

    def files(paths: list[str]) -> str:
        # a cross-validation's fold files move with the card: named where they are from it, not where they were
        return ", ".join(f"`{relative_inside(p, run_dir, root or run_dir)}`" for p in paths)

    lines = [
        f"# naba model: {name}",
        "",
        "A token classifier for Arabic news trained with naba (`naba train`). It tags spans in "
        "independent layers; spans of different layers may overlap.",
        "",
        "## Labels",
        "",
        "| layer | labels | tags |",
        "| --- | --- | --- |",
    ]
    for layer in space.layers:
        labels = space.scheme.layers[layer]
        lines.append(f"| {_cell(layer)} | {_cell(', '.join(labels))} | {_cell(', '.join(space.tags(layer)))} |")
    lines += [
        "",
        "## Model and data",
        "",
        f"- base model: `{cfg.model.name_or_path}`, text preparation preset `{cfg.model.preset}`, "
        f"windows of {cfg.model.max_length} tokens with stride {cfg.model.stride}",
        f"- train: {counts['train']} documents from {files(cfg.data.train)}",
        f"- dev: {counts['dev']} documents "
        + (f"from {files(cfg.data.dev)}" if cfg.data.dev else
           (f"carved from train (ratio {cfg.data.dev_ratio}, seed {cfg.data.dev_seed})" if counts["dev"] else "")),
        f"- test: {counts['test']} documents" + (f" from {files(cfg.data.test)}" if cfg.data.test else ""),
        f"- optimizer: AdamW lr {cfg.optim.lr}, weight decay {cfg.optim.weight_decay}, warmup ratio "
        f"{cfg.optim.warmup_ratio}, batch {cfg.optim.batch_tokens or cfg.optim.batch_size}"
        f"{' tokens' if cfg.optim.batch_tokens else ''} x {cfg.optim.grad_accum} accumulation, seed {cfg.run.seed}",
        f"- code: `{git}`; full configuration in `config.yaml`",
        "",
        "## Metrics",
        "",
        "Exact character-span matches (start, end and label must all agree).",
        "",
    ]
    final = metrics.get("final", {})
    best_step = metrics.get("best", {}).get("step")
    for split in ("dev", "test"):
        if final.get(split):
            lines += [f"{split} (best checkpoint" + (f", step {best_step}" if best_step else "") + "):", ""]
            lines += _table(final[split]) + [""]
    if not any(final.get(s) for s in ("dev", "test")):
        lines += ["No dev or test documents: no metrics.", ""]
    lines += [
        "## Use",
        "",
        "With naba (spans in the original text's character offsets, all layers):",
        "",
        "```python",
        "from naba import Tagger",
        "",
        f"tagger = Tagger.from_pretrained({_literal(run_dir)})  # this folder (or its best/); moved: its new path",
        'for span in tagger("أعلن الجيش السوري اليوم ..."):  # one dict per span',
        "    print(span)",
        "```",
        "",
        "With transformers alone (raw per-token logits; labels are named `layer:tag`, and each layer's "
        "slice of the logits is decoded separately; naba's Tagger does that, plus the AraBERT text "
        "preparation and windowing):",
        "",
        "```python",
        "from transformers import AutoModelForTokenClassification, AutoTokenizer",
        "",
        f"model = AutoModelForTokenClassification.from_pretrained({_literal(best)})  # moved: its new path",
        f"tokenizer = AutoTokenizer.from_pretrained({_literal(best)})",
        "print(model.config.id2label)",
        "```",
        "",
    ]
    return "\n".join(lines)
