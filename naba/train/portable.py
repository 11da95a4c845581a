"""Run folders that can be moved: a path inside the folder a run moves with is kept relative.

A run folder is copied with rsync, renamed, or seen under another mount point, and must still resume
there. The *root* is the folder that moves as one: the run folder itself, or, for the folds of a
cross-validation, the cross-validation's folder (which holds their data files). ``config.yaml`` writes
a path that lies inside the root relative to the parent of its own folder, which is how naba reads the
paths of any config file (:func:`naba.train.config.load_config`), so the file stays a valid config
wherever the folder is; paths outside the root (the user's data, a base model) stay as the user gave
them, made absolute. On a resume a saved path and the new one are the same setting when they name the
same place inside the root, wherever the root was then. A ``config.yaml`` of an older naba holds
absolute paths throughout: one inside the root's old place (known from its run.dir and run.name) is
taken at the same place under the root's new one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from naba.train.config import PATH_KEYS, TrainConfig, changed_settings


def stored_config(cfg: TrainConfig, file: Path, root: Path) -> dict[str, Any]:
    """``cfg.to_dict()`` as ``file`` (a config.yaml) holds it: paths inside ``root`` relative to the
    parent of ``file``'s folder."""
    data = cfg.to_dict()
    base = Path(file).parent.parent
    for key in PATH_KEYS:
        section, name = key.split(".")
        value = data[section][name]
        if isinstance(value, list):
            data[section][name] = [relative_inside(v, base, root) for v in value]
        elif value is not None:
            data[section][name] = relative_inside(value, base, root)
    return data


def changed_since(saved: dict[str, Any], cfg: TrainConfig, run_dir: Path, root: Path) -> list[str]:
    """:func:`naba.train.config.changed_settings` of the run folder ``run_dir``'s saved config.yaml and
    ``cfg``, where a path setting differs only when it names another place."""
    new = cfg.to_dict()
    return [key for key in changed_settings(saved, new)
            if key not in PATH_KEYS or not _same_place(saved, key, new, run_dir, root)]


def relative_inside(path: str, base: Path, root: Path) -> str:
    """``path`` relative to ``base`` when it lies inside ``root`` (it moves with it), else as it is."""
    return os.path.relpath(path, base) if _inside(path, root) else path


def _inside(path: str, folder: Path | str) -> bool:
    return os.path.isabs(path) and Path(os.path.normpath(path)).is_relative_to(os.path.normpath(folder))


def _same_place(saved: dict[str, Any], key: str, new: dict[str, Any], run_dir: Path, root: Path) -> bool:
    section, name = key.split(".")
    old, now = (saved.get(section) or {}).get(name), new[section][name]
    run = saved.get("run") if isinstance(saved.get("run"), dict) else {}
    if isinstance(now, list):
        return (isinstance(old, list) and len(old) == len(now)
                and all(o == n or isinstance(o, str) and _now_at(o, run, run_dir, root) == n
                        for o, n in zip(old, now, strict=True)))
    return isinstance(old, str) and _now_at(old, run, run_dir, root) == now


def _now_at(old: str, run: dict[str, Any], run_dir: Path, root: Path) -> str:
    """Where the saved path ``old`` is now that the run folder is ``run_dir``; ``run`` is the saved
    run section (the folder's name and parent when it was saved)."""
    was_name = run.get("name") if isinstance(run.get("name"), str) else run_dir.name
    if not os.path.isabs(old):
        # relative to the run folder's parent, in which the folder was named was_name (renamed since?)
        inside = os.path.relpath(os.path.normpath(run_dir.parent / old), run_dir.parent / was_name)
        return os.path.normpath(run_dir / inside)
    was_dir = run.get("dir")
    if not isinstance(was_dir, str) or not os.path.isabs(was_dir):
        return old
    was_run = os.path.join(was_dir, was_name)
    # an older naba's absolute path inside the root where it was then (the root's place relative to the
    # run folder has not changed: the folder and what it moves with are moved as one)
    if not _inside(old, os.path.join(was_run, os.path.relpath(root, run_dir))):
        return old
    return os.path.normpath(run_dir / os.path.relpath(old, was_run))
