"""Setting up a run: precision and tracker, model and tokenizer, optimizer, and an existing run dir."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from naba.errors import ConfigError, DataError
from naba.train.config import PATH_KEYS, RUNTIME_ONLY, SMALL_MODEL, TrainConfig, changed_settings
from naba.train.files import publish_dir, save_error, temp_dir_for
from naba.train.portable import changed_since
from naba.yamlio import shown

_TRACKER_MODULES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def resolve_precision(choice: str) -> str:
    """accelerate's mixed_precision for a config value; ``auto`` is bf16/fp16 on a GPU, fp32 on CPU."""
    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        from naba.model import gpu_has_bf16

        # the GPU this process trains on: accelerate gives each process the one of its local rank
        return "bf16" if gpu_has_bf16(int(os.environ.get("LOCAL_RANK", "0"))) else "fp16"
    return "no"


def resolve_tracker(name: str) -> str | None:
    """accelerate's log_with for ``run.tracker``; a missing package is a ConfigError."""
    if name == "none":
        return None
    if importlib.util.find_spec(_TRACKER_MODULES[name]) is None:
        raise ConfigError(f"run.tracker: {name} is not installed (pip install {name}), or set run.tracker=none")
    return name


def build_model(cfg: TrainConfig, space, texts: list[str], *, tokenizer=None):
    """(tokenizer, model): ``naba-small`` from scratch (its tokenizer trained on ``texts`` unless
    given), or a pretrained encoder."""
    from naba.model import (
        build_small_model,
        build_small_tokenizer,
        check_vocab,
        load_model,
        load_tokenizer,
        positions_problem,
    )

    m = cfg.model
    if m.name_or_path == SMALL_MODEL:
        if tokenizer is None:
            tokenizer = build_small_tokenizer(texts, vocab_size=m.vocab_size, preset=m.preset)
        model = build_small_model(
            space, vocab_size=len(tokenizer), hidden_size=m.hidden_size, num_layers=m.num_layers,
            heads=m.heads, intermediate=m.intermediate, max_position=m.max_length, seed=cfg.run.seed,
        )
    else:
        tokenizer, model = load_tokenizer(m.name_or_path), load_model(m.name_or_path, space)
        check_vocab(m.name_or_path, tokenizer, model)
    if (problem := positions_problem(m.max_length, model)) is not None:
        raise ConfigError(f"model.{problem}")
    return tokenizer, model


def run_tokenizer(cfg: TrainConfig, run_dir: Path, texts: list[str], accelerator):
    """naba-small's tokenizer, made once per run and kept in ``run_dir/tokenizer``.

    Training a WordPiece vocabulary is not deterministic (huggingface/tokenizers#1794: ties are
    broken in hash-map order), so every process and every resumed start must load the one the
    main process made, not train its own. ``model.tokenizer`` names a ready one instead.
    """
    from accelerate.utils import gather_object

    from naba.model import build_small_tokenizer, load_tokenizer

    if cfg.model.name_or_path != SMALL_MODEL:
        return None
    if cfg.model.tokenizer is not None:
        return load_tokenizer(cfg.model.tokenizer)
    folder, error = run_dir / "tokenizer", None
    if not folder.is_dir() and accelerator.is_main_process:
        tokenizer = build_small_tokenizer(texts, vocab_size=cfg.model.vocab_size, preset=cfg.model.preset)
        try:
            tmp = temp_dir_for(folder)
            tokenizer.save_pretrained(tmp)
            publish_dir(tmp, folder)
        except Exception as exc:  # a full disk: a DataError naming the folder (the next start clears tmp)
            error = save_error(folder, exc)
            if error is None:
                raise
    if accelerator.num_processes > 1:
        # (also the wait for the main process) every process stops with its error: the others would go on
        # to load a tokenizer that is not there
        problems = next((p for p in gather_object([error.problems if error else None]) if p), None)
        error = DataError(problems, about="the output") if problems else None
    if error is not None:
        raise error from None
    return load_tokenizer(str(folder))


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.AdamW:
    # biases and LayerNorm weights (the 1-D parameters) are not decayed, as in BERT's recipe
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.optim.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    try:
        # the fused kernel (CPU and GPU in recent torch) is what the HF Trainer uses by default too
        return torch.optim.AdamW(groups, lr=cfg.optim.lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=cfg.optim.lr)


def prior_run(cfg: TrainConfig, run_dir: Path, *, main: bool, root: Path | None = None) -> dict[str, Any] | None:
    """Check an existing run dir: the final metrics if that run finished, else None (resume or new).

    ``root`` is the folder the run moves with (default ``run_dir``): its paths inside it are compared by
    their place in it, so a run moved elsewhere is the same run (:mod:`naba.train.portable`)."""
    saved = run_dir / "config.yaml"
    if (run_dir / "cv.json").exists() or (run_dir / "folds").is_dir():
        raise ConfigError(f"{run_dir} holds a cross-validation (--folds), not a single run; choose another run.name")
    if cfg.run.overwrite and run_dir.is_dir() and not saved.is_file() and any(
            p.name not in ("tokenizer", "logs") and not p.name.startswith(".") for p in run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is not a naba run (no config.yaml); run.overwrite=true will not delete it")
    if cfg.run.overwrite:
        if main and run_dir.exists():
            shutil.rmtree(run_dir)
        return None
    if not saved.is_file():
        return None
    old = _saved(saved) or {}
    differ = [key for key in changed_since(old, cfg, run_dir, root or run_dir) if key not in RUNTIME_ONLY]
    if differ:
        moved = next((key for key in differ if key in PATH_KEYS), None)
        hint = ""
        if moved is not None:  # data of the user's own, outside the run folder, may have moved with it
            section, name = moved.split(".")
            hint = (f"; {saved} names {moved} {shown((old.get(section) or {}).get(name))}, this start "
                    f"{shown(cfg.to_dict()[section][name])} (the same files, only elsewhere now? write their "
                    f"new paths into {saved})")
        raise ConfigError(
            f"{run_dir} holds a run with another configuration (differs in {', '.join(differ)}){hint}; "
            f"choose another run.name, or set run.overwrite=true to replace it"
        )
    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        done = _saved(metrics)
        if done and "final" in done:
            return done
    return None


def _saved(file: Path) -> dict[str, Any] | None:
    """A run's own config.yaml or metrics.json (None when empty); a ConfigError naming it when it is
    damaged (edited by hand, a merge conflict), where json and yaml raised their own tracebacks."""
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(f"{file}: cannot read this run's file ({type(exc).__name__}: {reason}); repair it, "
                          "or set run.overwrite=true to start afresh") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{file}: cannot read this run's file (expected a mapping, got {type(data).__name__}); "
                          "repair it, or set run.overwrite=true to start afresh")
    return data


def runtime_changes(cfg: TrainConfig, run_dir: Path) -> list[str]:
    """``KEY OLD -> NEW`` for each runtime-only setting that differs from the run's saved config.yaml,
    for the log: the file is rewritten with the new values, so only the log keeps the old ones."""
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return []
    old, new = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}, cfg.to_dict()
    lines = []
    for key in changed_settings(old, new):
        if key in RUNTIME_ONLY and key != "run.overwrite":
            section, name = key.split(".")
            lines.append(f"{key} {(old.get(section) or {}).get(name)} -> {new[section][name]}")
    return lines


def flat_config(cfg: TrainConfig) -> dict[str, Any]:
    # trackers take scalars only
    return {f"{s}.{k}": (v if isinstance(v, (int, float, str, bool)) else str(v))
            for s, values in cfg.to_dict().items() for k, v in values.items()}
