"""The batch job behind ``naba predict``: order, rejects, resume after SIGKILL, torn lines, sharding."""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_predict_tagger import WORD, tiny_checkpoint

from naba.cli import main
from naba.corpus.labels import LabelScheme
from naba.errors import ConfigError, DataError, Problem
from naba.predict import Tagger, batch
from naba.predict.batch import Shard, job_device, merge_parts, part_path, run_job
from naba.predict.jobrecord import record_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("job"))


@pytest.fixture(scope="module")
def tagger(checkpoint: Path) -> Tagger:
    return Tagger.from_pretrained(checkpoint, device="cpu")


def _texts(n: int) -> list[str]:
    base = f"قال الجيش السوري إن مقاتلين دخلوا مدينة {WORD} بعد اشتباكات"
    return [" ".join([base] * (1 + i % 4)) + f" {i}" for i in range(n)]


def _write_jsonl(path: Path, n: int) -> list[str]:
    ids = [f"doc-{i:05d}" for i in range(n)]
    with path.open("w", encoding="utf-8") as fh:
        for doc_id, text in zip(ids, _texts(n), strict=True):
            fh.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    return ids


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.pop("WORLD_SIZE", None)
    return env


def test_job_writes_input_order_and_rejects_bad_records(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        '{"id": "a", "text": "قال الجيش"}',
        '{"id": "b", "text": ""}',
        '{"id": "c", "text": 3}',
        "{broken",
        '{"id": "a", "text": "again"}',
        '{"id": "d", "text": "حماة"}',
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_job(tagger, src, out, chunk_docs=2, progress=False)
    assert _ids(out) == ["a", "b", "d"]
    assert (result.written, result.skipped, result.rejected) == (3, 0, 3)
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"]) for r in rejects] == [(3, "c"), (4, None), (5, "a")]
    assert "duplicate id 'a'" in rejects[2]["reason"]
    for line in out.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        assert set(obj) == {"id", "spans"}


def test_rerun_skips_written_ids_and_repairs_a_torn_line(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 9)
    out = tmp_path / "out.jsonl"
    run_job(tagger, src, out, progress=False)
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4]) + lines[4][:17])  # a crash in the middle of line 5
    result = run_job(tagger, src, out, chunk_docs=2, progress=False)
    assert (result.written, result.skipped) == (5, 4)
    assert 0 < result.tokens < tagger.tokens_done  # this run's tokens, not the tagger's lifetime
    assert _ids(out) == ids
    assert out.read_bytes() == full


@pytest.mark.parametrize(
    ("second", "id_field", "foreign", "out_of_order"),
    [
        (["a", "b", "c", "d"], "id", 0, 0),  # the same input: resumed
        (["a", "b", "c", "d", "e"], "id", 0, 0),  # documents added at the end
        (["a", "b", "c", "d"], "url", 2, 0),  # another --id-field: every document again, under other ids
        (["d", "c", "b", "a"], "id", 0, 2),  # reordered: a and b now come after c and d
        (["b", "c", "d"], "id", 1, 0),  # a removed
    ],
)
def test_a_rerun_on_an_output_of_another_input_says_so(
    tagger: Tagger, tmp_path: Path, capsys: pytest.CaptureFixture, checkpoint: Path,
    second: list[str], id_field: str, foreign: int, out_of_order: int,
) -> None:
    # it went on silently: the output held documents twice, or ones of no input, or lost input order
    def write(ids: list[str]) -> None:
        src.write_text("".join(json.dumps({"id": i, "url": f"u-{i}", "text": f"قال {i}"}) + "\n" for i in ids))

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    def unrecorded() -> None:
        # another --id-field is refused by the job record (test_a_rerun_unlike_the_job_record): an output
        # of an older naba, without one, is still counted
        if id_field != "id":
            record_path(out).unlink()

    write(["a", "b"])
    run_job(tagger, src, out, progress=False)
    write(second)
    unrecorded()
    result = run_job(tagger, src, out, id_field=id_field, progress=False)
    assert (result.foreign, result.out_of_order) == (foreign, out_of_order)
    write(["a", "b"])
    out.unlink()
    run_job(tagger, src, out, progress=False)
    write(second)
    unrecorded()
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--id-field", id_field, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert (f"warning: {foreign} document(s) already in {out} are not in {src}" in err) == bool(foreign)
    assert (f"warning: {out_of_order} document(s) already in {out} come after new ones" in err) == bool(out_of_order)


@pytest.mark.parametrize(("first", "second"), [(False, True), (True, False)])
def test_a_rerun_with_other_with_text_is_refused(tagger: Tagger, tmp_path: Path, first: bool, second: bool) -> None:
    # lines with their text and lines without went into one output
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    run_job(tagger, src, out, with_text=first, progress=False)
    before = out.read_bytes()
    _write_jsonl(src, 3)
    with pytest.raises(ConfigError, match=f"written {'with' if first else 'without'} --with-text"):
        run_job(tagger, src, out, with_text=second, progress=False)
    assert out.read_bytes() == before
    run_job(tagger, src, out, with_text=first, progress=False)
    assert _ids(out) == [f"doc-{i:05d}" for i in range(3)]


@pytest.mark.parametrize(("rank", "part"), [(0, 0), (0, 1), (1, 0), (1, 1)])  # every process, whichever part
def test_a_sharded_rerun_with_other_with_text_is_refused(tagger: Tagger, tmp_path: Path, rank: int, part: int) -> None:
    # until the merge a sharded run's lines are all in its parts, which the output's first line did not check
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    part_path(out, part, 2).write_text('{"id": "doc-00001", "text": "x", "spans": []}\n')
    with pytest.raises(ConfigError, match="written with --with-text"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=rank, world=2))
    assert part_path(out, part, 2).read_text() == '{"id": "doc-00001", "text": "x", "spans": []}\n'
    assert not part_path(out, 1 - part, 2).exists()


@pytest.fixture(scope="module")
def other_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny checkpoint: the first's shape and tokenizer, other weights (a retrained model)."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("retrained")
    ckpt = tiny_checkpoint(folder)
    weights = load_file(ckpt / "model.safetensors")
    name = next(k for k in sorted(weights) if k.endswith("classifier.weight"))
    weights[name] = weights[name] + 0.5
    save_file(weights, ckpt / "model.safetensors", metadata={"format": "pt"})
    return ckpt


def _rerun_tagger(change: str, checkpoint: Path, other: Path) -> Tagger:
    """A tagger for the rerun: ``change`` says what differs from the first run's."""
    if change == "model":
        return Tagger.from_pretrained(other, device="cpu")
    tagger = Tagger.from_pretrained(checkpoint, device="cpu", dtype="bf16" if change == "dtype" else None)
    if change == "max_length":
        tagger.max_length = 32
    if change == "stride":
        tagger.stride = 8
    return tagger


@pytest.mark.parametrize(
    ("change", "options", "refused", "warned"),
    [
        # a rerun with a retrained model resumed the output: old lines the old model's, new ones the new one's
        ("model", {}, "model: {ckpt} (sha256 ", None),
        ("rules", {"rules": True}, "--rules: off -> on", None),
        ("max_length", {}, "max_length: 64 -> 32", None),
        ("stride", {}, "stride: 16 -> 8", None),
        ("id_field", {"id_field": "url"}, '--id-field: "id" -> "url"', None),
        ("text_field", {"text_field": "body"}, '--text-field: "text" -> "body"', None),
        # bf16 on one GPU, fp32 on another: the same job, resumed, with a warning
        ("dtype", {}, None, "resuming with another dtype: float32 -> bfloat16"),
        ("nothing", {}, None, None),  # the same job resumes as before
    ],
)
def test_a_rerun_unlike_the_job_record(
    checkpoint: Path, other_checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    change: str, options: dict[str, Any], refused: str | None, warned: str | None,
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"

    def write(n: int) -> None:
        src.write_text("".join(json.dumps({"id": f"d{i}", "url": f"d{i}", "text": f"قال {i}", "body": f"قال {i}"},
                                          ensure_ascii=False) + "\n" for i in range(n)), encoding="utf-8")

    write(2)
    run_job(Tagger.from_pretrained(checkpoint, device="cpu"), src, out, progress=False)
    record = json.loads(record_path(out).read_text())
    assert (record["rules"], record["max_length"], record["stride"], record["dtype"]) == (False, 64, 16, "float32")
    assert len(record["model"]) == 64 and record["model_path"] == str(checkpoint)
    before = out.read_bytes()
    write(3)
    tagger = _rerun_tagger(change, checkpoint, other_checkpoint)
    with caplog.at_level("WARNING"):
        if refused is not None:
            with pytest.raises(ConfigError) as caught:
                run_job(tagger, src, out, progress=False, **options)
            message = str(caught.value)
            assert message.startswith(f"{out}: its lines were written by another job (out.jsonl.job.json)")
            assert refused.format(ckpt=checkpoint) in message and "write to another -o" in message
            assert out.read_bytes() == before and json.loads(record_path(out).read_text()) == record
            return
        result = run_job(tagger, src, out, progress=False, **options)
    assert (result.written, result.skipped) == (1, 2) and _ids(out) == ["d0", "d1", "d2"]
    assert (warned in caplog.text) if warned else "another" not in caplog.text
    assert json.loads(record_path(out).read_text()) == record  # the first run's, kept


@pytest.mark.parametrize("extra", ["metrics.json", "notes.txt", "README.md"])
def test_a_copy_of_the_model_with_other_files_beside_it_resumes(
    checkpoint: Path, tmp_path: Path, extra: str
) -> None:
    # the same weights and tokenizer copied to a deploy folder with the run's metrics.json (an eval
    # report, which jobrecord says is not hashed) were "model: ... -> ..." and refused
    import shutil

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _write_jsonl(src, 2)
    run_job(Tagger.from_pretrained(checkpoint, device="cpu"), src, out, progress=False)
    copy = tmp_path / "deploy"
    shutil.copytree(checkpoint, copy)
    (copy / extra).write_text('{"micro_f1": 0.5}\n', encoding="utf-8")
    ids = _write_jsonl(src, 3)
    result = run_job(Tagger.from_pretrained(copy, device="cpu"), src, out, progress=False)
    assert (result.written, result.skipped) == (1, 2) and _ids(out) == ids


def test_a_rerun_with_another_model_is_refused_by_the_cli(
    checkpoint: Path, other_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--no-progress"]) == 0
    before = out.read_bytes()
    _write_jsonl(src, 3)
    assert main(["predict", str(other_checkpoint), str(src), "-o", str(out), "--no-progress", "--rules"]) == 2
    err = capsys.readouterr().err
    assert f"model: {checkpoint} (sha256 " in err and f"-> {other_checkpoint} (sha256 " in err
    assert "--rules: off -> on" in err and "Rerun with the same model and options" in err
    assert out.read_bytes() == before
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--no-progress"]) == 0
    assert _ids(out) == [f"doc-{i:05d}" for i in range(3)]


def test_an_output_without_a_record_is_resumed_with_a_warning_and_gets_one(
    tagger: Tagger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # an output of an older naba (or another tool): nothing to check it against, said once
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _write_jsonl(src, 3)
    out.write_text(json.dumps({"id": ids[0], "spans": []}) + "\n")
    with caplog.at_level("WARNING"):
        result = run_job(tagger, src, out, progress=False)
    assert (result.written, result.skipped) == (2, 1) and _ids(out) == ids
    assert caplog.text.count("has lines but no job record out.jsonl.job.json") == 1
    assert json.loads(record_path(out).read_text())["model_path"] == tagger.checkpoint
    caplog.clear()
    with caplog.at_level("WARNING"), pytest.raises(ConfigError, match="--rules: off -> on"):
        run_job(tagger, src, out, rules=True, progress=False)  # checked from now on
    assert "no job record" not in caplog.text


def test_a_new_output_gets_a_fresh_record_and_a_damaged_one_is_refused(tagger: Tagger, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    record_path(out).write_text('{"rules": true}\n')  # a record left by a deleted output: replaced
    run_job(tagger, src, out, progress=False)
    assert json.loads(record_path(out).read_text())["rules"] is False
    record_path(out).write_text("{not json")
    _write_jsonl(src, 3)
    with pytest.raises(ConfigError, match="out.jsonl.job.json: cannot read it: .*Delete it to resume unchecked"):
        run_job(tagger, src, out, progress=False)


def test_a_first_run_that_fails_before_a_line_leaves_no_record(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the record describes the output's lines: one of a run that wrote none would outlive its output
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise DataError("the device failed")

    monkeypatch.setattr(tagger, "tag_documents", fail)
    with pytest.raises(DataError):
        run_job(tagger, src, out, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ({"rules": True}, "--rules: off -> on"),
        ({"id_field": "url"}, '--id-field: "id" -> "url"'),
    ],
)
def test_a_failed_sharded_first_run_keeps_the_record_of_its_parts(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], refused: str
) -> None:
    # process 0 failed (out of memory, Ctrl-C) after process 1 had tagged into its part: the lock's cleanup
    # removed the empty output and the record with it, so a rerun with other options took the part's
    # lines for an older naba's, warned, and resumed them into a mixed output
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    tag, calls = tagger.tag_documents, []

    def fail_on_process_0(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # process 1 (run at process 0's first barrier) tagged first
            raise DataError("the device failed")
        return tag(*args, **kwargs)

    monkeypatch.setattr(tagger, "tag_documents", fail_on_process_0)

    def barrier() -> None:  # process 1 runs its share while process 0 waits at its first barrier
        if not calls:
            run_job(tagger, src, out, progress=False, shard=Shard(rank=1, world=2))

    with pytest.raises(DataError, match="the device failed"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2, barrier=barrier))
    assert _ids(part_path(out, 1, 2)) == ["doc-00001", "doc-00003"]
    monkeypatch.undo()
    with pytest.raises(ConfigError, match=re.escape(refused)):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2), **options)


def test_a_tagger_hashes_its_model_once_for_every_job(checkpoint: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # each run_job read the whole checkpoint again (a 500 MB model: a third of a second a job)
    from naba.predict import jobrecord

    calls = []
    real = jobrecord.model_fingerprint
    monkeypatch.setattr(jobrecord, "model_fingerprint", lambda folder: calls.append(folder) or real(folder))
    tagger = Tagger.from_pretrained(checkpoint, device="cpu")
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 2)
    for name in ("a.jsonl", "b.jsonl", "a.jsonl"):
        run_job(tagger, src, tmp_path / name, progress=False)
    assert len(calls) == 1
    assert json.loads(record_path(tmp_path / "b.jsonl").read_text())["model"] == real(tagger.checkpoint)


def test_a_tagger_whose_checkpoint_was_saved_again_refuses_to_record_it(checkpoint: Path, tmp_path: Path) -> None:
    # hashed at the first job, the record named the new files while the weights loaded before them tagged:
    # a later run with the new weights then resumed those lines as its own
    import shutil

    folder = shutil.copytree(checkpoint, tmp_path / "ckpt")
    tagger = Tagger.from_pretrained(folder, device="cpu")
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a run saved into it again
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 2)
    with pytest.raises(ConfigError, match="its files changed since this Tagger loaded them"):
        run_job(tagger, src, tmp_path / "out.jsonl", progress=False)
    assert not (tmp_path / "out.jsonl").exists()
    run_job(Tagger.from_pretrained(folder, device="cpu"), src, tmp_path / "out.jsonl", progress=False)  # loaded again


@pytest.mark.parametrize("name", ["old.safetensors", "special_tokens_map.json", "vocab.txt"])
def test_a_model_file_that_cannot_be_read_is_one_line(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # a file the model loads without but the job record hashes (a stray copy of the weights, a hub
    # model's special_tokens_map.json), unreadable (another user's, mode 600): a PermissionError traceback
    import shutil

    folder = shutil.copytree(checkpoint, tmp_path / "ckpt")
    (folder / name).write_bytes(b"{}")
    if os.geteuid() == 0:  # root reads a mode-000 file: refuse it where naba opens it
        real = Path.open

        def refuse(self: Path, *args: Any, **kwargs: Any):
            if self.name == name:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    else:
        (folder / name).chmod(0)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    assert main(["predict", str(folder), str(src), "-o", str(out), "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err  # its last line: in process, transformers' "Loading weights" bar comes first
    assert err.splitlines()[-1] == f"naba: {folder / name}: cannot read it to record which model wrote the output: " \
                                   "Permission denied" and "Traceback" not in err
    assert not out.exists() and not record_path(out).exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_every_process_stops_when_process_0_cannot_write_the_job_record(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rank: int
) -> None:
    # written after the shared check, a failed record write stopped process 0 alone: the others tagged
    # their shares and died in a gloo traceback at the merge
    from naba.predict import batch

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    full = [Problem(str(record_path(out)), "", "cannot write file: No space left on device")]

    def no_space(path: Path, record: dict) -> None:
        raise DataError(full)

    monkeypatch.setattr(batch, "write_record", no_space)
    shared: list[Any] = []

    def gather(mine: list[Any]) -> list[Any]:
        shared.append(mine[0])
        return [mine[0], None] if rank == 0 else [full if len(shared) == 2 else None, mine[0]]

    with pytest.raises(DataError, match="out.jsonl.job.json: cannot write file: No space left on device"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=rank, world=2, gather=gather))
    assert shared == [None, full if rank == 0 else None]  # the first check, then the record's
    assert not part_path(out, rank, 2).exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_every_process_stops_with_process_0s_refusal(tagger: Tagger, tmp_path: Path, rank: int) -> None:
    # only process 0 reads the record: the others, sharing in its gather, stop with its message
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    run_job(tagger, src, out, progress=False)
    message = "refused by process 0"
    shard = Shard(rank=rank, world=2, gather=lambda mine: [message if rank else mine[0], None if rank else mine[0]])
    with pytest.raises(ConfigError, match="--rules: off -> on" if rank == 0 else message):
        run_job(tagger, src, out, progress=False, shard=shard, rules=True)
    assert not part_path(out, rank, 2).exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_every_process_stops_when_process_0_finds_the_output_damaged(tagger: Tagger, tmp_path: Path, rank: int) -> None:
    # process 0 raised before the collective the others wait in: they died in a gloo traceback
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    out.write_bytes(b"garbage\n")
    shared: list[Any] = []
    damaged = [Problem(str(out), "line 1", "not a naba prediction line; will not append to it")]

    def gather(mine: list[Any]) -> list[Any]:
        shared.append(mine[0])
        return [mine[0], None] if rank == 0 else [damaged, mine[0]]

    with pytest.raises(DataError, match="out.jsonl: line 1: not a naba prediction line"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=rank, world=2, gather=gather))
    assert shared == [damaged if rank == 0 else None]
    assert out.read_bytes() == b"garbage\n" and not part_path(out, rank, 2).exists()


def _held(out: Path) -> Any:
    import fcntl

    fh = out.open("ab")
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fh


def _dangling(out: Path) -> Any:
    out.symlink_to(out.parent / "gone" / "out.jsonl")


@pytest.mark.parametrize(
    ("make", "error", "said"),
    [
        # a second job on the output (a scheduler's retry): process 0 raised before the collective the
        # others wait in, and they died in a gloo traceback
        (_held, ConfigError, "another naba predict is writing it now"),
        (_dangling, DataError, "cannot write file"),
    ],
    ids=["locked", "unopenable"],
)
def test_process_0_shares_why_it_cannot_take_the_output(tagger: Tagger, tmp_path: Path, make, error, said) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    held = make(out)
    shared: list[Any] = []

    def gather(mine: list[Any]) -> list[Any]:
        shared.append(mine[0])
        return [mine[0], None]

    try:
        with pytest.raises(error, match=said):
            run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2, gather=gather))
    finally:
        if held is not None:
            held.close()
    assert len(shared) == 1 and said in str(shared[0])


@pytest.mark.parametrize("rank", [0, 1])
def test_process_0_shares_a_damaged_part(tagger: Tagger, tmp_path: Path, rank: int) -> None:
    # a part's own process found the damage after the collective and stopped alone: the others tagged
    # their shares and died in a gloo traceback ("Connection closed by peer") at the merge's barrier
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    part_path(out, rank, 2).write_bytes(b'garbage\n{"id": "d1", "spans": []}\n')
    shared: list[Any] = []

    def gather(mine: list[Any]) -> list[Any]:
        shared.append(mine[0])
        return [mine[0], None]

    with pytest.raises(DataError, match="line 1: not a naba prediction line"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2, gather=gather))
    assert len(shared) == 1 and [(x.source, x.where) for x in shared[0]] == [(str(part_path(out, rank, 2)), "line 1")]
    assert not part_path(out, 1 - rank, 2).exists()  # nothing tagged


@pytest.mark.slow
def test_torchrun_on_a_damaged_output_stops_every_process_with_its_message(checkpoint: Path, tmp_path: Path) -> None:
    from test_train_run import naba_exit

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 4)
    out.write_bytes(b'{"id": "a", "label": []}\n')  # an annotated corpus given as -o
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out), "--no-progress"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and naba_exit(said, 1), said[-3000:]
    assert said.count("line 1: not a naba prediction line") == 2, said[-3000:]  # once from each process
    assert "Connection closed" not in said, said[-3000:]  # process 1's gloo traceback, before
    assert out.read_bytes() == b'{"id": "a", "label": []}\n'


@pytest.mark.slow
def test_torchrun_rerun_with_other_rules_stops_every_process(tagger: Tagger, checkpoint: Path, tmp_path: Path) -> None:
    # process 1, which does not read the record, went on tagging into its part while process 0 stopped
    from test_train_run import naba_exit

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 3)
    run_job(tagger, src, out, progress=False)
    _write_jsonl(src, 6)
    before = sorted(p.name for p in tmp_path.iterdir())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out), "--no-progress", "--rules"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and naba_exit(said, 2), said[-3000:]
    assert said.count("--rules: off -> on") == 2, said[-3000:]  # once from each process
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("first", [b"garbage\n", b"[1, 2]\n", b'{"id": "a", "label": []}\n'])
def test_a_part_that_is_not_predictions_is_a_data_error(tagger: Tagger, tmp_path: Path, first: bytes) -> None:
    # the --with-text check of the parts read them before their process had checked them: a raw JSON error
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    part_path(out, 0, 2).write_bytes(first)
    with pytest.raises(DataError, match="line 1: not a naba prediction line"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2))
    assert part_path(out, 0, 2).read_bytes() == first


@pytest.mark.slow
def test_resume_after_sigkill_has_every_id_once_in_order(tagger: Tagger, checkpoint: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 400)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out),
           "--chunk-docs", "4", "--no-progress"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > 0:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the job ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    raw = out.read_bytes()
    assert 0 < raw.count(b"\n") < len(ids), "killed mid-run"
    result = run_job(tagger, src, out, chunk_docs=16, progress=False)
    assert result.skipped >= 1
    assert _ids(out) == ids


@pytest.mark.parametrize(
    "leftovers",
    [
        # what a SIGKILL leaves: the rejects file's temporary (open for the whole run), or the
        # temporary of a sharded run's merge (a whole copy of the output), one more each kill
        [".out.rejects.jsonl.bd804477.tmp"],
        [".out.jsonl.0a1b2c3d.tmp", ".out.rejects.jsonl.11111111.tmp", ".out.rejects.jsonl.22222222.tmp"],
        [".out.jsonl.job.json.abcdef01.tmp"],  # the job record's, killed while it was written
    ],
)
def test_a_rerun_removes_the_temporary_files_of_a_killed_run(
    tagger: Tagger, tmp_path: Path, leftovers: list[str]
) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 3)
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": ids[0], "spans": []}) + "\n")
    for name in leftovers:
        (tmp_path / name).write_text('{"id": "doc-00001", "spans": []}\n{"id": ')
    (tmp_path / ".out.jsonl.notmine.tmp").write_text("")  # not a name naba makes: left alone
    result = run_job(tagger, src, out, progress=False)
    assert (result.written, result.skipped) == (2, 1) and _ids(out) == ids
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".out.jsonl.notmine.tmp", "in.jsonl", "out.jsonl", "out.jsonl.job.json", "out.rejects.jsonl"
    ]


@pytest.mark.parametrize(("fmt", "name"), [("labelstudio", "tasks.json"), ("conll", "tags.conll")])
def test_a_rerun_removes_the_temporary_file_of_a_killed_export(
    checkpoint: Path, tmp_path: Path, fmt: str, name: str
) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 2)
    (tmp_path / f".{name}.5e5e5e5e.tmp").write_text("[\n")  # killed while the export was written
    args = ["predict", str(checkpoint), str(src), "-o", str(tmp_path / name), "--format", fmt, "--no-progress"]
    assert main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.jsonl", name, Path(name).stem + ".rejects.jsonl"])


@pytest.mark.parametrize("kind", ["txt", "folder", "parquet"])
def test_input_formats(tagger: Tagger, tmp_path: Path, kind: str) -> None:
    texts = {"b-doc": "قال الجيش السوري", "a-doc": f"دخلوا {WORD}\r\n"}
    if kind == "txt":
        src = tmp_path / "b-doc.txt"
        src.write_bytes(texts["b-doc"].encode())
        expected = ["b-doc"]
    elif kind == "folder":
        src = tmp_path / "docs"
        src.mkdir()
        for doc_id, text in texts.items():
            (src / f"{doc_id}.txt").write_bytes(text.encode())
        expected = ["a-doc", "b-doc"]
    else:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        src = tmp_path / "in.parquet"
        pq.write_table(pa.table({"key": list(texts), "body": list(texts.values())}), src, row_group_size=1)
        expected = list(texts)
    out = tmp_path / "out.jsonl"
    run_job(tagger, src, out, id_field="key", text_field="body", with_text=True, progress=False)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == expected
    for row in rows:
        assert row["text"] == texts[row["id"]]
        assert all(row["text"][s["start"] : s["end"]] == s["text"] for s in row["spans"])


def test_rules_replace_the_claim_layer(tagger: Tagger, tmp_path: Path) -> None:
    from naba.claims import find_claims

    text = "قال الجيش السوري إن مقاتلين من المعارضة دخلوا مدينة حماة."
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    run_job(tagger, src, tmp_path / "out.jsonl", rules=True, progress=False)
    spans = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["spans"]
    claims = [s for s in spans if s["layer"] == "claim"]
    assert claims == find_claims(text) and claims
    assert [s for s in spans if s["layer"] == "entity"] == [s for s in tagger(text) if s["layer"] == "entity"]


@pytest.mark.parametrize(
    ("layers", "other"),
    [({"entity": ("ACTOR", "LOCATION", "CLAIM")}, "entity"), ({"entity": ("ACTOR",), "claims": ("CLAIM",)}, "claims")],
)
def test_cli_rules_refuse_a_model_with_claim_in_another_layer_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture, layers: dict, other: str
) -> None:
    # the label scheme's own error named neither the model nor --rules
    checkpoint = tiny_checkpoint(tmp_path, scheme=LabelScheme(layers))
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 1)
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--rules", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{checkpoint}: --rules writes CLAIM in layer 'claim', but this model has CLAIM in its layer {other!r}" in err
    assert not out.exists()
    # the Python API refuses it too, before any output is written
    with pytest.raises(ConfigError, match=f"this model has CLAIM in its layer {other!r}"):
        run_job(Tagger.from_pretrained(checkpoint, device="cpu"), src, out, rules=True, progress=False)
    assert not out.exists()


@pytest.mark.parametrize("name", ["none.jsonl", "bad.parquet"])
def test_unreadable_input_leaves_no_output(tagger: Tagger, tmp_path: Path, name: str) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError):
        run_job(tagger, tmp_path / name, tmp_path / "out.jsonl", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


def test_merge_parts_round_robin_after_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "0"}\n')
    shares = {0: ["1", "3", "5"], 1: ["2", "4"]}
    for rank, ids in shares.items():
        part_path(out, rank, 2).write_text("".join(f'{{"id": "{i}"}}\n' for i in ids))
    merge_parts(out, 2)
    assert _ids(out) == ["0", "1", "2", "3", "4", "5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_merge_interrupted_before_the_parts_were_deleted_is_not_repeated(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "1"}\n{"id": "2"}\n{"id": "3"}\n')  # merged, then the crash
    part_path(out, 0, 2).write_text('{"id": "1"}\n{"id": "3"}\n')
    part_path(out, 1, 2).write_text('{"id": "2"}\n')
    merge_parts(out, 2, done={"1", "2", "3"})
    assert _ids(out) == ["1", "2", "3"]


def test_a_merge_interrupted_between_the_part_deletions_is_finished(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "1"}\n{"id": "2"}\n{"id": "3"}\n')  # merged, part 0 deleted, then the crash
    part_path(out, 1, 2).write_text('{"id": "2"}\n')
    merge_parts(out, 2, done={"1", "2", "3"})
    assert _ids(out) == ["1", "2", "3"] and not part_path(out, 1, 2).exists()


def test_a_merge_interrupted_before_the_parts_were_deleted_resumes_on_a_grown_input(
    tagger: Tagger, tmp_path: Path
) -> None:
    # the part's lines, merged already, were taken for the first documents this process still had to do
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "spans": []}\n{"id": "b", "spans": []}\n')  # merged, then the crash
    part_path(out, 0, 2).write_text('{"id": "a", "spans": []}\n')
    src.write_text("".join(json.dumps({"id": i, "text": f"قال {i}"}) + "\n" for i in "abcd"))  # c, d added
    for rank in (1, 0):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=rank, world=2))
    assert _ids(out) == ["a", "b", "c", "d"]


class _FullDisk:
    """A file being written whose writes fail as on a full disk (once its buffer fills)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


@pytest.mark.parametrize("where", ["rejects", "merge"])
def test_a_disk_that_fills_part_way_is_a_data_error_naming_the_file(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # the rejects file (written all run long) and a merge (a second copy of the output) ended the job with a
    # raw OSError traceback; the output's own appends said "cannot write file"
    real = batch.atomic_open

    @contextlib.contextmanager
    def full(path: Path, mode: str = "w") -> Any:
        with real(path, mode) as fh:
            yield _FullDisk(fh)

    monkeypatch.setattr(batch, "atomic_open", full)
    out = tmp_path / "out.jsonl"
    if where == "rejects":
        src = tmp_path / "in.jsonl"
        src.write_text('{"id": "a", "text": 3}\n{"id": "b", "text": "قال"}\n', encoding="utf-8")
        name = "out.rejects.jsonl"
        before = {"in.jsonl": src.read_bytes()}
        with pytest.raises(DataError, match=re.escape(f"{tmp_path / name}: cannot write file: No space left")):
            run_job(tagger, src, out, progress=False)
    else:
        out.write_text('{"id": "0"}\n')
        part_path(out, 0, 2).write_text('{"id": "1"}\n')
        part_path(out, 1, 2).write_text('{"id": "2"}\n')
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        with pytest.raises(DataError, match=re.escape(f"{out}: cannot write file: No space left")):
            merge_parts(out, 2)
    # no temporary file left, nothing else changed (a first run's empty output and its record removed)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_merge_parts_refuses_uneven_shares(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    part_path(out, 0, 2).write_text('{"id": "1"}\n')
    part_path(out, 1, 2).write_text('{"id": "2"}\n{"id": "4"}\n')
    with pytest.raises(DataError, match="more lines than its share"):
        merge_parts(out, 2)
    assert not out.exists()


@pytest.mark.parametrize(("output", "rejects"), [("out.jsonl.gz", None), ("out.jsonl", "bad.jsonl.bz2")])
def test_run_job_refuses_a_compressed_name_for_what_it_writes_plain(
    tagger: Tagger, tmp_path: Path, output: str, rejects: str | None
) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 2)
    with pytest.raises(ConfigError, match="is written as plain text .* compress it once the job is done"):
        run_job(tagger, src, tmp_path / output, rejects=rejects and tmp_path / rejects, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_parts_of_another_world_size_are_refused(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 2)
    out = tmp_path / "out.jsonl"
    part_path(out, 0, 3).write_text("")
    with pytest.raises(ConfigError, match="another number of processes"):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2))
    # one process too: the parts hold documents the output does not
    with pytest.raises(ConfigError, match="another number of processes"):
        run_job(tagger, src, out, progress=False)
    # an output name with glob characters still finds its parts
    odd = tmp_path / "tags[1].jsonl"
    part_path(odd, 1, 2).write_text("")
    with pytest.raises(ConfigError, match="another number of processes"):
        run_job(tagger, src, odd, progress=False)


def test_one_shard_of_two_takes_every_other_document(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 7)
    out = tmp_path / "out.jsonl"
    run_job(tagger, src, out, progress=False, shard=Shard(rank=1, world=2))
    assert _ids(part_path(out, 1, 2)) == ids[1::2]


@pytest.mark.parametrize(
    "second",
    [
        ["x", "a", "b", "c", "d"],  # a document put first: a and b now belong to the other process
        ["x", "y", "a", "b", "c", "d"],  # two: a and b come after new documents of their own processes
        ["b", "a", "c", "d"],
    ],
)
def test_a_sharded_resume_on_a_changed_input_is_refused(tagger: Tagger, tmp_path: Path, second: list[str]) -> None:
    # the parts of a killed run hold the documents the old input gave each process: a resume on another
    # order tagged a and b again in the other process's part, and the merge wrote each of them twice
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    part_path(out, 0, 2).write_text('{"id": "a", "spans": []}\n')
    part_path(out, 1, 2).write_text('{"id": "b", "spans": []}\n')
    src.write_text("".join(json.dumps({"id": i, "text": f"قال {i}"}) + "\n" for i in second))
    refused = 0
    for rank in (1, 0):  # process 0 merges, once the barrier (none here) is passed
        try:
            run_job(tagger, src, out, progress=False, shard=Shard(rank=rank, world=2))
        except ConfigError as exc:
            assert "the input changed since a killed run wrote" in str(exc)
            refused += 1
    assert refused == 2
    assert not out.exists() or _ids(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "1"])  # 1: each process with a host worker, as on a GPU node
def test_torchrun_two_processes_match_one(tagger: Tagger, checkpoint: Path, tmp_path: Path, workers: str) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 23)
    with src.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "doc-00003", "text": "duplicate"}\n')
    single = tmp_path / "single.jsonl"
    run_job(tagger, src, single, progress=False)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out), "--chunk-docs", "3",
           "--no-progress", "--workers", workers]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _ids(out) == ids
    mine = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    theirs = [json.loads(x) for x in single.read_text(encoding="utf-8").splitlines()]
    for a, b in zip(mine, theirs, strict=True):
        assert [(s["start"], s["end"], s["label"]) for s in a["spans"]] == [
            (s["start"], s["end"], s["label"]) for s in b["spans"]
        ]
        assert [s["score"] for s in a["spans"]] == pytest.approx([s["score"] for s in b["spans"]], abs=2e-4)
    rejects = (tmp_path / "out.rejects.jsonl").read_text().splitlines()
    assert len(rejects) == 1 and "duplicate id" in rejects[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.jsonl", "out.jsonl", "out.jsonl.job.json", "out.rejects.jsonl",
        "single.jsonl", "single.jsonl.job.json", "single.rejects.jsonl",
    ]
    # process 0's record is the one job's, as one process's is
    assert json.loads(record_path(out).read_text()) == json.loads(record_path(single).read_text())


def test_cli_predict_reports_counts(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "قال الجيش"}\n{"id": 1}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    rejects = tmp_path / "bad.jsonl"
    code = main(["predict", str(checkpoint), str(src), "-o", str(out), "--rejects", str(rejects), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert "1 document(s) tagged" in err and "1 rejected" in err
    assert _ids(out) == ["a"] and len(rejects.read_text().splitlines()) == 1
    assert "every record was rejected" not in err
    # a wrong field name rejects everything: the reason is printed, not only the count
    code = main(["predict", str(checkpoint), str(src), "-o", str(tmp_path / "o2.jsonl"), "--text-field", "body",
                 "--no-progress"])
    assert code == 0
    assert "every record was rejected; the first, line 1: no 'body' field" in capsys.readouterr().err



def test_cli_predict_reads_a_jsonl_gz(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plain = tmp_path / "plain.jsonl"
    ids = _write_jsonl(plain, 5)
    src = tmp_path / "articles.jsonl.gz"
    src.write_bytes(gzip.compress(b"\xef\xbb\xbf" + plain.read_bytes() + b'{"id": 1}\n'))
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--no-progress", "--device", "cpu"]) == 0
    assert "5 document(s) tagged" in capsys.readouterr().err
    assert main(["predict", str(checkpoint), str(plain), "-o", str(tmp_path / "plain-out.jsonl"), "--no-progress",
                 "--device", "cpu"]) == 0
    assert _ids(out) == ids and out.read_text() == (tmp_path / "plain-out.jsonl").read_text()
    (reject,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (reject["source"], reject["line"], reject["reason"]) == (str(src), 6, "no 'text' field")
    # cut short, the same command tags what it read and exits 1 naming the line, with no traceback
    out.unlink()
    src.write_bytes(gzip.compress(plain.read_bytes())[:-8])
    assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--no-progress", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert f"{src}: line 6: compressed stream ends early: the file is truncated" in err and "Traceback" not in err
    assert _ids(out) == ids


def test_cli_predict_no_fast_path_runs_transformers_forward(checkpoint: Path, tmp_path: Path, monkeypatch) -> None:
    made = []
    real = Tagger.from_pretrained

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(Tagger, "from_pretrained", spy)
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 6)
    outs = []
    for flag in ([], ["--no-fast-path"]):
        out = tmp_path / f"out{len(flag)}.jsonl"
        assert main(["predict", str(checkpoint), str(src), "-o", str(out), "--no-progress", "--device", "cpu", *flag]) == 0
        outs.append([json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()])
    assert made[0].fast is not None and made[1].fast is None
    # same ids, same spans (up to a score's last rounded digit)
    strip = [[{**s, "score": round(s["score"], 2)} for s in line["spans"]] for line in outs[0]]
    assert [line["id"] for line in outs[0]] == [line["id"] for line in outs[1]]
    assert strip == [[{**s, "score": round(s["score"], 2)} for s in line["spans"]] for line in outs[1]]


def test_a_hidden_output_in_the_input_folder_is_no_document(checkpoint: Path, tmp_path: Path) -> None:
    # the folder input skips hidden files, so .tags.txt there is no document of a rerun: it was refused
    # as "a .txt file in the input folder, whose .txt files are its documents"
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "a.txt").write_text("قال الجيش السوري", encoding="utf-8")
    out = sub / ".tags.txt"
    for _ in range(2):
        assert main(["predict", str(checkpoint), str(sub), "-o", str(out), "--no-progress"]) == 0
    assert _ids(out) == ["a"]


def test_cli_predict_refuses_a_layer_a_local_model_lacks_before_loading_it(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the model was loaded first (seconds for AraBERT, every process of a GPU job), and only then was the
    # --layer found missing; its naba.json names the layers
    def no_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Tagger, "from_pretrained", no_load)
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "x"}\n')
    argv = ["predict", str(checkpoint), str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.conll"),
            "--format", "conll", "--layer", "nope"]
    assert main(argv) == 2
    assert "no layer 'nope' to export; the model has ['entity', 'claim']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["predict", "{ckpt}", "{tmp}/none.jsonl", "-o", "{tmp}/o.jsonl"], 1, "no such file"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl"], 2, "not a naba checkpoint"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--batch-tokens", "0"], 2, "at least 1"),
        # paths that would destroy data: resuming reads (and repairs) the output, rejects replace theirs
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/in.jsonl"], 2, "the output is the input"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/sub/../in.jsonl"], 2, "the output is the input"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/in.jsonl", "--format", "labelstudio"], 2,
         "the output is the input"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--rejects", "{tmp}/in.jsonl"], 2,
         "the rejects file is the input"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--rejects", "{tmp}/o.jsonl"], 2,
         "the rejects file is the output"),
        # an export replaced the rejects file with itself once the whole corpus was tagged (exit 0)
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.json", "--format", "labelstudio", "--rejects",
          "{tmp}/o.json"], 2, "o.json: the rejects file is the output"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.conll", "--format", "conll", "--rejects",
          "{tmp}/./o.conll"], 2, "o.conll: the rejects file is the output"),
        # a .txt file in the input folder: a rerun read the output as one more document
        (["predict", "{ckpt}", "{tmp}/sub", "-o", "{tmp}/sub/tags.txt"], 2,
         "tags.txt: the output is a .txt file in the input folder"),
        (["predict", "{ckpt}", "{tmp}/sub", "-o", "{tmp}/o.jsonl", "--rejects", "{tmp}/sub/../sub/bad.TXT"], 2,
         "bad.TXT: the rejects file is a .txt file in the input folder"),
        (["predict", "{ckpt}", "{tmp}/sub/", "-o", "{tmp}/sub/tags.txt", "--format", "conll"], 2,
         "tags.txt: the output is a .txt file in the input folder"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/sub"], 2, "is a folder"),
        # was found only once the whole corpus was tagged into o.jsonl: exit 1, the rejects lost
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--rejects", "{tmp}/sub"], 2,
         "sub: is a folder; the rejects file is a file"),
        # an export into a folder failed only once the whole corpus was tagged (exit 1)
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/sub", "--format", "labelstudio"], 2,
         "sub: is a folder; --format labelstudio writes a file"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/sub", "--format", "conll"], 2,
         "sub: is a folder; --format conll writes a file"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/in.jsonl/o.jsonl"], 1, "cannot make its folder"),
        (["predict", "{ckpt}", "{tmp}/in.jsonl", "-o", "{tmp}/o.conll", "--format", "conll", "--layer", "nope"], 2,
         "no layer 'nope' to export"),
        # written as plain JSONL whatever the name: a reader going by it failed to decompress the job's output
        # (the model folder is no checkpoint: refused before it is loaded)
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl.gz"], 2,
         "o.jsonl.gz: the output is written as plain text"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.json.ZST", "--format", "labelstudio"], 2,
         "o.json.ZST: the output is written as plain text"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--rejects", "{tmp}/bad.jsonl.xz"], 2,
         "bad.jsonl.xz: the rejects file is written as plain text"),
        # '-' is no standard output here: the whole corpus was tagged into a file named '-' (exit 0)
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "-"], 2, "-: the output cannot be standard output"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "-", "--format", "conll"], 2,
         "-: the output cannot be standard output"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--rejects", "-"], 2,
         "-: the rejects file cannot be standard output"),
        # one format's option given with another was ignored: code points under --offsets utf16, every layer
        # under --layer
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--offsets", "utf16"], 2,
         "--offsets utf16 is for --format labelstudio, not --format jsonl"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/b", "--format", "brat", "--offsets", "utf16"], 2,
         "--offsets utf16 is for --format labelstudio, not --format brat"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.conll", "--format", "conll", "--offsets", "utf16"], 2,
         "--offsets utf16 is for --format labelstudio, not --format conll"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.jsonl", "--layer", "entity"], 2,
         "--layer is for --format conll; --format jsonl writes every layer"),
        (["predict", "{tmp}", "{tmp}/in.jsonl", "-o", "{tmp}/o.json", "--format", "labelstudio", "--layer", "claim"],
         2, "--layer is for --format conll; --format labelstudio writes every layer"),
    ],
)
def test_cli_predict_errors_are_clear(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}')  # no last newline
    (tmp_path / "sub").mkdir()
    argv = [a.format(ckpt=checkpoint, tmp=tmp_path) for a in args]
    assert main(argv) == code
    assert message in capsys.readouterr().err
    assert (tmp_path / "in.jsonl").read_text() == '{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "sub"]  # nothing written



def test_cli_predict_names_a_zst_input_without_zstandard_before_loading_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # not installed: import zstandard raises ImportError
    src = tmp_path / "in.jsonl.zst"
    src.write_bytes(b"\x28\xb5\x2f\xfd")
    assert main(["predict", str(tmp_path / "no-model"), str(src), "-o", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "in.jsonl.zst: reading .zst needs the zstandard package: pip install zstandard" in err
    assert "no-model" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.jsonl", "missing.jsonl: no such file or folder"),
        ("in.csv", "unknown input format '.csv'"),
    ],
)
def test_cli_predict_names_a_bad_input_before_loading_the_model(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                 name: str, message: str) -> None:
    # no model at that path either: the input's problem comes first, before any process loads a model
    (tmp_path / "in.csv").write_text("id,text\na,x\n", encoding="utf-8")
    assert main(["predict", str(tmp_path / "no-model"), str(tmp_path / name), "-o", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert message in err and "no-model" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]

@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('\ufeff{"id": "a", "text": "قال"}', None),  # a UTF-8 BOM before the first record
        ('{"id": "a", "text": "\\ud800 قال"}', "'text' holds a lone surrogate"),
        ('{"id": "\\udc00", "text": "قال"}', "'id' holds a lone surrogate"),
        ('{"id": "a", "text": "قال", "n": ' + "9" * 5000 + "}", "invalid JSON"),  # past Python's int limit
        ('{"id": "a", "text": "قال", "deep": ' + "[" * 100_000 + "}", "invalid JSON"),
    ],
)
def test_records_that_json_reads_oddly(tagger: Tagger, tmp_path: Path, line: str, reason: str | None) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(line + '\n{"id": "z", "text": "حماة"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_job(tagger, src, out, progress=False)
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    if reason is None:
        assert _ids(out) == ["a", "z"] and rejects == []
    else:
        assert _ids(out) == ["z"] and result.rejected == 1
        assert rejects[0]["line"] == 1 and reason in rejects[0]["reason"]
        assert rejects[0]["id"] in (None, "a")  # a lone surrogate cannot be written as UTF-8: no id then


@pytest.mark.parametrize(
    ("kind", "name", "data", "written", "reason"),
    [
        # cp1256 names, as a zip made on Arabic Windows leaves them: not UTF-8, so no id of a UTF-8 output
        ("folder", b"\xe3\xd5\xd1.txt", "خبر".encode(), ["ok"], "file name is not valid UTF-8"),
        ("jsonl", b"\xe3\xd5.jsonl", b'{"id": "a", "text": "x"}\n{broken\n', ["a"], "invalid JSON"),
    ],
    ids=["folder", "jsonl"],
)
def test_names_that_are_not_utf8_are_rejects_not_a_crash(
    tagger: Tagger, tmp_path: Path, kind: str, name: bytes, data: bytes, written: list[str], reason: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text("قال الجيش", encoding="utf-8")
    try:
        with open(os.fsencode(folder) + b"/" + name, "wb") as fh:
            fh.write(data)
    except OSError:
        pytest.skip("the file system refuses names that are not UTF-8")
    out = tmp_path / "out.jsonl"
    result = run_job(tagger, folder if kind == "folder" else folder / os.fsdecode(name), out, progress=False)
    assert _ids(out) == written and result.rejected == 1
    (reject,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert reject["line"] == 2 and reject["reason"].startswith(reason) and "\\xe3\\xd5" in reject["source"]


def test_a_read_error_is_a_clear_error(tagger: Tagger, tmp_path: Path) -> None:
    mem = Path("/proc/self/mem")  # reading it from offset 0 fails with EIO
    if not mem.exists():
        pytest.skip("needs /proc/self/mem to make a read fail")
    (tmp_path / "in.jsonl").symlink_to(mem)
    with pytest.raises(DataError, match="cannot read file"):
        run_job(tagger, tmp_path / "in.jsonl", tmp_path / "out.jsonl", progress=False)


def test_a_damaged_parquet_file_is_a_clear_error(tagger: Tagger, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "in.parquet"
    n = 40
    table = pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"قال الجيش {i} " * 20 for i in range(n)]})
    pq.write_table(table, src, row_group_size=20, compression="snappy", use_dictionary=False)
    # garble the second row group's text column chunk past its page header, leaving the footer whole
    chunk = pq.ParquetFile(src).metadata.row_group(1).column(1)
    start, size = chunk.data_page_offset, chunk.total_compressed_size
    data = bytearray(src.read_bytes())
    data[start + 40 : start + size - 40] = bytes(size - 80)
    src.write_bytes(bytes(data))
    from naba.predict.io import read_inputs

    got = []
    with pytest.raises(DataError, match="after row 20: cannot read Parquet data"):
        for record in read_inputs(src, rows_per_batch=20):
            got.append(record.id)
    assert got == [f"d{i}" for i in range(20)]  # the job has written these by then; a rerun resumes
    with pytest.raises(DataError, match="after row 0: cannot read Parquet data"):
        run_job(tagger, src, tmp_path / "out.jsonl", progress=False)



@pytest.mark.parametrize("workers", [0, 1])  # 1: chunks read ahead for a host worker
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gz_input_is_tagged_up_to_the_damage_then_an_error(
    checkpoint: Path, tmp_path: Path, damage: str, workers: int
) -> None:
    plain = tmp_path / "whole.jsonl"
    ids = _write_jsonl(plain, 30)
    lines = plain.read_bytes().splitlines(keepends=True)
    lines.insert(3, b'{"id": "no-text"}\n')  # a reject before the damage
    whole = gzip.compress(b"".join(lines))
    src = tmp_path / "in.jsonl.gz"
    if damage == "truncated":
        _truncated_gz(src, lines, 22)
        stop, reason = 22, "compressed stream ends early: the file is truncated"
    else:  # every line read, then the CRC at the end is wrong
        src.write_bytes(whole[:-8] + bytes([whole[-8] ^ 0xFF]) + whole[-7:])
        stop, reason = 32, "compressed stream is corrupt (BadGzipFile: CRC check failed"
    out = tmp_path / "out.jsonl"
    tagger = Tagger.from_pretrained(checkpoint, device="cpu", workers=workers)
    # chunks of 8: the documents read after the last whole chunk are tagged too
    with pytest.raises(DataError, match=f"in.jsonl.gz: line {stop}: " + re.escape(reason)):
        run_job(tagger, src, out, chunk_docs=8, progress=False)
    assert out.read_bytes().endswith(b"\n")
    assert _ids(out) == ids[: stop - 2]  # every line before the damage, but the reject
    (reject,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (reject["source"], reject["line"], reject["reason"]) == (str(src), 4, "no 'text' field")
    # the file repaired, the same job resumes after what it wrote
    src.write_bytes(whole)
    result = run_job(tagger, src, out, chunk_docs=8, progress=False)
    assert _ids(out) == ids and (result.skipped, result.written, result.rejected) == (stop - 2, 32 - stop, 1)


def _truncated_gz(path: Path, lines: list[bytes], cut: int) -> None:
    """The gzip stream of ``lines`` up to half of line ``cut`` (1-based), as an interrupted download
    leaves it: the lines before come whole, in blocks of their own, then the stream ends."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    head = b"".join(lines[: cut - 1]) + lines[cut - 1][: len(lines[cut - 1]) // 2]
    path.write_bytes(packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH))


@pytest.mark.slow
def test_torchrun_on_a_truncated_gz_merges_what_was_read_then_stops(checkpoint: Path, tmp_path: Path) -> None:
    # every process reads the same bytes and meets the damage at the same line: each tags its share of
    # what came before, process 0 merges it, and each stops with the error (none left waiting)
    plain = tmp_path / "whole.jsonl"
    ids = _write_jsonl(plain, 23)
    lines = plain.read_bytes().splitlines(keepends=True)
    lines.insert(1, b"[1]\n")
    src = tmp_path / "in.jsonl.gz"
    _truncated_gz(src, lines, 18)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "naba.cli", "predict", str(checkpoint), str(src), "-o", str(out), "--chunk-docs", "3", "--no-progress"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"{src}: line 18: compressed stream ends early: the file is truncated" in done.stderr
    assert _ids(out) == ids[:16]
    assert [json.loads(x)["line"] for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()] == [2]
    assert not list(tmp_path.glob("out.jsonl.part-*"))
    src.write_bytes(gzip.compress(b"".join(lines)))
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _ids(out) == ids and "7 document(s) tagged" in done.stderr and "(16 already there)" in done.stderr


@pytest.mark.slow
def test_gpu_batch_job_script_runs_and_logs(checkpoint: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 5)
    out = tmp_path / "out" / "tags.jsonl"
    env = {**_env(), "MODEL": str(checkpoint), "INPUT": str(src), "OUTPUT": str(out), "NPROC": "1", "DTYPE": "fp32",
           "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(REPO / "scripts" / "gpu_batch_job.sh")], env=env, capture_output=True,
                          text=True, timeout=300)
    log = (tmp_path / "out" / "tags.log").read_text()
    assert done.returncode == 0, log[-3000:]
    assert _ids(out) == ids
    assert "1 process(es), fp32" in log and "5 document(s) tagged" in log and log.rstrip().endswith("exit 0")


def _stub_job(tmp_path: Path, *, gpus: str = "", cwd: Path | None = None, script: Path | None = None,
              args: tuple[str, ...] = (), **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """scripts/gpu_batch_job.sh with stand-ins on PATH: ``accelerate`` writes its folder and its
    arguments, a line each, to tmp/launch.txt; ``python3 -c ...device_count()`` answers ``gpus``
    ("fail": exits 1). The launcher's lines come back ([] where it did not run)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "launch.txt"
    record.unlink(missing_ok=True)
    (bin_dir / "accelerate").write_text(f"#!/usr/bin/env bash\nprintf '%s\\n' \"$PWD\" \"$@\" > '{record}'\n")
    (bin_dir / "python3").write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = -c ] && [[ $2 == *device_count* ]]; then [ "{gpus}" = fail ] && exit 1; echo "{gpus}"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    base = {k: v for k, v in _env().items() if not k.startswith("SLURM_") and k not in ("NPROC", "CUDA_VISIBLE_DEVICES")}
    full = {**base, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
    done = subprocess.run(["bash", str(script or REPO / "scripts" / "gpu_batch_job.sh"), *args], env=full, cwd=cwd or tmp_path,
                          capture_output=True, text=True, timeout=120)
    return done, record.read_text().splitlines() if record.exists() else []


@pytest.mark.parametrize(("gpus", "nproc"), [("8", "8"), ("2", "2")])
def test_gpu_batch_job_starts_a_process_per_gpu_torch_sees(tmp_path: Path, gpus: str, nproc: str) -> None:
    # the count came from `nvidia-smi -L`: every GPU of the node whatever CUDA_VISIBLE_DEVICES said,
    # and one more line per MIG instance
    done, launch = _stub_job(tmp_path, gpus=gpus, MODEL="/m", INPUT="/in.jsonl", OUTPUT=str(tmp_path / "o.jsonl"))
    assert done.returncode == 0, done.stderr
    assert launch[1:5] == ["launch", "--multi_gpu", "--num_processes", nproc]


def test_gpu_batch_job_without_an_answer_about_gpus_runs_one_process(tmp_path: Path) -> None:
    # a driver that did not answer nvidia-smi stopped the script at once, with no word and no log
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "نص"}\n', encoding="utf-8")  # checked before the model
    done, launch = _stub_job(tmp_path, gpus="fail", MODEL=str(tmp_path / "none"), INPUT=str(tmp_path / "in.jsonl"),
                             OUTPUT=str(tmp_path / "o.jsonl"))
    log = (tmp_path / "o.log").read_text()
    assert launch == [] and "1 process(es)" in log and "cannot load" in log
    assert done.returncode == 2 and log.rstrip().endswith("exit 2")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NPROC": "abc"}, "NPROC must be a number of processes, 1 or more, not 'abc'"),
        ({"NPROC": "0"}, "not '0'"),
        ({"NPROC": "2", "LAUNCHER": "srun"}, "LAUNCHER is accelerate or torchrun, not 'srun'"),
    ],
)
def test_gpu_batch_job_refuses_bad_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    done, launch = _stub_job(tmp_path, MODEL="/m", INPUT="/in.jsonl", OUTPUT=str(tmp_path / "o.jsonl"), **env)
    assert done.returncode == 2 and message in done.stderr and launch == []
    assert not (tmp_path / "o.log").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("runs/x/best", "corpus.jsonl", "out.jsonl"),  # the way naba predict takes them
        ("--help",),
    ],
)
def test_gpu_batch_job_refuses_arguments(tmp_path: Path, args: tuple[str, ...]) -> None:
    # arguments were ignored: the job ran on MODEL, INPUT and OUTPUT's defaults, tagging another corpus
    done, launch = _stub_job(tmp_path, args=args, NPROC="2", OUTPUT=str(tmp_path / "o.jsonl"))
    assert done.returncode == 2 and launch == [] and not (tmp_path / "o.log").exists()
    assert f"takes no arguments, not '{' '.join(args)}'" in done.stderr and "MODEL=... INPUT=..." in done.stderr


@pytest.mark.parametrize(
    ("env", "status", "said"),
    [
        ({"PYTHON": "false"}, 1, "naba predict failed (exit 1); see "),  # one process, the job fails
        ({"NPROC": "2"}, 0, ""),  # the stand-in launcher succeeds: nothing to say
    ],
)
def test_gpu_batch_job_failure_names_its_log(tmp_path: Path, env: dict[str, str], status: int, said: str) -> None:
    # all the job's output goes to the log: a failed job printed nothing where it was started (the
    # terminal, SLURM's .out file), only its exit status
    done, _ = _stub_job(tmp_path, MODEL="/m", INPUT="/in.jsonl", OUTPUT=str(tmp_path / "o.jsonl"), **env)
    assert done.returncode == status
    assert done.stderr == (f"gpu_batch_job.sh: {said}{tmp_path / 'o.log'}\n" if said else "")


def test_gpu_batch_job_paths_are_the_callers(tmp_path: Path) -> None:
    # relative paths were taken inside the checkout (the script moves there): the model and input
    # were not found, and the output and its log went into the checkout; a dotted folder lost its
    # name to the log (runs.v2/tags: runs.log)
    here = tmp_path / "dossier à part"
    (here / "ckpt").mkdir(parents=True)
    done, launch = _stub_job(tmp_path, cwd=here, NPROC="2", MODEL="ckpt", INPUT="in.jsonl", OUTPUT="runs.v2/tags")
    assert done.returncode == 0, done.stderr
    assert launch[0] == str(REPO)
    args = launch[launch.index("predict"):]
    assert args[1:5] == [f"{here}/ckpt", f"{here}/in.jsonl", "-o", f"{here}/runs.v2/tags"]
    assert args[args.index("--rejects") + 1] == f"{here}/runs.v2/tags.rejects.jsonl"
    assert (here / "runs.v2" / "tags.log").is_file()
    # a hub id stays one
    done, launch = _stub_job(tmp_path, cwd=here, NPROC="2", MODEL="org/model", INPUT="in.jsonl", OUTPUT="o.jsonl")
    assert launch[launch.index("predict") + 1] == "org/model"


@pytest.mark.parametrize(("env", "args", "logged"), [
    # bf16 was passed whatever the GPU: emulated, far slower, on a V100 or T4, and bf16 on a CPU (torchrun)
    ({}, [], "auto"),
    ({"DTYPE": "fp16"}, ["--dtype", "fp16"], "fp16"),
])
def test_gpu_batch_job_leaves_the_dtype_to_naba_unless_set(tmp_path: Path, env, args, logged) -> None:
    done, launch = _stub_job(tmp_path, NPROC="2", MODEL="/m", INPUT="/in.jsonl", OUTPUT=str(tmp_path / "o.jsonl"), **env)
    assert done.returncode == 0, done.stderr
    given = launch[launch.index("--text-field") + 2 : launch.index("--batch-tokens")]
    assert given == args
    assert f"2 process(es), {logged}, workers" in (tmp_path / "o.log").read_text()


def test_gpu_batch_job_under_sbatch_runs_in_the_checkout(tmp_path: Path) -> None:
    # sbatch runs a copy of the script from slurmd's spool folder: the checkout was taken to be the
    # spool's parent
    spool = tmp_path / "spool" / "job42"
    spool.mkdir(parents=True)
    script = spool / "slurm_script"
    script.write_text((REPO / "scripts" / "gpu_batch_job.sh").read_text())
    out = tmp_path / "o.jsonl"
    done, launch = _stub_job(tmp_path, script=script, cwd=REPO, SLURM_JOB_ID="42", SLURM_SUBMIT_DIR=str(REPO),
                             SLURM_GPUS_ON_NODE="4", MODEL="/m", INPUT="/in.jsonl", OUTPUT=str(out))
    assert done.returncode == 0, done.stderr
    assert launch[0] == str(REPO) and launch[4] == "4"
    assert "job 42" in (tmp_path / "o.log").read_text()


def test_gpu_batch_job_appends_to_its_slurm_log() -> None:
    # --requeue restarts the job under the same id, so the same log file: SLURM empties it unless
    # told to append
    headers = [line for line in (REPO / "scripts" / "gpu_batch_job.sh").read_text().splitlines()
               if line.startswith("#SBATCH")]
    assert "#SBATCH --requeue" in headers and "#SBATCH --open-mode=append" in headers


@pytest.mark.parametrize(
    "asked, world, launcher_device, expected",
    [
        (None, 1, None, None),  # one process: the Tagger picks (a GPU if there is one)
        ("cpu", 1, None, "cpu"),
        ("cuda", 1, None, "cuda"),
        (None, 2, "cuda:1", "cuda:1"),  # under torchrun: the launcher's GPU for this process
        ("cuda", 2, "cuda:1", "cuda:1"),  # a bare "cuda": the launcher's GPU, named, not the thread's current one
        ("cuda:0", 2, "cuda:1", "cuda:0"),  # an explicit index is taken as asked
        ("cpu", 2, "cuda:1", "cpu"),
        ("cuda", 2, "cpu", "cuda"),
    ],
)
def test_the_job_device_under_a_launcher(asked, world, launcher_device, expected) -> None:
    import torch

    shard = Shard(rank=world - 1, world=world, device=None if launcher_device is None else torch.device(launcher_device))
    got = job_device(asked, shard)
    assert (None if got is None else str(got)) == expected


def test_gpu_batch_job_logs_a_sigterm(tmp_path: Path) -> None:
    # SLURM stops a job (preemption, time limit) with SIGTERM to all its processes: the log just ended
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    started = tmp_path / "started"
    (bin_dir / "accelerate").write_text(f"#!/usr/bin/env bash\ntouch '{started}'\nexec sleep 60\n")
    (bin_dir / "accelerate").chmod(0o755)
    env = {k: v for k, v in _env().items() if not k.startswith("SLURM_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", NPROC="2", MODEL="/m", INPUT="/in.jsonl",
               OUTPUT=str(tmp_path / "o.jsonl"))
    job = subprocess.Popen(["bash", str(REPO / "scripts" / "gpu_batch_job.sh")], env=env, cwd=tmp_path,
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGTERM)
    assert job.wait(timeout=30) == 143
    log = (tmp_path / "o.log").read_text().splitlines()
    assert "SIGTERM: stopped; the same command resumes it" in log[-2] and log[-1].endswith("exit 143")


@pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")
def test_a_second_job_on_an_output_being_written_is_refused(tagger: Tagger, tmp_path: Path) -> None:
    # a scheduler's retry while the first job still runs would read the same ids as done, tag the same
    # documents and append them again (and cut the other's last line as torn)
    import fcntl

    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 3)
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "doc-00000", "spans": []}\n{"id": "doc-000', encoding="utf-8")  # mid-write
    with out.open("ab") as other:  # the first job's hold on it
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match="another naba predict is writing it now"):
            run_job(tagger, src, out, progress=False)
        assert out.read_text(encoding="utf-8").endswith('"doc-000')  # its line left alone
    run_job(tagger, src, out, progress=False)  # once it is gone, the job resumes
    assert _ids(out) == [f"doc-{i:05d}" for i in range(3)]


@pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")
def test_a_file_system_without_locks_runs_the_job_unlocked(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # NFS without a lock daemon, Lustre mounted without flock: flock fails with ENOLCK / ENOSYS, and a job
    # that ran there before the lock must not now die with a raw OSError
    import errno
    import fcntl

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    src = tmp_path / "in.jsonl"
    ids = _write_jsonl(src, 3)
    with caplog.at_level("WARNING"):
        run_job(tagger, src, tmp_path / "out.jsonl", progress=False)
    assert _ids(tmp_path / "out.jsonl") == ids
    assert "cannot lock it (No locks available)" in caplog.text


def test_an_output_that_cannot_be_opened_is_a_data_error(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a read-only file or file system (as root the permission bits alone would not stop it: simulated)
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 1)
    out = tmp_path / "out.jsonl"
    opened = Path.open

    def refuse(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self == out and "a" in mode:
            raise PermissionError(13, "Permission denied")
        return opened(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(DataError, match="out.jsonl: cannot write file: Permission denied"):
        run_job(tagger, src, out, progress=False)


@pytest.mark.parametrize(
    ("output", "parts", "written", "skipped"),
    [
        ([], ([], []), 9, 0),  # a first run
        ([0, 1], ([], []), 7, 2),  # a resume of a merged run
        ([0, 1], ([2, 4], [3]), 4, 5),  # a resume of a run killed before its merge
        ([], ([0, 2, 4, 6, 8], [1, 3, 5, 7]), 0, 9),  # killed just before its merge
    ],
)
def test_a_sharded_run_reports_the_whole_jobs_counts(
    tagger: Tagger, tmp_path: Path, output: list[int], parts: tuple[list[int], list[int]], written: int, skipped: int
) -> None:
    # process 0's report counted the output and its own part only: a resume of 3,000 documents said
    # "536 tagged (964 already there)" where 2,100 were there
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _write_jsonl(src, 9)

    def lines(numbers: list[int]) -> str:
        return "".join(json.dumps({"id": ids[n], "spans": []}) + "\n" for n in numbers)

    if output:
        out.write_text(lines(output), encoding="utf-8")
    for rank, numbers in enumerate(parts):
        if numbers:
            part_path(out, rank, 2).write_text(lines(numbers), encoding="utf-8")
    barriers = []

    def barrier() -> None:  # process 1 runs its share while process 0 waits at its first barrier
        barriers.append(1)
        if len(barriers) == 1:
            run_job(tagger, src, out, progress=False, shard=Shard(rank=1, world=2))

    result = run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=2, barrier=barrier))
    assert _ids(out) == ids
    assert (result.written, result.skipped, result.rejected) == (written, skipped, 0)


@pytest.mark.parametrize(
    ("part", "content", "world", "error"),
    [
        ((0, 3), "", 2, "another number of processes"),
        ((0, 3), "", 1, "another number of processes"),
        ((1, 2), '{"id": "x", "text": "t", "spans": []}\n', 2, "written with --with-text"),
        ((0, 2), "not a prediction\n", 2, "not a naba prediction line"),
    ],
)
def test_a_refused_run_leaves_no_new_output(
    tagger: Tagger, tmp_path: Path, part: tuple[int, int], content: str, world: int, error: str
) -> None:
    # the lock made an empty output before the checks refused the run
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 2)
    part_path(out, *part).write_text(content, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises((ConfigError, DataError), match=error):
        run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=world))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")
@pytest.mark.parametrize("world", [1, 2])  # 2: the merge moved a new file into place
def test_the_output_stays_locked_while_the_job_finishes(tagger: Tagger, tmp_path: Path, world: int) -> None:
    # naba predict --format X exports after the job: a second job started then ran alongside the export
    import fcntl

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 1)
    held = []

    def finish(result: Any) -> None:
        with out.open("ab") as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(result.written)

    run_job(tagger, src, out, progress=False, shard=Shard(rank=0, world=world), finish=finish)
    assert held == [1]
