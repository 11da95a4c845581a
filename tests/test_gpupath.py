"""The GPU encoder computes what the Hugging Face model computes (here on CPU; on CUDA in
tests/test_predict_cuda.py), takes "no padding" from its caller, and says when it cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_fastpath import SHAPE, _batch, _model, _sequence_classifier, _TanhHead
from transformers import BertConfig

from naba.predict.gpupath import GpuEncoder, gpu_encoder, why_not

CASES = [
    # kind, dtype, heads, activation, lengths, tolerance (max abs logit difference)
    ("bert", torch.float32, 4, "gelu", [17, 9, 1, 17], 1e-4),
    ("bert", torch.float32, 4, "gelu", [12, 12], 1e-4),  # no padding: no mask at all
    ("bert", torch.float32, 2, "relu", [30, 5], 1e-4),
    ("bert", torch.float32, 3, "gelu", [8, 3, 6], 1e-4),  # an odd number of heads
    ("roberta", torch.float32, 4, "gelu", [20, 7], 1e-4),  # positions counted from the padding id
    ("xlm-roberta", torch.float32, 4, "gelu", [5, 20, 11], 1e-4),
    ("electra", torch.float32, 4, "gelu", [14, 6, 14], 1e-4),  # AraELECTRA's architecture
    ("bert", torch.bfloat16, 4, "gelu", [17, 9, 1, 17], 0.15),
    ("bert", torch.float16, 4, "gelu", [17, 9, 1, 17], 0.05),  # fp16: the GPU path takes it, the CPU one does not
]


@pytest.mark.parametrize("kind, dtype, heads, act, lengths, tol", CASES)
def test_logits_match_the_transformers_model(kind, dtype, heads, act, lengths, tol) -> None:
    model = _model(kind, dtype, num_attention_heads=heads, hidden_size=64 if heads != 3 else 48, hidden_act=act)
    ids, mask = _batch(lengths, pad=model.config.pad_token_id or 0)
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits.float()
    padded = min(lengths) < max(lengths)
    got = GpuEncoder(model)(ids, mask if padded else None).float()
    assert got.shape == want.shape
    for row, n in enumerate(lengths):
        assert (got[row, :n] - want[row, :n]).abs().max().item() <= tol
    assert want.std().item() > 10 * tol  # the logits are far from flat: the comparison means something


def test_padding_never_reaches_real_tokens() -> None:
    encoder = GpuEncoder(_model())
    ids, mask = _batch([10, 4])
    alone = encoder(ids[1:, :4], None)
    ids[1, 4:] = 77  # garbage in the padding of row 1
    together = encoder(ids, mask)
    assert torch.allclose(together[1, :4], alone[0], atol=1e-5)


def test_it_uses_the_models_own_weights_but_a_stacked_copy_of_q_k_v() -> None:
    model = _model()
    encoder = GpuEncoder(model)
    layer, hf = encoder.layers[0], model.bert.encoder.layer[0]
    assert layer.ffn_in_w.data_ptr() == hf.intermediate.dense.weight.data_ptr()
    assert torch.equal(layer.qkv_w[: hf.attention.self.query.weight.shape[0]], hf.attention.self.query.weight)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"hidden_act": "gelu_new"}, "activation"),
        ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
        ({"is_decoder": True}, "decoder"),
    ],
)
def test_models_it_cannot_take_say_why(overrides, reason) -> None:
    model = _model("bert", **overrides)
    assert reason in (why_not(model) or "")
    assert gpu_encoder(model) is None
    with pytest.raises(ValueError, match="no GPU encoder"):
        GpuEncoder(model)


@pytest.mark.parametrize(
    "build",
    [_sequence_classifier, lambda: _TanhHead(BertConfig(**SHAPE, num_attention_heads=4))],
    ids=["sequence-classifier", "subclass-with-tanh-head"],
)
def test_models_that_are_not_transformers_token_classifiers_are_left_alone(build) -> None:
    model = build().eval()
    assert "is not transformers' BertForTokenClassification" in (why_not(model) or "")
    assert gpu_encoder(model) is None


def test_the_tagger_with_it_tags_what_the_model_tags(tmp_path) -> None:
    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.model import build_small_model, build_small_tokenizer, save_checkpoint
    from naba.predict import Tagger

    texts = ["قال الجيش السوري إن القوات دخلت مدينة حماة صباح اليوم"] * 3 + ["وزير الخارجية في دمشق " * 40, ""]
    tok = build_small_tokenizer(texts, vocab_size=200)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME)
    model = build_small_model(space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=4, intermediate=128)
    ckpt = save_checkpoint(tmp_path / "m", model, tok, space, extra={"max_length": 32, "stride": 8})
    slow = Tagger.from_pretrained(ckpt, device="cpu", fast_path=False)
    gpu = Tagger.from_pretrained(ckpt, device="cpu", fast_path=False)
    gpu.fast = GpuEncoder(gpu.model)  # what a Tagger on a GPU gets
    chunk = gpu._encode(texts, lambda t: t)
    lengths = {len(w.input_ids) for w in chunk.windows}
    assert len(lengths) > 1 and 32 in lengths  # padded batches and one of full windows (no mask)
    a = gpu._forward(chunk.windows, budget=96, batch_size=None)
    b = slow._forward(chunk.windows, budget=96, batch_size=None)
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape and float(np.abs(x - y).max()) < 1e-4
    for got, want in zip(gpu(texts), slow(texts), strict=True):
        assert [(s["start"], s["end"], s["label"]) for s in got] == [(s["start"], s["end"], s["label"]) for s in want]
