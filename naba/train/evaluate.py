"""Dev/test evaluation during training: exact character-span precision, recall and F1 per layer.

A predicted span counts only when its start, end and label all equal a gold span's, which is
the strict standard (seqeval's default on BIO tags is the token-level equivalent). Each process
scores its share of the documents and the counts are summed across processes, so every process
gets the same numbers for early stopping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch

from naba.corpus.document import Document
from naba.train.data import Collator, eval_batches


def span_counts(
    gold: Sequence[Document], predicted: Sequence[Sequence], layers: Sequence[str], layer_of
) -> dict[str, list[int]]:
    """Per layer ``[true positives, predicted, gold]`` for exact (start, end, label) matches.

    ``predicted[i]`` are the spans (anything with start/end/label/layer) predicted for ``gold[i]``;
    ``layer_of`` maps a gold label to its layer.
    """
    counts = {layer: [0, 0, 0] for layer in layers}
    for doc, spans in zip(gold, predicted, strict=True):
        for layer in layers:
            want = {(s.start, s.end, s.label) for s in doc.spans if layer_of(s.label) == layer}
            got = {(s.start, s.end, s.label) for s in spans if s.layer == layer}
            counts[layer][0] += len(want & got)
            counts[layer][1] += len(got)
            counts[layer][2] += len(want)
    return counts


def scores(counts: dict[str, list[int]]) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 per layer and ``micro`` over all layers, from :func:`span_counts`."""
    rows = dict(counts)
    rows["micro"] = [sum(c[i] for c in counts.values()) for i in range(3)]
    out = {}
    for name, (tp, pred, gold) in rows.items():
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[name] = {"precision": round(p, 6), "recall": round(r, 6), "f1": round(f, 6),
                     "tp": tp, "predicted": pred, "gold": gold}
    return out


@torch.no_grad()
def predict_windows(model, windows: Sequence, *, pad_id: int, n_layers: int, device, batch_size: int,
                    batch_tokens: int = 0, autocast=None) -> list[np.ndarray]:
    """Logits (float32, ``[len(window), num_labels]``) of each window, in the windows' order."""
    was_training = model.training
    model.eval()
    collate = Collator(pad_id, n_layers)
    out: list[np.ndarray | None] = [None] * len(windows)
    lengths = [len(w.input_ids) for w in windows]
    for batch in eval_batches(lengths, batch_size=batch_size, batch_tokens=batch_tokens):
        tensors = collate([windows[i] for i in batch])
        with autocast() if autocast else contextlib.nullcontext():
            logits = model(input_ids=tensors["input_ids"].to(device),
                           attention_mask=tensors["attention_mask"].to(device)).logits
        logits = logits.float().cpu().numpy()
        for row, i in enumerate(batch):
            out[i] = logits[row, : lengths[i]]
    model.train(was_training)
    return out  # type: ignore[return-value]


def evaluate(model, docs: Sequence[Document], windows: Sequence, space, *, accelerator, pad_id: int,
             batch_size: int, batch_tokens: int = 0) -> dict[str, dict[str, float | int]]:
    """Scores of ``model`` on ``docs`` (whose windows are ``windows``), equal on every process."""
    from naba.decode import decode

    rank, world = accelerator.process_index, accelerator.num_processes
    mine = [i for i in range(len(docs)) if i % world == rank]
    by_doc: dict[int, list[int]] = {i: [] for i in mine}
    for k, w in enumerate(windows):
        if w.doc_index in by_doc:
            by_doc[w.doc_index].append(k)
    flat = [k for i in mine for k in by_doc[i]]
    logits = predict_windows(model, [windows[k] for k in flat], pad_id=pad_id, n_layers=len(space.layers),
                             device=accelerator.device, batch_size=batch_size, batch_tokens=batch_tokens,
                             autocast=accelerator.autocast)
    of_window = dict(zip(flat, logits, strict=True))
    predicted = [decode(docs[i].text, [windows[k] for k in by_doc[i]], [of_window[k] for k in by_doc[i]], space)
                 for i in mine]
    counts = span_counts([docs[i] for i in mine], predicted, space.layers, space.layer_of)
    # sum the counts of all processes; a fixed layer order keeps the tensor aligned
    flat_counts = torch.tensor([counts[layer] for layer in space.layers], device=accelerator.device)
    if world > 1:
        flat_counts = accelerator.reduce(flat_counts, reduction="sum")
    total = {layer: [int(x) for x in row] for layer, row in zip(space.layers, flat_counts.tolist(), strict=True)}
    return scores(total)
