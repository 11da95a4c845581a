"""naba.predict on a CUDA device: the same spans as on CPU, bf16 by default, a real out-of-memory
error answered by halving, host workers feeding the GPU, naba's GPU encoder computing what the
model computes and queuing batches without ever waiting for the device.

Skipped where there is no CUDA device (CI has none); `bash scripts/device_check.sh` runs them on a
lent GPU machine, with the GPU benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from test_predict_tagger import ADVERSARIAL, WORD, Oracle, tiny_checkpoint

from naba.predict import Tagger
from naba.predict.batch import run_job
from naba.predict.gpupath import GpuEncoder

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none here)")

CUDA = torch.device("cuda")
TEXTS = [*ADVERSARIAL.values(), f"قال الجيش إن مقاتلين دخلوا {WORD} " * 300, "", "   "]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Tagger:
    return Tagger.from_pretrained(tiny_checkpoint(tmp_path_factory.mktemp("cuda")), device="cpu")


class HungryOracle(Oracle):
    """The oracle, asking the CUDA allocator for far more than any card has when a batch holds
    more than ``rows`` windows: a real out-of-memory error, at no cost to the device."""

    def __init__(self, *args, rows: int, **kw):
        super().__init__(*args, **kw)
        self.rows = rows

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        if input_ids.shape[0] > self.rows:
            torch.empty(1 << 50, dtype=torch.uint8, device=input_ids.device)  # 1 PiB
        return super().forward(input_ids, attention_mask)


def oracle_on(tagger: Tagger, device: torch.device, dtype: torch.dtype, model: Oracle | None = None) -> Tagger:
    info = {**tagger.info, "max_length": 16, "stride": 4}
    model = model or Oracle(tagger.tokenizer, tagger.space)
    return Tagger(model.to(device=device, dtype=dtype), tagger.tokenizer, tagger.space, info, device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_oracle_tags_the_same_spans_on_the_gpu(tagger: Tagger, dtype: torch.dtype) -> None:
    want = oracle_on(tagger, torch.device("cpu"), torch.float32)(TEXTS)
    got = oracle_on(tagger, CUDA, dtype)(TEXTS)
    assert got == want
    assert any(s["text"] == WORD for spans in got for s in spans)


def test_a_checkpoint_loads_in_bf16_where_the_gpu_has_it(tagger: Tagger, tmp_path: Path) -> None:
    gpu = Tagger.from_pretrained(tiny_checkpoint(tmp_path), device="cuda")
    # bf16 where the GPU has it in hardware, not where torch emulates it (is_bf16_supported says yes on a T4)
    major, _ = torch.cuda.get_device_capability(0)
    assert gpu.dtype == (torch.bfloat16 if major >= 8 or torch.version.hip else torch.float16)
    assert next(gpu.model.parameters()).device.type == "cuda"
    for text, spans in zip(TEXTS, gpu(TEXTS), strict=True):
        assert all(s["text"] == text[s["start"] : s["end"]] for s in spans)


def test_a_real_out_of_memory_error_halves_the_batch(tagger: Tagger) -> None:
    hungry = oracle_on(tagger, CUDA, torch.float32, HungryOracle(tagger.tokenizer, tagger.space, rows=2))
    want = oracle_on(tagger, torch.device("cpu"), torch.float32)(TEXTS)
    assert hungry(TEXTS, batch_size=16) == want
    assert max(rows for rows, _ in hungry.model.batches) <= 2  # the batches that ran
    assert hungry._budget_cap is not None  # later batches start smaller


def test_the_batch_job_with_workers_on_the_gpu_writes_what_the_cpu_writes(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS * 5)),
                   encoding="utf-8")
    run_job(oracle_on(tagger, torch.device("cpu"), torch.float32), src, tmp_path / "cpu.jsonl", chunk_docs=4, progress=False)
    gpu = oracle_on(tagger, CUDA, torch.bfloat16)
    gpu.workers = 2
    run_job(gpu, src, tmp_path / "gpu.jsonl", chunk_docs=4, progress=False)
    assert (tmp_path / "gpu.jsonl").read_bytes() == (tmp_path / "cpu.jsonl").read_bytes()


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-3), (torch.bfloat16, 0.15)])
def test_the_gpu_encoder_computes_what_the_model_computes_on_the_gpu(dtype: torch.dtype, tol: float) -> None:
    from test_fastpath import _batch, _model

    model = _model("bert", dtype).to(CUDA)
    ids, mask = (t.to(CUDA) for t in _batch([17, 9, 1, 17]))
    with torch.inference_mode():
        want = model(input_ids=ids, attention_mask=mask).logits.float()
    got = GpuEncoder(model)(ids, mask).float()
    for row, n in enumerate([17, 9, 1, 17]):
        assert (got[row, :n] - want[row, :n]).abs().max().item() <= tol
    full = GpuEncoder(model)(ids[:1], None).float()  # no padding: no mask (flash attention may run)
    assert (full[0] - want[0]).abs().max().item() <= tol


def test_a_chunk_is_queued_without_waiting_for_the_device(tmp_path: Path) -> None:
    ckpt = tiny_checkpoint(tmp_path)
    gpu = Tagger.from_pretrained(ckpt, device="cuda", dtype="fp32")
    assert isinstance(gpu.fast, GpuEncoder)
    chunk = gpu._encode(TEXTS, lambda t: t)
    assert len({len(w.input_ids) for w in chunk.windows}) > 1  # padded batches and full ones
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any operation that waits for the device raises
    try:
        launched = gpu._launch(chunk.windows, budget=256, batch_size=None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(launched.parts) > 1
    got = launched.result()
    slow = Tagger.from_pretrained(ckpt, device="cuda", dtype="fp32", fast_path=False)
    want = slow._forward(chunk.windows, budget=256, batch_size=None)
    for x, y in zip(got, want, strict=True):
        assert x.shape == y.shape and float(abs(x - y).max()) < 1e-3
