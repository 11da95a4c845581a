"""Training configuration: every default lives in :class:`TrainConfig`; YAML files and ``key=value``
arguments only override.

Precedence: dataclass defaults < the YAML file < command-line ``key=value`` (dotted for nested
sections: ``optim.lr=3e-5``). Values on the command line are typed as YAML scalars (as
:mod:`naba.yamlio` reads them: ``run.seed=010`` is 10, not octal 8).

Relative paths: data paths and ``data.labels`` written in a config FILE resolve against the parent
of the file's folder, i.e. the repository root for ``configs/*.yaml``, so a run does not depend on
the working directory. Paths given on the command line, and ``run.dir``, resolve against the
current working directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import glob
import math
import os
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from naba import yamlio
from naba.errors import ConfigError, DataError
from naba.text import PRESETS

SMALL_MODEL = "naba-small"
MIXED_PRECISION = ("no", "bf16", "fp16", "auto")
TRACKERS = ("tensorboard", "wandb", "mlflow", "none")
CLI = "command line"


@dataclass
class DataConfig:
    """Where the documents come from and which layers to train."""

    train: list[str] = field(default_factory=list)  # paths or globs
    dev: list[str] = field(default_factory=list)  # empty: carved from train (dev_ratio, dev_seed)
    test: list[str] = field(default_factory=list)  # evaluated once with the best model
    format: str | None = None  # None: each reader guesses from the file name
    read_options: dict[str, Any] = field(default_factory=dict)  # reader keywords, e.g. {bio_repair: begin}
    labels: str | None = None  # a labels.yaml; None: naba's DEFAULT_SCHEME
    layers: list[str] | None = None  # None: every layer of the scheme
    dev_ratio: float = 0.1  # 0: no dev set (no evaluation during training, best = last)
    dev_seed: int = 0


@dataclass
class ModelConfig:
    """The encoder, its text preparation and windowing; the shape applies to ``naba-small`` only."""

    name_or_path: str = "aubmindlab/bert-base-arabertv02"  # or a local folder, or "naba-small"
    tokenizer: str | None = None  # naba-small: a tokenizer folder to use instead of training one
    preset: str = "arabertv02"
    max_length: int = 512
    stride: int = 128  # tokens shared by consecutive windows of a long document
    vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    heads: int = 4
    intermediate: int = 1024


@dataclass
class OptimConfig:
    """AdamW with linear warmup and decay, batching, accumulation, clipping, precision."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    epochs: int = 3
    max_steps: int = 0  # > 0: stop after this many optimizer steps (overrides epochs)
    batch_size: int = 16  # windows per batch (per device)
    batch_tokens: int = 0  # > 0: batches hold up to this many padded tokens instead of batch_size
    grad_accum: int = 1  # micro-batches per optimizer step (the loss is averaged over all their labelled tokens)
    max_grad_norm: float = 1.0  # 0: no clipping
    mixed_precision: str = "auto"  # auto: bf16 (or fp16) on a GPU that has it, fp32 on CPU


@dataclass
class RunConfig:
    """Where the run goes, how often it evaluates and saves, and when it stops early."""

    dir: str = "runs"
    name: str | None = None  # None: the config file's name without .yaml
    seed: int = 42
    eval_every: int = 0  # optimizer steps between dev evaluations; 0: at the end of each epoch
    save_every: int = 0  # steps between resumable checkpoints; 0: wherever an evaluation is due, dev set or not
    keep_checkpoints: int = 2
    patience: int = 0  # evaluations without improvement before stopping; 0: never stop early
    tracker: str = "tensorboard"
    num_workers: int = 0
    threads: int = 0  # torch CPU threads; 0: torch's default (on a busy machine 1 can be much faster)
    deterministic: bool = True
    log_every: int = 10
    overwrite: bool = False  # true: delete an existing run dir of this name and start afresh


@dataclass
class TrainConfig:
    """A whole training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.run.dir) / str(self.run.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = {f.name: f.type for f in dataclasses.fields(TrainConfig)}

# Settings of how a run is carried out, not of what it trains: a run started again with other values
# of these resumes (or returns its finished result) instead of being refused as another configuration.
# num_workers, log_every and keep_checkpoints leave the weights bit for bit the same (the same batches
# in the same order, no RNG draw of their own; they change only who collates, what is logged, and which
# old checkpoints are deleted). threads changes the speed and, as moving to another machine would, may
# change how torch's CPU kernels split float sums, so the last bits of the weights (threads: 0, torch's
# default of one per core, never pinned the count across machines either). overwrite says what to do
# with an existing run, not how to train it. Left out on purpose: tracker (a resumed run's curves would
# be split between two tools), save_every (where checkpoints are), and everything that shapes the model.
# dir and name are where the run folder is: config.yaml records them, and a run moved, copied or renamed
# (to another place, mount point or machine) resumes there instead of being refused as another
# configuration (its paths inside the folder are compared by their place in it: naba.train.portable).
RUNTIME_ONLY = frozenset(
    {"run.threads", "run.num_workers", "run.log_every", "run.keep_checkpoints", "run.overwrite", "run.dir",
     "run.name"}
)

PATH_KEYS = ("data.train", "data.dev", "data.test", "data.labels", "model.tokenizer")


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), *, cwd: Path | None = None
) -> TrainConfig:
    """Build a checked :class:`TrainConfig` from a YAML file (or none) and ``key=value`` overrides.

    Raises :class:`ConfigError` naming the key and where it came from for unknown keys, wrong
    types, impossible values and missing data files.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    cfg = TrainConfig()
    sources: dict[str, str] = {}
    if path is not None:
        path = Path(path)
        raw = yamlio.load_file(path, "config")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(raw).__name__}")
        base = path.resolve().parent.parent
        for key, value in _flatten(raw, source=str(path)):
            _assign(cfg, key, value, source=str(path), base=base)
            sources[key] = str(path)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{CLI}: {item!r}: overrides are key=value, e.g. optim.lr=3e-5")
        try:
            value = yamlio.load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{CLI}: {key}: cannot parse {text!r}: {yamlio.describe(exc)}") from None
        _assign(cfg, key.strip(), value, source=CLI, base=cwd)
        sources[key.strip()] = CLI
    if cfg.run.name is None:  # also after run.name= (null) on the command line
        cfg.run.name = path.stem if path is not None else "run"
    cfg.run.dir = str((cwd / Path(cfg.run.dir).expanduser()).resolve())
    _check(cfg, sources)
    return cfg


def save_config(cfg: TrainConfig, path: str | Path, *, root: str | Path | None = None) -> None:
    """Write the resolved config (every field) as YAML, atomically: paths absolute, except those inside
    ``root`` (the folder a run moves with), written relative to ``path``'s folder's parent, as
    :func:`load_config` reads them (:mod:`naba.train.portable`)."""
    from naba.corpus.fileio import atomic_write
    from naba.train.portable import stored_config

    data = cfg.to_dict() if root is None else stored_config(cfg, Path(path), Path(root))
    atomic_write(Path(path), yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def changed_settings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose value in ``new`` (a :meth:`TrainConfig.to_dict`) differs from ``old`` (a saved
    ``config.yaml``, perhaps of an older naba that lacked a key), runtime-only ones included."""
    return [f"{s}.{k}" for s in new for k in new[s] if (old.get(s) or {}).get(k, object()) != new[s][k]]


def _flatten(raw: dict, *, source: str) -> list[tuple[str, Any]]:
    out = []
    for section, values in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {section!r}{_did_you_mean(section, SECTIONS)} "
                              f"(known: {', '.join(SECTIONS)})")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of key: value")
        out.extend((f"{section}.{key}", value) for key, value in values.items())
    return out


def _assign(cfg: TrainConfig, key: str, value: Any, *, source: str, base: Path) -> None:
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        known = [f"{s}.{n}" for s in SECTIONS for n in typing.get_type_hints(type(getattr(cfg, s)))]
        same = [k for k in known if k.partition(".")[2] == key]  # lr=...: the section left out
        hint = f"; did you mean {same[0]}?" if same else _did_you_mean(key, known)
        raise ConfigError(f"{source}: unknown key {key!r}{hint} "
                          f"(keys look like optim.lr; sections: {', '.join(SECTIONS)})")
    part = getattr(cfg, section)
    hints = typing.get_type_hints(type(part))
    if name not in hints:
        if "." in name and name.partition(".")[0] in hints:
            raise ConfigError(f"{source}: {key!r}: {section}.{name.partition('.')[0]} is set as a whole, "
                              f"e.g. {section}.{name.partition('.')[0]}={{{name.partition('.')[2]}: value}}")
        raise ConfigError(f"{source}: unknown key {key!r}{_did_you_mean(name, hints, prefix=section + '.')} "
                          f"(known in {section}: {', '.join(hints)})")
    if value is None:
        # null (an empty `data.dev=`, a bare `dev:` in a file) is the key's default, as for run.name: a key
        # that cannot be null was refused ("expected a path or a list of paths, got None")
        value = _default(type(part), name)
    value = _coerce(value, hints[name], key=key, source=source)
    if key in PATH_KEYS and value is not None:
        value = [_resolve(p, base) for p in value] if isinstance(value, list) else _resolve(value, base)
    if key == "model.name_or_path" and value != SMALL_MODEL:
        # A hub id looks like a relative path; only a path that exists is made absolute.
        local = base / Path(value).expanduser()
        if Path(value).is_absolute() or value.startswith((".", "~")) or local.exists():
            value = str(local.resolve())
    setattr(part, name, value)


def _default(section: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(section) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _did_you_mean(word: Any, known, *, prefix: str = "") -> str:
    # str(): a YAML key need not be text (1:, yes:), and difflib compares only strings
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def _resolve(value: str, base: Path) -> str:
    return os.path.normpath(base / Path(value).expanduser())


def _coerce(value: Any, hint: Any, *, key: str, source: str) -> Any:
    """``value`` as the field's type, or a ConfigError saying what was expected."""
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    bad = ConfigError(f"{source}: {key}: expected {_describe(hint)}, got {yamlio.shown(value)}")
    if typing.get_origin(hint) is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise bad
        return dict(value)
    if typing.get_origin(hint) is list:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
            raise bad
        return list(items)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if hint is int:
        # 08 and 09 are strings to YAML 1.1 (a leading zero is octal there); they are the numbers they look like
        if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+", value):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if hint is float:
        # YAML 1.1 reads "3e-5" (no dot) as a string; accept it as the number it obviously is.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        return float(value)
    if hint is str:
        if key == "optim.mixed_precision" and value is False:
            return "no"  # YAML 1.1 reads a bare `no` as false
        if isinstance(value, (bool, int, float, datetime.date)):  # run.name=2024-05-01 is a date to YAML
            shell = _past_shell(source, key, "'...'")
            raise ConfigError(f"{source}: {key}: expected a non-empty string, got {value!r} "
                              f"(YAML reads it as {type(value).__name__}; quote it{shell})")
        if not isinstance(value, str) or not value:
            raise bad
        return value
    raise AssertionError(f"no coercion for {hint}")  # a field type this module does not know


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return "a path or a list of paths"
    if typing.get_origin(hint) is dict:
        return "a mapping of option: value"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a non-empty string"}[hint]


def _check_data(cfg: TrainConfig, fail, sources: dict[str, str]) -> None:
    """The label scheme, the layers and the reader options, checked before a run folder is touched
    (``run.overwrite=true`` deletes the old run before it reads the data)."""
    from naba.corpus.formats import canonical, detect, options
    from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme

    d = cfg.data
    try:
        scheme = LabelScheme.load(d.labels) if d.labels is not None else DEFAULT_SCHEME
    except ConfigError as exc:
        fail("data.labels", str(exc))
    if d.layers is not None:
        unknown = [layer for layer in d.layers if layer not in scheme.layers]
        if unknown:
            hint = _list_hint(unknown, "data.layers", sources.get("data.layers", CLI))
            fail("data.layers", f"the label scheme ({d.labels or 'built-in'}) has no layer(s) {unknown}; "
                                f"it has {list(scheme.layers)}{hint}")
    if d.format is not None:
        try:
            canonical(d.format)
        except ConfigError as exc:
            fail("data.format", str(exc))
    for path in d.train + d.dev + d.test:
        try:
            fmt = canonical(d.format) if d.format is not None else detect(path)
        except DataError:
            continue  # the reader says so, naming the file
        unknown = sorted(set(d.read_options) - options(fmt))
        if unknown:
            fail("data.read_options", f"the {fmt} reader ({path}) has no option(s) {unknown}; "
                                      f"it has {sorted(options(fmt))}")


def _list_hint(items: list[str], key: str, source: str) -> str:
    # data.layers=entity,claim is one layer named "entity,claim" to YAML, data.train=a.jsonl,b.jsonl one file
    if not any("," in x for x in items):
        return ""
    return f"; a list is written in brackets, e.g. [a, b]{_past_shell(source, key, '[a, b]')}"


def _past_shell(source: str, key: str, value: str) -> str:
    # typed as such, run.name='2024' reaches naba without its quotes and data.layers=[a, b] as two arguments
    return f" (on the command line, in the shell's quotes: \"{key}={value}\")" if source == CLI else ""


def _check(cfg: TrainConfig, sources: dict[str, str]) -> None:
    """Value checks that need more than the type; each error names the key and its source."""

    def fail(key: str, reason: str) -> None:
        raise ConfigError(f"{sources.get(key, 'defaults')}: {key}: {reason}")

    def where(key: str, path: str) -> str:
        # a config saved outside a folder of configs (exp.yaml at the repository root) looked one folder too
        # high for its data, and the message showed the path without saying why it starts there
        source = sources.get(key, CLI)
        base = Path(source).resolve().parent.parent if source != CLI else None
        if base is None or not Path(path).is_relative_to(base):
            return path
        return f"{path} (relative paths in a config file start at the parent of its folder, {base})"

    d, m, o, r = cfg.data, cfg.model, cfg.optim, cfg.run
    if not d.train:
        fail("data.train", "no training data given (data.train: a path, a glob or a list of them)")
    for key in ("data.train", "data.dev", "data.test"):
        section, name = key.split(".")
        patterns = getattr(d, name)
        files: list[str] = []
        for pattern in patterns:
            # a path that exists is itself, glob characters and all: a folder named 'run [2]' or 'v*'
            # matched nothing as a pattern (nor did the saved config of a run trained from it)
            literal = not glob.has_magic(pattern) or Path(pattern).exists()
            matched = [pattern] if literal else sorted(glob.glob(pattern))
            # a folder is a brat corpus, as for every naba reader
            missing = [f for f in matched if not (Path(f).is_file() or Path(f).is_dir())]
            if not matched or missing:
                fail(key, f"no such data file: {where(key, missing[0] if missing else pattern)}"
                          f"{_list_hint([pattern], key, sources.get(key, CLI))}")
            files.extend(matched)
        setattr(d, name, files)
    if d.labels is not None and not Path(d.labels).is_file():
        fail("data.labels", f"no such label scheme file: {where('data.labels', d.labels)}")
    _check_data(cfg, fail, sources)
    if not 0 <= d.dev_ratio < 1:
        fail("data.dev_ratio", f"must be in [0, 1), got {d.dev_ratio}")
    if d.layers is not None and not d.layers:
        fail("data.layers", "must name at least one layer (or be null for all)")
    if m.preset not in PRESETS:
        fail("model.preset", f"must be one of {', '.join(PRESETS)}, got {m.preset!r}")
    if m.tokenizer is not None and not Path(m.tokenizer).is_dir():
        fail("model.tokenizer", f"no such tokenizer folder: {where('model.tokenizer', m.tokenizer)}")
    if m.tokenizer is not None and m.name_or_path != SMALL_MODEL:
        fail("model.tokenizer", f"only for model.name_or_path={SMALL_MODEL} (a pretrained model brings its own)")
    if m.tokenizer is not None and not any((Path(m.tokenizer) / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        # a run folder given for its tokenizer/ reached transformers, whose error asks to install sentencepiece
        fail("model.tokenizer", f"no tokenizer.json in {m.tokenizer} (a naba run keeps its tokenizer in tokenizer/)")
    if m.max_length < 8:
        fail("model.max_length", f"must be at least 8, got {m.max_length}")
    if not 0 <= m.stride < m.max_length - 2:
        fail("model.stride", f"must be >= 0 and below max_length - 2 ({m.max_length - 2}), got {m.stride}")
    for name in ("vocab_size", "hidden_size", "num_layers", "heads", "intermediate"):
        if getattr(m, name) < 1:
            fail(f"model.{name}", f"must be positive, got {getattr(m, name)}")
    if m.hidden_size % m.heads:
        fail("model.heads", f"hidden_size {m.hidden_size} is not divisible by heads {m.heads}")
    if o.lr <= 0:
        fail("optim.lr", f"must be > 0, got {o.lr}")
    if o.weight_decay < 0:
        fail("optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    if not 0 <= o.warmup_ratio < 1:
        fail("optim.warmup_ratio", f"must be in [0, 1), got {o.warmup_ratio}")
    if o.max_grad_norm < 0:
        fail("optim.max_grad_norm", f"must be >= 0, got {o.max_grad_norm}")
    for name, low in (("epochs", 1), ("max_steps", 0), ("batch_size", 1), ("batch_tokens", 0), ("grad_accum", 1)):
        if getattr(o, name) < low:
            fail(f"optim.{name}", f"must be >= {low}, got {getattr(o, name)}")
    if 0 < o.batch_tokens < m.max_length:
        fail("optim.batch_tokens", f"must hold at least one window of max_length {m.max_length}, got {o.batch_tokens}")
    if o.mixed_precision not in MIXED_PRECISION:
        fail("optim.mixed_precision", f"must be one of {', '.join(MIXED_PRECISION)}, got {o.mixed_precision!r}")
    if r.tracker not in TRACKERS:
        fail("run.tracker", f"must be one of {', '.join(TRACKERS)}, got {r.tracker!r}")
    for name, low in (("eval_every", 0), ("save_every", 0), ("keep_checkpoints", 1), ("patience", 0),
                      ("num_workers", 0), ("threads", 0), ("log_every", 1), ("seed", 0)):
        if getattr(r, name) < low:
            fail(f"run.{name}", f"must be >= {low}, got {getattr(r, name)}")
    if r.seed >= 2**32:
        fail("run.seed", f"must be below 2**32 (numpy's limit), got {r.seed}")
    if "/" in r.name or r.name in (".", ".."):
        fail("run.name", f"must be a plain folder name, got {r.name!r}")
    # a file where the run folder or a folder above it goes would stop the start with a raw mkdir error
    # once the data is read and the model built
    there = Path(r.dir) / r.name
    while not there.exists() and there != there.parent:
        there = there.parent
    if not there.is_dir():
        fail("run.name" if there == Path(r.dir) / r.name else "run.dir", f"{there} is a file, not a folder")
