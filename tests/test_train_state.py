"""Run-directory plumbing: atomic files and folders, cleanup after a kill, RNG state round trips."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

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
    ],
)
def test_remove_temp_dirs(tmp_path: Path, before: list[str], after: list[str]) -> None:
    for name in before:
        if name.endswith(".txt") or name.endswith(".yaml.q.tmp"):
            (tmp_path / name).write_text("x")
        else:
            (tmp_path / name).mkdir()
    remove_temp_dirs(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == after


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
