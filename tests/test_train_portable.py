"""Run folders that can be moved (naba.train.portable): config.yaml keeps the paths inside the folder a
run moves with relative, and a resume compares saved paths by the place they name there. No training:
the resumes themselves are in test_train_run.py and test_train_folds.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from naba.train.config import RUNTIME_ONLY, TrainConfig, load_config, save_config
from naba.train.portable import changed_since

OLD, NEW = "/mnt/a/runs/cv", "/scratch/b/cv-2"  # a cross-validation's folder, before and after a move
USER = "/home/u/corpus/test.jsonl"  # the user's own data: it does not move with the run


def fold_config(train: str, test: str = USER, *, labels: str | None = None) -> TrainConfig:
    cfg = TrainConfig()
    cfg.data.train, cfg.data.test, cfg.data.labels = [train], [test], labels
    cfg.run.dir, cfg.run.name = f"{NEW}/folds", "fold-0"
    return cfg


@pytest.mark.parametrize(
    ("train", "test", "run", "changed"),
    [
        # as naba writes it now: relative to the folds' folder (config.yaml's folder's parent)
        ("../data/fold-0/train.jsonl", USER, {"dir": f"{OLD}/folds", "name": "fold-0"}, []),
        # an older naba's absolute path inside the cross-validation's old place: the same file, moved with it
        (f"{OLD}/data/fold-0/train.jsonl", USER, {"dir": f"{OLD}/folds", "name": "fold-0"}, []),
        # ... but another fold's file there is another setting
        (f"{OLD}/data/fold-1/train.jsonl", USER, {"dir": f"{OLD}/folds", "name": "fold-0"}, ["data.train"]),
        ("../data/fold-1/train.jsonl", USER, {"dir": f"{OLD}/folds", "name": "fold-0"}, ["data.train"]),
        # outside the folder that moved, a path is what the user gave: it is not re-rooted
        ("/mnt/a/runs/data/fold-0/train.jsonl", USER, {"dir": f"{OLD}/folds", "name": "fold-0"}, ["data.train"]),
        (f"{OLD}/data/fold-0/train.jsonl", "/home/u/other.jsonl", {"dir": f"{OLD}/folds", "name": "fold-0"},
         ["data.test"]),
        # no saved run.dir (edited by hand): an absolute path cannot be re-rooted, and differs
        (f"{OLD}/data/fold-0/train.jsonl", USER, {"name": "fold-0"}, ["data.train"]),
    ],
)
def test_saved_paths_are_compared_by_their_place_in_the_moved_folder(
    train: str, test: str, run: dict, changed: list[str]
) -> None:
    cfg = fold_config(f"{NEW}/data/fold-0/train.jsonl")
    saved = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
    saved["data"].update(train=[train], test=[test])
    saved["run"] = {k: v for k, v in saved["run"].items() if k not in ("dir", "name")} | run
    differ = changed_since(saved, cfg, Path(NEW) / "folds" / "fold-0", Path(NEW))
    assert [key for key in differ if key not in RUNTIME_ONLY] == changed  # as a resume takes them


@pytest.mark.parametrize(("saved_labels", "changed"), [("cut/labels.yaml", []), ("cut/other.yaml", ["data.labels"])])
def test_a_renamed_run_folder_keeps_the_paths_inside_it(saved_labels: str, changed: list[str]) -> None:
    # config.yaml of runs/cut, now runs/cut-2: "cut/labels.yaml" was runs/cut/labels.yaml, now runs/cut-2's
    cfg = fold_config(USER, labels="/runs/cut-2/labels.yaml")
    cfg.run.dir, cfg.run.name = "/runs", "cut-2"
    saved = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
    saved["data"]["labels"], saved["run"]["name"] = saved_labels, "cut"
    differ = changed_since(saved, cfg, Path("/runs/cut-2"), Path("/runs/cut-2"))
    assert [key for key in differ if key not in RUNTIME_ONLY] == changed


def test_a_saved_config_holds_the_paths_inside_its_folder_relative_and_loads_where_it_was_moved(
    tmp_path: Path,
) -> None:
    run = tmp_path / "here" / "runs" / "cv"
    (run / "data").mkdir(parents=True)
    (run / "data" / "train.jsonl").write_text('{"id": "x", "text": "نص"}\n', encoding="utf-8")
    user = tmp_path / "corpus.jsonl"
    user.write_text('{"id": "y", "text": "نص"}\n', encoding="utf-8")
    cfg = load_config(None, [f"data.train={run / 'data' / 'train.jsonl'}", f"data.test={user}",
                             f"run.dir={run / 'folds'}", "run.name=fold-0"])
    save_config(cfg, run / "folds" / "fold-0" / "config.yaml", root=run)
    saved = yaml.safe_load((run / "folds" / "fold-0" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["data"]["train"] == ["../data/train.jsonl"] and saved["data"]["test"] == [str(user)]

    moved = tmp_path / "there" / "cv"
    moved.parent.mkdir()
    shutil.move(run, moved)
    # naba reads a config file's paths against its folder's parent: config.yaml is a config wherever it is
    again = load_config(moved / "folds" / "fold-0" / "config.yaml", cwd=tmp_path)
    assert again.data.train == [str(moved / "data" / "train.jsonl")] and again.data.test == [str(user)]


def test_data_of_the_users_that_moved_is_refused_naming_config_yaml_and_what_to_do(tmp_path: Path) -> None:
    from naba.errors import ConfigError
    from naba.train.setup import prior_run

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.jsonl").write_text('{"id": "x", "text": "نص"}\n', encoding="utf-8")
    first = load_config(None, [f"data.train={tmp_path / 'a' / 'train.jsonl'}", f"run.dir={tmp_path / 'runs'}"])
    run = first.run_dir
    run.mkdir(parents=True)
    save_config(first, run / "config.yaml", root=run)
    # the user's data is outside the run folder: its path is kept as given, and another path is another setting
    moved = load_config(None, [f"data.train={tmp_path / 'b' / 'train.jsonl'}", f"run.dir={tmp_path / 'runs'}"])
    with pytest.raises(ConfigError) as info:
        prior_run(moved, run, main=True)
    assert str(info.value) == (
        f"{run} holds a run with another configuration (differs in data.train); {run / 'config.yaml'} names "
        f"data.train [{str(tmp_path / 'a' / 'train.jsonl')!r}], this start [{str(tmp_path / 'b' / 'train.jsonl')!r}] "
        f"(the same files, only elsewhere now? write their new paths into {run / 'config.yaml'}); choose another "
        "run.name, or set run.overwrite=true to replace it")
    # done as it says, the run is the same run again
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    saved["data"]["train"] = [str(tmp_path / "b" / "train.jsonl")]
    (run / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    assert prior_run(moved, run, main=True) is None
