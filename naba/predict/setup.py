"""How a Tagger is set up: its device, compute dtype, batch budget, host workers, checkpoint
folder (a run folder, a checkpoint folder or a hub id from the local cache), and the attention or
fused encoder its model runs with. Pure choices, each with the measurement behind its default.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError, ModelLoadError

log = logging.getLogger(__name__)

_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The compute dtype: as asked, else bf16 on a GPU that has it, fp16 on other GPUs, fp32 on CPU."""
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:  # torch.int8 failed in model.to(), after the model was loaded
            raise ValueError(f"dtype {dtype} is not a floating-point type; use one of {sorted(_DTYPES)}")
        return dtype
    if dtype is not None:
        if not isinstance(dtype, str):  # dtype=16 was "'int' object has no attribute 'lower'"
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
        try:
            return _DTYPES[dtype.lower()]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}") from None
    if device.type == "cuda":
        from naba.model import gpu_has_bf16

        return torch.bfloat16 if gpu_has_bf16(device) else torch.float16
    return torch.float32


# Padded tokens per model batch when none is asked for. A GPU wants big batches to fill it: on an
# H200 (scripts/bench_gpu.py run at commit aef5b5e, in BENCHMARKS.md's history; AraBERT's shape,
# bf16) 65536 tagged 1.19M tokens/s end to end against 1.13M at 16384, the model alone 1.70M
# against 1.66M, in 1.9 GiB of GPU memory at most (a smaller card's out-of-memory error halves
# it). A CPU wants a batch whose activations stay in
# cache: with the 4-layer, 256-wide benchmark model, 2048 tokens (four 512-token windows) keep the
# [tokens, 1024] FFN activation at 8 MiB instead of 64 MiB at 16384 (fp32); in trials here (not a
# committed benchmark) it took less CPU time than 16384 in both dtypes, and 1024 was no better.
GPU_BATCH_TOKENS = 65536
CPU_BATCH_TOKENS = 2048


def default_batch_tokens(device: torch.device) -> int:
    """The padded-token budget of a batch on ``device``: 65536 on GPUs, 2048 on CPU (cache-sized)."""
    return GPU_BATCH_TOKENS if device.type != "cpu" else CPU_BATCH_TOKENS


def resolve_checkpoint(name: str | Path) -> str:
    """A checkpoint folder for a run folder (its ``best/``), a checkpoint folder or a hub id."""
    if not isinstance(name, str | os.PathLike) or not str(name).strip():
        # None was pathlib's TypeError naming no argument, and "" (an unset variable) the current folder
        raise ModelLoadError(f"a model is a run folder, a checkpoint folder or a hub id, got {name!r}")
    path = Path(name)
    if path.is_dir():
        for folder in (path, path / "best"):
            # a naba.json that is a dangling link counts too: loading it says so, not "no naba.json"
            if (folder / "naba.json").is_file() or (folder / "naba.json").is_symlink():
                return str(folder)
        raise ModelLoadError(
            f"{path}: not a naba checkpoint (no naba.json) nor a run folder with best/naba.json{model_hint(path)}"
        )
    if path.exists():
        raise ModelLoadError(f"{path}: a model must be a checkpoint folder or a run folder, not a file")
    return _from_hub(str(name))


def model_hint(folder: Path) -> str:
    """``"; ..."``: the model a folder that is not one holds, where it holds one, else ``""``.

    A run's ``checkpoints/step-N/``, a cross-validation's folder and a run still training (no
    ``best/`` yet) hold checkpoints one folder down, where the bare "no naba.json" left the user to
    find them.
    """
    if (folder / "model" / "naba.json").is_file():
        return f"; this is a training checkpoint: its model is {folder / 'model'}"
    folds = sorted(p.parent.parent for p in folder.glob("folds/fold-*/best/naba.json"))
    if folds:
        return f"; this is a cross-validation: each fold is a run, e.g. {folds[0]}"
    steps = sorted(folder.glob("checkpoints/step-*/model/naba.json"), key=lambda p: _step(p.parent.parent.name))
    if steps:
        return f"; the run has no best/ yet (not finished?): its last checkpoint's model is {steps[-1].parent}"
    return ""


def _step(name: str) -> int:
    digits = name.removeprefix("step-")
    # isdecimal, not isdigit: "step-²" passed isdigit and int() then raised, a traceback instead of the error
    return int(digits) if digits.isdecimal() else -1


def local_scheme(name: str | Path) -> LabelScheme | None:
    """The label scheme in a local checkpoint's (or run folder's ``best/``) ``naba.json``, read
    without loading the model, so that files annotated in it can be read first; ``None`` for a hub
    id or a ``naba.json`` that does not hold one (loading the model then says what is wrong)."""
    path = Path(name)
    for info in (path / "naba.json", path / "best" / "naba.json"):
        if info.is_file():
            try:
                data = json.loads(info.read_text(encoding="utf-8"))
                return LabelScheme.from_dict(data.get("scheme"), source=str(info))
            except (OSError, ValueError, RecursionError, AttributeError, ConfigError):
                return None
    return None


def files_scheme(models: Sequence[str | Path]) -> LabelScheme:
    """The scheme to read corpus files for ``models`` with: naba's built-in one, unless it lacks
    labels or layers of theirs or they map a tag otherwise, then the one in a ``naba.json`` of theirs
    that holds every model's labels in their layers; a ConfigError naming the models where none does.

    A model of naba's labels keeps the built-in mapping (PERS, LOC, ... of gold in other tag sets),
    which the scheme file it was trained under may not have.
    """
    found = [(m, s) for m in models if (s := local_scheme(m)) is not None]
    # a mapping of its own counts too: a model trained with FAC: LOCATION (or ORG: null) had gold of FAC
    # refused under the built-in scheme ("unknown label 'FAC'"), or its ORG spans scored as ACTOR
    own = [s for _, s in found if not _holds(DEFAULT_SCHEME, s) or not _maps_alike(s)]
    if not own:
        return DEFAULT_SCHEME
    # naba eval compare of a model of its own scheme and one of naba's (or another of its own) fell back
    # to the built-in scheme: refused only once both were run, "predictions: ... unknown label 'EVENT'"
    for scheme in own:
        if all(_holds(scheme, s) for _, s in found):
            return scheme
    shown = "; ".join(f"{m}: {s.to_dict()['layers']}" for m, s in found)
    raise ConfigError(f"the models were trained on label schemes none of which holds the others' labels ({shown}); "
                      "give --labels FILE, a scheme with every model's labels in their layers")


def _maps_alike(scheme: LabelScheme) -> bool:
    """Whether ``scheme`` reads every tag it maps as the built-in scheme does; a tag of a built-in
    layer it lacks mapped to nothing is a layer left out of training (LabelScheme.restrict), not
    another reading."""
    for tag, target in scheme.mapping.items():
        builtin = tag if tag in DEFAULT_SCHEME.labels else DEFAULT_SCHEME.mapping.get(tag, "")
        if builtin == target:
            continue
        # data.layers: [claim] maps PERS to nothing too (a claim-only model was "another reading", and
        # compared with a model of both layers refused); LOCATION: null beside ACTOR drops a label its
        # layer keeps, which the built-in scheme would score
        if target is not None or not builtin or DEFAULT_SCHEME.layer_of(builtin) in scheme.layers:
            return False
    return True


def _holds(scheme: LabelScheme, other: LabelScheme) -> bool:
    """Whether ``scheme`` has every label of ``other``, each in the same layer."""
    return all(set(labels) <= set(scheme.layers.get(layer, ())) for layer, labels in other.layers.items())


def _from_hub(repo_id: str) -> str:
    # a hub id works only if the checkpoint is in the local Hugging Face cache (or the hub is reachable)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id)
    except Exception as exc:  # hub, network and validation errors alike: the id cannot be had
        raise ModelLoadError(
            f"cannot load {repo_id!r}: not a local folder, and not to be had from the Hugging Face hub or "
            f"its local cache ({type(exc).__name__}). Pass a local run or checkpoint folder instead."
        ) from None


def default_workers(device: torch.device, *, processes: int = 1) -> int:
    """Host worker processes for a job on ``device``: none on CPU (the model has the cores), else
    the cores this process may use, shared among the job's ``processes``, less one for the
    process that feeds the GPU, at most 16."""
    if device.type == "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(16, cores // max(1, processes) - 1))


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device (``None``: :func:`default_device`). A name torch does not know, a
    CUDA device where torch has no CUDA or no such GPU, or another device this torch cannot run on
    (mps off a Mac, meta), is a :class:`ConfigError` that says so, not a traceback from deep inside
    the model's ``to()``."""
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {str(device)!r}; use cpu, cuda or cuda:N") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {str(device)!r}: no CUDA GPU is available to torch {torch.__version__} here; "
                "use cpu (or leave the device out: a GPU when there is one)"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(f"device {str(device)!r}: there are {torch.cuda.device_count()} CUDA GPU(s)")
    elif resolved.type != "cpu":
        # torch knows more names than this build can run on: mps off a Mac and xpu without its
        # build raised from model.to(), and meta (tensors without data) only once a text was tagged.
        # A backend with no is_available (xla, from its own package) is left to model.to()
        backend = getattr(torch.backends, resolved.type, None) or getattr(torch, resolved.type, None)
        is_available = getattr(backend, "is_available", None)
        if resolved.type == "meta" or (is_available is not None and not is_available()):
            raise ConfigError(
                f"device {str(device)!r} is not available to torch {torch.__version__} here; use cpu or cuda"
            )
    return resolved


def fused_encoder(model: torch.nn.Module, *, device: torch.device, dtype: torch.dtype, wanted: bool | None) -> Any:
    """naba's own encoder for ``model`` on ``device``, or ``None`` for the model's forward as it is.

    On CPU naba.predict.fastpath (fp32 and bf16, where it was measured faster); on GPUs
    naba.predict.gpupath, which queues a batch without waiting for the device (transformers'
    forward waits for it once a batch). ``wanted``: ``False`` never, ``None`` where it applies,
    ``True`` the same but warns where it cannot be had.
    """
    if wanted is False:
        return None
    if device.type == "cpu":
        if wanted is None and dtype not in (torch.float32, torch.bfloat16):
            return None
        from naba.predict import fastpath

        fast, reason = fastpath.fast_encoder(model, rows=CPU_BATCH_TOKENS), fastpath.why_not
    else:
        from naba.predict import gpupath

        fast, reason = gpupath.gpu_encoder(model), gpupath.why_not
    if fast is None and wanted:
        log.warning("fast_path asked for, but not possible: %s; using the model as it is", reason(model))
    return fast


def cpu_dtype_problem(dtype: torch.dtype, fast: Any) -> str | None:
    """Why ``dtype`` will be slow on this CPU, or ``None``: bf16 and fp16 products that this CPU has
    no instructions for are emulated by PyTorch element by element, several times slower than fp32
    (naba's fused encoder computes bf16 through fp32 kernels there, so it alone is spared)."""
    from naba.model import cpu_precision_problem, emulated
    from naba.predict.fastpath import onednn_takes_bf16

    if dtype == torch.bfloat16 and fast is None and not onednn_takes_bf16():
        return emulated("bf16") + "; use dtype fp32 or naba's fused encoder (fast_path)"
    if dtype == torch.float16 and (problem := cpu_precision_problem("fp16")) is not None:
        return problem + "; use dtype fp32"
    return None


def gpu_dtype_problem(dtype: torch.dtype, device: torch.device) -> str | None:
    """Why ``dtype`` will be slow on the GPU ``device``, or ``None``: bf16 asked for on a GPU without
    it in hardware (compute capability below 8.0: V100, T4) runs, emulated, far slower than fp16,
    which is the default there (:func:`resolve_dtype`)."""
    from naba.model import gpu_has_bf16

    if dtype != torch.bfloat16 or gpu_has_bf16(device):
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return (f"bf16 on {device}: this GPU (compute capability {major}.{minor}) has no bf16 hardware, so its bf16 "
            "products are emulated, far slower than fp16; use dtype fp16 (the default on such GPUs)")


def use_sdpa(model: torch.nn.Module) -> None:
    # PyTorch's fused attention; checkpoints saved with "eager" would otherwise keep it
    setter = getattr(model, "set_attn_implementation", None)
    try:
        if setter is not None:
            setter("sdpa")
        else:
            model.config._attn_implementation = "sdpa"
    except (ValueError, ImportError) as exc:
        log.info("SDPA attention not available for this model (%s); using its default", exc)
