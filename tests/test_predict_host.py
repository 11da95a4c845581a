"""naba.predict.host: encoding and decoding in worker processes gives what one process gives.

The workers are real processes (spawned), so each test that starts them pays a second or so.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_predict_tagger import ADVERSARIAL, TRAIN_TEXTS, WORD, oracle_tagger, tiny_checkpoint

from naba.errors import DataError
from naba.predict import Tagger
from naba.predict.batch import run_job
from naba.predict.host import (
    HostError,
    HostPool,
    encode_texts,
    spans_json,
    widen,
    with_rule_claims,
    worker_settings,
)
from naba.predict.io import prediction_line
from naba.predict.tagger import _Launched, default_workers, worker_chunks

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("host"))


@pytest.fixture(scope="module")
def tagger(checkpoint: Path) -> Tagger:
    return Tagger.from_pretrained(checkpoint, device="cpu")


def corpus(n: int, seed: int = 0) -> list[str]:
    """Texts of 0 to ~300 words (several windows at max_length 64), blank ones and hard ones among them."""
    rng = random.Random(seed)
    words = " ".join(TRAIN_TEXTS[:3]).split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.choice([0, 3, 20, 80, 300]))) for _ in range(n)]
    return texts + list(ADVERSARIAL.values())


def no_children() -> bool:
    return not [p for p in mp.active_children() if p.name.startswith("naba-host")]


@pytest.mark.parametrize(
    "workers,chunk,overlap,ramp", [(1, 4, True, True), (2, 3, True, True), (3, 50, True, True), (2, 3, False, True),
                                   (2, 3, True, False)],
)
def test_workers_give_the_same_spans_in_the_same_order(
    tagger: Tagger, workers: int, chunk: int, overlap: bool, ramp: bool
) -> None:
    texts = corpus(40)
    want = list(tagger.tag_documents(texts, chunk_docs=chunk, workers=0))
    tagger._overlap = overlap  # off: each chunk's scores collected before the next is launched
    tagger._ramp = ramp  # off: every chunk ``chunk`` documents (worker_chunks)
    try:
        got = list(tagger.tag_documents(texts, chunk_docs=chunk, workers=workers))
    finally:
        tagger._overlap = tagger._ramp = True
    assert got == want
    assert any(spans for _, spans in got)  # the random model does tag something
    assert no_children()


@pytest.mark.parametrize(
    ("items", "size", "workers", "runs"),
    [
        # (chunk size, how many in a row): rounds of workers + 1 chunks doubling up to the size, and
        # the last (workers + 1) * size items in quarter chunks
        (16000, 256, 15, [(16, 16), (32, 16), (64, 16), (128, 16), (256, 32), (64, 62)]),
        (1000, 256, 15, [(16, 16), (32, 16), (64, 3), (40, 1)]),
        (20, 8, 1, [(1, 2), (2, 2), (4, 1), (2, 5)]),
        (10, 3, 2, [(1, 3), (2, 1), (1, 5)]),
        (5, 256, 2, [(5, 1)]),
        (0, 256, 2, []),
    ],
)
def test_worker_chunks_are_smaller_at_both_ends(items: int, size: int, workers: int, runs: list[tuple[int, int]]) -> None:
    chunks = list(worker_chunks(iter(range(items)), size, workers))
    assert [x for chunk in chunks for x in chunk] == list(range(items))
    got = [(len(chunk), 1) for chunk in chunks]
    merged: list[tuple[int, int]] = []
    for length, _ in got:
        if merged and merged[-1][0] == length:
            merged[-1] = (length, merged[-1][1] + 1)
        else:
            merged.append((length, 1))
    assert merged == runs


def test_worker_chunks_read_ahead_only_as_far_as_they_have_handed_on() -> None:
    read = 0

    def counted():
        nonlocal read
        for i in range(100_000):
            read += 1
            yield i

    chunks = worker_chunks(counted(), 256, 15)
    assert len(next(chunks)) == 16 and read == 16  # the first chunk: 16 items read, not thousands
    handed = 16
    for _ in range(200):
        handed += len(next(chunks))
        assert read - handed <= (15 + 2) * 256  # at most (workers + 2) full chunks ahead


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_scores_go_to_the_workers_in_the_models_dtype_and_come_out_exact(dtype: torch.dtype) -> None:
    # a GPU's scores come back in the model's dtype; bf16 ones travel as their bits (numpy has no
    # bfloat16) and the worker widens them: the same float32 values the main process would make
    scores = (torch.randn(2, 5, 8) * 30).to(dtype)
    scores[0, 0, :4] = torch.tensor([float("-inf"), 0.0, -0.0, 1e-30]).to(dtype)
    launched = _Launched(lengths=[5, 3], tokens=8, parts=[([1, 0], scores)])
    sent = launched.result(compact=True)
    if dtype != torch.float32:
        assert sent[0].itemsize == 2
    want = scores.float().numpy()  # window 0 is the batch's row 1, window 1 row 0 (its 3 tokens)
    for kind in (sent, launched.result()):  # widened in a worker, or at once in this process
        for got, (row, n) in zip([widen(a) for a in kind], [(1, 5), (0, 3)], strict=True):
            assert got.dtype == np.float32
            assert np.array_equal(got, want[row, :n]) and np.array_equal(np.signbit(got), np.signbit(want[row, :n]))


def test_oracle_spans_through_workers(tagger: Tagger) -> None:
    oracle = oracle_tagger(tagger)
    text = f"قال الجيش إن {WORD} هادئة، و{WORD}ـ ليست كذلك 😀 {WORD}"
    got = list(oracle.tag_documents([text, "", text], chunk_docs=1, workers=2))
    for item, spans in got:
        assert [(s["start"], s["end"]) for s in spans] == [
            (i, i + len(WORD)) for i in range(len(item)) if item.startswith(WORD, i) and (i == 0 or item[i - 1] == " ")
        ]


def test_tokens_are_counted_the_same(tagger: Tagger) -> None:
    texts = corpus(10, seed=1)
    before = tagger.tokens_done
    list(tagger.tag_documents(texts, workers=0))
    alone = tagger.tokens_done - before
    list(tagger.tag_documents(texts, workers=2))
    assert tagger.tokens_done - before == 2 * alone > 0


def test_the_feeding_process_counts_its_waits(tagger: Tagger) -> None:
    before = dict(tagger.waits)
    list(tagger.tag_documents(corpus(10, seed=2), chunk_docs=3, workers=2))
    assert tagger.waits["encode"] > before["encode"]  # the workers' start, at least
    assert all(tagger.waits[k] >= before[k] for k in before)
    still = dict(tagger.waits)
    list(tagger.tag_documents(corpus(10, seed=2), workers=0))  # no workers: nothing to wait for
    assert tagger.waits == still


@pytest.mark.parametrize("rules, with_text", [(False, False), (True, True)])
def test_batch_job_with_workers_writes_the_same_file(tagger: Tagger, tmp_path: Path, rules: bool, with_text: bool) -> None:
    texts = corpus(30)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)))
    plain, pooled = tmp_path / "plain.jsonl", tmp_path / "pooled.jsonl"
    run_job(tagger, src, plain, chunk_docs=4, rules=rules, with_text=with_text, progress=False)
    tagger.workers = 2
    try:
        result = run_job(tagger, src, pooled, chunk_docs=4, rules=rules, with_text=with_text, progress=False)
    finally:
        tagger.workers = 0
    assert result.written == 30 + len(ADVERSARIAL)
    assert pooled.read_bytes() == plain.read_bytes()
    # ... and both are the lines of the Python API's spans (the JSON is made in the workers)
    found = tagger(texts)
    if rules:
        found = [with_rule_claims(t, spans) for t, spans in zip(texts, found, strict=True)]
    want = [prediction_line(str(i), spans, text=t if with_text else None) for i, (t, spans) in enumerate(zip(texts, found, strict=True))]
    assert plain.read_text(encoding="utf-8").splitlines() == want
    if rules:
        assert any(s["layer"] == "claim" for spans in found for s in spans)


def test_a_postprocess_that_cannot_go_to_the_workers_is_an_error_not_a_hang(tagger: Tagger) -> None:
    with pytest.raises(TypeError, match="top level of a module"):
        list(tagger.tag_documents(["قال الجيش"], workers=1, postprocess=lambda text, spans: spans))
    assert no_children()
    # without workers nothing is pickled: any callable does
    assert list(tagger.tag_documents(["قال الجيش"], workers=0, postprocess=lambda text, spans: len(text))) == [("قال الجيش", 9)]


@pytest.mark.parametrize(
    "main",
    [{}, {"__file__": "<stdin>"}, {"__spec__": SimpleNamespace(name="tool.__main__")}],
    ids=["notebook", "stdin", "package_main"],
)
def test_a_postprocess_defined_in_a_notebook_is_an_error_saying_so(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch, main: dict
) -> None:
    # a spawned worker could not find __main__.count: it died with a traceback, and the error blamed
    # a script without `if __name__ == "__main__":`
    module = types.ModuleType("__main__")
    module.__spec__ = None
    vars(module).update(main)

    def count(text: str, spans: list[dict]) -> int:
        return len(spans)

    count.__module__, count.__qualname__ = "__main__", "count"
    module.count = count
    monkeypatch.setitem(sys.modules, "__main__", module)
    with pytest.raises(TypeError, match=r"notebook.*define it in a \.py module"):
        list(tagger.tag_documents(["قال الجيش"], workers=1, postprocess=count))
    assert no_children()
    # without workers it runs where it is
    want = [(text, len(spans)) for text, spans in tagger.tag_documents(["قال الجيش"], workers=0)]
    assert list(tagger.tag_documents(["قال الجيش"], workers=0, postprocess=count)) == want


def returns_a_lock(text: str, spans: list[dict]) -> object:
    """A postprocess whose results cannot go back to the main process."""
    import threading

    return threading.Lock()


def test_a_postprocess_result_that_cannot_come_back_names_the_chunk(tagger: Tagger) -> None:
    with pytest.raises(HostError, match="chunk 0"):
        list(tagger.tag_documents(["قال الجيش"], workers=1, postprocess=returns_a_lock))
    assert no_children()


def test_postprocess_runs_where_the_spans_are_decoded(tagger: Tagger) -> None:
    texts = corpus(12)
    want = [(t, json.dumps(spans, ensure_ascii=False)) for t, spans in tagger.tag_documents(texts, workers=0)]
    assert list(tagger.tag_documents(texts, chunk_docs=5, workers=0, postprocess=spans_json)) == want
    assert list(tagger.tag_documents(texts, chunk_docs=5, workers=2, postprocess=spans_json)) == want
    assert no_children()


def test_a_non_string_text_is_a_data_error_before_any_worker_sees_it(tagger: Tagger) -> None:
    with pytest.raises(DataError, match="text must be a str"):
        list(tagger.tag_documents(["قال الجيش", 5], workers=2))
    assert no_children()


def test_stopping_early_stops_the_workers(tagger: Tagger) -> None:
    results = tagger.tag_documents(corpus(30), chunk_docs=2, workers=2)
    next(results)
    results.close()
    assert no_children()


def test_a_failing_worker_names_the_chunk(tagger: Tagger) -> None:
    with HostPool(worker_settings(tagger._settings), 1) as pool:
        pool.decode(7, [])  # chunk 7 was never encoded there
        with pytest.raises(HostError, match="chunk 7") as info:
            pool.result("decode", 7)
        assert isinstance(info.value.__cause__, KeyError)


def test_a_dead_worker_is_an_error_not_a_hang(tagger: Tagger) -> None:
    with HostPool(worker_settings(tagger._settings), 2) as pool:
        pool.encode(0, ["قال الجيش"])
        assert pool.result("encode", 0)[1] == [0]
        victim = pool._procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        pool.encode(1, ["قال الجيش"])  # chunk 1 goes to the dead worker
        with pytest.raises(HostError, match="naba-host-1 was killed by signal 9"):
            pool.result("encode", 1)
    assert no_children()


def test_worker_settings_turn_truncation_and_padding_off_in_a_copy(tagger: Tagger) -> None:
    backend = tagger.tokenizer.backend_tokenizer
    backend.enable_truncation(max_length=4)
    backend.enable_padding(length=16)
    try:
        settings = worker_settings(tagger._settings)
        assert settings.tokenizer.truncation is None and settings.tokenizer.padding is None
        assert backend.truncation is not None  # the tagger's own tokenizer is left as it was
        long = " ".join(TRAIN_TEXTS[:2])
        assert [w.input_ids for w in encode_texts([long], settings)[0]] == [
            w.input_ids for w in encode_texts([long], tagger._settings)[0]
        ]
    finally:
        backend.no_truncation()
        backend.no_padding()


def test_the_worker_module_does_not_import_torch() -> None:
    code = "import sys, naba.predict.host; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(
    "device,cores,processes,expected",
    [
        ("cpu", 64, 1, 0),  # on CPU the model has the cores
        ("cuda", 64, 1, 16),  # at most 16
        ("cuda", 16, 1, 15),
        ("cuda", 16, 4, 3),  # a process per GPU shares the cores
        ("cuda", 4, 1, 3),
        ("cuda", 2, 2, 0),  # one core each: no room for workers
    ],
)
def test_default_workers(monkeypatch, device: str, cores: int, processes: int, expected: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_workers(torch.device(device), processes=processes) == expected


def test_cli_predict_with_workers_writes_what_it_writes_without(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from naba.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(corpus(12))))
    outs = []
    for workers in ("0", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        argv = ["predict", str(checkpoint), str(src), "-o", str(out), "--device", "cpu", "--workers", workers, "--chunk-docs", "5", "--no-progress"]
        assert main(argv) == 0
        outs.append(out.read_bytes())
        # with workers, where the time went
        assert ("for the workers' encoding" in capsys.readouterr().err) == (workers == "2")
    assert outs[0] == outs[1] and outs[0].count(b"\n") == 12 + len(ADVERSARIAL)


# ²: a digit to str.isdigit that int() refuses, which argparse reported as "invalid _workers value"
@pytest.mark.parametrize("count", ["many", "²"])
def test_cli_predict_refuses_a_bad_worker_count(capsys: pytest.CaptureFixture, tmp_path: Path, count: str) -> None:
    from naba.cli import main

    with pytest.raises(SystemExit) as info:
        main(["predict", str(tmp_path), str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--workers", count])
    assert info.value.code == 2
    assert f"a count (0 or more) or auto, not {count!r}" in capsys.readouterr().err


def test_a_script_without_a_main_guard_fails_with_a_hint_instead_of_hanging(checkpoint: Path, tmp_path: Path) -> None:
    # spawned workers import the main module: this one starts workers again while they start
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from naba.predict import Tagger\n"
        f"tagger = Tagger.from_pretrained({str(checkpoint)!r}, device='cpu', workers=1)\n"
        "print(tagger(['قال الجيش إن مقاتلين دخلوا حماة', 'قال الجيش']))\n",  # one text starts no workers
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert "died" in done.stderr and '__name__ == "__main__"' in done.stderr


def _spawned_children(pid: int) -> list[int]:
    """The multiprocessing workers among ``pid``'s children (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _job_with_workers(checkpoint: Path, tmp_path: Path, **popen: object) -> tuple[subprocess.Popen, list[int]]:
    """``naba predict --workers 2`` started on a long input, once it has written something, and its workers."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(corpus(400))))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out), "--device", "cpu",
           "--workers", "2", "--chunk-docs", "4", "--no-progress"]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (out.exists() and out.stat().st_size):
        time.sleep(0.05)
    workers = _spawned_children(proc.pid)
    if proc.poll() is not None or len(workers) != 2:
        proc.kill()
        pytest.fail("the job ended (or had no workers) before it could be stopped")
    return proc, workers


def _gone(pids: list[int], *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return not left


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_workers_of_a_killed_job_do_not_linger(checkpoint: Path, tmp_path: Path) -> None:
    proc, workers = _job_with_workers(checkpoint, tmp_path, stderr=subprocess.DEVNULL)
    proc.kill()
    proc.wait()
    assert _gone(workers, within=30), "workers outlived their killed main process"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_a_worker_whose_results_were_never_read_exits_when_its_main_process_is_killed(checkpoint: Path, tmp_path: Path) -> None:
    # the worker's results fill the pipe (which it also holds open); at exit its queue would wait
    # to flush them forever unless told not to
    script = tmp_path / "unread.py"
    script.write_text(
        "import sys, time\n"
        "from naba.predict import Tagger\n"
        "from naba.predict.host import HostPool, worker_settings\n"
        'if __name__ == "__main__":\n'
        f"    tagger = Tagger.from_pretrained({str(checkpoint)!r}, device='cpu')\n"
        "    pool = HostPool(worker_settings(tagger._settings), 1)\n"
        "    texts = ['قال الجيش إن مقاتلين دخلوا مدينة حماة ' * 100] * 40\n"
        "    for seq in range(3):\n"
        "        pool.encode(seq, texts)\n"
        "    assert pool._results._reader.poll(60)  # the first result is on its way: the pipe is full\n"
        "    time.sleep(1)\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(600)\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen([sys.executable, str(script)], env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        workers = _spawned_children(proc.pid)
        assert len(workers) == 1
    finally:
        proc.kill()
        proc.wait()
    assert _gone(workers, within=20), "a worker with unread results outlived its killed main process"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_ctrl_c_stops_the_job_and_its_workers_quietly(checkpoint: Path, tmp_path: Path) -> None:
    # its own process group, as a terminal's job: Ctrl-C reaches the main process and the workers
    proc, workers = _job_with_workers(checkpoint, tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    # one line from the main process (naba's CLI catches the interrupt), nothing from the workers
    assert err.count("naba: interrupted") == 1 and "KeyboardInterrupt" not in err, err[-3000:]
    assert _gone(workers, within=15)


class NoPool:
    def __init__(self, *args: object, **kw: object) -> None:
        raise AssertionError("host workers started")


@pytest.mark.parametrize("texts", [WORD, [WORD], []], ids=["str", "list of one", "empty"])
def test_one_text_is_tagged_without_starting_host_workers(
    tagger: Tagger, texts: str | list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # one text cannot be shared among workers: tagger(text) with workers="auto" started a process
    # per core (seconds on a busy machine) for each text a notebook loop or a service tagged
    want = tagger(texts)
    with_workers = Tagger(tagger.model, tagger.tokenizer, tagger.space, tagger.info, device=tagger.device,
                          dtype=tagger.dtype, workers=2)
    monkeypatch.setattr("naba.predict.tagger.HostPool", NoPool)
    assert with_workers(texts) == want


@pytest.mark.parametrize("command", ["predict", "tag"])
def test_cli_out_of_memory_on_one_window_is_a_message_not_a_traceback(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # the Tagger halves a batch that runs out of memory down to one window, and then re-raises: the
    # command ended in CUDA's traceback, and said nothing of the documents already written
    from naba.cli import main
    from naba.predict.tagger import Tagger

    calls = []
    run = Tagger._run

    def failing(self, batch, *a, **kw):
        calls.append(len(batch))
        if len(calls) > (2 if command == "predict" else 0):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return run(self, batch, *a, **kw)

    monkeypatch.setattr(Tagger, "_run", failing)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(corpus(4))))
    out = tmp_path / "out.jsonl"
    if command == "predict":
        argv = ["predict", str(checkpoint), str(src), "-o", str(out), "--device", "cpu", "--workers", "0",
                "--chunk-docs", "1", "--batch-tokens", "1", "--no-progress"]
    else:
        argv = ["tag", str(checkpoint), "--device", "cpu", *(a for t in corpus(4) for a in ("--text", t))]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"naba: {checkpoint}: out of memory on cpu running a single window of up to" in err
    assert "Traceback" not in err
    if command == "predict":
        assert f"the documents tagged so far stay in {out}, and a rerun resumes after them" in err
        monkeypatch.setattr(Tagger, "_run", run)
        assert main(argv) == 0
        assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [f"d{i}" for i in range(len(corpus(4)))]


def test_cli_out_of_memory_message_on_torch_before_2_5(
    checkpoint: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torch >= 2.2 is declared; torch.OutOfMemoryError only exists from 2.5 on (CUDA raised
    # torch.cuda.OutOfMemoryError before): naming it in an except clause turned the error into
    # "module 'torch' has no attribute 'OutOfMemoryError'"
    from naba.cli import main
    from naba.predict.tagger import Tagger

    def failing(self, batch, *a, **kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(Tagger, "_run", failing)
    monkeypatch.delattr(torch, "OutOfMemoryError")
    assert main(["tag", str(checkpoint), "--device", "cpu", "--text", corpus(1)[0]]) == 2
    err = capsys.readouterr().err
    assert f"naba: {checkpoint}: out of memory on cpu running a single window of up to" in err


@pytest.mark.parametrize(
    ("dtype", "dtype_flag", "advice"),
    [
        (torch.float32, True, True),
        # a GPU's default is already bf16 (fp16 without it): the advice was to pass what was in use
        (torch.bfloat16, True, False),
        (torch.float16, True, False),
        (torch.float32, False, False),  # naba tag has no --dtype
    ],
)
def test_out_of_memory_advises_a_half_dtype_only_when_it_runs_in_fp32(dtype, dtype_flag: bool, advice: bool) -> None:
    from types import SimpleNamespace

    from naba.predict.commands import _out_of_memory

    tagger = SimpleNamespace(device=torch.device("cuda", 0), max_length=512, dtype=dtype)
    message = str(_out_of_memory("m", tagger, dtype_flag=dtype_flag))
    assert f"(dtype {str(dtype).removeprefix('torch.')})" in message
    assert ("use --dtype bf16 or fp16" in message) == advice
