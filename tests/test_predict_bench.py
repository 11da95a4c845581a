"""The arithmetic of scripts/bench_predict.py: FLOPs per token, span agreement, the roofline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_predict  # noqa: E402


@pytest.mark.parametrize(
    ("cpuinfo", "name"),
    [
        # two machines a VM names alike, whose bf16 figures differ several-fold
        ("model name\t: AMD EPYC\ncpu family\t: 25\nmodel\t\t: 1\nflags\t\t: fpu avx avx2 fma\n\n"
         "model name\t: other\n", "AMD EPYC (family 25, model 1; AVX2, no AVX-512)"),
        ("model name\t: AMD EPYC\ncpu family\t: 25\nmodel\t\t: 17\nflags\t\t: avx2 avx512f avx512_bf16\n",
         "AMD EPYC (family 25, model 17; AVX-512, AVX512-BF16)"),
        ("model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_bf16 amx_tile\n", "Intel Xeon (AVX-512, AVX512-BF16, AMX)"),
        ("model name\t: Some CPU\n", "Some CPU"),  # no flags (an ARM machine's cpuinfo differs)
    ],
)
def test_cpu_name_tells_machines_of_one_brand_apart(tmp_path: Path, cpuinfo: str, name: str) -> None:
    import reportlib

    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo, encoding="utf-8")
    assert reportlib.cpu_name(cpuinfo=path) == name
    assert reportlib.cpu_name(cpuinfo=tmp_path / "missing")  # falls back to platform's answer


def test_flops_per_token_by_hand() -> None:
    # per layer: 4 d^2 (Q, K, V, output) + 2 d f (FFN) multiply-adds, and 2 s d for the scores and
    # the weighted sum; x2 for FLOPs; plus the classifier
    d, f, s, layers, labels = 256, 1024, 512, 4, 5
    per_layer = 2 * (4 * d * d + 2 * d * f) + 2 * 2 * s * d
    assert bench_predict.flops_per_token(hidden=d, inter=f, layers=layers, labels=labels) == layers * per_layer + 2 * d * labels
    assert bench_predict.flops_per_token(hidden=256, inter=1024, layers=4, labels=5) == pytest.approx(8.39e6, rel=1e-3)


@pytest.mark.parametrize(
    "a, b, f1",
    [
        ([[{"start": 0, "end": 3, "label": "X"}]], [[{"start": 0, "end": 3, "label": "X"}]], 1.0),
        ([[{"start": 0, "end": 3, "label": "X"}]], [[{"start": 0, "end": 3, "label": "Y"}]], 0.0),
        ([[{"start": 0, "end": 3, "label": "X"}, {"start": 4, "end": 5, "label": "X"}]], [[{"start": 0, "end": 3, "label": "X"}]], 2 / 3),
        ([[]], [[]], 1.0),
    ],
)
def test_span_agreement(a, b, f1) -> None:
    assert bench_predict.span_f1(a, b) == pytest.approx(f1)
    assert bench_predict.span_f1(b, a) == pytest.approx(f1)


def test_roofline_measures_something() -> None:
    gflops = bench_predict.roofline(torch.float32, hidden=64, inter=128, heads=2, seq=64, seqs=2, seconds=0.2)
    assert 0.1 < gflops < 1e5


def test_o_bias_raises_only_the_o_scores(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    texts = ["قال الجيش السوري إن قواته انسحبت من حماة ."] * 20
    base = bench_predict.build_checkpoint(tmp_path / "base", texts, layers=["entity"], vocab=200,
                                          shape={"hidden_size": 32, "num_layers": 1, "heads": 2, "intermediate": 64})
    assert bench_predict.with_o_bias(base, tmp_path / "same", 0.0) == base
    raised = bench_predict.with_o_bias(base, tmp_path / "raised", 0.75)
    a, b = load_file(base / "model.safetensors"), load_file(raised / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        if name != "classifier.bias":
            assert torch.equal(a[name], b[name]), name
    # entity:O is label 0 in naba's scheme; the B- and I- scores are untouched
    assert b["classifier.bias"][0] == pytest.approx(float(a["classifier.bias"][0]) + 0.75)
    assert torch.equal(a["classifier.bias"][1:], b["classifier.bias"][1:])
    assert (raised / "tokenizer.json").read_bytes() == (base / "tokenizer.json").read_bytes()


def test_bench_predict_runs_both_heads(tmp_path: Path) -> None:
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(repo / "scripts" / "bench_predict.py"), "--docs", "2", "--dtypes", "fp32",
           "--o-bias", "0,3", "--rounds", "1", "--pipeline-batch-sizes", "1", "--rss-docs", "20",
           "--trained", str(tmp_path / "no-such-run"), "--no-write"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr[-2000:]
    heads = [line for line in done.stdout.splitlines() if line.startswith("fp32, ")]
    assert [line.split(" head ")[0] for line in heads] == ["fp32, random", "fp32, O +3"]
    density = [float(line.split("(")[1].split(" spans")[0]) for line in heads]
    assert density[1] < density[0]  # the raised O tags fewer spans
    assert "naba predict on 20 short documents" in done.stdout


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("bench_host.py", ["--workers", "0,x", "--no-write"], "argument --workers: not a whole number: 'x'"),
        ("bench_host.py", ["--rounds", "0", "--no-write"], "argument --rounds: 0 is below 1"),
        ("bench_gpu.py", ["--overlap", "yes", "--no-write"], "argument --overlap: 'yes' is not one of on, off"),
        ("bench_gpu.py", ["--batch-tokens", "16384,", "--no-write"], "argument --batch-tokens: an empty item in '16384,'"),
        ("bench_gpu.py", ["--workers", "-1", "--no-write"], "argument --workers: -1 is below 0"),
        # was a ValueError traceback from the Tagger, after the AraBERT-sized model was built and saved
        ("bench_gpu.py", ["--dtype", "fp64", "--no-write"], "argument --dtype: invalid choice: 'fp64'"),
        ("bench_predict.py", ["--dtypes", "fp16", "--no-write"], "argument --dtypes: 'fp16' is not one of fp32, bf16"),
        ("bench_predict.py", ["--o-bias", "0,x", "--no-write"], "argument --o-bias: a bad item in '0,x'"),
        ("bench_train.py", ["--repeats", "0"], "argument --repeats: 0 is below 1"),
        ("bench_inputs.py", ["--mb", "0", "--no-write"], "argument --mb: 0 is below 1"),
        ("bench_claims.py", ["--runs", "0"], "argument --runs: 0 is below 1"),
        # the paired test needs resamples: 0 was a ValueError traceback after all six trainings
        ("bench_claims.py", ["--bootstrap", "0"], "argument --bootstrap: 0 is below 1"),
        # --sets -5 reported "-5 random span sets" and "totals differ: -5"; --labels , an IndexError
        ("check_nervaluate.py", ["--sets", "-5"], "argument --sets: -5 is below 1"),
        ("check_nervaluate.py", ["--sets", "3", "--labels", ","], "argument --labels: an empty item in ','"),
    ],
)
def test_bench_scripts_refuse_bad_values_with_a_usage_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
    args: list[str], message: str,
) -> None:
    # these were tracebacks (KeyError, ValueError), or a failure at the end of a whole run (--rounds 0).
    # Run as __main__ in this process, whose torch and transformers are imported already: in a fresh
    # process each case spent 5-15 s importing them before its argument was read (that the scripts
    # start on their own is tests/test_scripts_start.py's)
    import runpy

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(sys, "argv", [str(repo / "scripts" / script), *args])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts put their folders first
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(repo / "scripts" / script), run_name="__main__")
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err, err[-2000:]


def test_bench_host_runs_and_reports_every_worker_count(tmp_path: Path) -> None:
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(repo / "scripts" / "bench_host.py"), "--docs", "6", "--workers", "0,1",
           "--chunk-docs", "2", "--rounds", "1", "--no-write"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 0 |") or line.startswith("| 1 |")]
    assert len(rows) == 2
    assert "Spans found:" in done.stdout and "main process CPU" in done.stdout


def test_bench_inputs_reads_every_codec_to_the_same_count(tmp_path: Path) -> None:
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(repo / "scripts" / "bench_inputs.py"), "--mb", "1", "--repeat", "1", "--no-write"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split(" |")[0] for line in done.stdout.splitlines() if line.startswith("| `.")]
    # the script stops if a file reads to another count than the plain one
    assert rows[:4] == ["| `.jsonl`", "| `.gz`", "| `.bz2`", "| `.xz`"]


def test_the_device_check_runs_on_cpu_with_a_tiny_model(tmp_path: Path) -> None:
    # scripts/device_check.sh (the CUDA tests, then bench_gpu.py), as a lent GPU machine runs it
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    # the lent GPU machines' image has torch, transformers, tokenizers and accelerate but not the
    # training and scoring extras: the batch job and these scripts must not need them
    blocked = tmp_path / "blocked"
    for name in ("seqeval", "datasets"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    out = tmp_path / "out"
    cmd = ["bash", str(repo / "scripts" / "device_check.sh"), "--device", "cpu", "--shape", "tiny", "--docs", "8",
           "--model-docs", "4", "--workers", "1", "--chunk-docs", "2", "--batch-tokens", "2048", "--rounds", "1", "--no-write"]
    env = {**os.environ, "PYTHONPATH": str(blocked), "OUT": str(out), "PYTHON": sys.executable}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:]
    bench = (out / "bench_gpu.log").read_text()
    assert "| `naba predict` | " in bench and "the model alone" in bench
    assert "steady, the start excluded" in bench
    assert "run_job` with 1 host worker(s)" in bench
    tests = (out / "tests.log").read_text()
    assert "skipped" in tests if not torch.cuda.is_available() else "passed" in tests
    assert (out / "BENCHMARKS.md").exists() and "torch" in (out / "device.txt").read_text()
    profile = (out / "profile.txt").read_text()
    assert "run_job under cProfile" in profile and "tottime" in profile and "cumulative" in profile


@pytest.mark.parametrize("out", ["results", "نتائج/run 1"])
def test_the_device_check_writes_a_relative_out_where_it_was_started(tmp_path: Path, out: str) -> None:
    # OUT=results from another folder: the files went into the checkout (the script moves there)
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OUT": out, "PYTHON": "true"}  # a stand-in interpreter: every step a no-op
    done = subprocess.run(["bash", str(repo / "scripts" / "device_check.sh")], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / out).iterdir()) == ["BENCHMARKS.md", "bench_gpu.log", "device.txt",
                                                                  "tests.log"]
    assert not (repo / out.split("/")[0]).exists()


def test_the_device_check_runs_a_relative_python_from_where_it_was_started(tmp_path: Path) -> None:
    # PYTHON=.venv/bin/python from another folder was looked up in the checkout (the script moves
    # there): 'No such file or directory' at every step
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    fake = tmp_path / "venv" / "py"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$1" >> "$CALLS"\n')  # a stand-in interpreter that notes its calls
    fake.chmod(0o755)
    env = {**os.environ, "OUT": "out", "PYTHON": "venv/py", "CALLS": str(tmp_path / "calls")}
    done = subprocess.run(["bash", str(repo / "scripts" / "device_check.sh")], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().split() == ["-c", "-m", "scripts/bench_gpu.py"]


def test_bench_gpu_without_a_gpu_says_so(tmp_path: Path) -> None:
    import os
    import subprocess

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(repo / "scripts" / "bench_gpu.py"), "--docs", "2", "--no-write"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode != 0 and "no CUDA device here" in done.stderr


@pytest.mark.parametrize(
    ("steadies", "expected"),
    [
        # BENCHMARKS.md's H200 run: the best end-to-end rate with compact on, the best steady rate with compact
        # off; the steady figure followed the first setting's name as if it were that setting's
        ((1_419_714, 1_450_022), "1,257,854 over all 16,000 documents (naba forward, 65,536 tokens a batch, 256 "
         "documents a chunk, overlap on, ramp on, compact on), met; steady, the start excluded, as in a job over "
         "millions of documents: 1,450,022 (naba forward, 65,536 tokens a batch, 256 documents a chunk, overlap on, "
         "ramp on, compact off), met."),
        ((float("nan"), float("nan")), "millions of documents: nan, missed."),
    ],
)
def test_bench_gpu_names_the_setting_of_each_target_figure(steadies, expected: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import bench_gpu

    figures = {(True, 65536, 256, True, True, True): {"rate": 1_257_854, "steady": steadies[0]},
               (True, 65536, 256, True, True, False): {"rate": 1_252_414, "steady": steadies[1]}}
    assert expected in bench_gpu.target_text(figures, 16000)


@pytest.mark.parametrize(
    ("native", "onednn", "said", "not_said"),
    [
        (["AVX512-BF16", "AMX"], True, "bf16 instructions: AVX512-BF16, AMX", "no bf16 instructions"),
        # an AVX2-only CPU (Zen 3): both sides emulate
        ([], False, "naba's fused encoder computes bf16 through fp32 kernels", "oneDNN computes"),
        # AVX-512 without AVX512-BF16 (Cascade Lake): oneDNN runs bf16 for both sides; the section said
        # PyTorch emulated it element by element and naba ran fp32 kernels, neither of which it does
        ([], True, "oneDNN computes bf16 products", "element by element"),
    ],
)
def test_bf16_note_says_how_this_cpu_computes_bf16(native: list[str], onednn: bool, said: str, not_said: str) -> None:
    note = bench_predict.bf16_note(native, onednn=onednn)
    assert said in note and not_said not in note
