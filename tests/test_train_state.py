"""Run-directory plumbing: atomic files and folders, cleanup after a kill, RNG state round trips."""

from __future__ import annotations

import errno
import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from naba.corpus.fileio import atomic_write
from naba.errors import DataError
from naba.train.checkpoint import capture_rng, checkpoints, prune, restore_rng
from naba.train.files import publish_dir, remove_temp_dirs, temp_dir_for, write_json_atomic


def test_write_json_atomic_replaces_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "m" / "metrics.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": "نبأ"})
    assert target.read_text(encoding="utf-8") == '{\n  "a": "نبأ"\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it, not mkstemp's 0600


def test_publish_dir_replaces_a_folder(tmp_path: Path) -> None:
    final = tmp_path / "best"
    for content in ("old", "new"):
        tmp = temp_dir_for(final)
        (tmp / "weights").write_text(content)
        publish_dir(tmp, final)
    assert (final / "weights").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # a temp folder of an interrupted write is removed, the finished folder kept
        (["best", ".best.x1y2.tmp"], ["best"]),
        (["step-4", ".step-8.ab.tmp", ".config.yaml.q.tmp"], ["step-4"]),
        # killed between the two renames of a replace: the old folder comes back
        ([".best.old"], ["best"]),
        ([".best.old-1a2b3c4d"], ["best"]),
        # killed after both renames: the old copy goes
        (["best", ".best.old-1a2b3c4d"], ["best"]),
        (["runs", "notes.txt"], ["notes.txt", "runs"]),
        # the old copy a link (best was one): the link goes, not what it points to
        (["best", "link:.best.old-1a2b3c4d"], ["best", "target"]),
        (["best", "link:.best.old"], ["best", "target"]),
        (["link:.best.old-1a2b3c4d"], ["best", "target"]),
    ],
)
def test_remove_temp_dirs(tmp_path: Path, before: list[str], after: list[str]) -> None:
    for name in before:
        if name.startswith("link:"):
            (tmp_path / "target").mkdir()
            (tmp_path / "target" / "weights").write_text("x")
            (tmp_path / name[5:]).symlink_to(tmp_path / "target", target_is_directory=True)
        elif name.endswith(".txt") or name.endswith(".yaml.q.tmp"):
            (tmp_path / name).write_text("x")
        else:
            (tmp_path / name).mkdir()
    remove_temp_dirs(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == after
    if (tmp_path / "target").exists():
        assert (tmp_path / "target" / "weights").read_text() == "x"


class _Weights:
    """Stands in for a model and a tokenizer in naba.model.save_checkpoint: writes one file."""

    def __init__(self, content: str, file: str = "model.safetensors") -> None:
        self.content, self.file = content, file

    def save_pretrained(self, folder) -> None:
        (Path(folder) / self.file).write_text(self.content)


def _write_folder(how: str, final: Path, content: str) -> None:
    if how == "publish_dir":
        tmp = temp_dir_for(final)
        (tmp / "model.safetensors").write_text(content)
        publish_dir(tmp, final)
    else:
        from naba.corpus.labels import DEFAULT_SCHEME
        from naba.encode import LabelSpace
        from naba.model import save_checkpoint

        save_checkpoint(final, _Weights(content), _Weights("", "tokenizer.json"), LabelSpace.from_scheme(DEFAULT_SCHEME), extra={})


@pytest.mark.parametrize("how", ["publish_dir", "save_checkpoint"])
@pytest.mark.parametrize("link", ["to a folder", "dangling"])
def test_a_folder_written_over_a_symlink_replaces_the_link_and_leaves_nothing_behind(
    tmp_path: Path, how: str, link: str
) -> None:
    # best -> elsewhere: the old link was renamed to .best.old-* and never removed (rmtree refuses a
    # link, ignore_errors hid it; remove_temp_dirs did not clear it either), and over a dangling link
    # the rename raised NotADirectoryError
    run, target = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    if link == "to a folder":
        target.mkdir()
        (target / "model.safetensors").write_text("old")
    (run / "best").symlink_to(target, target_is_directory=True)
    _write_folder(how, run / "best", "new")
    remove_temp_dirs(run)
    assert sorted(p.name for p in run.iterdir()) == ["best"]
    assert not (run / "best").is_symlink() and (run / "best" / "model.safetensors").read_text() == "new"
    if link == "to a folder":  # the link's target is not the run's to delete
        assert (target / "model.safetensors").read_text() == "old"


def test_checkpoints_are_listed_by_step_and_pruned(tmp_path: Path) -> None:
    for step in (2, 10, 4):
        (tmp_path / "checkpoints" / f"step-{step}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"step-{step}" / "state.json").write_text("{}")
    (tmp_path / "checkpoints" / "step-12").mkdir()  # incomplete: no state.json
    assert [p.name for p in checkpoints(tmp_path)] == ["step-2", "step-4", "step-10"]
    prune(tmp_path, keep=2)
    assert [p.name for p in checkpoints(tmp_path)] == ["step-4", "step-10"]


def test_rng_states_round_trip() -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    plain, tensors = capture_rng()

    def draw() -> tuple:
        return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.nn.functional.dropout(
            torch.ones(8), 0.5
        ).tolist()

    first = draw()
    restore_rng(plain, tensors)
    assert draw() == first


def test_a_checkpoint_of_another_world_size_is_refused_on_every_rank(tmp_path: Path) -> None:
    import json
    from dataclasses import asdict

    from naba.errors import ConfigError
    from naba.train.checkpoint import STATE, Progress, load_training_state

    # written by one process: rank 1 of two has no rng-1.* files, and must say so, not FileNotFoundError
    (tmp_path / STATE).write_text(json.dumps(asdict(Progress(world=1, step=4))), encoding="utf-8")
    for rank in (0, 1):
        with pytest.raises(ConfigError, match="written by 1 process"):
            load_training_state(tmp_path, optimizer=None, scheduler=None, scaler=None, rank=rank, world=2)


class _Marker:
    """A pickle whose unpickling creates ``path``: proof that a file was (or was not) unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _training_state(path: Path):
    """A complete one-process training checkpoint's files (no model/) in ``path``, and fresh
    optimizer and scheduler to restore them into."""
    import json
    from dataclasses import asdict

    from safetensors.torch import save_file
    from transformers import get_linear_schedule_with_warmup

    from naba.train.checkpoint import STATE, Progress

    def fresh():
        layer = torch.nn.Linear(3, 2)
        optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-3)
        return layer, optimizer, get_linear_schedule_with_warmup(optimizer, 1, 10)

    layer, optimizer, scheduler = fresh()
    layer(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    path.mkdir(parents=True, exist_ok=True)
    torch.save({"optimizer": optimizer.state_dict()}, path / "optimizer.pt")
    (path / "scheduler.json").write_text(json.dumps(scheduler.state_dict()), encoding="utf-8")
    plain, tensors = capture_rng()
    (path / "rng-0.json").write_text(json.dumps(plain), encoding="utf-8")
    save_file(tensors, str(path / "rng-0.safetensors"))
    (path / STATE).write_text(json.dumps(asdict(Progress(step=1))), encoding="utf-8")
    return fresh()


def _edit(path: Path, **changes) -> None:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def _damage(path: Path, damage: str, marker: Path) -> None:
    import pickle

    from safetensors.torch import save_file

    rng = path / "rng-0.safetensors"
    if damage == "optimizer-pickle":  # torch.save of an object: weights_only=True refuses it
        torch.save({"optimizer": _Marker(marker)}, path / "optimizer.pt")
    elif damage == "optimizer-raw-pickle":
        (path / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": _Marker(marker)}))
    elif damage == "optimizer-truncated":
        data = (path / "optimizer.pt").read_bytes()
        (path / "optimizer.pt").write_bytes(data[: len(data) // 2])
    elif damage == "optimizer-missing":
        (path / "optimizer.pt").unlink()
    elif damage == "optimizer-no-key":
        torch.save({"model": 1}, path / "optimizer.pt")
    elif damage == "optimizer-other-groups":
        state = torch.load(path / "optimizer.pt", weights_only=True)
        state["optimizer"]["param_groups"][0]["params"] = [0]
        torch.save(state, path / "optimizer.pt")
    elif damage == "scheduler-not-json":
        (path / "scheduler.json").write_text("{x", encoding="utf-8")
    elif damage == "scheduler-list":
        (path / "scheduler.json").write_text("[1]", encoding="utf-8")
    elif damage == "state-not-json":
        (path / "state.json").write_text("{x", encoding="utf-8")
    elif damage == "state-list":
        (path / "state.json").write_text("[]", encoding="utf-8")
    elif damage == "state-unknown-key":
        _edit(path / "state.json", evil=1)
    elif damage == "state-step-text":
        _edit(path / "state.json", step="x")
    elif damage == "rng-json-missing":
        (path / "rng-0.json").unlink()
    elif damage == "rng-json-short":
        _edit(path / "rng-0.json", python=[1])
    elif damage == "rng-python-size":
        _edit(path / "rng-0.json", python=[3, [1, 2, 3], None])
    elif damage == "rng-numpy-size":
        _edit(path / "rng-0.json", numpy=["MT19937", [1, 2, 3], 0, 0, 0.0])
    elif damage == "rng-tensors-missing":
        rng.unlink()
    elif damage == "rng-tensors-garbage":
        rng.write_bytes(b"\0" * 20)
    elif damage == "rng-tensors-no-cpu":
        save_file({"x": torch.zeros(3)}, str(rng))
    elif damage == "rng-tensors-size":
        save_file({"cpu": torch.zeros(3, dtype=torch.uint8)}, str(rng))
    elif damage == "rng-tensors-dtype":
        save_file({"cpu": torch.get_rng_state().float()}, str(rng))
    else:
        raise AssertionError(damage)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("optimizer-pickle", r"optimizer.pt: .*holds objects other than tensors.*never unpickled"),
        ("optimizer-raw-pickle", r"optimizer.pt: .*holds objects other than tensors.*never unpickled"),
        ("optimizer-truncated", "optimizer.pt: "),
        ("optimizer-missing", "optimizer.pt: .*No such file"),
        ("optimizer-no-key", "optimizer.pt: .*no optimizer state"),
        ("optimizer-other-groups", "optimizer.pt: .*parameter group"),
        ("scheduler-not-json", "scheduler.json: .*JSON"),
        ("scheduler-list", "scheduler.json: "),
        ("state-not-json", "state.json: .*JSON"),
        ("state-list", "state.json: .*expected a JSON object"),
        ("state-unknown-key", "state.json: .*unknown key.*'evil'"),
        ("state-step-text", "state.json: .*step must be a whole number"),
        ("rng-json-missing", "rng-0.json: .*No such file"),
        ("rng-json-short", "rng-0.json: "),
        ("rng-python-size", "rng-0.json: "),
        ("rng-numpy-size", "rng-0.json: "),
        ("rng-tensors-missing", "rng-0.safetensors: "),
        ("rng-tensors-garbage", "rng-0.safetensors: "),
        ("rng-tensors-no-cpu", "rng-0.safetensors: .*'cpu'"),
        ("rng-tensors-size", "rng-0.safetensors: "),
        ("rng-tensors-dtype", "rng-0.safetensors: "),
    ],
)
# torch warns about the raw pickle's protocol before refusing it: that pickle is the point of the case
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_damaged_training_checkpoint_is_a_config_error_naming_its_file(
    tmp_path: Path, damage: str, message: str
) -> None:
    from naba.errors import ConfigError
    from naba.train.checkpoint import load_training_state

    path = tmp_path / "checkpoints" / "step-1"
    _, optimizer, scheduler = _training_state(path)
    marker = tmp_path / "unpickled"
    _damage(path, damage, marker)
    with pytest.raises(ConfigError, match=message) as info:
        load_training_state(path, optimizer=optimizer, scheduler=scheduler, scaler=None, rank=0, world=1)
    text = str(info.value)
    assert text.startswith(str(path)) and "cannot resume" in text and "run.overwrite=true" in text
    assert "weights_only=False" not in text  # torch's own advice would run the pickle
    assert not marker.exists()


def test_an_intact_training_checkpoint_restores(tmp_path: Path) -> None:
    from naba.train.checkpoint import load_training_state

    _, optimizer, scheduler = _training_state(tmp_path)
    progress = load_training_state(tmp_path, optimizer=optimizer, scheduler=scheduler, scaler=None, rank=0, world=1)
    assert progress.step == 1 and scheduler.last_epoch == 1 and optimizer.state_dict()["state"]


@pytest.mark.parametrize(
    ("written", "loss_sum"),
    [
        (1.5, 1.5),
        ('null', "nan"),  # a diverged sum, as naba now writes it
        ("NaN", "nan"),  # as earlier naba wrote it: those runs still resume
        ("Infinity", "inf"),
    ],
)
def test_a_diverged_loss_sum_in_state_json_reads_back(tmp_path: Path, written, loss_sum: float | str) -> None:
    import math

    from naba.train.checkpoint import load_training_state

    _, optimizer, scheduler = _training_state(tmp_path)
    text = (tmp_path / "state.json").read_text(encoding="utf-8")
    text = text.replace('"loss_sum": 0.0', f'"loss_sum": {written}').replace('"eval_loss_sum": 0.0',
                                                                              f'"eval_loss_sum": {written}')
    (tmp_path / "state.json").write_text(text, encoding="utf-8")
    progress = load_training_state(tmp_path, optimizer=optimizer, scheduler=scheduler, scaler=None, rank=0, world=1)
    want = float(loss_sum)
    for got in (progress.loss_sum, progress.eval_loss_sum):
        assert isinstance(got, float) and (math.isnan(got) if math.isnan(want) else got == want)


class _FullDisk(io.FileIO):
    """A file on a disk with no space left: every write fails, as the kernel's does (not only fsync)."""

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("write", [write_json_atomic, atomic_write])
@pytest.mark.parametrize("size", [10, 100_000])  # failing when flushed at the end / while written (> the buffer)
def test_a_file_written_to_a_full_disk_is_a_data_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write, size: int
) -> None:
    # on a real full disk (writes fail, not fsync) config.yaml, metrics.json, state.json ... stopped naba train
    # with a raw 'OSError: [Errno 28]': closing the file flushed its buffer again, and that error replaced
    # the DataError on its way out
    def fdopen(fd: int, mode: str = "r", **text) -> io.IOBase:
        binary = io.BufferedWriter(_FullDisk(fd, "w"))
        return binary if "b" in mode else io.TextIOWrapper(binary, **text)

    monkeypatch.setattr(os, "fdopen", fdopen)
    path = tmp_path / "metrics.json"
    with pytest.raises(DataError, match=f"{path}: cannot write file: No space left on device"):
        write(path, "x" * size)
    assert list(tmp_path.iterdir()) == []


class _Failing(_Weights):
    """A model or tokenizer whose save fails as a library does on a full disk or a read-only folder."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__("x")
        self.error = error

    def save_pretrained(self, folder) -> None:
        super().save_pretrained(folder)
        if self.error is not None:
            raise self.error


def _save_step(run: Path, model: _Weights, tokenizer: _Weights) -> Path:
    from naba.corpus.labels import DEFAULT_SCHEME
    from naba.encode import LabelSpace
    from naba.train.checkpoint import Progress, save_training_state

    weights = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(weights.parameters())
    path = run / "checkpoints" / "step-2"
    save_training_state(path, model=model, tokenizer=tokenizer, space=LabelSpace.from_scheme(DEFAULT_SCHEME),
                        optimizer=optimizer, scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0),
                        scaler=None, progress=Progress(), rng=[capture_rng()], info={})
    return path


ENOSPC = "No space left on device"


@pytest.mark.parametrize(
    ("fail", "reason"),
    [
        # safetensors (the weights) and tokenizers (tokenizer.json) say the OS error only in their message:
        # a raw SafetensorError / Exception traceback
        ("model", ENOSPC),
        ("tokenizer", "Read-only file system"),
        ("config.json", ENOSPC),  # transformers' own open(): a raw OSError
        # the files written through atomic_write: named by their temporary folder, gone by then
        # (".step-2.x1y2z3.tmp/scheduler.json"); optimizer.pt went through torch.save, whose error on a full
        # disk is a RuntimeError saying only "unexpected pos 90048 vs 89940"
        ("fsync 1", ENOSPC),  # optimizer.pt
        ("fsync 2", ENOSPC),  # scheduler.json
        ("fsync 4", ENOSPC),  # rng-0.safetensors
        ("fsync 5", ENOSPC),  # state.json
        ("rename", ENOSPC),  # the finished folder into place: a raw OSError, its temporary folder left
    ],
)
def test_a_checkpoint_that_cannot_be_written_is_one_data_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk_full, fail: str, reason: str
) -> None:
    from safetensors import SafetensorError

    model, tokenizer = _Failing(), _Failing()
    if fail == "model":
        model.error = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    elif fail == "tokenizer":
        tokenizer.error = Exception("Read-only file system (os error 30)")
    elif fail == "config.json":
        model.error = OSError(errno.ENOSPC, ENOSPC)
    elif fail.startswith("fsync"):
        disk_full(int(fail.split()[1]))
    else:
        real = os.replace

        def replace(src, dst) -> None:
            if Path(dst).name == "step-2":
                raise OSError(errno.ENOSPC, ENOSPC)
            real(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    run = tmp_path / "run"
    with pytest.raises(DataError) as caught:
        _save_step(run, model, tokenizer)
    assert str(caught.value).splitlines()[1:] == [f"  {run / 'checkpoints' / 'step-2'}: cannot write file: {reason}"]
    assert list((run / "checkpoints").iterdir()) == []  # nothing of it is left


def test_a_checkpoint_save_failing_otherwise_is_not_called_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^boom$"):
        _save_step(tmp_path / "run", _Failing(ValueError("boom")), _Failing())
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == []

