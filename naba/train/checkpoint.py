"""Resumable training state: ``checkpoints/step-N/`` holds everything a killed run needs.

Layout of one checkpoint (built in a temp folder, then renamed into place)::

    model/              naba.model.save_checkpoint (safetensors weights, tokenizer, naba.json)
    optimizer.pt        optimizer (and fp16 grad scaler) state; loaded with weights_only=True
    scheduler.json      learning-rate scheduler state
    rng-R.json          python and numpy RNG state of process R
    rng-R.safetensors   torch (and CUDA) RNG state of process R
    state.json          Progress: step, data position, best metric, evaluation history, data fingerprint

No file here is unpickled: torch.load runs with weights_only=True and the rest is JSON or
safetensors. A file that is missing, damaged or of another run is a ConfigError that names it.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import random
import re
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from naba.corpus.fileio import atomic_write, write_error
from naba.errors import ConfigError, DataError, Problem
from naba.train.files import publish_dir, save_error, temp_dir_for, write_json_atomic

STATE = "state.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint and restored on resume."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_index: int = 0  # next micro-batch of this epoch, in this process's share
    best: float | None = None  # best dev micro F1 so far
    best_step: int | None = None
    bad_evals: int = 0  # evaluations since the best one (early stopping)
    evals: list[dict[str, Any]] = field(default_factory=list)
    loss_sum: float = 0.0  # training loss summed since the last log line
    loss_steps: int = 0
    eval_loss_sum: float = 0.0  # training loss summed since the last evaluation
    world: int = 1
    stopped_early: bool = False
    data: str | None = None  # naba.train.data.fingerprint of the data trained on (None: a checkpoint of an older naba)


def capture_rng() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """This process's RNG states: (JSON-able python/numpy part, tensors for safetensors)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    tensors = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return plain, tensors


def restore_rng(plain: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    _restore_plain_rng(plain)
    _restore_torch_rng(tensors)


def _restore_plain_rng(plain: dict[str, Any]) -> None:
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _restore_torch_rng(tensors: dict[str, torch.Tensor]) -> None:
    if "cpu" not in tensors:
        raise ValueError(f"no 'cpu' generator state (it holds {sorted(tensors)})")
    torch.set_rng_state(tensors["cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def save_training_state(
    path: Path,
    *,
    model,
    tokenizer,
    space,
    optimizer,
    scheduler,
    scaler,
    progress: Progress,
    rng: list[tuple[dict[str, Any], dict[str, torch.Tensor]]],
    info: dict[str, Any],
) -> None:
    """Write one complete checkpoint to ``path`` atomically; ``rng`` holds every process's state.

    A file that cannot be written (a full disk, a read-only folder) is a DataError naming ``path``
    and the OS reason; nothing of the checkpoint is left.
    """
    from naba.model import save_checkpoint

    try:
        tmp = temp_dir_for(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        save_checkpoint(tmp / "model", model, tokenizer, space, extra=info)
        opt = {"optimizer": optimizer.state_dict()}
        if scaler is not None:
            opt["scaler"] = scaler.state_dict()
        # serialised in memory: writing to a full disk, torch.save fails with a RuntimeError that does not
        # say why ("unexpected pos 90048 vs 89940"); atomic_write names the OS error
        buffer = io.BytesIO()
        torch.save(opt, buffer)
        atomic_write(tmp / "optimizer.pt", buffer.getbuffer())
        write_json_atomic(tmp / "scheduler.json", scheduler.state_dict())
        for rank, (plain, tensors) in enumerate(rng):
            write_json_atomic(tmp / f"rng-{rank}.json", plain)
            atomic_write(tmp / f"rng-{rank}.safetensors", save({k: v.contiguous() for k, v in tensors.items()}))
        write_json_atomic(tmp / STATE, _portable(asdict(progress)))
        publish_dir(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, DataError):  # its file was in the temporary folder, gone now: name the checkpoint
            raise DataError([Problem(str(path), "", p.reason) for p in exc.problems], about="the output") from None
        error = save_error(path, exc)  # the model's weights or tokenizer, or the rename
        if error is not None:
            raise error from None
        raise


def load_training_state(path: Path, *, optimizer, scheduler, scaler, rank: int, world: int) -> Progress:
    """Restore optimizer, scheduler, scaler and this process's RNG from ``path``; return the progress.

    A checkpoint written by another number of processes is a ConfigError, on every process (each
    process keeps its own RNG state, so the files of a rank it did not have are not there). So is
    any file of it that cannot be read back (missing, damaged, a pickle of objects, another
    optimizer's state): the message names the file, and no traceback follows.
    """
    file = path / STATE
    try:
        progress = _progress(file)
    except Exception as exc:  # JSON, type and file errors alike
        raise _cannot_resume(path, file, exc) from None
    if progress.world != world:
        raise ConfigError(f"{path} was written by {progress.world} process(es); resume it with as many, not {world}")
    try:
        file = path / "optimizer.pt"
        opt = torch.load(file, map_location="cpu", weights_only=True)
        if not isinstance(opt, dict) or "optimizer" not in opt:
            raise ValueError("no optimizer state in it")
        optimizer.load_state_dict(opt["optimizer"])
        if scaler is not None and "scaler" in opt:
            scaler.load_state_dict(opt["scaler"])
        file = path / "scheduler.json"
        scheduler.load_state_dict(json.loads(file.read_text(encoding="utf-8")))
        file = path / f"rng-{rank}.json"
        _restore_plain_rng(json.loads(file.read_text(encoding="utf-8")))
        file = path / f"rng-{rank}.safetensors"
        _restore_torch_rng(load_file(str(file)))
    except Exception as exc:  # torch, safetensors, JSON and file errors alike
        raise _cannot_resume(path, file, exc) from None
    return progress


def trained_on(path: Path) -> str | None:
    """The data fingerprint (:func:`naba.train.data.fingerprint`) of the checkpoint at ``path``; None
    where it holds none (an older naba) or its state.json cannot be read (load_training_state names it)."""
    try:
        return _progress(path / STATE).data
    except Exception:  # reported, with the file, where the checkpoint is loaded
        return None


# Progress fields that count something: whole numbers, 0 or more
_COUNTS = ("step", "epoch", "batch_index", "bad_evals", "loss_steps", "world")
# loss sums that an fp16 overflow makes NaN or infinite (a diverged fp32/bf16 run stops first): null in
# state.json, NaN again when read
_LOSS_SUMS = ("loss_sum", "eval_loss_sum")


def _portable(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with non-finite loss sums as null: json writes NaN and Infinity, which are not JSON
    (jq and JavaScript refuse the file)."""
    return {k: None if k in _LOSS_SUMS and not math.isfinite(v) else v for k, v in data.items()}


def _progress(file: Path) -> Progress:
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(Progress)})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}")
    for key in _COUNTS:
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a whole number (0 or more), got {value!r}")
    for key in ("best", "loss_sum", "eval_loss_sum", "best_step"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{key} must be a number, got {value!r}")
    if not isinstance(data.get("evals", []), list) or not isinstance(data.get("stopped_early", False), bool):
        raise ValueError("evals must be a list and stopped_early true or false")
    if data.get("data") is not None and not isinstance(data["data"], str):
        raise ValueError(f"data must be a string, got {data['data']!r}")
    # null: a diverged sum (see _portable); older runs wrote NaN itself, which json reads too
    data.update({key: math.nan for key in _LOSS_SUMS if key in data and data[key] is None})
    return Progress(**data)


def _cannot_resume(path: Path, file: Path, exc: Exception) -> ConfigError:
    if isinstance(exc, pickle.UnpicklingError):
        # torch's own message goes on to suggest weights_only=False, which would run the pickle
        reason = (
            "it holds objects other than tensors and plain containers: refused by "
            "torch.load(weights_only=True), never unpickled"
        )
    else:
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"
    return ConfigError(
        f"{file}: cannot resume from this checkpoint ({reason}); delete {path} to resume from an earlier "
        f"checkpoint, or set run.overwrite=true to start afresh"
    )


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / STATE).is_file()]
    return [p for _, p in sorted(found)]


def prune(run_dir: Path, *, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints."""
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
