"""The fused CPU encoder computes what the Hugging Face model computes, and says when it cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    BertConfig,
    BertForTokenClassification,
    ElectraConfig,
    ElectraForTokenClassification,
    RobertaConfig,
    RobertaForTokenClassification,
    XLMRobertaConfig,
    XLMRobertaForTokenClassification,
)
from transformers.modeling_outputs import TokenClassifierOutput

from naba.predict import fastpath
from naba.predict.fastpath import FastEncoder, fast_encoder, why_not

SHAPE = {"vocab_size": 120, "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 96,
         "max_position_embeddings": 64, "num_labels": 5, "initializer_range": 0.3}


def _model(kind: str = "bert", dtype: torch.dtype = torch.float32, **overrides) -> torch.nn.Module:
    config_cls, model_cls = {
        "bert": (BertConfig, BertForTokenClassification),
        "roberta": (RobertaConfig, RobertaForTokenClassification),
        "xlm-roberta": (XLMRobertaConfig, XLMRobertaForTokenClassification),
        "electra": (ElectraConfig, ElectraForTokenClassification),  # embeddings 128 wide, projected to 64
    }[kind]
    config = config_cls(**{**SHAPE, "num_attention_heads": 4, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = model_cls(config)
    return model.eval().to(dtype)


def _batch(lengths: list[int], *, pad: int = 0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (3..119) and mask for rows of the given lengths."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(3, 120, (n,), generator=g)
        mask[row, :n] = 1
    return ids, mask


CASES = [
    # kind, dtype, heads, activation, lengths, tolerance (max abs logit difference)
    ("bert", torch.float32, 4, "gelu", [17, 9, 1, 17], 1e-4),
    ("bert", torch.float32, 4, "gelu", [12, 12], 1e-4),  # no padding at all
    ("bert", torch.float32, 2, "relu", [30, 5], 1e-4),  # head size 32: the folded scale is not a power of two
    ("bert", torch.float32, 3, "gelu", [8, 3, 6], 1e-4),  # an odd number of heads is fine here
    ("roberta", torch.float32, 4, "gelu", [20, 7], 1e-4),  # positions counted from the padding id
    ("xlm-roberta", torch.float32, 4, "gelu", [5, 20, 11], 1e-4),
    ("electra", torch.float32, 4, "gelu", [14, 6, 14], 1e-4),  # AraELECTRA's architecture
    ("bert", torch.bfloat16, 4, "gelu", [17, 9, 1, 17], 0.15),
    ("roberta", torch.bfloat16, 4, "gelu", [20, 7], 0.15),
]


@pytest.mark.parametrize("kind, dtype, heads, act, lengths, tol", CASES)
@pytest.mark.parametrize("packed", [True, False], ids=["onednn", "plain"])
def test_logits_match_the_transformers_model(kind, dtype, heads, act, lengths, tol, packed, monkeypatch) -> None:
    if not packed:
        monkeypatch.setattr(fastpath, "_pack", lambda *a, **k: None)
    model = _model(kind, dtype, num_attention_heads=heads, hidden_size=64 if heads != 3 else 48, hidden_act=act)
    ids, mask = _batch(lengths, pad=model.config.pad_token_id or 0)
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits.float()
    fast = FastEncoder(model)
    # this CI's CPU build of PyTorch has oneDNN: the packed path must really be the one tested (for
    # bf16 on a CPU whose oneDNN has none, in fp32: test_bf16_without_onednn_bf16_runs_fp32_kernels)
    assert fast.packed == (packed and torch.backends.mkldnn.is_available())
    assert fast.emulated == (dtype == torch.bfloat16 and not fastpath.onednn_takes_bf16())
    got = fast(ids, mask).float()
    assert got.shape == want.shape
    for row, n in enumerate(lengths):
        assert (got[row, :n] - want[row, :n]).abs().max().item() <= tol
        assert not got[row, n:].any()  # padding gets zeros
    # the logits are far from flat: the comparison means something
    assert want.std().item() > 10 * tol


@pytest.mark.parametrize("packed", [True, False], ids=["onednn", "plain"])
@pytest.mark.parametrize("kind, lengths", [("bert", [17, 9, 1, 17]), ("electra", [14, 6, 14])])
def test_bf16_without_onednn_bf16_runs_fp32_kernels(kind, lengths, packed, monkeypatch) -> None:
    """On a CPU whose oneDNN has no bf16 (AVX2 only), a bf16 model is computed by fp32 kernels from
    its bf16 weights; the logits are the bf16 model's, to bf16 rounding. Forced here, so that every
    CPU runs it."""
    monkeypatch.setattr(fastpath, "onednn_takes_bf16", lambda: False)
    if not packed:
        monkeypatch.setattr(fastpath, "_pack", lambda *a, **k: None)
    model = _model(kind, torch.bfloat16)
    ids, mask = _batch(lengths)
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits.float()
    fast = FastEncoder(model)
    assert fast.emulated and fast.packed == (packed and torch.backends.mkldnn.is_available())
    layer = fast.layers[0]
    for linear in (layer.qkv, layer.out, layer.ffn_in, layer.ffn_out):
        assert linear.weight.dtype == torch.float32 and linear.out_dtype == torch.bfloat16
    # the fp32 weights are the bf16 ones widened: nothing was rounded a second time
    assert torch.equal(layer.out.weight, model.base_model.encoder.layer[0].attention.output.dense.weight.float())
    needed = mask.bool() & (torch.arange(mask.shape[1]) % 3 != 0)
    got, part = fast(ids, mask), fast(ids, mask, needed)
    assert got.dtype == torch.bfloat16  # what a bf16 model hands back
    got, part = got.float(), part.float()
    for row, n in enumerate(lengths):
        assert (got[row, :n] - want[row, :n]).abs().max().item() <= 0.15
        assert not got[row, n:].any()
    assert (part[needed] - got[needed]).abs().max().item() <= 0.15 and not part[~needed].any()
    assert want.std().item() > 1.5


@pytest.mark.parametrize(
    "kind, overrides, lengths",
    [
        ("bert", {"layer_norm_eps": 1e-5, "type_vocab_size": 1}, [17, 9]),
        ("bert", {}, [64, 2, 2]),  # a window of max_position_embeddings; rows of [CLS] [SEP] only
        ("roberta", {}, [62, 2, 30]),  # positions 2..63: the last position embedding is read
        ("xlm-roberta", {"layer_norm_eps": 1e-5}, [2]),
        ("electra", {"embedding_size": 32}, [20, 3]),  # projected up from narrower embeddings
        ("electra", {"embedding_size": 64}, [20, 3]),  # as wide as the layers: no projection
    ],
)
def test_config_variants_match_the_transformers_model(kind, overrides, lengths) -> None:
    model = _model(kind, **overrides)
    ids, mask = _batch(lengths, pad=model.config.pad_token_id or 0)
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits
    got = FastEncoder(model)(ids, mask)
    for row, n in enumerate(lengths):
        assert (got[row, :n] - want[row, :n]).abs().max().item() <= 1e-4


def test_padding_never_reaches_real_tokens() -> None:
    model = _model()
    fast = FastEncoder(model)
    ids, mask = _batch([10, 4])
    alone = fast(ids[1:, :4], mask[1:, :4])
    ids[1, 4:] = 77  # garbage in the padding of row 1
    together = fast(ids, mask)
    assert torch.allclose(together[1, :4], alone[0], atol=1e-5)


@pytest.mark.parametrize(
    "kind, dtype, overrides, reason",
    [
        ("bert", torch.float32, {"hidden_act": "gelu_new"}, "activation"),
        ("bert", torch.float32, {"position_embedding_type": "relative_key"}, "position_embedding_type"),
        ("bert", torch.float32, {"is_decoder": True}, "decoder"),
        ("bert", torch.float16, {}, "dtype"),
    ],
)
def test_models_it_cannot_take_say_why(kind, dtype, overrides, reason) -> None:
    model = _model(kind, dtype, **overrides)
    assert reason in (why_not(model) or "")
    assert fast_encoder(model) is None
    with pytest.raises(ValueError, match="no fused encoder"):
        FastEncoder(model)


def test_other_architectures_are_left_alone() -> None:
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    model = DistilBertForTokenClassification(DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=2, hidden_dim=64))
    assert "distilbert" in why_not(model)


def _deberta() -> torch.nn.Module:
    from transformers import DebertaV2Config, DebertaV2ForTokenClassification

    return DebertaV2ForTokenClassification(
        DebertaV2Config(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    )


def _sequential_head() -> torch.nn.Module:
    model = _model()
    model.classifier = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 5))
    return model


@pytest.mark.parametrize(
    "build, reason", [(_deberta, "deberta-v2"), (_sequential_head, "no linear token-classification head")]
)
def test_other_models_and_heads_are_left_alone(build, reason) -> None:
    assert reason in (why_not(build()) or "")


class _TanhHead(BertForTokenClassification):
    """A researcher's own head: a tanh layer before the (linear) classifier."""

    def __init__(self, config):
        super().__init__(config)
        self.hidden = torch.nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
        return TokenClassifierOutput(logits=self.classifier(torch.tanh(self.hidden(out.last_hidden_state))))


def _sequence_classifier() -> torch.nn.Module:
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(**SHAPE, num_attention_heads=4))


@pytest.mark.parametrize(
    "build",
    [
        # its classifier is an nn.Linear too, but on the pooled [CLS]: one row of logits per sequence
        _sequence_classifier,
        # a subclass whose forward does more than the linear classifier on each token
        lambda: _TanhHead(BertConfig(**SHAPE, num_attention_heads=4)),
    ],
    ids=["sequence-classifier", "subclass-with-tanh-head"],
)
def test_models_that_are_not_transformers_token_classifiers_are_left_alone(build) -> None:
    model = build().eval()
    assert "is not transformers' BertForTokenClassification" in (why_not(model) or "")
    assert fast_encoder(model) is None


def test_the_tagger_uses_it_on_cpu_and_agrees(tmp_path) -> None:
    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.model import build_small_model, build_small_tokenizer, save_checkpoint
    from naba.predict import Tagger

    texts = ["قال الجيش السوري إن القوات دخلت مدينة حماة صباح اليوم"] * 3 + ["وزير الخارجية في دمشق " * 40]
    tok = build_small_tokenizer(texts, vocab_size=200)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME)
    model = build_small_model(space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=4, intermediate=128)
    ckpt = save_checkpoint(tmp_path / "m", model, tok, space, extra={"max_length": 32, "stride": 8})
    fast = Tagger.from_pretrained(ckpt, device="cpu")
    slow = Tagger.from_pretrained(ckpt, device="cpu", fast_path=False)
    assert fast.fast is not None and slow.fast is None
    assert Tagger.from_pretrained(ckpt, device="cpu", dtype="fp16").fast is None  # not measured: not used
    chunk = fast._encode(texts, lambda t: t)
    a = fast._forward(chunk.windows, budget=256, batch_size=None)
    b = slow._forward(chunk.windows, budget=256, batch_size=None)
    # decoding reads each window's core: there the two agree; the fused path leaves the rest at zero
    for w, x, y in zip(chunk.windows, a, b, strict=True):
        lo, hi = w.core
        assert float(np.abs(x[lo:hi] - y[lo:hi]).max()) < 1e-4
    assert any(w.core != (1, len(w.input_ids) - 1) for w in chunk.windows)  # the long text has overlaps
    for got in fast(texts):
        for span in got:
            assert span["text"]


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 0.15)])
def test_only_the_needed_positions_are_computed_in_the_last_layer(dtype, tol) -> None:
    model = _model(dtype=dtype)
    fast = FastEncoder(model)
    ids, mask = _batch([12, 7, 9, 40])
    needed = torch.zeros_like(mask, dtype=torch.bool)
    needed[3, 35:40] = True  # a run so near the end that the query block starts before it
    needed[0, 3:8] = True
    needed[2, 0:9] = True
    needed[1, 8:] = True  # padding marked needed: still padding
    needed[1, [0, 2, 5]] = True  # not one run: gathered, not sliced
    full = fast(ids, mask).float()
    part = fast(ids, mask, needed).float()
    want = needed & mask.bool()
    assert (part[want] - full[want]).abs().max().item() <= tol
    assert not part[~want].any()


@pytest.mark.parametrize(
    "rows, padded",
    [(1, 64), (64, 64), (65, 128), (511, 512), (513, 576), (1000, 1024), (1025, 1152), (2048, 2048), (5000, 5120)],
)
def test_row_counts_are_bucketed(rows, padded) -> None:
    assert fastpath._pad_rows(torch.ones(rows, 2)).shape == (padded, 2)
    assert fastpath._pad_rows(torch.ones(rows, 2))[rows:].abs().sum() == 0


def test_a_long_run_meets_few_matrix_shapes(monkeypatch) -> None:
    # oneDNN keeps a kernel per shape: batches of every size must not mean kernels of every size
    shapes = set()
    real_bmm = torch.bmm

    def bmm(a, b, *args, **kwargs):
        shapes.add(("bmm", *a.shape, *b.shape))
        return real_bmm(a, b, *args, **kwargs)

    real_call = fastpath._Linear.__call__
    monkeypatch.setattr(fastpath._Linear, "__call__", lambda self, x: shapes.add(("linear", *x.shape)) or real_call(self, x))
    monkeypatch.setattr(torch, "bmm", bmm)
    fast = FastEncoder(_model())
    g = torch.Generator().manual_seed(1)
    for _ in range(60):
        lengths = torch.randint(1, 64, (int(torch.randint(1, 6, (1,), generator=g)),), generator=g).tolist()
        fast(*_batch(lengths))
    assert len({s for s in shapes if s[0] == "linear"}) <= 3 * 4  # row counts 64..320 in steps of 64, 4 kinds
    # lengths 1..63 in steps of 16, attended alone or in groups of 2 or 4 (batches hold up to 5), 2 products
    assert len({s for s in shapes if s[0] == "bmm"}) <= 4 * 3 * 2


def test_allocator_tuning_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("NABA_MALLOPT", "0")
    assert fastpath.keep_freed_memory() is False
    monkeypatch.delenv("NABA_MALLOPT")
    import platform

    # on glibc (this CI's Debian) mallopt takes the settings; elsewhere nothing is done
    assert fastpath.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


@pytest.mark.parametrize(
    "lengths, heads, scores, want",
    [
        # runs of one padded length (16, 32, ...) go in groups of a power of two
        ([5, 9, 16, 3, 7], 4, 1 << 20, [4, 1]),
        ([5, 9, 16, 20, 30, 3], 4, 1 << 20, [2, 1, 2, 1]),
        ([5, 9, 16, 3, 7, 1, 2], 4, 1 << 20, [4, 2, 1]),
        # the scores' budget caps a group: 4 heads x 2 x 32^2 fit in 8192, 4 x 4 x 32^2 do not
        ([30, 31, 32, 29], 4, 8192, [2, 2]),
        ([30], 4, 1 << 20, [1]),
        ([30, 31], 4, 0, [1, 1]),
        # long ones go alone, to the fused attention, though 4 heads x 2 x 256^2 fit in the budget
        ([256, 250, 241, 240, 239], 4, 1 << 20, [1, 1, 1, 2]),
    ],
)
def test_attention_plan_groups_short_sequences(monkeypatch, lengths, heads, scores, want) -> None:
    monkeypatch.setattr(fastpath, "GROUP_SCORES", scores)
    starts = [0]
    for n in lengths:
        starts.append(starts[-1] + n)
    rows = list(zip(starts, starts[1:], strict=False))
    plan = fastpath._plan(rows, heads, torch.float32)
    sizes = [len(item.bias) if isinstance(item, fastpath._Group) else 1 for item in plan]
    assert sizes == want
    # every token of every sequence is computed exactly once
    covered = []
    for item in plan:
        covered += item.dest.tolist() if isinstance(item, fastpath._Group) else list(range(*rows[item]))
    assert sorted(covered) == list(range(starts[-1]))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 0.1)])
def test_grouped_attention_equals_one_sequence_at_a_time(monkeypatch, dtype, tol) -> None:
    fast = FastEncoder(_model(dtype=dtype))
    lengths = [3, 16, 9, 12, 30, 31, 17, 2, 64, 40]
    ids, mask = _batch(lengths, seed=4)
    needed = mask.bool() & (torch.rand(mask.shape, generator=torch.Generator().manual_seed(1)) < 0.6)
    grouped = fast(ids, mask).float(), fast(ids, mask, needed).float()
    assert any(isinstance(item, fastpath._Group) for item in fastpath._plan([(0, n) for n in lengths], 4, dtype))
    monkeypatch.setattr(fastpath, "GROUP_SCORES", 0)
    alone = fast(ids, mask).float(), fast(ids, mask, needed).float()
    for a, b in zip(grouped, alone, strict=True):
        assert (a - b).abs().max().item() <= tol
    assert not grouped[1][~needed].any()


@pytest.mark.parametrize(
    "dtype, onednn_bf16, tol",
    [
        (torch.float32, False, 1e-5),
        (torch.bfloat16, False, 0.1),  # bf16 through fp32 kernels (AVX2): both ways attend in fp32
        # bf16 kernels (AVX-512, AMX): the two products hand on bf16 scores and probabilities, the fused
        # kernel keeps them in fp32, so the ways part by more than the logits' bf16 rounding (0.21 when
        # forced here): the fused way is held to transformers' logits alone
        (torch.bfloat16, True, None),
    ],
)
def test_fused_attention_equals_the_two_products(monkeypatch, dtype, onednn_bf16, tol) -> None:
    # sequences of FUSED_FROM tokens and more go through SDPA's fused kernel, the others through two
    # products and a softmax: each forced here for every sequence, against the other and transformers;
    # the bf16 kernels are forced too, so that every CPU runs both: the 0.1 between the ways holds where
    # oneDNN has no bf16, and fails with the bf16 kernels a CPU with AVX-512 or AMX runs (forced here)
    monkeypatch.setattr(fastpath, "onednn_takes_bf16", lambda: onednn_bf16)
    model = _model(dtype=dtype)
    fast = FastEncoder(model)
    assert fast.emulated == (dtype == torch.bfloat16 and not onednn_bf16)
    lengths = [3, 16, 9, 12, 30, 31, 17, 2, 64, 40]
    ids, mask = _batch(lengths, seed=5)
    # runs (sliced queries) and scattered positions (gathered ones) in the last layer
    needed = mask.bool() & (torch.rand(mask.shape, generator=torch.Generator().manual_seed(2)) < 0.5)
    needed[8, 10:50] = True
    monkeypatch.setattr(fastpath, "GROUP_SCORES", 0)  # every sequence alone, where the two ways part
    monkeypatch.setattr(fastpath, "FUSED_FROM", 10**9)
    products = fast(ids, mask).float(), fast(ids, mask, needed).float()
    monkeypatch.setattr(fastpath, "FUSED_FROM", 1)
    fused = fast(ids, mask).float(), fast(ids, mask, needed).float()
    for a, b in zip(fused, products, strict=True):
        assert tol is None or (a - b).abs().max().item() <= tol
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits.float()
    near = 1e-4 if dtype == torch.float32 else 0.15
    for row, n in enumerate(lengths):
        assert (fused[0][row, :n] - want[row, :n]).abs().max().item() <= near
    assert (fused[1][needed] - want[needed]).abs().max().item() <= near
    assert not fused[1][~needed].any() and not fused[0][~mask.bool()].any()
