"""Models and tokenizers: loading (offline-safe), small test models, the layered loss, checkpoints.

A naba checkpoint is a Hugging Face folder (``config.json``, ``model.safetensors``, tokenizer files)
plus ``naba.json`` (preparation preset, window settings, label scheme, and whatever the trainer
adds). Weights are only ever read from safetensors and no remote code is ever run. A file in the
folder may be a symlink out of it (a Hugging Face cache snapshot links each file to its blob): what
is refused is a format that runs code or a weights index that names a path, never where a file lies.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertConfig,
    BertForTokenClassification,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from naba.corpus.fileio import current_umask
from naba.corpus.labels import LabelScheme
from naba.encode import IGNORE, LabelSpace
from naba.errors import ConfigError, ModelLoadError
from naba.text import PRESETS, prepare

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# AraBERT v0.2's never_split tokens (tokenizer_config.json); naba.text produces them for URLs etc.
NEVER_SPLIT = ("[بريد]", "[مستخدم]", "[رابط]")
# aubmindlab/bert-base-arabertv02's tokenizer settings and model shape, mirrored here because a
# fresh clone has no ../shared/arabertv02.
ARABERT_TOKENIZER = {"do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": True}
ARABERT_MAX_LENGTH = 512
ARABERT_SHAPE = {
    "vocab_size": 64000,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
}
INFO_FILE = "naba.json"
WEIGHTS_INDEX = "model.safetensors.index.json"
# names of tensors that are weights (learnt, floating point), not integer buffers such as position_ids
_WEIGHT_SUFFIXES = (".weight", ".bias", ".gamma", ".beta")
# the index of a layer in a weight's name: bert.encoder.layer.11.output.dense.weight
_LAYER_INDEX = re.compile(r"\.\d+\.")

_Loaded = TypeVar("_Loaded")


def gpu_has_bf16(device: torch.device | str | int) -> bool:
    """True where the GPU ``device`` computes bf16 in hardware (compute capability 8.0 on, or ROCm).

    ``torch.cuda.is_bf16_supported()`` asks the current GPU, not this one, and says yes also where
    bf16 is only emulated (a T4 or V100), far slower there than fp16.
    """
    major, _ = torch.cuda.get_device_capability(device)
    return bool(torch.version.hip) or major >= 8


def cpu_takes_bf16() -> bool:
    """Whether this CPU's oneDNN computes bf16 products (PyTorch's own test: AVX-512 BW/VL/DQ or
    AVX-NE-CONVERT). Where not (AVX2-only CPUs: AMD Zen 2/3, Intel before Skylake-SP), PyTorch
    emulates bf16 products element by element, many times slower than fp32."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else True
    except RuntimeError:  # a build without oneDNN: nothing to tell by
        return True


def cpu_takes_fp16() -> bool:
    """Whether this CPU's oneDNN computes fp16 products (PyTorch's own test: AVX512-FP16, AMX-FP16 or
    AVX-NE-CONVERT, the first a Sapphire Rapids' without AMX-FP16); where not, PyTorch emulates them."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", None)
    if check is None:
        return bool(getattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)())
    try:
        return bool(check())
    except RuntimeError:
        return False


def cpu_precision_problem(name: str) -> str | None:
    """Why computing in ``name`` ("bf16", "fp16") on this CPU is slow, or ``None``: a CPU without
    instructions for it has PyTorch emulate its products element by element."""
    takes = cpu_takes_bf16() if name == "bf16" else cpu_takes_fp16()
    return None if takes else emulated(name)


def emulated(name: str) -> str:
    """The warning for ``name`` ("bf16", "fp16") products emulated on this CPU."""
    return (f"{name} on this CPU: it has no {name} matrix instructions, so PyTorch emulates {name} products, "
            "several times slower than fp32 (the default on CPUs)")


def _offline() -> str | None:
    """Why the hub cannot be used (``HF_HUB_OFFLINE``, or no route to it), or ``None``.

    Without this probe, huggingface_hub retries an unreachable hub for about a minute per file.
    """
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"} or constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # only the proxy knows the way
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        return f"no network: cannot reach {host}: {exc}"
    return None


def _looks_like_path(name: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else that does not exist is a missing folder."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _not_a_load_report(record: logging.LogRecord) -> bool:
    """False for transformers' table of the weights that did not fit (missing, unexpected, of another
    shape), which says they were initialised at random, logged by a thread loading through naba: naba
    refuses such weights with one line of its own (_check_loaded) or expects them (a base model's new
    head), and the table, tens of lines above that line, only buried it. A table of failed weight
    conversions is kept: transformers' error then points to it."""
    message = str(record.msg)
    return not getattr(_LOADING, "now", False) or "LOAD REPORT" not in message or "CONVERSION" in message


# whether this thread is loading through _from_pretrained: the logger is shared by every thread, and
# a load of the caller's own in another thread keeps its table
_LOADING = threading.local()


def _from_pretrained(kind: str, name_or_path: str, load: Callable[..., _Loaded]) -> _Loaded:
    """Run ``load(local_files_only=...)`` and turn any failure into a :class:`ModelLoadError`."""
    local = Path(name_or_path).exists()
    if not local and _looks_like_path(name_or_path):
        raise ModelLoadError(f"cannot load the {kind}: no such folder {name_or_path!r}")
    offline = None if local else _offline()
    # once for all: a filter already there is not added again, and it acts only while _LOADING.now
    logging.getLogger("transformers.modeling_utils").addFilter(_not_a_load_report)
    _LOADING.now = True
    try:
        return load(local_files_only=local or offline is not None)
    except Exception as exc:  # transformers raises OSError, ValueError, hub and network errors
        if local:
            if "trust_remote_code" in str(exc):
                # transformers' message ends by asking for trust_remote_code=True, which naba never passes
                reason = "it needs custom code (auto_map), and naba never runs code from a checkpoint"
            else:
                reason = " ".join(str(exc).split())  # one line
            raise ModelLoadError(f"cannot load the {kind} in {name_or_path!r}: {reason}") from None
        how = f"offline ({offline})" if offline else f"from the hub ({exc})"
        raise ModelLoadError(
            f"cannot load {name_or_path!r} {how}; it is not in the local Hugging Face cache. "
            f"Pass a local path instead: a folder with config.json, model.safetensors and the tokenizer "
            f"files (download it where there is network, e.g. `hf download {name_or_path} --local-dir DIR`)."
        ) from None
    finally:
        _LOADING.now = False


def _check_weight_files(name_or_path: str) -> None:
    """Refuse a local folder whose sharded-weights index names anything but safetensors files in it.

    transformers follows ``model.safetensors.index.json`` wherever it points: to a pickle
    (``pytorch_model.bin``, read with ``torch.load``) or to a file outside the folder.
    """
    index = Path(name_or_path) / WEIGHTS_INDEX
    if not index.is_file():
        return
    try:
        files = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
    except (OSError, ValueError, RecursionError, LookupError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{index}: cannot read its weight_map: {type(exc).__name__}: {exc}") from None
    bad = sorted(
        repr(f) for f in files
        if not isinstance(f, str) or not f.endswith(".safetensors") or Path(f).name != f or "\\" in f
    )
    if bad:
        raise ModelLoadError(
            f"{index}: names {', '.join(bad[:3])} as weights; naba reads weights only from safetensors "
            f"files in the folder itself"
        )


def _check_weight_dtypes(name_or_path: str) -> None:
    """Refuse a local folder whose safetensors store a weight (``*.weight``, ``*.bias``) as integers
    or booleans: transformers casts it to the model's float dtype without a word, so an int copy
    of a float weight loads as its truncated values. Integer buffers (``position_ids``) are fine.
    """
    from safetensors import SafetensorError, safe_open

    folder = Path(name_or_path)
    index = folder / WEIGHTS_INDEX
    if index.is_file():  # its names were checked by _check_weight_files
        names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        names = ["model.safetensors"]
    for name in names:
        file = folder / name
        try:
            with safe_open(str(file), framework="pt") as weights:
                dtypes = {key: weights.get_slice(key).get_dtype() for key in weights.keys()}  # header only
        except (OSError, SafetensorError):
            continue  # missing or damaged: the loader's own error says which
        bad = sorted(k for k, d in dtypes.items() if k.endswith(_WEIGHT_SUFFIXES) and not d.startswith(("F", "BF")))
        if bad:
            raise ModelLoadError(
                f"{file}: {len(bad)} weight(s) stored as integers or booleans ({', '.join(f'{k} {dtypes[k]}' for k in bad[:3])}"
                f"{', ...' if len(bad) > 3 else ''}); weights must be floating point (F32, F16 or BF16)"
            )


def _check_finite(name_or_path: str, model: PreTrainedModel) -> None:
    """Refuse weights that hold NaN or infinity: the model would load and then tag nothing (every
    logit NaN), silently, on every text."""
    # the largest magnitude is NaN or infinite exactly when some value is (max propagates NaN); ten
    # times faster than isfinite(v).all(), which builds a boolean copy of every weight (35 ms a load
    # of a 4-layer model here, paid by every Tagger and every test that loads one)
    bad = [k for k, v in model.state_dict().items()
           if v.is_floating_point() and v.numel() and not torch.isfinite(v.abs().max())]
    if bad:
        raise ModelLoadError(
            f"{name_or_path}: model.safetensors: {len(bad)} weight(s) hold NaN or infinite values "
            f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); the checkpoint is damaged (a "
            f"diverged training run, of another trainer or of naba before it stopped such runs, saves them)"
        )


def _check_loaded(name_or_path: str, loading: dict[str, Any], *, new_head: bool, model: PreTrainedModel) -> None:
    """Refuse weights that do not fit config.json (transformers only warns, and initialises the
    missing ones at random). ``new_head``: a base model, whose head is meant to be new and whose
    weights may hold a pretraining head and a pooler (left unused); weights of more layers than
    config.json has (a layer the model has, at an index it lacks) are refused even there: the
    encoder would silently lose its last layers."""
    missing = sorted(k for k in loading["missing_keys"] if not (new_head and k.startswith("classifier.")))
    unexpected = sorted(loading["unexpected_keys"])
    if new_head:
        kinds = {_LAYER_INDEX.sub(".#.", k) for k in model.state_dict()}
        # also without the encoder's prefix: a bare encoder (BertModel) saves encoder.layer.N..., not bert.encoder...
        kinds |= {k.removeprefix(f"{model.base_model_prefix}.") for k in kinds}
        unexpected = [k for k in unexpected if _LAYER_INDEX.search(k) and _LAYER_INDEX.sub(".#.", k) in kinds]
    weights = f"{name_or_path}: model.safetensors"
    # loaded with ignore_mismatched_sizes=True only to learn which: transformers' own error names none
    mismatched = sorted((str(k), tuple(a), tuple(b)) for k, a, b in loading.get("mismatched_keys") or ())
    if mismatched:
        why = ("its classification head was made for another label scheme" if new_head and all(
            k.startswith("classifier.") for k, _, _ in mismatched) else "the weights and config.json do not belong together")
        raise ModelLoadError(
            f"cannot load the model in {name_or_path!r}: model.safetensors holds {len(mismatched)} weight(s) of "
            f"another shape than the model needs ({', '.join(f'{k} {a} for {b}' for k, a, b in mismatched[:3])}"
            f"{', ...' if len(mismatched) > 3 else ''}); {why}"
        )
    if missing:
        raise ModelLoadError(
            f"{weights} lacks {len(missing)} weight(s) that config.json asks for ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); the weights and config.json do not belong together"
        )
    if unexpected:
        raise ModelLoadError(
            f"{weights} holds {len(unexpected)} weight(s) that config.json has no place for "
            f"({', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''}); the weights and "
            f"config.json do not belong together"
        )


def check_vocab(source: str, tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> None:
    """Refuse a tokenizer with more tokens than the model has embeddings: it loads, and the first
    text with such a token fails inside the model (IndexError; on a GPU a device-side assert)."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ModelLoadError(
            f"{source}: the tokenizer has {len(tokenizer)} tokens but the model's embeddings only {rows} "
            f"(config.json vocab_size); the tokenizer files and the weights do not belong together"
        )


def position_limit(model: PreTrainedModel) -> int | None:
    """The most tokens a sequence of ``model`` may hold (its position embeddings), or ``None`` where
    its config names no limit.

    RoBERTa-family embeddings (RoBERTa, XLM-R) number a sequence's tokens from ``padding_idx + 1``,
    not 0: of xlm-roberta-base's 514 ``max_position_embeddings``, 512 are a token's. Compared with
    ``max_position_embeddings`` itself, a window one token too long passed and then failed inside
    the model on the first long text (an index error; on a GPU a device-side assert).
    """
    positions = getattr(model.config, "max_position_embeddings", None)
    if not isinstance(positions, int) or isinstance(positions, bool):
        return None
    embeddings = getattr(model.base_model, "embeddings", None)
    offset = getattr(embeddings, "padding_idx", None)
    # the method that numbers a sequence from padding_idx + 1 when only embeddings are given: in
    # transformers 4 and 5 alike (create_position_ids_from_input_ids is a method from 5 on only)
    if isinstance(offset, int) and hasattr(embeddings, "create_position_ids_from_inputs_embeds"):
        return positions - offset - 1
    return positions


def positions_problem(max_length: int, model: PreTrainedModel) -> str | None:
    """Why windows of ``max_length`` tokens do not fit ``model``'s positions, or ``None``."""
    limit = position_limit(model)
    if limit is None or max_length <= limit:
        return None
    positions = model.config.max_position_embeddings
    why = "" if limit == positions else (
        f" (max_position_embeddings {positions}, numbered from padding_idx + 1 = {positions - limit})")
    return f"max_length {max_length} exceeds the model's {limit} positions{why}"


def load_tokenizer(name_or_path: str, *, never_split: bool = True) -> PreTrainedTokenizerFast:
    """A fast tokenizer (needed for offsets) from a hub id or a local folder.

    ``never_split``: the ``never_split`` tokens of its tokenizer_config.json that are in its
    vocabulary are kept whole, as the slow tokenizer AraBERT was pretrained with kept them
    (``[رابط]``, which naba.text puts for a URL, is one token of AraBERT's vocabulary); transformers'
    fast BERT tokenizer ignores the setting and cuts them into ``[``, ``رابط``, ``]``. ``False``
    loads the tokenizer as its files say (a trained run's, which holds what it was trained with).
    """
    folder = Path(name_or_path)
    if folder.is_dir() and not any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
        # transformers' error for such a folder (a run folder, a data folder) asks to install sentencepiece
        raise ModelLoadError(
            f"cannot load the tokenizer in {str(name_or_path)!r}: it holds no tokenizer.json, tokenizer_config.json "
            f"or vocab.txt (a naba run keeps its tokenizer in best/ and tokenizer/)"
        )
    tok = _from_pretrained(
        "tokenizer",
        str(name_or_path),
        lambda **kw: AutoTokenizer.from_pretrained(str(name_or_path), trust_remote_code=False, **kw),
    )
    if not getattr(tok, "is_fast", False):
        raise ModelLoadError(f"{name_or_path!r} has no fast tokenizer (tokenizer.json); naba needs offsets")
    if not set(tok.get_vocab()) - set(tok.all_special_tokens) - set(tok.get_added_vocab()):
        # a folder with tokenizer_config.json but no vocabulary file (tokenizer.json left behind in a
        # copy) loads as an empty BERT tokenizer: every word [UNK], and a model tags garbage, silently
        raise ModelLoadError(
            f"cannot load the tokenizer in {str(name_or_path)!r}: its vocabulary holds only the special tokens "
            f"({len(tok)}); the vocabulary file (tokenizer.json, or vocab.txt) is missing: copy the whole folder"
        )
    if never_split:
        keep_whole(tok)
    return tok


def keep_whole(tokenizer: PreTrainedTokenizerFast) -> list[str]:
    """Make ``tokenizer`` match its ``never_split`` tokens whole (those in its vocabulary and not
    matched whole already); returns them. Their ids stay the vocabulary's: nothing is added to it."""
    never = tokenizer.init_kwargs.get("never_split") or ()
    vocab, whole = tokenizer.get_vocab(), set(tokenizer.get_added_vocab())
    new = [t for t in never if isinstance(t, str) and t in vocab and t not in whole]
    if new:
        size = len(tokenizer)
        tokenizer.add_tokens([AddedToken(t, single_word=False, lstrip=False, rstrip=False, normalized=False) for t in new])
        if len(tokenizer) != size:  # the fast tokenizer reuses a vocabulary token's id
            raise ModelLoadError(f"keeping {new} whole grew the tokenizer from {size} to {len(tokenizer)} tokens")
    return new


def load_model(name_or_path: str, space: LabelSpace) -> PreTrainedModel:
    """A token classifier with ``space``'s labels from a hub id or a local folder (safetensors only).

    A base model (such as AraBERT) gets a fresh classification head; every other weight must be
    in its safetensors. The weights are fp32 (for training) whatever dtype they were saved in.
    """
    if Path(name_or_path).is_dir():
        _check_weight_files(str(name_or_path))
        _check_weight_dtypes(str(name_or_path))
    model, loading = _from_pretrained(
        "model",
        str(name_or_path),
        lambda **kw: AutoModelForTokenClassification.from_pretrained(
            str(name_or_path),
            num_labels=space.num_labels,
            id2label=dict(space.id2label),
            label2id=dict(space.label2id),
            use_safetensors=True,
            trust_remote_code=False,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # refused by _check_loaded, which names them
            **kw,
        ),
    )
    _check_loaded(str(name_or_path), loading, new_head=True, model=model)
    _check_finite(str(name_or_path), model)
    # transformers 5 loads weights in the dtype they were saved in: a base model saved in bf16 or fp16
    # trained with half-precision weights (AdamW's small updates rounded away; fp16 ones refused by the
    # fp16 loss scaler). Training keeps fp32 weights and computes in bf16/fp16 under autocast
    return model.float()


def build_small_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 8000, preset: str = "arabertv02"
) -> BertTokenizerFast:
    """A WordPiece tokenizer trained on ``texts`` (prepared with ``preset``), with AraBERT's settings.

    Same normaliser (no lower-casing, no accent stripping, no NFC), pre-tokenizer, special tokens
    and never_split tokens as ``aubmindlab/bert-base-arabertv02``; for tests and small experiments.
    """
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=ARABERT_TOKENIZER["tokenize_chinese_chars"],
        strip_accents=ARABERT_TOKENIZER["strip_accents"],
        lowercase=ARABERT_TOKENIZER["do_lower_case"],
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS + NEVER_SPLIT), show_progress=False
    )
    tok.train_from_iterator((prepare(t, preset=preset).text for t in texts), trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(
        tokenizer_object=tok,
        model_max_length=ARABERT_MAX_LENGTH,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        **ARABERT_TOKENIZER,
    )


def _labelled(config: BertConfig, space: LabelSpace) -> BertConfig:
    config.num_labels = space.num_labels
    config.id2label = dict(space.id2label)
    config.label2id = dict(space.label2id)
    return config


def build_small_model(
    space: LabelSpace,
    *,
    vocab_size: int,
    hidden_size: int = 256,
    num_layers: int = 4,
    heads: int = 4,
    intermediate: int = 1024,
    max_position: int = 512,
    seed: int = 0,
) -> BertForTokenClassification:
    """A randomly initialised BERT token classifier (seeded, without touching the global RNG)."""
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_position,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForTokenClassification(_labelled(config, space))


def arabert_shape_config(space: LabelSpace) -> BertConfig:
    """A BertConfig of AraBERT v0.2 base's exact shape with ``space``'s labels (for benchmarks)."""
    return _labelled(BertConfig(**ARABERT_SHAPE), space)


def layered_loss(
    logits: torch.Tensor, labels: torch.Tensor, space: LabelSpace, *, counts: Sequence[int] | None = None
) -> torch.Tensor:
    """Sum over layers of the mean cross-entropy on that layer's slice of the logits.

    ``logits`` is ``[B, T, num_labels]``; ``labels`` is ``[B, T, n_layers]`` of tag indices within
    each layer (-100 ignored). A layer with no labelled token in the batch adds 0. ``counts`` (one
    per layer) replaces the number of labelled tokens each layer's summed cross-entropy is divided
    by: under gradient accumulation, the counts of the whole accumulation group, so that the
    losses of its micro-batches add up to the loss of one batch of their union.
    """
    if logits.shape[-1] != space.num_labels or labels.shape[-1] != len(space.layers):
        raise ValueError(
            f"layered_loss: logits {tuple(logits.shape)} / labels {tuple(labels.shape)} do not fit "
            f"{space.num_labels} labels in {len(space.layers)} layers"
        )
    total = logits.new_zeros(())
    for k, layer in enumerate(space.layers):
        part = logits[..., space.slices[layer]].reshape(-1, len(space.tags(layer)))
        target = labels[..., k].reshape(-1)
        count = (target != IGNORE).sum() if counts is None else torch.tensor(counts[k], device=logits.device)
        summed = F.cross_entropy(part.float(), target, ignore_index=IGNORE, reduction="sum")
        total = total + summed / count.clamp(min=1)
    return total


def save_checkpoint(
    path: str | Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    space: LabelSpace,
    *,
    extra: dict[str, Any],
) -> Path:
    """Write a checkpoint folder at ``path`` atomically (built in a temp folder beside it, then renamed).

    ``naba.json`` holds ``preset``, ``max_length`` and ``stride`` (from ``extra``, defaulting to
    AraBERT v0.2's preparation and 512/128), ``scheme`` and the rest of ``extra``. An existing
    checkpoint at ``path`` is replaced. The folder and its files get the modes ``mkdir`` and
    ``open`` give (``0o777``/``0o666`` less the umask).
    """
    path = Path(path)
    info = {"preset": "arabertv02", "max_length": 512, "stride": 128, **extra, "scheme": space.scheme.to_dict()}
    try:
        text = json.dumps(info, ensure_ascii=False, indent=2)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"checkpoint info is not JSON: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        kwargs = {}
        if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
            kwargs["safe_serialization"] = True  # transformers 4.x; 5.x writes only safetensors
        model.save_pretrained(tmp, **kwargs)
        tokenizer.save_pretrained(tmp)
        (tmp / INFO_FILE).write_text(text + "\n", encoding="utf-8")
        if not (tmp / "model.safetensors").exists() and not (tmp / "model.safetensors.index.json").exists():
            raise ModelLoadError(f"saving {path}: the model wrote no safetensors weights")
        # the modes mkdir and open would give: mkdtemp makes 0700 and safetensors writes 0600
        mask = current_umask()
        os.chmod(tmp, 0o777 & ~mask)
        for file in tmp.rglob("*"):
            if file.is_file():
                os.chmod(file, 0o666 & ~mask)
        if os.path.lexists(path):  # a dangling link too: a folder cannot be renamed over it
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            os.replace(tmp, path)
            if old.is_symlink():  # the link goes; what it points to need not be ours to delete
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_windows(info_path: Path, info: dict[str, Any]) -> int:
    """Check naba.json's ``max_length``, ``stride`` and ``preset`` (defaults as the Tagger's); the max_length."""
    counts = {}
    for key, default in (("max_length", 512), ("stride", 128)):
        value = info.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelLoadError(f"{info_path}: {key} must be a whole number, got {value!r}")
        counts[key] = value
    max_length, stride = counts["max_length"], counts["stride"]
    # a value the file leaves out is the default: said so, or "got 128" reads as if the file held it
    stride_given = "" if "stride" in info else " (the default: naba.json gives no stride)"
    if max_length < 3:
        raise ModelLoadError(f"{info_path}: max_length must be at least 3, got {max_length}")
    if not 0 <= stride < max_length - 2:
        raise ModelLoadError(
            f"{info_path}: stride must be in [0, max_length - 2) = [0, {max_length - 2}), got {stride}{stride_given}"
        )
    preset = info.get("preset", "arabertv02")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ModelLoadError(f"{info_path}: preset must be one of {list(PRESETS)}, got {preset!r}")
    return max_length


def load_checkpoint(
    path: str | Path, device: str | torch.device | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast, LabelSpace, dict[str, Any]]:
    """Load a checkpoint folder: ``(model, tokenizer, space, info)``; the model is in eval mode."""
    path = Path(path)
    info_path = path / INFO_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if info_path.is_symlink():  # a link whose target is gone (a folder copied without it): not "no naba.json"
            raise ModelLoadError(f"{info_path}: a link to {os.readlink(info_path)!r}, which does not exist") from None
        raise ModelLoadError(f"{path} is not a naba checkpoint: no {INFO_FILE}") from None
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: arrays nested too deep for json
        raise ModelLoadError(f"{info_path}: cannot read: {exc}") from None
    if not isinstance(info, dict):
        raise ModelLoadError(f"{info_path}: expected a JSON object, got {type(info).__name__}")
    try:
        space = LabelSpace.from_scheme(LabelScheme.from_dict(info.get("scheme"), source=str(info_path)))
    except ConfigError as exc:
        raise ModelLoadError(str(exc)) from None
    max_length = _check_windows(info_path, info)
    if not (path / "config.json").is_file():
        # transformers' own message asked for a model_type key "in its config.json", as if it were there
        raise ModelLoadError(f"{path}: no config.json (the model's architecture and labels): copy the whole folder")
    _check_weight_files(str(path))
    _check_weight_dtypes(str(path))
    model, loading = _from_pretrained(
        "model",
        str(path),
        lambda **kw: AutoModelForTokenClassification.from_pretrained(
            str(path), use_safetensors=True, trust_remote_code=False, output_loading_info=True,
            ignore_mismatched_sizes=True, **kw,  # refused by _check_loaded, which names them
        ),
    )
    _check_loaded(str(path), loading, new_head=False, model=model)
    _check_finite(str(path), model)
    if (problem := positions_problem(max_length, model)) is not None:
        raise ModelLoadError(f"{info_path}: {problem}")
    try:
        stored = LabelSpace.from_id2label(model.config.id2label)
    except ConfigError as exc:
        raise ModelLoadError(f"{path}/config.json: {exc}") from None
    if stored != space:
        raise ModelLoadError(
            f"{path}: config.json labels {list(stored.id2label.values())} do not match the scheme in "
            f"{INFO_FILE} ({list(space.id2label.values())})"
        )
    tokenizer = load_tokenizer(str(path), never_split=False)  # as the run was trained
    check_vocab(str(path), tokenizer, model)
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer, space, info
