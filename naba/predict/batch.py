"""The streaming batch job behind ``naba predict``: input file -> one JSONL line per document.

Memory stays flat: the input is read lazily, a chunk of documents at a time (the tagger holds
two chunks at most), and each chunk's lines are appended and made durable (flush + fsync)
before the next. Run again after a crash, the job truncates a torn last line, skips the ids
already written and deletes the temporary files the crash left (the rejects file's, a merge's);
a second job on an output that one is writing is refused (a lock, released when a job ends or dies);
bad records go to a rejects file with their line and reason.

Under ``torchrun`` or ``accelerate launch`` (WORLD_SIZE > 1) every process reads the whole
input, so all agree on which records are rejected and which documents are still to do; the
j-th document still to do goes to process ``j % world``, which appends it to its own part file.
After a barrier, process 0 merges the parts round robin, which is input order, behind what the
output already held, and moves the result into place.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from naba.corpus.fileio import atomic_open, remove_temp_files, same_file, write_error
from naba.errors import ConfigError, DataError, Problem
from naba.predict.host import rule_claims_json, rules_clash, spans_json
from naba.predict.inputs import CHUNK_DOCS
from naba.predict.io import (
    CODECS,
    READ_BUFFER,
    Appender,
    Record,
    Reject,
    UntilUnreadable,
    checked_ids,
    prediction_line_json,
    read_inputs,
    resume_output,
    unique_ids,
)
from naba.predict.jobrecord import (
    compare,
    job_settings,
    model_fingerprint,
    read_record,
    record_path,
    write_record,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """This process's place among the job's processes; ``barrier`` waits for all of them."""

    rank: int = 0
    world: int = 1
    device: Any = None
    barrier: Callable[[], None] = lambda: None
    # every process's list joined, in rank order (accelerate's gather_object): a collective, so a barrier too
    gather: Callable[[list[Any]], list[Any]] | None = None

    def agree(self, value: Any) -> Any:
        """Wait for every process, as :attr:`barrier` does, and return the first value that is not
        ``None`` among every process's ``value`` (process 0's first): a refusal that only process 0
        can see (it alone reads the job record) stops them all with its message."""
        if self.gather is None:
            self.barrier()
            return value
        return next((v for v in self.gather([value]) if v is not None), None)

    def stop_together(self, error: DataError | ConfigError | None) -> None:
        """Raise ``error`` (what stopped process 0 before the others could see it, or ``None``) on every
        process: one collective under several processes (the others, waiting in the next one, died in a
        gloo traceback when process 0 ended alone; NCCL: until torchrun's agent ended them)."""
        if self.world > 1:
            shared = self.agree(None if error is None else error.problems if isinstance(error, DataError) else str(error))
            if error is None and shared is not None:
                error = DataError(shared) if isinstance(shared, list) else ConfigError(shared)
        if error is not None:
            raise error


def current_shard() -> Shard:
    """The shard of this process: single unless launched by torchrun / accelerate launch."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()
    import torch
    from accelerate import PartialState
    from accelerate.utils import gather_object

    # processes finish their shares at different times: the merge barrier must wait that long;
    # without a GPU accelerate needs cpu=True to start gloo
    state = PartialState(cpu=not torch.cuda.is_available(), timeout=timedelta(hours=12))
    return Shard(state.process_index, state.num_processes, state.device, state.wait_for_everyone, gather_object)


def job_device(asked: str | None, shard: Shard) -> Any:
    """The device this process tags on: ``asked``, except that under a launcher a bare ``"cuda"``
    (or nothing) is the GPU the launcher gave this process, by its index. (accelerate also makes it
    the current device, but only for the thread that set it up: CUDA's current device is per thread.)"""
    if asked is None or (asked == "cuda" and shard.world > 1 and getattr(shard.device, "type", None) == "cuda"):
        return shard.device
    return asked


@dataclass(frozen=True)
class JobResult:
    """What a run of the job did: process 0 counts the whole job's documents (all processes'), the
    others their own share (every process counts the rejects)."""

    written: int
    skipped: int
    rejected: int
    tokens: int
    seconds: float
    output: Path
    rejects: Path | None
    # documents the output held before the run that the input does not have (another input, another
    # id field), and ones the input has after a document to tag (the input changed): either way the
    # output is no longer this input's documents in its order
    foreign: int = 0
    out_of_order: int = 0


def default_rejects(output: str | Path) -> Path:
    """``OUT.rejects.jsonl`` beside ``OUT.jsonl``."""
    output = Path(output)
    return output.with_name(output.stem + ".rejects.jsonl")


def run_job(
    tagger: Any,
    input_path: str | Path,
    output: str | Path,
    *,
    id_field: str = "id",
    text_field: str = "text",
    rejects: str | Path | None = None,
    batch_tokens: int | None = None,
    chunk_docs: int = CHUNK_DOCS,
    rules: bool = False,
    with_text: bool = False,
    progress: bool = True,
    shard: Shard | None = None,
    check_id: Callable[[str], str | None] | None = None,
    finish: Callable[[JobResult], None] | None = None,
) -> JobResult:
    """Tag every document of ``input_path`` into ``output`` (JSONL, input order), resumably.

    ``check_id(id)``, if given, returns why a document's id cannot be used (an output format's
    limits), or ``None``; it sees every id of a document with text (empty ones are never exported) in
    input order, and such documents are rejected.
    ``finish(result)``, if given, runs on process 0 once the output is complete, with the output
    still locked (naba predict's export of it: a second job would read it, export it and delete it).

    The job record ``OUT.job.json`` (naba.predict.jobrecord) beside the output holds what its lines
    depend on: a sha256 of the tagger's checkpoint files (weights, config.json, naba.json, tokenizer),
    ``rules``, ``with_text``, ``id_field``, ``text_field``, the tagger's ``max_length``, ``stride`` and
    dtype, and the naba version. A run into an output without lines writes it; a rerun into one with
    lines (resuming it) whose model, ``rules``, fields or windows differ from the record's is a
    ConfigError naming each difference (old lines would be the old job's, new ones this one's), one
    whose dtype differs warns; an output with lines but no record (an older naba's) warns that it
    cannot be checked and gets this run's record. Only process 0 reads and writes it (and hashes the
    model); the others stop with its refusal.
    """
    shard = shard or Shard()
    if rules and (clash := rules_clash(dict(tagger.space.scheme.layers))):
        raise ConfigError(clash)
    output = Path(output)
    rejects_path = Path(rejects) if rejects is not None else default_rejects(output)
    _check_paths(Path(input_path), output, rejects_path)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(Problem(str(output), "", f"cannot make its folder: {exc.strerror or exc}"),
                        about="the output") from None
    # reading the first record before touching any output: a missing input or a Parquet file
    # without the text column fails here, leaving no empty output behind
    items = read_inputs(input_path, id_field=id_field, text_field=text_field)
    items = itertools.chain([first] if (first := next(items, None)) is not None else [], items)
    # an input that breaks off further on (a truncated .jsonl.gz) ends the stream there: what was read
    # is tagged, written (merged, under a launcher) and its rejects kept before the error is raised
    cut = UntilUnreadable()
    items = cut.items(items)
    # held until the job returns (the process's end releases it, a SIGKILL's too)
    with contextlib.ExitStack() as lock:
        if shard.rank == 0:
            try:
                lock.enter_context(_lock(output))
            except (DataError, ConfigError) as exc:
                # another job writing the output, an output it cannot open: the others wait in _run's first check
                shard.stop_together(exc)
        result = _run(tagger, input_path, output, items, rejects_path, batch_tokens=batch_tokens, chunk_docs=chunk_docs,
                      rules=rules, with_text=with_text, progress=progress, shard=shard, check_id=check_id,
                      fields=(id_field, text_field))
        cut.raise_error()  # before finish: no export of a job cut short
        if finish is not None and shard.rank == 0:
            # the merge moved a new file into place, which the lock above does not hold
            with _lock(output) if shard.world > 1 else contextlib.nullcontext():
                finish(result)
        return result


@contextlib.contextmanager
def _lock(output: Path) -> Iterator[None]:
    """An exclusive lock on ``output`` for this job: a second job on the same output (a scheduler's
    retry while the first still runs, a command started twice) would read the same ids as done,
    tag the same documents and append them again, and cut the other's lines as torn."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    made, record = not output.exists(), record_path(output)
    had_record = record.exists()
    try:
        fh = output.open("ab")  # the job appends to it next anyway
    except OSError as exc:
        raise write_error(output, exc) from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{output}: another naba predict is writing it now; let that one finish (or stop it) "
                              "before starting this one") from None
        except OSError as exc:
            # some network file systems (NFS without a lock daemon, Lustre mounted without flock) have no
            # locks: the job goes on, as it did before locks, rather than failing where it ran before
            log.warning("%s: cannot lock it (%s); make sure no other job writes it", output, exc.strerror or exc)
        try:
            yield
        except BaseException:
            # a run refused by a check (parts of another number of processes) leaves no output of its own
            # making; removed while still locked, so that no other job holds it
            if made:
                with contextlib.suppress(OSError):
                    if output.stat().st_size == 0:
                        output.unlink()
                        # the record this run wrote for it describes no lines, unless a sharded run's
                        # parts hold some (they are merged only at its end)
                        parts = output.parent.glob(f"{glob.escape(output.name)}.part-*-of-*")
                        if not had_record and not any(p.stat().st_size for p in parts):
                            record.unlink(missing_ok=True)
            raise


def _run(
    tagger: Any,
    input_path: str | Path,
    output: Path,
    items: Iterator[Any],
    rejects_path: Path,
    *,
    batch_tokens: int | None,
    chunk_docs: int,
    rules: bool,
    with_text: bool,
    progress: bool,
    shard: Shard,
    check_id: Callable[[str], str | None] | None,
    fields: tuple[str, str],
) -> JobResult:
    """:func:`run_job` once its paths are checked, its first record read and its output locked."""
    error: DataError | ConfigError | None = None
    record = None
    if shard.rank == 0:
        try:
            done = resume_output(output)  # repairs a torn last line before anyone reads it
            # a run killed while the rejects file (open all run long) or a merge was being written
            # leaves their temporary files; nothing writes them now, and each kill would add one
            remove_temp_files(output)
            remove_temp_files(rejects_path)
            # the other processes' parts as they were before this run (those processes wait at the barrier):
            # what they skip, counted for the whole job's report
            # a damaged part (its own included) stops every process here: found by its process after this
            # collective, it ended that one alone, and the others died in a gloo traceback at the merge
            ranks = range(shard.world) if shard.world > 1 else ()
            parts = [resume_output(part_path(output, r, shard.world), repair=False) for r in ranks]
            theirs = sum(len(ids - done) for ids in parts[1:])
            lines = bool(done) or _parts_have_lines(output, shard.world)
            refusal, record = _check_record(tagger, output, lines=lines, rules=rules, with_text=with_text,
                                            fields=fields)
            error = ConfigError(refusal) if refusal is not None else None
        except (DataError, ConfigError) as exc:  # an output that is not naba's, a part it cannot read
            error = exc
    # the barrier: every process stops with what stopped process 0 (a refusal only it could see)
    shard.stop_together(error)
    if shard.rank != 0:
        done = resume_output(output, repair=False)
    # the parts too: a sharded run's lines are all in them until its merge
    for path in [output, *(part_path(output, r, shard.world) for r in range(shard.world) if shard.world > 1)]:
        _check_with_text(path, with_text)
    # also a run of one process: parts of a sharded run hold documents the output does not
    _check_parts(output, shard.world)
    if shard.world > 1:
        target = part_path(output, shard.rank, shard.world)
        # less what a merge killed before it deleted the parts has put in the output already
        mine = resume_output(target) - done
    else:
        target, mine = output, set()
    if record is not None:
        # once the checks before tagging have passed: a refused run leaves no record of lines it never wrote
        try:
            write_record(record_path(output), record)
        except DataError as exc:  # a full disk, a read-only folder
            error = exc
    # a record process 0 could not write stopped it alone: the others tagged on, and died at the merge
    shard.stop_together(error)

    counts = {"rejected": 0, "skipped": 0, "found": 0, "out_of_order": 0}
    started, tokens0 = time.perf_counter(), tagger.tokens_done
    # only process 0 writes rejects: every process sees the same ones
    with atomic_open(rejects_path) if shard.rank == 0 else contextlib.nullcontext() as sink:
        checked = unique_ids(items, source=str(input_path))
        if check_id is not None:
            checked = checked_ids(checked, check_id, source=str(input_path))
        records = _todo(
            checked,
            done=done, mine=mine, shard=shard, rejects=sink, counts=counts, part=target, source=str(input_path),
            rejects_path=rejects_path,
        )
        written = _tag_into(
            tagger, records, target, batch_tokens=batch_tokens, chunk_docs=chunk_docs,
            rules=rules, with_text=with_text, progress=progress and shard.rank == 0,
        )
    if shard.world > 1:
        shard.barrier()
        if shard.rank == 0:
            merged = merge_parts(output, shard.world, done=done)
            # the whole job's counts: every part line merged was tagged now or found from an earlier run
            counts["skipped"] += theirs
            written = merged - len(mine) - theirs
        shard.barrier()
    return JobResult(
        written=written,
        skipped=counts["skipped"],
        rejected=counts["rejected"],
        tokens=tagger.tokens_done - tokens0,
        seconds=time.perf_counter() - started,
        output=output,
        rejects=rejects_path if shard.rank == 0 else None,
        foreign=len(done) - counts["found"],
        out_of_order=counts["out_of_order"],
    )


def _check_record(
    tagger: Any, output: Path, *, lines: bool, rules: bool, with_text: bool, fields: tuple[str, str]
) -> tuple[str | None, dict[str, Any] | None]:
    """``(refusal, record to write)`` for a run into ``output``: refused if the output has ``lines``
    and its record names another model, rules, fields or windows; a record to write if it has no lines
    (a new job) or no record (an older naba's output: warned about); dtype differences warned about."""
    path = record_path(output)
    remove_temp_files(path)  # a record write killed part way
    started = time.perf_counter()
    # the Tagger keeps its own (a loop of jobs hashes its model once); a stand-in without one is hashed here
    if hasattr(tagger, "fingerprint"):
        fingerprint = tagger.fingerprint
    else:
        fingerprint = model_fingerprint(getattr(tagger, "checkpoint", None))
    log.debug("hashed the model's files in %.2f s", time.perf_counter() - started)
    now = job_settings(tagger, rules=rules, with_text=with_text, id_field=fields[0], text_field=fields[1],
                       fingerprint=fingerprint)
    if not lines:
        return None, now
    old = read_record(path)
    if old is None:
        log.warning("%s: has lines but no job record %s (written by an older naba or another tool): cannot check "
                    "that they come from this model and options; writing this run's record for the next",
                    output, path.name)
        return None, now
    if isinstance(old, str):
        return (f"{path}: {old}; it records how {output} was written. Delete it to resume unchecked, "
                "or write to another -o"), None
    refused, warned = compare(old, now)
    for difference in warned:
        log.warning("%s: resuming with another %s (rounding only; the lines are the same job's)", output, difference)
    if refused:
        return (f"{output}: its lines were written by another job ({path.name}); this run differs in "
                + "; ".join(refused) + ". Rerun with the same model and options to resume it, or write to "
                "another -o (or delete it and its .job.json to start over)"), None
    return None, None


def _parts_have_lines(output: Path, world: int) -> bool:
    """Whether a sharded run's parts hold anything: until the merge its lines are all there."""
    parts = (part_path(output, r, world) for r in range(world)) if world > 1 else ()
    return any(p.exists() and p.stat().st_size > 0 for p in parts)


def _check_paths(input_path: Path, output: Path, rejects: Path) -> None:
    # resuming reads the output's ids and cuts its torn last line; the rejects file replaces its
    # path at the end: either one landing on the input (or on each other) destroys data
    if same_file(output, input_path):
        raise ConfigError(f"{output}: the output is the input; choose another -o")
    if same_file(rejects, input_path):
        raise ConfigError(f"{rejects}: the rejects file is the input; choose another --rejects")
    if same_file(rejects, output):
        raise ConfigError(f"{rejects}: the rejects file is the output; choose another --rejects")
    for path, what in ((output, "the output"), (rejects, "the rejects file")):
        check_plain_name(path, what)
        if in_text_folder(path, input_path):
            raise ConfigError(f"{path}: {what} is a .txt file in the input folder, whose .txt files are its "
                              "documents (a rerun would tag it); choose another name or folder")
    if output.is_dir():
        raise ConfigError(f"{output}: is a folder; the output is a file")
    if rejects.is_dir():
        raise ConfigError(f"{rejects}: is a folder; the rejects file is a file")


def check_plain_name(path: Path, what: str) -> None:
    """A ConfigError for an output named as compressed (``tags.jsonl.gz``): it is written as plain
    text (appended to, and cut back to its last whole line on a rerun), which a reader going by its
    name would fail to decompress; and for ``-``, which is a file named ``-`` here, not standard
    output (a pipe cannot be appended to after a crash)."""
    if str(path) == "-":
        # written so, the job tagged the whole corpus into ./- and printed nothing to the pipe
        raise ConfigError(f"-: {what} cannot be standard output (a job appends to it and resumes it); "
                          "name a file, and read it once the job is done")
    if path.suffix.lower() in CODECS:
        raise ConfigError(f"{path}: {what} is written as plain text (a job appends to it and resumes it), not "
                          f"{path.suffix}; name it without {path.suffix} and compress it once the job is done")


def in_text_folder(path: Path, input_path: Path) -> bool:
    """Whether ``path`` is one of the files a folder input ``input_path`` reads as documents (a
    visible .txt file in it: naba.predict.io.read_inputs skips hidden ones)."""
    return (input_path.is_dir() and path.suffix.lower() == ".txt" and not path.name.startswith(".")
            and same_file(path.parent, input_path))


def _todo(
    items: Iterator[Record | Reject],
    *,
    done: set[str],
    mine: set[str],
    shard: Shard,
    rejects: IO[str] | None,
    counts: dict[str, int],
    part: Path,
    source: str,
    rejects_path: Path,
) -> Iterator[Record]:
    """This process's documents still to tag; rejects written on the way (by process 0)."""
    j = k = 0  # documents still to do, and this process's share of them
    for item in items:
        if isinstance(item, Reject):
            counts["rejected"] += 1
            if rejects is not None:
                try:
                    rejects.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
                except OSError as exc:
                    # a full disk once the buffer fills: named, as the output's own write errors are
                    # (a raw OSError traceback otherwise); the temporary file is deleted on the way out
                    raise write_error(rejects_path, exc) from None
            continue
        if item.id in done:
            counts["skipped"] += 1
            counts["found"] += 1
            # an unchanged input has the output's documents first: new lines follow them
            counts["out_of_order"] += j > 0
            continue
        owner, j = j % shard.world, j + 1
        # a part holds this process's first documents as the input gave them out when it was written:
        # on another order they would be tagged again (by another process, or out of place) and
        # merged twice or out of order
        ours = item.id in mine
        if ours != (owner == shard.rank and k < len(mine)):
            raise ConfigError(
                f"{source}: line {item.line} (id {item.id!r}): the input changed since a killed run wrote {part} "
                "(its documents are no longer the first this process gets); rerun on the input it had, or delete "
                f"the {shard.world} part files to tag their documents again"
            )
        if owner != shard.rank:
            continue
        k += 1
        if ours:
            counts["skipped"] += 1
            continue
        yield item


def _tag_into(
    tagger: Any,
    records: Iterator[Record],
    target: Path,
    *,
    batch_tokens: int | None,
    chunk_docs: int,
    rules: bool,
    with_text: bool,
    progress: bool,
) -> int:
    # the spans become JSON where they are decoded (in the host workers, if any), rule claims too
    postprocess = rule_claims_json if rules else spans_json
    written = 0
    bar = tqdm(desc="naba predict", unit=" doc", disable=not progress, dynamic_ncols=True)
    started, tokens0 = time.perf_counter(), tagger.tokens_done
    with Appender(target) as out, bar:
        results = tagger.tag_documents(records, batch_tokens=batch_tokens, chunk_docs=chunk_docs, postprocess=postprocess)
        while True:
            chunk = list(itertools.islice(results, chunk_docs))
            if not chunk:
                break
            lines = [prediction_line_json(record.id, spans, text=record.text if with_text else None)
                     for record, spans in chunk]
            out.write(lines)
            written += len(lines)
            bar.update(len(lines))
            elapsed = max(time.perf_counter() - started, 1e-9)
            bar.set_postfix_str(f"{(tagger.tokens_done - tokens0) / elapsed:,.0f} tok/s", refresh=False)
    return written


def part_path(output: Path, rank: int, world: int) -> Path:
    """Where process ``rank`` of ``world`` appends its share of ``output``."""
    return output.with_name(f"{output.name}.part-{rank:03d}-of-{world:03d}")


def _check_with_text(output: Path, with_text: bool) -> None:
    # lines with their text and lines without in one output: its readers take it for one or the other
    try:
        with output.open("rb") as fh:
            first = fh.readline()
    except FileNotFoundError:
        return
    try:
        obj = json.loads(first)
    except ValueError:  # a torn line, not cut yet in another process's part, or damage its process reports
        return
    if isinstance(obj, dict) and ("text" in obj) != with_text:
        was, now = ("with", "without") if not with_text else ("without", "with")
        raise ConfigError(f"{output}: its lines were written {was} --with-text; rerun {was} it, "
                          f"or {now} it into another output")


def _check_parts(output: Path, world: int) -> None:
    # parts of a run with another number of processes hold another split of the documents
    stale = [p for p in output.parent.glob(f"{glob.escape(output.name)}.part-*-of-*") if not p.name.endswith(f"-of-{world:03d}")]
    if stale:
        raise ConfigError(
            f"{stale[0]}: part of an earlier run with another number of processes; "
            f"rerun with that number, or delete the part files to start those documents over"
        )


def _new_lines(fh: IO[bytes] | None, done: Collection[str]) -> Iterator[bytes]:
    for line in fh or ():
        if str(json.loads(line)["id"]) not in done:
            yield line


def _write(fh: IO[bytes], data: bytes, path: Path) -> None:
    # the merge writes a second copy of the output: a disk that fills part way is a DataError naming
    # it (the parts and the output stay as they were), not a raw OSError traceback
    try:
        fh.write(data)
    except OSError as exc:
        raise write_error(path, exc) from None


def merge_parts(output: Path, world: int, *, done: Collection[str] = ()) -> int:
    """Output lines so far, then the parts round robin (input order), moved into ``output``; returns
    how many part lines it added.

    Part lines whose id is in ``done`` (the output's ids before the run) are left out, so that a
    merge interrupted after the move but before the parts were deleted is not repeated.
    """
    parts = [part_path(output, r, world) for r in range(world)]
    handles = [p.open("rb", buffering=READ_BUFFER) if p.exists() else None for p in parts]
    try:
        with atomic_open(output, mode="wb") as merged:
            if output.exists():
                with output.open("rb") as old:
                    for line in old:
                        _write(merged, line, output)
            # lines already merged (a merge killed after the move) are dropped before the round
            # robin, so that they take no turn: parts unlinked in part, or uneven, still line up
            lines = [_new_lines(fh, done) for fh in handles]
            added = 0
            for j in itertools.count():
                line = next(lines[j % world], b"")
                if not line:
                    break
                _write(merged, line, output)
                added += 1
            left = [str(p) for p, it in zip(parts, lines, strict=True) if next(it, b"")]
            if left:
                raise DataError(Problem(left[0], "", "part file has more lines than its share: not merged"))
    finally:
        for fh in handles:
            if fh:
                fh.close()
    for p in parts:
        p.unlink(missing_ok=True)
    return added
