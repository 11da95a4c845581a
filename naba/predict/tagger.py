"""The Tagger: a naba checkpoint as a function from texts to spans in original code-point offsets.

Texts are prepared and cut into windows by naba.encode (offset maps to the original text kept),
windows of many documents are sorted by length and packed into batches under a token budget
(dynamic padding, so little compute goes to padding), run under ``torch.inference_mode``, and
decoded per document with naba.decode's BIO-constrained decoder. While one chunk of documents is
on the model, a background thread encodes the next one (read on the caller's thread); with
``workers``, worker processes (naba.predict.host) prepare, encode and decode chunks side by side,
so that the host keeps up with a GPU.
"""

from __future__ import annotations

import functools
import itertools
import logging
import numbers
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from naba.errors import ConfigError
from naba.predict.host import HostPool, Settings, decode_texts, encode_texts, widen, worker_settings
from naba.predict.inputs import CHUNK_DOCS, check_counts, check_switch, iterable_of_texts, text_of, texts_of
from naba.predict.setup import (
    cpu_dtype_problem,
    default_batch_tokens,
    default_workers,
    fused_encoder,
    gpu_dtype_problem,
    resolve_checkpoint,
    resolve_device,
    resolve_dtype,
    use_sdpa,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

def plan_batches(lengths: Sequence[int], *, batch_tokens: int, batch_size: int | None = None) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, longest first, each under a padded-token budget.

    A batch pads to its longest member, so sorting by length first keeps padding small; the
    padded size ``len(batch) * longest`` stays within ``batch_tokens`` (a single sequence longer
    than the budget gets a batch of its own).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        full = batch_size is not None and len(current) >= batch_size
        if current and (full or (len(current) + 1) * longest > batch_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


@dataclass
class _Chunk:
    items: list[Any]
    texts: list[str]
    windows: list[Any]  # naba.encode.Window of the non-empty texts
    owner: list[int]  # for each window, the index of its text in ``texts``


class Tagger:
    """Tags texts with a naba checkpoint: ``tagger(text)`` or ``tagger([text, ...])``.

    Made by :meth:`from_pretrained` (a run folder, a checkpoint folder or a cached hub id).
    ``tagger(text)`` returns one text's spans, ``tagger(texts)`` (a list, tuple, generator, numpy
    array or pandas Series of str) a list of span lists in input order, and
    :meth:`tag_documents` streams ``(item, spans)`` pairs for inputs too large to hold.

    Each span is a plain dict (JSON-ready: ints, strs and a float)
    ``{"start", "end", "label", "layer", "text", "score"}`` with code-point offsets into the text
    as given, ``text == original[start:end]``, and ``score`` the mean probability of the span's
    tags, in [0, 1], rounded to 4 decimals. A text's spans come sorted by ``start``, then longer first, then ``layer``
    and ``label``; both layers are in one list, so a CLAIM may hold ACTOR and LOCATION spans.

    A wrong argument (``None``, ``bytes``, a dict) is a ``TypeError``; a list item that is not a
    str is a :class:`naba.errors.DataError` naming every such item by its index, raised before
    any text is tagged; a count that is not 1 or more (``batch_size=0``) is a ``ValueError``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        space: Any,
        info: dict[str, Any],
        *,
        device: torch.device,
        dtype: torch.dtype,
        batch_tokens: int | None = None,
        chunk_docs: int = CHUNK_DOCS,
        fast_path: bool | None = None,
        workers: int | None = 0,
        source: str | None = None,
        checkpoint: str | None = None,
    ):
        check_counts(batch_tokens=batch_tokens, chunk_docs=chunk_docs, workers=workers)
        check_switch("fast_path", fast_path)
        self.model = model.eval()
        # what it was loaded from (from_pretrained), for repr
        self.source = source
        # the checkpoint folder it was loaded from (from_pretrained): the batch job's record hashes its files
        self.checkpoint = checkpoint
        # its files' names, sizes and times when from_pretrained read them (Tagger.fingerprint checks them)
        self._files_state: tuple[tuple[str, int, int], ...] | None = None
        self.tokenizer = tokenizer
        self.space = space
        self.info = info
        self.device = device
        self.dtype = dtype
        self.batch_tokens = batch_tokens or default_batch_tokens(device)
        self.chunk_docs = CHUNK_DOCS if chunk_docs is None else chunk_docs  # None: the default, as elsewhere
        self.workers = 0 if workers is None else workers  # None: the default, as check_counts takes it
        self.max_length = int(info.get("max_length", 512))
        self.stride = int(info.get("stride", 128))
        self.preset = str(info.get("preset", "arabertv02"))
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # lowered after an out-of-memory error, so that later batches do not hit it again
        self._budget_cap: int | None = None
        # subword tokens tagged so far: the batch job's progress bar reads them
        self.tokens_done = 0
        # seconds the feeding process has waited, with host workers, for their encoding, for the
        # device and for their decoding: where a job's time goes (naba predict reports them)
        self.waits = {"encode": 0.0, "device": 0.0, "decode": 0.0}
        # with host workers, a chunk's scores are collected after the next chunk is launched, so
        # that the device has work while this process hands chunks on (False: one at a time)
        self._overlap = True
        # with host workers, chunks smaller at the start and end of a stream (worker_chunks)
        self._ramp = True
        # with host workers, a GPU's scores go to them in the model's dtype, widened there
        self._compact = True
        self.fast = fused_encoder(model, device=device, dtype=dtype, wanted=fast_path)
        slow = cpu_dtype_problem(dtype, self.fast) if device.type == "cpu" else (
            gpu_dtype_problem(dtype, device) if device.type == "cuda" else None)
        if slow is not None:
            log.warning("%s", slow)

    @functools.cached_property
    def fingerprint(self) -> str | None:
        """sha256 of the checkpoint files this Tagger was loaded from (naba.predict.jobrecord), hashed
        when first asked for and kept: a job record of every batch job run with it holds it, and a
        loop of jobs would read a 500 MB model again for each. ``None`` for a model made in memory."""
        from naba.predict.jobrecord import model_files_state, model_fingerprint

        if self._files_state is not None and model_files_state(self.checkpoint) != self._files_state:
            # a run saved into the folder since: the record would name weights other than those tagging
            raise ConfigError(f"{self.checkpoint}: its files changed since this Tagger loaded them (a run saved "
                              "into it again?); load it again (Tagger.from_pretrained) to tag with them")
        return model_fingerprint(self.checkpoint)

    def __repr__(self) -> str:
        # what a notebook shows for the object: which model, where, in what precision, which labels
        source = self.source if self.source is not None else type(self.model).__name__
        layers = {layer: tuple(labels) for layer, labels in self.space.scheme.layers.items()}
        return (
            f"Tagger({source!r}, device='{self.device}', dtype={str(self.dtype).removeprefix('torch.')}, "
            f"layers={layers}, preset={self.preset!r}, max_length={self.max_length}, stride={self.stride}, "
            f"batch_tokens={self.batch_tokens}, workers={self.workers}, fast_path={self.fast is not None})"
        )

    @property
    def _settings(self) -> Settings:
        # made when asked, so that a changed stride or max_length counts, as it did before
        return Settings(
            self.tokenizer, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.space,
            self.max_length, self.stride, self.preset,
        )

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_tokens: int | None = None,
        chunk_docs: int = CHUNK_DOCS,
        fast_path: bool | None = None,
        workers: int | str = 0,
    ) -> Tagger:
        """Load a run folder (uses ``best/``), a checkpoint folder or a hub id (offline: its cache).

        ``fast_path``: run the model through naba's own encoder: on CPU the fused one
        (naba.predict.fastpath; by default in fp32 and bf16, where it was measured faster), on
        GPUs one that never waits for the device (naba.predict.gpupath); ``False``: transformers'
        forward. It takes the weights (some as copies) when the Tagger is made: a model changed
        afterwards needs a new Tagger.

        ``workers``: processes that prepare, encode and decode texts beside the model
        (naba.predict.host), for GPUs, which tag faster than one Python process feeds them;
        ``"auto"`` is :func:`default_workers` (none on CPU). Each call with more than one text
        starts them afresh (a fraction of a second), so they pay off on large inputs; a call with one
        text runs without them.
        """
        from naba.model import load_checkpoint

        device = resolve_device(device)
        compute = resolve_dtype(dtype, device)
        if workers == "auto":
            workers = default_workers(device, processes=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        # a numpy integer is a count too, as check_counts takes it for the other counts
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
            raise ValueError(f"workers must be a count (0 or more) or 'auto', not {workers!r}")
        workers = int(workers)
        # before the model is loaded (seconds): chunk_docs=0 tagged nothing and returned []
        check_counts(batch_tokens=batch_tokens, chunk_docs=chunk_docs)
        check_switch("fast_path", fast_path)
        folder = resolve_checkpoint(name_or_path)
        from naba.predict.jobrecord import model_files_state

        files_state = model_files_state(folder)  # before loading: the files as they were read
        model, tokenizer, space, info = load_checkpoint(folder)
        use_sdpa(model)
        model.to(device=device, dtype=compute)  # one move: cast on the way, not after
        tagger = cls(
            model, tokenizer, space, info, device=device, dtype=compute,
            batch_tokens=batch_tokens, chunk_docs=chunk_docs, fast_path=fast_path, workers=workers,
            source=str(name_or_path), checkpoint=folder,
        )
        tagger._files_state = files_state
        return tagger

    def __call__(
        self, texts: str | Iterable[str], *, batch_size: int | None = None, batch_tokens: int | None = None
    ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        """Spans of one text (a str), or a list of span lists, in input order, for many.

        ``texts``: a str, or any iterable of str (list, tuple, generator, numpy array, pandas
        Series); the results are all held, so for more than fits in memory use
        :meth:`tag_documents`. ``batch_size``: at most this many windows a forward pass;
        ``batch_tokens``: padded tokens a pass (the Tagger's by default). Both are 1 or more.

        Raises ``TypeError`` for ``None``, a number, ``bytes`` (decode them first) or a dict, and
        :class:`naba.errors.DataError` naming each item that is not a str by its index, before any
        text is tagged.
        """
        check_counts(batch_size=batch_size, batch_tokens=batch_tokens)
        single = isinstance(texts, str)
        items = [texts] if single else list(iterable_of_texts(texts, "texts"))
        # every item is checked first: a None at the end of a long list is found at once, not
        # after everything before it has been through the model. Each must be a str itself, not
        # read as tag_documents reads items: a (text, id) pair from zip(texts, ids) was tagged as its id
        texts_of(items, _itself)
        # one text cannot be shared among host workers: starting them would only cost their start
        workers = 0 if len(items) < 2 else None
        found = [spans for _, spans in self.tag_documents(items, batch_size=batch_size, batch_tokens=batch_tokens,
                                                          workers=workers)]
        return found[0] if single else found

    def tag_documents(
        self,
        items: Iterable[T],
        *,
        batch_size: int | None = None,
        batch_tokens: int | None = None,
        chunk_docs: int | None = None,
        text: Callable[[T], str] = text_of,
        workers: int | None = None,
        postprocess: Callable[[str, list[dict[str, Any]]], Any] | None = None,
    ) -> Iterator[tuple[T, Any]]:
        """Stream ``(item, spans)`` for each item, in input order, holding a few chunks at most.

        ``items`` may be texts, Documents, ``(id, text)`` pairs or anything ``text`` maps to a
        str. The iterable is read, and ``text`` called, on the calling thread (a ``sqlite3`` cursor
        works). Without ``workers`` (the Tagger's by default: none), it is read one chunk ahead of
        the model, which a background thread encodes meanwhile; with them, ``workers`` processes
        encode and decode chunks while this one runs the model (up to ``workers`` + 1 chunks ahead
        and as many behind, and the items of ``workers`` + 2 more read ahead to see the end coming:
        chunks are smaller at both ends of the stream, see :func:`worker_chunks`).
        ``postprocess(text, spans)``, a module-level function, runs where the spans are decoded
        (in the workers, if any) and the stream hands on what it returns: the batch job gets its
        JSON there (naba.predict.host.spans_json), off the process that feeds the model.

        The arguments are checked when it is called, not when the stream is first read: a str
        (not a list of texts), bytes or a dict is a ``TypeError``, a count below 1 (``workers``:
        below 0) a ``ValueError``. An item whose text is not a str is a
        :class:`naba.errors.DataError` naming its index, raised when its chunk is reached.
        """
        check_counts(batch_size=batch_size, batch_tokens=batch_tokens, chunk_docs=chunk_docs, workers=workers)
        if isinstance(items, str):
            raise TypeError("items must be an iterable of texts, not a str (its characters): tagger(text) tags one text")
        return self._stream(
            iterable_of_texts(items, "items"), batch_size=batch_size, batch_tokens=batch_tokens, chunk_docs=chunk_docs,
            text=text, workers=workers, postprocess=postprocess,
        )

    def _stream(
        self,
        items: Iterable[T],
        *,
        batch_size: int | None,
        batch_tokens: int | None,
        chunk_docs: int | None,
        text: Callable[[T], str],
        workers: int | None,
        postprocess: Callable[[str, list[dict[str, Any]]], Any] | None,
    ) -> Iterator[tuple[T, Any]]:
        """tag_documents, its arguments checked."""
        budget = batch_tokens or self.batch_tokens
        size = chunk_docs or self.chunk_docs
        workers = self.workers if workers is None else workers
        if workers > 0:
            chunks = worker_chunks(iter(items), size, workers) if self._ramp else _chunks(iter(items), size)
            yield from self._tag_in_workers(chunks, text, workers, budget=budget, batch_size=batch_size,
                                            postprocess=postprocess)
            return
        chunks = _chunks(iter(items), size)
        seen = 0  # items read so far: an error names an item by its index in the input

        def read_ahead(pool: ThreadPoolExecutor) -> Future[_Chunk] | None:
            # the items and their texts are read here, on the caller's thread (an iterable may work
            # on it alone: a sqlite3 cursor), and encoded on the pool's; an error in reading is
            # raised once its chunk is reached, after the chunks before it are handed on
            nonlocal seen
            try:
                batch = next(chunks, None)
                if not batch:
                    return None
                first, seen = seen, seen + len(batch)
                texts = texts_of(batch, text, first=first)
            except Exception as exc:
                failed: Future[_Chunk] = Future()
                failed.set_exception(exc)
                return failed
            return pool.submit(self._encode_texts, batch, texts)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="naba-encode") as pool:
            ahead = read_ahead(pool)
            while ahead is not None:
                chunk = ahead.result()
                ahead = read_ahead(pool)
                found = self._tag_chunk(chunk, budget=budget, batch_size=batch_size, postprocess=postprocess)
                yield from zip(chunk.items, found, strict=True)

    def _tag_in_workers(
        self,
        chunks: Iterator[list[T]],
        text: Callable[[T], str],
        workers: int,
        *,
        budget: int,
        batch_size: int | None,
        postprocess: Callable[[str, list[dict[str, Any]]], Any] | None,
    ) -> Iterator[tuple[T, Any]]:
        """tag_documents with the host work in ``workers`` processes (naba.predict.host)."""
        settings = replace(worker_settings(self._settings), postprocess=postprocess)
        waits = self.waits
        with HostPool(settings, workers) as pool:
            encoding: deque[tuple[int, list[T]]] = deque()  # sent to be encoded, in order
            decoding: deque[tuple[int, list[T]]] = deque()  # run on the model, sent to be decoded
            running: tuple[int, list[T], _Launched] | None = None  # on the device, scores not yet collected

            def collect(s: int, batch: list[T], launched: _Launched) -> None:
                # the chunk's scores (waiting for the device), off to its worker to be decoded
                started = time.perf_counter()
                logits = launched.result(compact=self._compact)  # widened in the worker
                waits["device"] += time.perf_counter() - started
                pool.decode(s, logits)
                self.tokens_done += launched.tokens
                decoding.append((s, batch))

            seq, more, seen = 0, True, 0
            while True:
                while more and len(encoding) <= workers:
                    batch = next(chunks, None)
                    if batch is None:
                        more = False
                        break
                    pool.encode(seq, texts_of(batch, text, first=seen))
                    seen += len(batch)
                    encoding.append((seq, batch))
                    seq += 1
                if encoding:
                    s, batch = encoding.popleft()
                    started = time.perf_counter()
                    inputs, owner = pool.result("encode", s)
                    waits["encode"] += time.perf_counter() - started
                    launched = self._launch(inputs, budget=budget, batch_size=batch_size)
                    # the chunk before is collected once this one's batches are queued behind it
                    if running is not None:
                        collect(*running)
                    running = (s, batch, launched)
                    if not self._overlap:
                        collect(*running)
                        running = None
                elif running is not None:
                    collect(*running)
                    running = None
                # hand on what is decoded, in order; wait only when more chunks than workers are
                # decoding, or when all are (the last one collected first, to decode beside the rest)
                idle = not encoding and running is None
                while decoding and (idle or len(decoding) > workers or pool.ready("decode", decoding[0][0])):
                    s, batch = decoding.popleft()
                    started = time.perf_counter()
                    found = pool.result("decode", s)
                    waits["decode"] += time.perf_counter() - started
                    yield from zip(batch, found, strict=True)
                if not encoding and not decoding and running is None:
                    return

    def _encode(self, items: list[T], text: Callable[[T], str], *, first: int = 0) -> _Chunk:
        return self._encode_texts(items, texts_of(items, text, first=first))

    def _encode_texts(self, items: list[T], texts: list[str]) -> _Chunk:
        windows, owner = encode_texts(texts, self._settings)
        return _Chunk(items, texts, windows, owner)

    def _tag_chunk(
        self,
        chunk: _Chunk,
        *,
        budget: int,
        batch_size: int | None,
        postprocess: Callable[[str, list[dict[str, Any]]], Any] | None = None,
    ) -> list[Any]:
        launched = self._launch(chunk.windows, budget=budget, batch_size=batch_size)
        logits = launched.result()
        self.tokens_done += launched.tokens
        return decode_texts(chunk.texts, chunk.windows, chunk.owner, logits, self.space, postprocess=postprocess)

    def _forward(self, windows: Sequence[Any], *, budget: int, batch_size: int | None) -> list[np.ndarray]:
        """Each window's scores (``[tokens, labels]``, float32), in order."""
        return self._launch(windows, budget=budget, batch_size=batch_size).result()

    def _launch(self, windows: Sequence[Any], *, budget: int, batch_size: int | None) -> _Launched:
        """Run ``windows`` through the model in batches; on a GPU, queued without waiting for it."""
        lengths = [len(w.input_ids) for w in windows]
        if self._budget_cap is not None:
            budget = min(budget, self._budget_cap)
        launched = _Launched(lengths, sum(w.core[1] - w.core[0] for w in windows))
        for batch in plan_batches(lengths, batch_tokens=budget, batch_size=batch_size):
            self._run(batch, windows, lengths, launched.parts)
        if self.device.type == "cuda" and launched.parts:
            launched.done = torch.cuda.Event()
            launched.done.record(torch.cuda.current_stream(self.device))
        return launched

    def _run(self, batch: list[int], windows: Sequence[Any], lengths: list[int], parts: list[tuple[list[int], torch.Tensor]]) -> None:
        width = max(lengths[i] for i in batch)
        cap = self._budget_cap
        if cap is not None and len(batch) > 1 and len(batch) * width > cap:
            # planned before an out-of-memory error lowered the budget (the chunk's batches are
            # planned at once, the halves of one that failed too): cut to fit it, not run to fail again
            for part in plan_batches([lengths[i] for i in batch], batch_tokens=cap):
                self._run([batch[k] for k in part], windows, lengths, parts)
            return
        # on a GPU nothing here waits for it: the inputs go from pinned memory and the scores come
        # back into it, both queued on the stream (a copy from pageable memory would wait for all
        # the work queued before it), so batches and chunks queue up behind each other. The pinned
        # inputs are filled through numpy: a torch op on CPU tensors this size would wake torch's
        # thread pool, which spins on the cores the host workers need
        cuda = self.device.type == "cuda"
        shape = (len(batch), width)
        if cuda:
            pinned = (torch.empty(shape, dtype=torch.int64, pin_memory=True), torch.empty(shape, dtype=torch.int64, pin_memory=True))
            ids, mask = pinned[0].numpy(), pinned[1].numpy()
        else:
            ids, mask = np.empty(shape, dtype=np.int64), np.empty(shape, dtype=np.int64)
        ids.fill(self.pad_id)
        mask.fill(0)
        # the positions whose scores decoding reads: each window's core (the CPU encoder skips the rest)
        core = np.zeros((len(batch), width), dtype=bool) if getattr(self.fast, "reads_core", False) else None
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = windows[i].input_ids
            mask[row, : lengths[i]] = 1
            if core is not None:
                core[row, windows[i].core[0] : windows[i].core[1]] = True
        try:
            with torch.inference_mode():
                if cuda:
                    input_ids, attention_mask = (t.to(self.device, non_blocking=True) for t in pinned)
                else:
                    input_ids, attention_mask = torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
                if self.fast is not None:
                    # known here, not asked of the device: whether any row is padded
                    padded = any(lengths[i] < width for i in batch)
                    result = self.fast(input_ids, attention_mask if padded else None,
                                       None if core is None else torch.from_numpy(core))
                else:
                    result = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
                if cuda:
                    # back in the model's own dtype (a bf16 or fp16 score is exact in it), widened to
                    # float32 where it is decoded: half the bytes to copy, pin, and pickle and pipe to
                    # a host worker (end to end no faster on the H200 machine, BENCHMARKS.md)
                    scores = torch.empty(result.shape, dtype=result.dtype, pin_memory=True)
                    scores.copy_(result, non_blocking=True)
                else:
                    scores = result.float().cpu()
        except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError from torch 2.5 on: the same class
            if len(batch) == 1:
                raise
        else:
            parts.append((batch, scores))
            return
        # halve and retry, out of the except clause: until it is left, the error's traceback holds
        # the failed forward's frames and with them its activations, which no cache emptying frees
        # (and each level of halving would add its own); later batches get the smaller budget so
        # the OOM does not repeat
        if cuda:
            torch.cuda.empty_cache()
        self._budget_cap = max(1, len(batch) * width // 2)
        log.warning("out of memory on a batch of %d x %d tokens: retrying in halves", len(batch), width)
        half = len(batch) // 2
        self._run(batch[:half], windows, lengths, parts)
        self._run(batch[half:], windows, lengths, parts)


@dataclass
class _Launched:
    """A chunk's windows run through the model: their scores, maybe still on their way back."""

    lengths: list[int]
    tokens: int  # document tokens (window cores)
    parts: list[tuple[list[int], torch.Tensor]] = field(default_factory=list)  # (windows, scores) per batch
    done: Any = None  # a CUDA event after the last copy back, if any

    def result(self, *, compact: bool = False) -> list[np.ndarray]:
        """Each window's scores, in order, float32; waits for the device.

        ``compact``: as they came back, bf16 ones as their bits (uint16) and fp16 ones as float16,
        for naba.predict.host.widen to make float32 where they are decoded.
        """
        if self.done is not None:
            self.done.synchronize()
        out: list[np.ndarray] = [np.empty(0)] * len(self.lengths)
        for batch, scores in self.parts:
            # numpy has no bfloat16: its bits go as they are
            array = scores.view(torch.int16).numpy().view(np.uint16) if scores.dtype == torch.bfloat16 else scores.numpy()
            for row, i in enumerate(batch):
                out[i] = array[row, : self.lengths[i]]
        return out if compact else [widen(a) for a in out]


def _itself(item: T) -> T:
    return item


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def worker_chunks(items: Iterator[T], size: int, workers: int) -> Iterator[list[T]]:
    """Chunks of ``size`` items for ``workers`` host workers, smaller at both ends of the stream.

    With workers, ``workers + 1`` chunks are sent to be encoded at once, each to one worker, and
    the model waits for the first, then the chunks are decoded one per worker. At the start, the
    device would wait for one worker to encode a whole chunk (on the H200 machine ~1.2 s of a
    16,000-document job at 256 a chunk): so the first round of ``workers + 1`` chunks holds
    ``size // 16`` items, the next twice as many, and so on up to ``size``; a round of small
    chunks is encoded side by side and keeps the device busy while the next, larger one is. At the
    end, the job would wait for one worker to decode the last whole chunk: once no more than
    ``workers + 1`` full chunks are left (read ahead to know it), chunks hold ``size // 4`` items.
    Items keep their order; only where chunks are cut changes. On the H200 machine this took a
    16,000-document job's start from 2.4 s to 1.3 s (BENCHMARKS.md, scripts/bench_gpu.py --ramp).
    """
    per_round = workers + 1
    tail = per_round * size  # items left when the end is in sight
    small, end_size = max(1, size // 16), max(1, size // 4)
    ahead: deque[T] = deque()
    ended = False
    n, made, handed = small, 0, 0
    while True:
        # read ahead as many items as have been handed on, up to what shows whether the last
        # rounds have come: the first chunk does not wait for thousands of items to be read
        want = min(tail + size, handed + n)
        if not ended and len(ahead) < want:
            ahead.extend(itertools.islice(items, want - len(ahead)))
            ended = len(ahead) < want
        if not ahead:
            return
        take = min(n, end_size) if ended and len(ahead) <= tail else n
        chunk = [ahead.popleft() for _ in range(min(take, len(ahead)))]
        handed += len(chunk)
        yield chunk
        made += 1
        if made % per_round == 0:
            n = min(size, 2 * n)
