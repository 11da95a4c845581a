"""A GPU inference encoder for BERT-family token classifiers: the same layers, queued, never waited on.

On a GPU the feeding process only queues work: kernels run while Python goes on to the next batch,
so long as nothing it does waits for the device. transformers' forward does wait: to decide
whether an attention mask can be skipped it asks whether every token of the padding mask is real
(``padding_mask.all()`` in a Python ``if``), and that answer has to come back from the device, so
each batch waits there for every batch queued before it. The GPU then idles while the feeding
process fills the next batch, and a batch's many small Python calls (a dozen modules a layer, a
signature inspection per layer) run while the device has nothing queued ahead.

``GpuEncoder`` computes the same post-LayerNorm layers from the model's own weights, as plain tensor
operations, and:

- never reads a value back from the device (tests/test_predict_cuda.py runs it under CUDA's
  synchronisation check); whether a batch is padded is known where it is built, on the host, and
  passed as ``attention_mask=None`` when it is not, so that SDPA may take its flash kernel;
- Q, K and V are one matrix product (one kernel instead of three), attention is one SDPA call;
- a layer is four matrix products, SDPA, two LayerNorms and the activation, with no module dispatch.

It runs on any device (the CPU tests compare its logits with the Hugging Face model's); the Tagger
uses it on GPUs, where naba.predict.fastpath (the CPU encoder) does not apply. What it gains is in
BENCHMARKS.md (scripts/bench_gpu.py, ``--fast-path on,off``): on an H200, at AraBERT's shape in
bf16, 1.30M subword tokens/s end to end against 1.09M with transformers' forward (the run at commit
72732a4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from naba.predict.fastpath import ACTIVATIONS, architecture_problem

log = logging.getLogger(__name__)

DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def why_not(model: nn.Module) -> str | None:
    """Why ``model`` cannot take this path, or ``None`` if it can."""
    reason = architecture_problem(model)
    if reason is not None:
        return reason
    dtype = next(model.parameters()).dtype
    if dtype not in DTYPES:
        return f"dtype {dtype} (fp32, bf16 and fp16 only)"
    return None


@dataclass
class _Layer:
    qkv_w: torch.Tensor  # [3 * hidden, hidden]: query, key and value weights stacked
    qkv_b: torch.Tensor
    out_w: torch.Tensor
    out_b: torch.Tensor
    norm1: tuple[torch.Tensor, torch.Tensor, float]  # LayerNorm weight, bias, eps
    ffn_in_w: torch.Tensor
    ffn_in_b: torch.Tensor
    ffn_out_w: torch.Tensor
    ffn_out_b: torch.Tensor
    norm2: tuple[torch.Tensor, torch.Tensor, float]


def _layer(hf: nn.Module) -> _Layer:
    attn, attn_out, inter, out = hf.attention.self, hf.attention.output, hf.intermediate, hf.output
    with torch.no_grad():
        qkv_w = torch.cat([attn.query.weight, attn.key.weight, attn.value.weight]).detach()
        qkv_b = torch.cat([attn.query.bias, attn.key.bias, attn.value.bias]).detach()
    return _Layer(
        qkv_w, qkv_b, attn_out.dense.weight.detach(), attn_out.dense.bias.detach(), _norm(attn_out.LayerNorm),
        inter.dense.weight.detach(), inter.dense.bias.detach(), out.dense.weight.detach(), out.dense.bias.detach(),
        _norm(out.LayerNorm),
    )


def _norm(norm: nn.LayerNorm) -> tuple[torch.Tensor, torch.Tensor, float]:
    return norm.weight.detach(), norm.bias.detach(), norm.eps


class GpuEncoder:
    """``model``'s embeddings, its layers as plain tensor operations, and its classifier (inference only).

    The stacked Q, K, V weights are a copy (a quarter of each layer's weights again on the device:
    40.5 MiB at AraBERT's shape in bf16); the rest are the model's own tensors. A model changed
    afterwards needs a new encoder.
    """

    reads_core = False  # computes every position (the CPU encoder can skip those decoding ignores)

    def __init__(self, model: nn.Module):
        reason = why_not(model)
        if reason is not None:
            raise ValueError(f"no GPU encoder for this model: {reason}")
        config = model.config
        base = getattr(model, model.base_model_prefix)
        self.heads = config.num_attention_heads
        self.act = ACTIVATIONS[config.hidden_act]
        self.embeddings = base.embeddings
        self.project = getattr(base, "embeddings_project", None)  # ELECTRA's, where embeddings are narrower
        self.classifier = (model.classifier.weight.detach(), model.classifier.bias.detach())
        self.layers = [_layer(hf) for hf in base.encoder.layer]

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, needed: Any = None) -> torch.Tensor:
        """Logits ``[batch, length, labels]``; ``attention_mask`` (1 = token, 0 = padding) or ``None``
        where no row is padded. ``needed`` is accepted for the CPU encoder's signature and ignored."""
        batch, length = input_ids.shape
        x = self.embeddings(input_ids=input_ids)
        if self.project is not None:
            x = self.project(x)
        # True = attend; one row per sequence, broadcast over heads and queries
        mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        width = x.shape[-1]
        shape = (batch, length, 3, self.heads, width // self.heads)
        for layer in self.layers:
            q, k, v = F.linear(x, layer.qkv_w, layer.qkv_b).view(shape).permute(2, 0, 3, 1, 4).unbind(0)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(batch, length, width)
            x = F.layer_norm(F.linear(context, layer.out_w, layer.out_b).add_(x), (width,), *layer.norm1)
            hidden = self.act(F.linear(x, layer.ffn_in_w, layer.ffn_in_b))
            x = F.layer_norm(F.linear(hidden, layer.ffn_out_w, layer.ffn_out_b).add_(x), (width,), *layer.norm2)
        return F.linear(x, *self.classifier)


def gpu_encoder(model: nn.Module) -> GpuEncoder | None:
    """The GPU encoder of ``model``, or ``None`` (logged) where it does not apply."""
    reason = why_not(model)
    if reason is not None:
        log.info("naba's GPU encoder not used: %s", reason)
        return None
    return GpuEncoder(model)
