"""The training loop: one visible function on accelerate, nanoGPT style.

``train(cfg)`` reads the data, builds (or resumes) the model, and runs AdamW with linear warmup and
decay over length-grouped, dynamically padded batches, with gradient accumulation and clipping.
It evaluates exact-span F1 per layer on dev every ``run.eval_every`` steps, keeps the best model in
``best/``, stops early after ``run.patience`` evaluations without improvement, and writes
resumable checkpoints (every ``run.save_every`` steps, or wherever an evaluation is due, dev set or
not): a run killed at any moment and started again with the same command continues from its last
checkpoint and ends with the same metrics as an uninterrupted run. A run that diverges (a NaN or
infinite loss, or weights, without fp16's grad scaler to skip the step) stops with a ConfigError
before anything of it is saved, so its last checkpoint stays loadable.

The same entry point runs on one CPU, one GPU, or many processes under ``accelerate launch`` or
``torchrun``; only the main process writes files.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, gather_object, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup
from transformers.utils import logging as transformers_logging

from naba.corpus.fileio import atomic_write, write_error
from naba.encode import unrepresentable_reasons
from naba.errors import ConfigError, DataError, ModelLoadError
from naba.model import cpu_precision_problem
from naba.train.card import model_card
from naba.train.checkpoint import (
    Progress,
    capture_rng,
    checkpoints,
    load_training_state,
    prune,
    save_training_state,
    trained_on,
)
from naba.train.config import SMALL_MODEL, TrainConfig, save_config
from naba.train.data import (
    Collator,
    fingerprint,
    labelled_tokens,
    length_grouped_batches,
    load_splits,
    seen_in_training,
    shard,
)
from naba.train.evaluate import evaluate
from naba.train.files import git_description, remove_temp_dirs, save_error, write_json_atomic
from naba.train.setup import (
    build_model,
    flat_config,
    make_optimizer,
    prior_run,
    resolve_precision,
    resolve_tracker,
    run_tokenizer,
    runtime_changes,
)


def _summary(results: dict[str, dict[str, Any]]) -> str:
    layers = ", ".join(f"{k} {v['f1']:.4f}" for k, v in results.items() if k != "micro")
    return f"micro F1 {results['micro']['f1']:.4f} ({layers})"


def _finite(model: torch.nn.Module) -> bool:
    """Whether every weight of ``model`` is finite (one device sync)."""
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


def train(cfg: TrainConfig, *, show_progress: bool = True, root: Path | None = None) -> dict[str, Any]:
    """Train (or resume, or return the finished result of) the run ``cfg`` describes.

    ``root`` is the folder the run folder moves with (default: the run folder itself; a cross-validation
    gives its folds its own folder, which holds their data): ``config.yaml`` keeps the paths inside it
    relative, and a run moved or copied with it resumes at its new place. Returns the run's metrics (as
    in ``metrics.json``) on every process.
    """
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # per-shard save/load bars would drown the log
    try:
        return _train(cfg, show_progress=show_progress, root=root or cfg.run_dir)
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


def _train(cfg: TrainConfig, *, show_progress: bool, root: Path) -> dict[str, Any]:
    run_dir = cfg.run_dir
    if cfg.run.deterministic:
        # cuBLAS needs this set before CUDA starts to be deterministic
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # accelerate treats processes started by torchrun on a machine without a GPU as independent
    # single-process runs unless told to use the CPU (then: gloo); `accelerate launch --cpu` sets it
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    accelerator = Accelerator(
        cpu=launched and not torch.cuda.is_available(),
        mixed_precision=resolve_precision(cfg.optim.mixed_precision),
        log_with=resolve_tracker(cfg.run.tracker),
        project_config=ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(run_dir / "logs")),
    )
    main, rank, world = accelerator.is_main_process, accelerator.process_index, accelerator.num_processes
    device = accelerator.device
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    set_seed(cfg.run.seed)
    if cfg.run.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)

    # run.overwrite deletes the old run: read the data first, and load a pretrained model (a hub id
    # that cannot be had offline), so that bad input costs nothing
    splits = load_splits(cfg.data) if cfg.run.overwrite else None
    built = None
    if cfg.run.overwrite and cfg.model.name_or_path != SMALL_MODEL:
        from naba.encode import LabelSpace

        built = build_model(cfg, LabelSpace.from_scheme(splits.scheme), [])
    finished = prior_run(cfg, run_dir, main=main, root=root)
    if finished is not None:
        if main:
            print(f"naba train: {run_dir} already finished; its metrics are in {run_dir / 'metrics.json'}")
        return finished
    if main:
        if not (run_dir / "config.yaml").is_file():
            # a start killed before it saved its config may have left a tokenizer made for another config
            shutil.rmtree(run_dir / "tokenizer", ignore_errors=True)
        remove_temp_dirs(run_dir)
        remove_temp_dirs(run_dir / "checkpoints")
    accelerator.wait_for_everyone()
    found = checkpoints(run_dir)
    resume = found[-1] if found else None

    from naba.encode import LabelSpace, encode
    from naba.model import layered_loss, load_checkpoint, save_checkpoint

    if splits is None:
        splits = load_splits(cfg.data)
    space = LabelSpace.from_scheme(splits.scheme)
    data = fingerprint(splits)
    if resume is not None and trained_on(resume) not in (None, data):
        # the same command on edited data: its batches, schedule and best/ would mix two corpora, and the run
        # would not end as an uninterrupted one (every process reads the same files: all of them stop here)
        raise ConfigError(f"{resume}: the training data changed since this run started (data.train or data.dev "
                          f"hold other documents or spans, or data.labels other labels); a run resumes only on "
                          f"the data it was trained on: restore the files, or train on the new data under another "
                          f"run.name or with run.overwrite=true")
    texts = [d.text for d in splits.train]
    tokenizer, model = built or build_model(cfg, space, texts, tokenizer=run_tokenizer(cfg, run_dir, texts, accelerator))
    if resume is not None:
        # the model is built exactly as in a fresh run, then takes the checkpoint's weights; the run
        # goes on with the checkpoint's tokenizer, as it was trained (a newer naba may load the base's
        # differently: since AraBERT's never_split tokens are kept whole, [رابط] is one token, not three)
        try:
            saved_model, tokenizer, _, _ = load_checkpoint(resume / "model")
        except ModelLoadError as exc:  # as the rest of a checkpoint that cannot be read back: say what to do
            raise ConfigError(f"{exc}; delete {resume} to resume from an earlier checkpoint, or set "
                              f"run.overwrite=true to start afresh") from None
        model.load_state_dict(saved_model.state_dict())
        del saved_model
    enc = {"max_length": cfg.model.max_length, "stride": cfg.model.stride, "preset": cfg.model.preset}
    train_windows = encode(splits.train, tokenizer, space, **enc)
    dev_windows = encode(splits.dev, tokenizer, space, with_labels=False, **enc) if splits.dev else []
    lengths = [len(w.input_ids) for w in train_windows]
    o = cfg.optim

    def epoch_batches(epoch: int) -> list[list[list[int]]]:
        """Every process's share of the epoch's batches (``[rank]`` is this process's)."""
        batches = length_grouped_batches(
            lengths, batch_size=o.batch_size, batch_tokens=o.batch_tokens, seed=cfg.run.seed, epoch=epoch
        )
        return [shard(batches, rank=r, world=world) for r in range(world)]

    labelled = labelled_tokens(train_windows, len(space.layers))
    steps_per_epoch = -(-len(epoch_batches(0)[rank]) // o.grad_accum)
    total = o.max_steps or steps_per_epoch * o.epochs
    optimizer = make_optimizer(model, cfg)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(o.warmup_ratio * total), total)
    # the scheduler is not prepared: accelerate would step it once per process
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped = accelerator.unwrap_model(model)
    info = {"preset": cfg.model.preset, "max_length": cfg.model.max_length, "stride": cfg.model.stride}

    if resume is not None:
        error = None
        try:
            progress = load_training_state(resume, optimizer=optimizer, scheduler=scheduler,
                                           scaler=accelerator.scaler, rank=rank, world=world)
        except ConfigError as exc:
            error = exc
        if world > 1:
            # a file of one process (its rng-R) that cannot be read stops every process, with the same
            # error: the others would go on into training's collectives and fail there with a gloo traceback
            first = next((e for e in gather_object([error and str(error)]) if e), None)
            error = ConfigError(first) if first else None
        if error is not None:
            raise error
        progress.data = data  # (a checkpoint of an older naba holds none)
    else:
        progress = Progress(world=world, data=data)
    changes = runtime_changes(cfg, run_dir) if main else []  # before config.yaml is rewritten

    def on_main(write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``write(*args, **kwargs)`` (files) on the main process; a file it cannot write (DataError)
        stops every process with the same message: the others would go on into the next collective, and
        fail there with a gloo traceback (NCCL: wait until its timeout). One collective per call under
        several processes."""
        error = None
        if main:
            try:
                write(*args, **kwargs)
            except DataError as exc:
                error = exc
        if world > 1:
            problems = next((p for p in gather_object([error.problems if error else None]) if p), None)
            error = DataError(problems, about="the output") if problems else None
        if error is not None:
            raise error

    def start_files() -> None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only run.dir, or a file in the way
            raise write_error(run_dir, exc) from None
        save_config(cfg, run_dir / "config.yaml", root=root)
        if not (run_dir / "git.txt").exists():
            atomic_write(run_dir / "git.txt", git_description(Path(__file__).parent) + "\n")

    on_main(start_files)
    accelerator.init_trackers(cfg.run.name, config=flat_config(cfg))
    log_file = run_dir / "logs" / "train.log"

    def log(line: str, *, echo: bool = True) -> None:
        if main:
            if echo:
                tqdm.write(line, file=sys.stderr)
            try:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                with log_file.open("a", encoding="utf-8") as fh:
                    fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
            except OSError as exc:
                raise write_error(log_file, exc) from None

    def metrics_of(extra: dict[str, Any] | None = None) -> dict[str, Any]:
        metrics = {"evals": progress.evals, "best": {"step": progress.best_step, "dev_micro_f1": progress.best},
                   "steps": progress.step, "total_steps": total, "stopped_early": progress.stopped_early}
        metrics.update(extra or {})
        return metrics

    def write_metrics(extra: dict[str, Any] | None = None) -> dict[str, Any]:
        metrics = metrics_of(extra)
        if main:
            write_json_atomic(run_dir / "metrics.json", metrics)
        return metrics

    def save_best(extra: dict[str, Any]) -> None:
        try:
            save_checkpoint(run_dir / "best", unwrapped, tokenizer, space, extra=extra)
        except Exception as exc:  # a full disk: one line naming best/, not safetensors' traceback
            error = save_error(run_dir / "best", exc)
            if error is None:
                raise
            raise error from None

    def diverged(step: int, what: str) -> ConfigError:
        """The error that stops a diverged run: the weights are NaN or infinite from ``step`` on, and
        nothing of them is saved (naba's loader refuses such weights, so neither a resume nor the
        final reload of best/ could go on)."""
        last = checkpoints(run_dir)
        clip = (f"lower optim.max_grad_norm (now {o.max_grad_norm:g})" if o.max_grad_norm
                else "clip gradients with optim.max_grad_norm (now 0: off)")
        reason = (f"{run_dir}: training diverged at step {step}/{total}: {what}; its weights were not saved "
                  f"(last checkpoint: {last[-1].name if last else 'none'}). Lower optim.lr (now {o.lr:g}), "
                  f"{clip} or raise optim.warmup_ratio, or check the data; a changed setting needs another "
                  f"run.name or run.overwrite=true")
        log(reason, echo=False)  # naba prints the error itself
        return ConfigError(reason)

    log(f"{'resuming from ' + str(resume) if resume else 'starting'}: {len(splits.train)} train / "
        f"{len(splits.dev)} dev / {len(splits.test)} test documents, {len(train_windows)} windows, "
        f"{total} steps, {world} process(es), precision {accelerator.mixed_precision}, device {device}")
    if changes:
        log(f"runtime-only settings changed since the last start: {', '.join(changes)}")
    if device.type == "cpu" and accelerator.mixed_precision in ("bf16", "fp16"):
        # autocast on a CPU without instructions for this precision runs each step many times slower than fp32
        slow = cpu_precision_problem(accelerator.mixed_precision)
        if slow is not None:
            log(f"warning: optim.mixed_precision={accelerator.mixed_precision}: {slow}; set optim.mixed_precision=no "
                "(or auto)")
    if main:
        # gold spans the subword labels cannot give back exactly, as `naba data stats --tokenizer` counts them
        n_spans, why = unrepresentable_reasons(splits.train, tokenizer, preset=cfg.model.preset)
        if sum(why.values()):
            log(f"{sum(why.values())} of {n_spans} training spans cannot be reproduced exactly by this tokenizer "
                f"(boundary inside a subword: {why['subword']}; on text the preparation removes: {why['removed']}; "
                f"starting or ending on whitespace or removed text, which no predicted span does: {why['edge']}); "
                f"see naba data stats --tokenizer")
        for part, ids in seen_in_training(splits).items():
            total_docs = len(getattr(splits, part))
            first = ", ".join(map(repr, ids[:5])) + (", ..." if len(ids) > 5 else "")
            # without data.dev, dev is carved from data.train: there is no data.dev to take them out of
            carved = part == "dev" and not cfg.data.dev
            fix = ("dev is carved from data.train, which holds these texts under other ids too: keep one of each there"
                   if carved else f"take them out of data.{part} or data.train")
            log(f"warning: {len(ids)} of {total_docs} {part} documents have the text of a training document "
                f"(ids: {first}); {part} scores on them measure memory, not generalisation: {fix}")

    eval_kw = {"accelerator": accelerator, "pad_id": tokenizer.pad_token_id,
               "batch_size": o.batch_size, "batch_tokens": o.batch_tokens}
    collate = Collator(tokenizer.pad_token_id, len(space.layers))
    bar = tqdm(total=total, initial=progress.step, disable=not (main and show_progress), desc=cfg.run.name, unit="step")
    tokens, clock = 0, time.perf_counter()
    # training throughput of this session, evaluation and checkpointing excluded (logs/speed.json)
    # (cpu_seconds: this process's CPU time, which a busy shared machine disturbs less than wall time)
    speed = {"steps": 0, "seconds": 0.0, "cpu_seconds": 0.0, "tokens": 0, "padded_tokens": 0}
    tick, cpu_tick = time.perf_counter(), time.process_time()
    model.train()
    while progress.step < total and not progress.stopped_early:
        shares = epoch_batches(progress.epoch)
        batches = shares[rank]
        loader = DataLoader(train_windows, batch_sampler=batches[progress.batch_index:], collate_fn=collate,
                            num_workers=cfg.run.num_workers,
                            # its own generator, so that making a loader does not draw from torch's RNG
                            generator=torch.Generator().manual_seed(cfg.run.seed))
        step_loss = torch.zeros((), device=device)
        for index, batch in enumerate(loader, start=progress.batch_index):
            group_start = index - index % o.grad_accum
            group_end = min(group_start + o.grad_accum, len(batches))
            last = index + 1 == group_end
            if index == group_start:  # (a resumed run starts at a group's start)
                # each layer's loss is divided by its labelled tokens in the whole group, on every process,
                # and multiplied by world (DDP averages the processes' gradients): the group then makes
                # the update of one batch of its union, however ragged its micro-batches are
                counts = labelled[[i for share in shares for b in share[group_start:group_end] for i in b]].sum(0)
            # gradients are all-reduced only on the last micro-batch of an accumulation group
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                logits = model(input_ids=batch["input_ids"].to(device),
                               attention_mask=batch["attention_mask"].to(device)).logits
                loss = layered_loss(logits.float(), batch["labels"].to(device), space, counts=counts.tolist()) * world
                accelerator.backward(loss)
            step_loss += loss.detach()
            tokens += int(batch["attention_mask"].sum())
            speed["tokens"] += int(batch["attention_mask"].sum())
            speed["padded_tokens"] += batch["attention_mask"].numel()
            if not last:
                continue
            if o.max_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), o.max_grad_norm)
            optimizer.step()
            if not accelerator.optimizer_step_was_skipped:  # fp16 overflow: no step, no schedule
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress.step += 1
            progress.batch_index = index + 1
            value = step_loss.item()
            # under fp16 the grad scaler skips a step whose loss overflowed (the weights stay finite); without
            # one, a non-finite loss has made every weight NaN in the step just taken
            if accelerator.scaler is None and world > 1:
                # all processes stop at this step, as one: a process whose own loss is finite would go on
                # into the next step's collectives, and hang (NCCL) or fail with a gloo traceback there
                # (one scalar all-reduce per step)
                bad = int(accelerator.reduce(torch.tensor(float(not math.isfinite(value)), device=device), "sum"))
                if bad:
                    raise diverged(progress.step, f"the training loss is NaN or infinite on {bad} of {world} processes")
            elif accelerator.scaler is None and not math.isfinite(value):
                raise diverged(progress.step, f"the training loss is {value}")
            progress.loss_sum += value
            progress.eval_loss_sum += value
            progress.loss_steps += 1
            step_loss.zero_()
            speed["steps"] += 1
            speed["seconds"] += time.perf_counter() - tick
            speed["cpu_seconds"] += time.process_time() - cpu_tick
            bar.update(1)
            step = progress.step
            if step % cfg.run.log_every == 0 or step == total:
                mean = accelerator.reduce(torch.tensor(progress.loss_sum / progress.loss_steps, device=device), "mean")
                rate = tokens * world / (time.perf_counter() - clock)
                lr = scheduler.get_last_lr()[0]
                accelerator.log({"train/loss": mean.item(), "train/lr": lr, "train/tokens_per_s": rate}, step=step)
                bar.set_postfix(loss=f"{mean.item():.4f}", lr=f"{lr:.2e}")
                progress.loss_sum, progress.loss_steps, tokens, clock = 0.0, 0, 0, time.perf_counter()

            epoch_end = progress.batch_index == len(batches)
            due = (step % cfg.run.eval_every == 0) if cfg.run.eval_every else epoch_end
            due = due or step == total
            evaluated = bool(splits.dev) and due
            # save_every 0: where an evaluation is due, also without a dev set to evaluate on (else a
            # run without one would save nothing until it finished, and a kill would restart it from 0)
            saving = (step % cfg.run.save_every == 0) if cfg.run.save_every else due
            # a step can overflow the weights with a finite loss (the loss is taken before the step): such
            # a model must not become best/ nor a checkpoint, which naba's loader would then refuse
            if (due or saving) and not _finite(unwrapped):
                # every process is here (the weights are the same everywhere): the loss of them all, as logged
                shown = accelerator.reduce(torch.tensor(value, device=device), "mean").item() if world > 1 else value
                raise diverged(step, f"its update made weights NaN or infinite (training loss {shown:.6g})")
            if evaluated:
                results = evaluate(unwrapped, splits.dev, dev_windows, space, **eval_kw)
                done_since = len(progress.evals) and progress.evals[-1]["step"]
                loss_mean = accelerator.reduce(torch.tensor(progress.eval_loss_sum, device=device), "mean").item()
                loss_mean /= max(1, step - done_since)
                progress.eval_loss_sum = 0.0
                f1 = results["micro"]["f1"]
                # a diverged loss is null: NaN and Infinity are not JSON, and metrics.json must parse anywhere
                train_loss = round(loss_mean, 6) if math.isfinite(loss_mean) else None
                progress.evals.append({"step": step, "epoch": progress.epoch, "train_loss": train_loss,
                                       "lr": scheduler.get_last_lr()[0], "dev": results})
                accelerator.log({f"dev/{k}/f1": v["f1"] for k, v in results.items()}, step=step)
                if progress.best is None or f1 > progress.best:
                    progress.best, progress.best_step, progress.bad_evals = f1, step, 0
                    on_main(save_best, {**info, "step": step, "dev": results})
                else:
                    progress.bad_evals += 1
                    progress.stopped_early = 0 < cfg.run.patience <= progress.bad_evals
                on_main(write_metrics)
                log(f"step {step}/{total}: dev {_summary(results)}"
                    + (" (best)" if progress.best_step == step else "")
                    + (" -- stopping early" if progress.stopped_early else ""))
            if saving:
                rng = gather_object([capture_rng()]) if world > 1 else [capture_rng()]
                on_main(save_training_state, run_dir / "checkpoints" / f"step-{step}", model=unwrapped,
                        tokenizer=tokenizer, space=space, optimizer=optimizer, scheduler=scheduler,
                        scaler=accelerator.scaler, progress=progress, rng=rng, info={**info, "step": step})
                if main:
                    prune(run_dir, keep=cfg.run.keep_checkpoints)
            if step >= total or progress.stopped_early:
                break
            tick, cpu_tick = time.perf_counter(), time.process_time()
        else:
            progress.epoch += 1
            progress.batch_index = 0
    bar.close()
    if speed["steps"]:
        for key in ("tokens", "padded_tokens"):
            speed[key] = int(accelerator.reduce(torch.tensor(speed[key], device=device), "sum"))
        speed["tokens_per_s"] = speed["tokens"] / speed["seconds"]
        speed["seconds_per_step"] = speed["seconds"] / speed["steps"]
        on_main(write_json_atomic, run_dir / "logs" / "speed.json", {**speed, "processes": world})
        log(f"throughput: {speed['tokens_per_s']:.0f} non-pad tokens/s, {speed['seconds_per_step']:.3f} s/step, "
            f"{speed['tokens'] / max(1, speed['padded_tokens']):.1%} of batch positions are tokens")

    # final: the best model (the last one without a dev set) on dev and test
    if not splits.dev:
        on_main(save_best, {**info, "step": progress.step})
        if main:
            progress.best_step = progress.step
    accelerator.wait_for_everyone()
    best_model, _, _, _ = load_checkpoint(run_dir / "best")
    unwrapped.load_state_dict(best_model.state_dict())
    del best_model
    final: dict[str, Any] = {}
    if splits.dev:
        final["dev"] = evaluate(unwrapped, splits.dev, dev_windows, space, **eval_kw)
    if splits.test:
        test_windows = encode(splits.test, tokenizer, space, with_labels=False, **enc)
        final["test"] = evaluate(unwrapped, splits.test, test_windows, space, **eval_kw)
    metrics = metrics_of({"final": final})
    if main:
        # the card first: metrics.json with "final" marks the run finished, so it is written last
        counts = {"train": len(splits.train), "dev": len(splits.dev), "test": len(splits.test)}
        git = (run_dir / "git.txt").read_text(encoding="utf-8").strip()
        atomic_write(run_dir / "README.md",
                     model_card(cfg, run_dir=run_dir, space=space, counts=counts, metrics=metrics, git=git,
                                root=root))
    write_metrics({"final": final})
    for split, results in final.items():
        log(f"final {split} (best, step {progress.best_step}): {_summary(results)}")
        accelerator.log({f"final/{split}/{k}/f1": v["f1"] for k, v in results.items()}, step=progress.step)
    if main:
        log(f"done: {run_dir}")
    if world > 1:
        # every process reports what it ended with, so a launcher's output shows they agree
        checksum = sum(float(p.detach().double().sum()) for p in unwrapped.parameters())
        print(f"naba-train rank {rank}/{world}: " + json.dumps({"final": final, "param_sum": checksum}), flush=True)
    # accelerate's end_training destroys the process group, so the DDP model goes first: freed after it (on
    # return), its gradient reducer dropped the group's last reference and ran gloo's destructor holding the
    # GIL, which now and then deadlocked with a gloo thread waiting for the GIL (a torchrun run hung after
    # "done"; pytorch/pytorch#56297)
    del model, optimizer
    accelerator.free_memory()
    accelerator.end_training()
    return metrics
