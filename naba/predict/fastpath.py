"""A fused CPU inference encoder for BERT-family token classifiers.

transformers' BertLayer is written for training and for GPUs; on a CPU at inference it leaves
time on the table. This module computes the same post-LayerNorm layers from the same weights,
with these changes (their sum is measured by scripts/bench_predict.py, in BENCHMARKS.md):

- the linear layers run on oneDNN with weights packed once, ahead of time, into its blocked
  layout (``torch.ops.mkldnn``, as torch.compile's CPU backend does), instead of being reordered on
  every call; the first FFN matrix has its GELU fused in; Q, K and V are one matrix product;
- attention runs one sequence at a time, on that sequence's real length, so that padding costs
  nothing: long ones through PyTorch's fused attention (SDPA's flash kernel), the others as two
  products whose ``heads x n x n`` scores stay in cache; short sequences of one padded length go in
  groups, in one product (their per-call cost outweighs their arithmetic); the 1/sqrt(d) scale is
  folded into the query weights;
- the linear layers see only real tokens: padding is dropped after the embeddings and the logits
  are scattered back;
- in the last layer, the attention queries, the output projection and the FFN run only on the
  positions whose logits are read (a window's core; every token still serves as key and value);
- no attention-mask tensors are built;
- a bf16 model on a CPU whose oneDNN cannot run bf16 (no AVX-512 and no AVX-NE-CONVERT: AVX2
  machines such as AMD Zen 2/3) is computed by fp32 kernels from its bf16 weights (widened once,
  exactly), each linear layer's output and each attention's context rounded to bf16 as a bf16
  kernel would hand them on. PyTorch's own bf16 products there run element by element, several
  times slower than fp32 (scripts/bench_predict.py measures both, BENCHMARKS.md);
- glibc is asked (``mallopt``) to keep freed blocks of up to 256 MiB for reuse: by default it
  hands every large temporary (the scores, the FFN activations) back to the kernel and takes it
  again for the next one, page-faulting it in each time (a visible share of a bf16 forward in
  trials here). It is process-wide and only changes when memory goes back to the system;
  ``NABA_MALLOPT=0`` turns it off.

How much faster than transformers' forward with SDPA it makes ``naba predict`` on CPU is in
BENCHMARKS.md (the "naba, transformers forward" column of scripts/bench_predict.py). Where the
oneDNN operators are missing from the PyTorch build, plain ``F.linear`` is used (in a trial here,
about as fast as transformers' forward).

``fast_encoder(model)`` returns a ``FastEncoder`` or ``None`` (with the reason logged) where the
model is not a plain BERT-shaped token classifier; ``FastEncoder(input_ids, attention_mask)``
returns the logits the Hugging Face model would, equal to rounding (tests/test_fastpath.py).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import platform
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from naba.model import cpu_takes_bf16

log = logging.getLogger(__name__)

# architectures whose layers are BertLayer-shaped: attention.self.{query,key,value},
# attention.output.{dense,LayerNorm}, intermediate.dense, output.{dense,LayerNorm}; ELECTRA's
# (AraELECTRA's) embeddings may be narrower than its layers, projected up by embeddings_project
SUPPORTED_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "electra"})
# the transformers class whose forward is embeddings, encoder, dropout, classifier and nothing else:
# a subclass may add to its forward, and a sequence classifier's linear head reads the pooler
TOKEN_CLASSIFIERS = {"bert": "BertForTokenClassification", "roberta": "RobertaForTokenClassification",
                     "xlm-roberta": "XLMRobertaForTokenClassification", "electra": "ElectraForTokenClassification"}
ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}
# oneDNN builds and keeps a kernel for every matrix shape it meets (up to its cache capacity, 1024
# by default, at a few hundred KiB each): with token counts that differ from batch to batch, a long
# job's memory grew with every new shape. Row counts are therefore rounded up to a multiple of
# ROW_STEP (of 1/8 of a power of two above 512 rows) and each sequence's attention to a multiple of
# SEQ_STEP, with the extra keys masked out, so that a run meets a few dozen shapes. (From FUSED_FROM
# tokens on, PyTorch's fused attention takes each sequence at its exact length: it built no oneDNN
# kernels per shape in a trial here, fp32 and bf16, ONEDNN_VERBOSE=1, and peak memory stayed flat
# over every length from 256 to 512.)
ROW_STEP = 64
SEQ_STEP = 16
# Short sequences of one padded length are attended together, in one product: one at a time, the
# calls cost more than their arithmetic (32 x 64 tokens, bf16: 2.5 ms one by one, 0.8 ms together
# in a trial here). Groups hold a power of two of sequences (few shapes) and at most this many
# attention scores (heads x sequences x length^2), so that long ones, whose scores alone fill the
# cache, still go one by one.
GROUP_SCORES = 1 << 20
# From this many tokens a sequence is attended by PyTorch's fused CPU attention (SDPA's flash kernel:
# the scores in blocks, never the whole heads x n x n matrix, and the softmax in the same pass)
# rather than two products and a softmax: in a trial here (fp32, 4 heads of 64) it took a third of
# their time at 512 tokens, as long at 192, and 1.2 times as long at 128. Sequences padded to this
# length or more are never attended in groups.
FUSED_FROM = 256


def why_not(model: nn.Module) -> str | None:
    """Why ``model`` cannot take the fused path, or ``None`` if it can."""
    reason = architecture_problem(model)
    if reason is not None:
        return reason
    device = next(model.parameters()).device
    if device.type != "cpu":
        return f"the model is on {device}, and this path is for CPUs"
    dtype = next(model.parameters()).dtype
    if dtype not in (torch.float32, torch.bfloat16):
        return f"dtype {dtype} (fp32 and bf16 only)"
    return None


def architecture_problem(model: nn.Module) -> str | None:
    """Why ``model``'s layers are not the BERT-shaped, post-LayerNorm ones naba's encoders compute
    (this one and naba.predict.gpupath's), or ``None`` if they are."""
    config = getattr(model, "config", None)
    if config is None:
        return "not a transformers model"
    if config.model_type not in SUPPORTED_TYPES:
        return f"model type {config.model_type!r} is not one of {sorted(SUPPORTED_TYPES)}"
    cls = type(model)
    if cls.__name__ != TOKEN_CLASSIFIERS[config.model_type] or not cls.__module__.startswith("transformers."):
        return f"{cls.__module__}.{cls.__qualname__} is not transformers' {TOKEN_CLASSIFIERS[config.model_type]}"
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return "a decoder or cross-attention model"
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return f"position_embedding_type {config.position_embedding_type!r} changes the attention scores"
    if config.hidden_act not in ACTIVATIONS:
        return f"activation {config.hidden_act!r} (only exact GELU and ReLU are fused)"
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if base is None or not hasattr(base, "encoder") or not hasattr(base, "embeddings"):
        return "no base model with embeddings and encoder"
    if not isinstance(getattr(model, "classifier", None), nn.Linear):
        return "no linear token-classification head"
    return None


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 256 MiB for reuse; ``False`` where not done."""
    if os.environ.get("NABA_MALLOPT", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    # blocks under the mmap threshold come from the heap; the heap's top is given back only past
    # the trim threshold (both fixed here: glibc otherwise moves them as blocks come and go)
    return bool(libc.mallopt(m_mmap_threshold, 256 << 20)) and bool(libc.mallopt(m_trim_threshold, 512 << 20))


def onednn_takes_bf16() -> bool:
    """Whether this CPU's oneDNN runs bf16 products (naba.model.cpu_takes_bf16); where not, bf16 is
    computed by fp32 kernels here (see the module's docstring)."""
    return cpu_takes_bf16()


class _Linear:
    """``x @ W.T + b`` (then the activation), on oneDNN with a pre-packed weight where it can.

    ``emulate``: bf16 weights are widened to fp32 once, ``x`` for each product, and the output
    rounded back to bf16 (see the module's docstring).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, *, act: str = "none", rows: int = 2048,
                 emulate: bool = False):
        self.out_dtype = weight.dtype
        self.emulate = emulate
        if emulate:
            weight, bias = weight.float(), bias.float()
        self.weight, self.bias, self.act = weight.detach(), bias.detach(), act
        self.packed = _pack(self.weight, rows, bias=self.bias, act=act)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.emulate:
            x = x.float()
        if self.packed is not None:
            y = _onednn(x, self.packed, self.bias, self.act)
        else:
            y = _plain(x, self.weight, self.bias, self.act)
        return y.to(self.out_dtype) if self.emulate else y


def _onednn(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor, act: str) -> torch.Tensor:
    # the last argument is the GELU variant: "none" is the exact (erf) one; other acts take ""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, act, [], "none" if act == "gelu" else "")


def _plain(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, act: str) -> torch.Tensor:
    y = F.linear(x, weight, bias)
    return ACTIVATIONS[act](y) if act != "none" else y


def _pack(weight: torch.Tensor, rows: int, *, bias: torch.Tensor, act: str) -> torch.Tensor | None:
    """``weight`` in oneDNN's blocked layout, or ``None`` if this PyTorch cannot (or gets it wrong)."""
    ops = getattr(torch.ops, "mkldnn", None)
    if not torch.backends.mkldnn.is_available() or not hasattr(ops, "_linear_pointwise"):
        return None
    try:
        packed = ops._reorder_linear_weight(weight, rows)
        # a probe against the plain computation: a build whose operator differs is not used
        probe = torch.randn(3, weight.shape[1], generator=torch.Generator().manual_seed(0)).to(weight.dtype)
        got, want = _onednn(probe, packed, bias, act), _plain(probe, weight, bias, act)
        tol = 1e-3 if weight.dtype == torch.float32 else 5e-2
        if not torch.allclose(got.float(), want.float(), rtol=tol, atol=tol * max(1.0, float(want.abs().max()))):
            log.warning("oneDNN linear disagrees with F.linear on this build: not used")
            return None
        return packed
    except (RuntimeError, AttributeError) as exc:
        log.info("oneDNN packed linear not available (%s): using F.linear", exc)
        return None


@dataclass
class _Layer:
    qkv: _Linear
    out: _Linear
    norm1: nn.LayerNorm
    ffn_in: _Linear
    ffn_out: _Linear
    norm2: nn.LayerNorm


def _layer(hf: nn.Module, config: Any, rows: int, emulate: bool) -> _Layer:
    attn, attn_out, inter, out = hf.attention.self, hf.attention.output, hf.intermediate, hf.output
    heads = config.num_attention_heads
    scale = (config.hidden_size // heads) ** -0.5  # folded into the queries: scores need no scaling
    dtype = attn.query.weight.dtype
    with torch.no_grad():
        qkv_w = torch.cat([attn.query.weight.float() * scale, attn.key.weight.float(), attn.value.weight.float()])
        qkv_b = torch.cat([attn.query.bias.float() * scale, attn.key.bias.float(), attn.value.bias.float()])
    return _Layer(
        qkv=_Linear(qkv_w.to(dtype), qkv_b.to(dtype), rows=rows, emulate=emulate),
        out=_Linear(attn_out.dense.weight, attn_out.dense.bias, rows=rows, emulate=emulate),
        norm1=attn_out.LayerNorm,
        ffn_in=_Linear(inter.dense.weight, inter.dense.bias, act=config.hidden_act, rows=rows, emulate=emulate),
        ffn_out=_Linear(out.dense.weight, out.dense.bias, rows=rows, emulate=emulate),
        norm2=out.LayerNorm,
    )


class FastEncoder:
    """``model``'s embeddings, its encoder as fused CPU layers, and its classifier (inference only)."""

    reads_core = True  # the Tagger passes which positions decoding reads (``needed``)

    def __init__(self, model: nn.Module, *, rows: int = 2048):
        reason = why_not(model)
        if reason is not None:
            raise ValueError(f"no fused encoder for this model: {reason}")
        config = model.config
        base = getattr(model, model.base_model_prefix)
        self.heads = config.num_attention_heads
        self.embeddings = base.embeddings
        self.project = getattr(base, "embeddings_project", None)  # ELECTRA's, where embeddings are narrower
        self.classifier = model.classifier
        dtype = next(model.parameters()).dtype
        # bf16 through fp32 kernels where this CPU's oneDNN has no bf16 (see the module's docstring)
        self.emulated = dtype == torch.bfloat16 and not onednn_takes_bf16()
        self.attention_dtype = torch.float32 if self.emulated else dtype
        self.layers = [_layer(hf, config, rows, self.emulated) for hf in base.encoder.layer]
        self.packed = all(lin.packed is not None for lin in (self.layers[0].qkv, self.layers[0].ffn_in))
        self.allocator_tuned = keep_freed_memory()

    @torch.inference_mode()
    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, needed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``[batch, length, labels]``; rows are right-padded (mask 1 = token, 0 = padding;
        ``None``: no row is).

        ``needed`` (bool, like the mask) marks the positions whose logits will be read, e.g. a
        window's core; the last layer then computes attention and runs its linear layers for those
        only (every token still serves as a key and value). Other positions get zeros, as padding
        does.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        batch, length = input_ids.shape
        flat_mask = attention_mask.reshape(-1) != 0
        real = flat_mask.nonzero().squeeze(1)
        lengths = attention_mask.sum(dim=1).tolist()
        hidden = self.embeddings(input_ids=input_ids)
        x = _pad_rows(hidden.reshape(batch * length, -1).index_select(0, real))  # real tokens, row after row
        if self.project is not None:
            x = self.project(x)
        starts = [0]
        for n in lengths:
            starts.append(starts[-1] + n)
        rows = list(zip(starts, starts[1:], strict=False))
        plan = _plan(rows, self.heads, self.attention_dtype)
        keep, queries = None, None
        if needed is not None:
            keep = (needed.reshape(-1) & flat_mask)[real].nonzero().squeeze(1)  # among the real tokens
            real = real.index_select(0, keep)
            queries = _queries(keep, starts)
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            x = self._layer(layer, x, rows, plan, keep if last else None, queries if last else None)
        logits = self.classifier(x)[: len(real)]
        out = logits.new_zeros(batch * length, logits.shape[-1])
        out.index_copy_(0, real, logits)
        return out.view(batch, length, -1)

    def _layer(
        self,
        layer: _Layer,
        x: torch.Tensor,
        rows: list[tuple[int, int]],
        plan: list[int | _Group],
        keep: torch.Tensor | None,
        queries: list[slice | torch.Tensor] | None,
    ) -> torch.Tensor:
        """One layer over the packed tokens ``x`` (``rows``: each sequence's span of them; ``plan``:
        which sequences are attended alone and which in groups).

        With ``keep`` (and ``queries``, the same positions per sequence), attention is computed for
        those tokens' queries only (groups of short sequences excepted), and the layer goes on for
        them alone.
        """
        width = x.shape[1]
        head_dim = width // self.heads
        qkv = layer.qkv(x).to(self.attention_dtype).view(-1, 3, self.heads, head_dim)
        context = qkv.new_zeros(x.shape[0], self.heads, head_dim)  # padding rows stay finite
        for item in plan:
            if isinstance(item, _Group):
                context.index_copy_(0, item.dest, self._group(qkv, item))
            else:
                self._alone(qkv, rows[item], slice(None) if queries is None else queries[item], context)
        context = context.view(-1, width).to(x.dtype)
        if keep is not None:
            context, x = _pad_rows(context.index_select(0, keep)), _pad_rows(x.index_select(0, keep))
        x = _norm(layer.norm1, layer.out(context).add_(x))
        return _norm(layer.norm2, layer.ffn_out(layer.ffn_in(x)).add_(x))

    def _alone(self, qkv: torch.Tensor, row: tuple[int, int], wanted: slice | torch.Tensor, context: torch.Tensor) -> None:
        """Attention of one sequence (packed rows ``row``) for its ``wanted`` queries, into ``context``."""
        a, b = row
        n, m = b - a, _seq_len(b - a)
        heads, head_dim = self.heads, qkv.shape[-1]
        if isinstance(wanted, slice):
            wanted = slice(*wanted.indices(n)[:2])
        count = wanted.stop - wanted.start if isinstance(wanted, slice) else len(wanted)
        if count <= 0:
            return
        if n >= FUSED_FROM:
            # the real keys alone (no padding to mask) and the wanted queries alone; [1, heads, ., d]:
            # the fused kernels take 4-d inputs only (3-d ones fall back to the unfused computation)
            q, k, v = qkv[a:b].permute(1, 2, 0, 3).unbind(0)
            q = q[:, wanted] if isinstance(wanted, slice) else q.index_select(1, wanted)
            got = F.scaled_dot_product_attention(q[None], k[None], v[None], scale=1.0)[0].transpose(0, 1)
        else:
            block = qkv[a:b] if m == n else torch.cat([qkv[a:b], qkv.new_zeros(m - n, 3, heads, head_dim)])
            # contiguous [heads, m, head_dim]: bmm would copy the strided views anyway
            q, k, v = block.permute(1, 2, 0, 3).contiguous().unbind(0)
            # the queries too come in multiples of SEQ_STEP, so that the products' shapes repeat
            rounded = min(m, _seq_len(count))
            if isinstance(wanted, slice):
                first = min(wanted.start, m - rounded)
                q, skip = q[:, first : first + rounded], wanted.start - first
            else:
                q, skip = q.index_select(1, F.pad(wanted, (0, rounded - count), value=int(wanted[-1]))), 0
            scores = torch.bmm(q, k.transpose(1, 2))
            if m > n:
                scores[:, :, n:] = -math.inf  # the shape's padding keys get no weight
            got = torch.bmm(scores.softmax(dim=-1), v)[:, skip : skip + count].transpose(0, 1)
        if isinstance(wanted, slice):
            context[a + wanted.start : a + wanted.stop] = got
        else:
            context.index_copy_(0, wanted + a, got)

    def _group(self, qkv: torch.Tensor, group: _Group) -> torch.Tensor:
        """Attention of a group's sequences in one product: ``[real tokens, heads, head_dim]``."""
        g, m, heads, head_dim = len(group.bias), group.length, self.heads, qkv.shape[-1]
        block = qkv.index_select(0, group.gather).view(g, m, 3, heads, head_dim)
        q, k, v = block.permute(2, 0, 3, 1, 4).reshape(3, g * heads, m, head_dim).unbind(0)
        scores = torch.bmm(q, k.transpose(1, 2))
        scores.view(g, heads, m, m).add_(group.bias)  # each sequence's padding keys get no weight
        got = torch.bmm(scores.softmax(dim=-1), v).view(g, heads, m, head_dim).transpose(1, 2)
        return got.reshape(g * m, heads, head_dim).index_select(0, group.real)


@dataclass
class _Group:
    """Sequences of one padded length, attended together."""

    length: int  # m: every sequence's length rounded up to SEQ_STEP
    gather: torch.Tensor  # [g * m] rows of the packed tokens; past a sequence's end, its first row
    bias: torch.Tensor  # [g, 1, 1, m]: 0 for a real key, -inf past the sequence's end
    real: torch.Tensor  # positions in the [g * m] grid that are real tokens
    dest: torch.Tensor  # ... and the packed rows they are


def _plan(rows: list[tuple[int, int]], heads: int, dtype: torch.dtype) -> list[int | _Group]:
    """Sequence by sequence (its index) or in groups: runs of one padded length, in powers of two
    within GROUP_SCORES. Built once per batch, used by every layer."""
    plan: list[int | _Group] = []
    i = 0
    while i < len(rows):
        m = _seq_len(rows[i][1] - rows[i][0])
        j = i
        while j < len(rows) and _seq_len(rows[j][1] - rows[j][0]) == m:
            j += 1
        # long sequences go alone, to the fused attention, however many scores a group may hold
        cap = GROUP_SCORES // max(1, heads * m * m) if m < FUSED_FROM else 1
        while i < j:
            size = 1 << (min(j - i, max(1, cap)).bit_length() - 1)
            plan.append(i if size == 1 else _group(rows[i : i + size], m, dtype))
            i += size
    return plan


def _group(rows: list[tuple[int, int]], m: int, dtype: torch.dtype) -> _Group:
    starts = torch.tensor([a for a, _ in rows])[:, None]
    lengths = torch.tensor([b - a for a, b in rows])[:, None]
    positions = torch.arange(m)[None, :]
    inside = positions < lengths  # [g, m]
    gather = torch.where(inside, starts + positions, starts).reshape(-1)
    bias = torch.zeros(len(rows), 1, 1, m, dtype=dtype).masked_fill_(~inside[:, None, None, :], -math.inf)
    real = inside.reshape(-1).nonzero().squeeze(1)
    return _Group(m, gather, bias, real, gather.index_select(0, real))


def _queries(keep: torch.Tensor, starts: list[int]) -> list[slice | torch.Tensor]:
    """Per sequence, the positions in ``keep`` (sorted token indices) as offsets into the sequence:
    a slice where they run unbroken (a window's core: a view, no copy), else an index tensor."""
    bounds = torch.searchsorted(keep, torch.tensor(starts, dtype=keep.dtype)).tolist()
    kept = keep.tolist()
    out: list[slice | torch.Tensor] = []
    for a, lo, hi in zip(starts, bounds, bounds[1:], strict=False):
        if hi == lo or kept[hi - 1] - kept[lo] == hi - lo - 1:
            out.append(slice(kept[lo] - a, kept[lo] - a + hi - lo) if hi > lo else slice(0, 0))
        else:
            out.append(keep[lo:hi] - a)
    return out


def _seq_len(n: int) -> int:
    """A sequence's length in attention: ``n`` rounded up to a multiple of SEQ_STEP."""
    return -(-n // SEQ_STEP) * SEQ_STEP


def _bucket(n: int) -> int:
    """``n`` rounded up to a bucketed row count (see ROW_STEP)."""
    step = max(ROW_STEP, 1 << max(0, n.bit_length() - 4))  # at most 1/8 more rows above 512
    return -(-n // step) * step


def _pad_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` with zero rows added up to a bucketed row count (see ROW_STEP)."""
    n, m = x.shape[0], _bucket(x.shape[0])
    return x if m == n else torch.cat([x, x.new_zeros(m - n, *x.shape[1:])])


def _norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def fast_encoder(model: nn.Module, *, rows: int = 2048) -> FastEncoder | None:
    """The fused encoder of ``model``, or ``None`` (logged) where it does not apply."""
    reason = why_not(model)
    if reason is not None:
        log.info("fused CPU encoder not used: %s", reason)
        return None
    return FastEncoder(model, rows=rows)
