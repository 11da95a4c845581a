"""The job record beside a batch job's output: what decided its lines, so that a rerun cannot mix them.

A rerun of ``naba predict`` into an output that has lines resumes it: it skips the ids already
written. With another model, ``--rules`` on or off, other windows or other id/text fields, the old
lines would stay the old job's and only new ids would be the new one's: one file of two jobs that no
reader can tell apart. So the first run into an output writes ``OUT.job.json`` (:func:`record_path`)
beside it, and a rerun compares itself with it (:func:`compare`): a difference that changes the
lines refuses the run, a dtype one (bf16 on one GPU, fp32 on another) is a warning only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from naba.corpus.fileio import atomic_write
from naba.errors import ModelLoadError

# what the model folder's files hash over: the weights (one file, or shards with their index), its
# config (with the label map), naba.json (scheme, windows, preset) and the tokenizer's files, by name;
# not other files a copy may gain (a README, an eval report's metrics.json, notes.txt), which change
# no prediction
_MODEL_FILES = (
    "*.safetensors", "model.safetensors.index.json", "config.json", "naba.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "merges.txt", "*.model",
)
# fields that change the output's lines: a difference refuses the run; --with-text is kept too,
# but its lines say it and naba.predict.batch refuses it from them (with its own message)
_REFUSED = {
    "model": "model",
    "rules": "--rules",
    "id_field": "--id-field",
    "text_field": "--text-field",
    "max_length": "max_length",
    "stride": "stride",
}
# fields that change the scores' last digits at most: a warning
_WARNED = {"dtype": "dtype"}
_CHUNK = 1 << 22


def record_path(output: str | Path) -> Path:
    """``OUT.job.json`` beside ``OUT`` (never ``.txt``: a folder input's .txt files are documents)."""
    output = Path(output)
    return output.with_name(output.name + ".job.json")


def model_fingerprint(folder: str | Path | None) -> str | None:
    """sha256 over the checkpoint folder's files that decide predictions (names and bytes); ``None``
    for a Tagger made from a model in memory, which has no folder to hash."""
    if folder is None:
        return None
    digest = hashlib.sha256()
    for path in _model_files(Path(folder)):
        digest.update(path.name.encode("utf-8") + b"\0")
        try:
            with path.open("rb") as fh:
                while block := fh.read(_CHUNK):
                    digest.update(block)
        except OSError as exc:  # one the model was loaded without (vocab.txt beside tokenizer.json) may be unreadable
            raise ModelLoadError(f"{path}: cannot read it to record which model wrote the output: "
                                 f"{exc.strerror or exc}") from None
        digest.update(b"\0")
    return digest.hexdigest()


def model_files_state(folder: str | Path | None) -> tuple[tuple[str, int, int], ...] | None:
    """Name, size and modification time of each file :func:`model_fingerprint` reads: cheap, taken
    when a Tagger loads, so that a hash taken later can tell the files are still the ones loaded."""
    if folder is None:
        return None
    return tuple((p.name, st.st_size, st.st_mtime_ns) for p in _model_files(Path(folder)) for st in [p.stat()])


def _model_files(folder: Path) -> Iterator[Path]:
    names = {p for pattern in _MODEL_FILES for p in folder.glob(pattern) if p.is_file()}
    yield from sorted(names, key=lambda p: p.name)


def job_settings(
    tagger: Any, *, rules: bool, with_text: bool, id_field: str, text_field: str, fingerprint: str | None
) -> dict[str, Any]:
    """The record of a job: what its lines depend on, and the naba that wrote them."""
    from naba import __version__

    return {
        "naba": __version__,
        "model": fingerprint,
        "model_path": getattr(tagger, "checkpoint", None) or getattr(tagger, "source", None),
        "rules": rules,
        "with_text": with_text,
        "id_field": id_field,
        "text_field": text_field,
        "max_length": tagger.max_length,
        "stride": tagger.stride,
        "dtype": str(tagger.dtype).removeprefix("torch."),
    }


def read_record(path: Path) -> dict[str, Any] | str | None:
    """The record at ``path``; ``None`` if there is none; why not (a string) if it cannot be read."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"cannot read it: {getattr(exc, 'strerror', None) or exc}"
    if not isinstance(record, dict):
        return f"not a job record (a JSON {type(record).__name__})"
    return record


def write_record(path: Path, settings: dict[str, Any]) -> None:
    """Write the record atomically: a reader never sees half of one."""
    atomic_write(path, json.dumps(settings, ensure_ascii=False, indent=2) + "\n")


def compare(record: dict[str, Any], now: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(refused, warned)``: each field that differs between ``record`` and this run, ``was -> now``."""
    refused = [_difference(name, record, now, key) for key, name in _REFUSED.items() if _differs(record, now, key)]
    warned = [_difference(name, record, now, key) for key, name in _WARNED.items() if _differs(record, now, key)]
    return refused, warned


def _differs(record: dict[str, Any], now: dict[str, Any], key: str) -> bool:
    if key == "model" and (record.get(key) is None or now.get(key) is None):
        return False  # a model given in memory: nothing to compare
    return key in record and record[key] != now[key]


def _difference(name: str, record: dict[str, Any], now: dict[str, Any], key: str) -> str:
    if key == "model":
        # a hash alone tells a user nothing: the folders too, where they are known
        def shown(r: dict[str, Any]) -> str:
            return f"{r.get('model_path')} (sha256 {str(r.get('model'))[:12]})"

        return f"model: {shown(record)} -> {shown(now)}"
    return f"{name}: {_value(key, record[key])} -> {_value(key, now[key])}"


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    # a field name quoted: "" or one with spaces shows as itself
    return json.dumps(value, ensure_ascii=False) if key.endswith("_field") else str(value)
