"""The host side of tagging, and worker processes to run it: texts -> windows, scores -> span dicts.

Everything around the model is CPU work in Python: preparing the text (naba.text), tokenizing and
cutting windows (naba.encode), decoding scores into spans (naba.decode). On a GPU the model is
the fast part: one Python process prepares and decodes a few hundred thousand subword tokens a
second (BENCHMARKS.md, scripts/bench_host.py), well under what a GPU tags. ``HostPool`` runs this
work in worker processes, each with its own interpreter, so that it scales with the CPU cores
while the main process only feeds the model.

A chunk of documents is *sticky*: the worker that encoded it keeps its windows (and their
offset maps) and decodes it too, so only token ids go to the main process and only scores come
back. A ``postprocess`` function (``spans_json`` for the batch job) runs there too, on each
document's spans, so that the main process, which also feeds the model, gets output ready to
write. Nothing here imports torch: a worker stays small and starts in a fraction of a second.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from naba.decode import decode_many
from naba.encode import LabelSpace, Window, encode

# how often an idle worker checks that its main process is still there
ORPHAN_CHECK_S = 2.0


@dataclass(frozen=True)
class Settings:
    """What a worker needs to encode and decode: everything picklable, no torch."""

    tokenizer: Any  # tokenizers.Tokenizer (the Rust tokenizer) or a transformers fast tokenizer
    cls_id: int
    sep_id: int
    space: LabelSpace
    max_length: int
    stride: int
    preset: str
    # applied to each document's spans where they are decoded: (text, spans) -> what is handed on;
    # a module-level function (workers get it by pickling)
    postprocess: Callable[[str, list[dict[str, Any]]], Any] | None = None


@dataclass(frozen=True)
class Input:
    """What the model needs of a window (the main process never sees the offset maps)."""

    input_ids: np.ndarray
    core: tuple[int, int]


def encode_texts(texts: Sequence[str], settings: Settings) -> tuple[list[Window], list[int]]:
    """Windows of the non-blank ``texts``, and for each window the index of its text."""
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if not keep:
        return [], []
    windows = encode(
        [texts[i] for i in keep], _Tokenizer.of(settings), settings.space, max_length=settings.max_length,
        stride=settings.stride, preset=settings.preset, with_labels=False,
    )
    return windows, [keep[w.doc_index] for w in windows]


def decode_texts(
    texts: Sequence[str],
    windows: Sequence[Window],
    owner: Sequence[int],
    logits: Sequence[np.ndarray],
    space: LabelSpace,
    *,
    postprocess: Callable[[str, list[dict[str, Any]]], Any] | None = None,
) -> list[Any]:
    """Per text, its spans as the Tagger returns them, from its windows' scores (or what
    ``postprocess(text, spans)`` makes of them)."""
    per_doc: list[list[int]] = [[] for _ in texts]
    for w, doc in enumerate(owner):
        per_doc[doc].append(w)
    found = decode_many(texts, [[windows[w] for w in ws] for ws in per_doc], [[logits[w] for w in ws] for ws in per_doc], space)
    out = [[span_dict(text, s) for s in spans] for text, spans in zip(texts, found, strict=True)]
    if postprocess is not None:
        out = [postprocess(text, spans) for text, spans in zip(texts, out, strict=True)]
    return out


def widen(scores: np.ndarray) -> np.ndarray:
    """Scores as float32: bf16 ones sent as their bits (uint16: the high half of a float32) and
    fp16 ones are widened exactly; float32 ones are returned as they are."""
    if scores.dtype == np.uint16:
        return (scores.astype(np.uint32) << 16).view(np.float32)
    if scores.dtype != np.float32:
        return scores.astype(np.float32)
    return scores


def spans_json(text: str, spans: list[dict[str, Any]]) -> str:
    """``spans`` as the JSON array the batch job writes (non-ASCII kept as is)."""
    return json.dumps(spans, ensure_ascii=False)


def with_rule_claims(text: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Model spans with the claim layer replaced by naba.claims' rule-based claims."""
    from naba.claims import find_claims

    kept = [s for s in spans if s["layer"] != "claim"]
    return sorted(kept + find_claims(text), key=lambda s: (s["start"], -s["end"], s["layer"]))


def rules_clash(layers: dict[str, Any]) -> str | None:
    """Why a model of these layers cannot take rule claims (its CLAIM sits in another layer than
    ``claim``, where the rules write theirs: a document would get CLAIM twice), or ``None``."""
    for layer, labels in layers.items():
        if layer != "claim" and "CLAIM" in labels:
            return f"--rules writes CLAIM in layer 'claim', but this model has CLAIM in its layer {layer!r}; run it without --rules"
    return None


def rule_claims_json(text: str, spans: list[dict[str, Any]]) -> str:
    """``spans_json`` of ``with_rule_claims``: what ``naba predict --rules`` writes."""
    return spans_json(text, with_rule_claims(text, spans))


def span_dict(text: str, span: Any) -> dict[str, Any]:
    """A decoded span as the tagger returns it, with its text cut from the original."""
    return {
        "start": span.start,
        "end": span.end,
        "label": span.label,
        "layer": span.layer,
        "text": text[span.start : span.end],
        "score": round(float(span.score), 4),
    }


class _Tokenizer:
    """The Rust tokenizer with the attributes naba.encode reads of a transformers tokenizer."""

    def __init__(self, backend: Any, cls_id: int, sep_id: int):
        self.backend_tokenizer, self.cls_token_id, self.sep_token_id = backend, cls_id, sep_id

    @staticmethod
    def of(settings: Settings) -> Any:
        tok = settings.tokenizer
        return tok if hasattr(tok, "backend_tokenizer") else _Tokenizer(tok, settings.cls_id, settings.sep_id)


def worker_settings(settings: Settings) -> Settings:
    """``settings`` for worker processes: the Rust tokenizer alone (no transformers to import
    there), with truncation and padding off, as naba.encode has them through transformers."""
    backend = getattr(settings.tokenizer, "backend_tokenizer", settings.tokenizer)
    if backend.truncation is not None or backend.padding is not None:
        backend = type(backend).from_str(backend.to_str())
        backend.no_truncation()
        backend.no_padding()
    return replace(settings, tokenizer=backend)


def _serve(requests: Any, results: Any) -> None:
    """A worker's loop: its Settings, then ("encode", seq, texts) and ("decode", seq, scores) until ``None``."""
    # the workers are the parallelism: a tokenizer thread pool in each would only oversubscribe
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    # Ctrl-C reaches the whole process group: the main process stops the workers, each need not
    # print its own KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = mp.parent_process()
    if parent is not None:
        # a main process killed half way through sending a request leaves this process reading
        # the rest of it for ever: the loop below would never see that its parent is gone
        threading.Thread(target=_exit_with, args=(parent,), name="naba-host-orphan", daemon=True).start()
    settings: Settings | None = None
    held: dict[int, tuple[Sequence[str], list[Window], list[int]]] = {}
    while True:
        try:
            message = requests.get(timeout=ORPHAN_CHECK_S)
        except queue.Empty:
            # a main process killed outright (SIGKILL, OOM killer) sends no ``None``: do not linger,
            # also not while waiting for the settings. Results it never read may fill the pipe,
            # which this process also holds open, so the queue's feeder thread would wait on it
            # forever at exit: leave them unsent.
            if parent is not None and not parent.is_alive():
                results.cancel_join_thread()
                return
            continue
        if message is None:
            return
        if settings is None:  # the first message
            settings = message
            continue
        kind, seq, payload = message
        try:
            if kind == "encode":
                windows, owner = encode_texts(payload, settings)
                held[seq] = (payload, windows, owner)
                results.put(("encode", seq, ([Input(np.asarray(w.input_ids, np.int32), w.core) for w in windows], owner)))
            else:
                texts, windows, owner = held.pop(seq)
                found = decode_texts(texts, windows, owner, [widen(a) for a in payload], settings.space,
                                     postprocess=settings.postprocess)
                # pickled here, not on the queue's thread, so that what postprocess made and cannot
                # be pickled is this chunk's error rather than a result that never comes
                results.put(("decode", seq, pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)))
        except Exception as exc:  # the main process raises it, naming the chunk
            detail = traceback.format_exc()
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            results.put(("error", seq, (exc, detail)))


def _exit_with(parent: Any) -> None:
    parent.join()  # returns once the parent process has ended
    os._exit(0)


def _pump(results: Any, inbox: queue.Queue) -> None:
    """The one reader of the workers' results: a worker killed half way through sending one
    leaves a read that never returns, which blocks this thread, not the main one."""
    while True:
        try:
            message = results.get()
        except Exception:  # the queue closed under it
            return
        if message is None:
            return
        inbox.put(message)


class HostError(RuntimeError):
    """A worker process failed or died."""


def _obituary(name: str, code: int | None) -> str:
    if code is not None and code < 0:
        how = f"was killed by signal {-code}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
        return f"host worker {name} {how}"
    # an exception while starting: most often a script that starts workers at import time
    return (
        f"host worker {name} died (exit code {code}). Workers are spawned processes that import the "
        'main module: a script that starts them must do so under `if __name__ == "__main__":`'
    )


def spawn_finds(function: Callable[..., Any]) -> bool:
    """Whether a spawned process finds ``function`` by its module: one of ``__main__`` only where
    the main module is a file or module that the process runs again, not a notebook's or ``python -c``'s."""
    if getattr(function, "__module__", None) != "__main__":
        return True
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:  # python -m module: imported again by name, except a package's __main__ (multiprocessing.spawn)
        return not (name == "__main__" or name.endswith(".__main__"))
    path = getattr(main, "__file__", None)
    return isinstance(path, str) and os.path.isfile(path)  # not '<stdin>'


class HostPool:
    """``workers`` processes that encode chunks of texts and decode their scores, sticky per chunk.

    ``encode(seq, texts)`` and ``decode(seq, logits)`` return at once; ``result(kind, seq)``
    waits for one. Chunk ``seq`` goes to worker ``seq % workers`` both times. Use it as a
    context manager: leaving it stops the workers, also on an error.
    """

    def __init__(self, settings: Settings, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        if settings.postprocess is not None:
            # the queue pickles on a thread of its own, where a failure is only printed: the worker
            # would wait for its settings for ever
            try:
                pickle.dumps(settings.postprocess)
            except Exception as exc:
                raise TypeError(
                    f"postprocess {settings.postprocess!r} cannot go to the worker processes ({exc}): "
                    "pass a function defined at the top level of a module"
                ) from exc
            if not spawn_finds(settings.postprocess):
                # it pickles as __main__.name, which a spawned worker looks up in a __main__ of its own:
                # it died with a traceback, and the main process blamed a missing main guard
                raise TypeError(
                    f"postprocess {settings.postprocess!r} cannot go to the worker processes: it is defined in "
                    "a notebook or an interactive session (`python -c`, stdin), which they cannot import; "
                    "define it in a .py module and import it from there, or tag without workers (workers=0)"
                )
        # spawn, not fork: the parent has torch's thread pools and the tokenizer's, which a fork
        # would copy in an undefined state
        ctx = mp.get_context("spawn")
        self._results = ctx.Queue()
        self._requests = [ctx.Queue() for _ in range(workers)]
        self._procs = [
            ctx.Process(target=_serve, args=(q, self._results), name=f"naba-host-{i}", daemon=True)
            for i, q in enumerate(self._requests)
        ]
        try:
            for p, q in zip(self._procs, self._requests, strict=True):
                p.start()
                # the settings (the tokenizer: megabytes) go through the queue, not the start-up
                # pipe: a child that dies while starting would leave a large write to it hanging
                q.put(settings)
        except BaseException:
            self.close(at_once=True)
            raise
        self._ready: dict[tuple[str, int], Any] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._pump = threading.Thread(target=_pump, args=(self._results, self._inbox), name="naba-host-results", daemon=True)
        self._pump.start()

    def __enter__(self) -> HostPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        # after an error, or a consumer that stopped early (GeneratorExit), the chunks still in
        # the workers are not wanted: no need to wait for them
        self.close(at_once=kind is not None)

    def encode(self, seq: int, texts: list[str]) -> None:
        self._requests[seq % len(self._requests)].put(("encode", seq, texts))

    def decode(self, seq: int, logits: list[np.ndarray]) -> None:
        self._requests[seq % len(self._requests)].put(("decode", seq, logits))

    def ready(self, kind: str, seq: int) -> bool:
        """Whether ``result(kind, seq)`` would return without waiting."""
        self._drain(block=False)
        return (kind, seq) in self._ready

    def result(self, kind: str, seq: int) -> Any:
        while (kind, seq) not in self._ready:
            self._drain(block=True)
        payload = self._ready.pop((kind, seq))
        return pickle.loads(payload) if kind == "decode" else payload  # a worker's pickle (see _serve)

    def _drain(self, *, block: bool) -> None:
        try:
            message = self._inbox.get(timeout=1.0) if block else self._inbox.get_nowait()
        except queue.Empty:
            dead = next((p for p in self._procs if not p.is_alive()), None)
            if dead is not None:
                raise HostError(_obituary(dead.name, dead.exitcode)) from None
            return
        kind, seq, payload = message
        if kind == "error":
            exc, detail = payload
            raise HostError(f"host worker failed on chunk {seq}:\n{detail}") from exc
        self._ready[kind, seq] = payload

    def close(self, *, at_once: bool = False) -> None:
        """Stop the workers and free the queues: asked to finish (``None``) and waited for, or,
        ``at_once``, terminated. Those stuck or dead are terminated either way."""
        started = [p for p in self._procs if p.pid is not None]
        for q, p in zip(self._requests, self._procs, strict=True):
            if p in started and p.is_alive():
                if at_once:
                    p.terminate()
                else:
                    q.put(None)
        for q, p in zip(self._requests, self._procs, strict=True):
            if p in started:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
            # requests a dead worker never read must not hold up this process's exit
            q.cancel_join_thread()
            q.close()
        pump = getattr(self, "_pump", None)
        if pump is not None:
            self._results.put(None)  # stops the reader thread (unless a dead worker's message holds it)
            pump.join(timeout=1)
        self._results.cancel_join_thread()
        self._results.close()
