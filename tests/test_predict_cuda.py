"""naba.predict on a CUDA device: the same spans as on CPU, bf16 by default, a real out-of-memory
error answered by halving, host workers feeding the GPU.

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
    assert gpu.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
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
