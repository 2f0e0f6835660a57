"""The training loop: one ``train(config)`` for the CLI, the chapters and the benchmarks.

    result = train(TrainConfig(model="resnet56", schedule="paper", out="runs/resnet56"))
    result.metrics[-1]["test_error"]

What it holds (the recipe is ``recipe``, the folder ``run_folder``, the processes ``processes``,
the record of what ran ``provenance``):

    train              resolve the config, claim the folder, load the data, run to the end
    Run                one run's objects and its step; the speed benchmark steps it (``endless_steps``)
    Loop               its epochs: host reads every ``sync_every`` steps, metrics, checkpoints
    EpochSums          an epoch's running sums, on the device
    TrainResult        what ``train`` returns: the model and its per-epoch metrics
    TrainingDiverged   the loss became NaN or Inf
    train_eval_sample  the training images whose fit is measured after each epoch

What a step does, in order:

* **Data** on the device (``data.DeviceBatches``): no loader processes, no host round trip.
* **Forward** under mixed precision (``amp``, ``runtime.autocast_dtype``): bf16 autocast where
  the hardware computes in bf16 (recent NVIDIA GPUs, CPUs with AVX512-BF16 or AMX); fp16 with a
  gradient scaler on older CUDA GPUs (T4, V100), which have fp16 tensor cores but no bf16; float32
  elsewhere. channels_last memory, optionally ``torch.compile``d
  (and on CUDA optionally replayed as CUDA graphs, one launch for the whole step's kernels).
* **SGD** with momentum 0.9 and weight decay, fused (one kernel for all parameters) on CUDA and
  CPU, its learning rate set from the step number alone (``recipe.learning_rate``).
* **Bookkeeping without host syncs**: per-step losses, correct counts and sampled gradient norms
  accumulate in device tensors; the host reads them every ``sync_every`` steps (progress bar,
  the NaN check) and at the end of each epoch (metrics).

Time to accuracy: with ``target_error`` set, the run stops after the first epoch whose test
error is at most that (``python -m resnets bench`` times this).

Nothing is lost: with ``out`` set, a checkpoint is written atomically after every epoch and on
Ctrl-C (SIGINT finishes the current step, saves and returns); ``resume=True`` continues from it,
and on a CPU ends bit-identical to an uninterrupted run, because every random choice derives
from (seed, epoch) and the checkpoint holds model, optimizer and the epoch's partial sums. A
NaN or Inf loss stops the run naming the step, keeping the last good checkpoint. The folder is
locked (``files.lock_folder``) for the whole run, so a second ``train`` on it is refused at once
with the holder's pid; every file in it is verified before it is read back (``run_folder``).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .data import CIFAR10, CLASSES, DeviceBatches, load_cifar10, make_splits, stratified_indices
from .errors import ConfigError, ResnetsError
from .files import lock_folder
from .models import build_model
from .probes import GradientNormMonitor
from .processes import GracefulStop, Processes, backend_settings, device_for
from .provenance import provenance
from .recipe import TrainConfig, learning_rate
from .run_folder import CHECKPOINT, RunFolder, RunState, SavedRun, resume_point
from .runtime import autocast_dtype

EVAL_BATCH_SIZE = 1000  # images per evaluation batch (no gradients kept, so larger than training's)


class TrainingDiverged(ResnetsError, RuntimeError):
    """The loss became NaN or Inf; the message names the step and the checkpoint kept."""


@dataclass
class TrainResult:
    """What ``train`` returns: the trained model (unwrapped, eval mode) and its history."""

    model: nn.Module
    metrics: list[dict[str, Any]]
    config: TrainConfig
    run_dir: Path | None
    interrupted: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's metrics (the paper reports the final epoch, never the best)."""
        return self.metrics[-1] if self.metrics else {}


def train_eval_sample(train: tuple[Tensor, Tensor], size: int | None) -> tuple[Tensor, Tensor]:
    """The training images whose fit is measured after each epoch: all of them (``size=None``),
    or a fixed class-balanced sample of ``size`` (the same for every run and epoch).
    ``train``: (images (N, 32, 32, 3) uint8, labels (N,)); ``size`` a multiple of the classes."""
    images, labels = train
    if size is None or size >= len(labels):
        return images, labels
    _, keep = stratified_indices(labels, size // len(CLASSES), seed=3)
    return images[keep], labels[keep]


def train(config: TrainConfig, data: CIFAR10 | None = None) -> TrainResult:
    """Train ``config.model`` as ``config`` says; see the module docstring.

    ``data``: a loaded ``CIFAR10`` to reuse (default: ``load_cifar10(config.data)``).
    Returns when the run is complete, or early (``interrupted=True``) after a Ctrl-C, having
    saved a checkpoint when ``config.out`` is set. Raises ``TrainingDiverged`` on a NaN loss.
    """
    config = config.resolved()
    processes = Processes.from_env()
    device = device_for(config.device, processes)
    if processes.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    run_dir = Path(config.out) if config.out else None
    # The run folder first: one that cannot be written (or is in use) fails before the data loads.
    owned = (
        lock_folder(run_dir, f"train {config.model}")
        if run_dir is not None and processes.main
        else contextlib.nullcontext()
    )
    with owned, backend_settings(device):
        saved = resume_point(run_dir, config, device) if run_dir is not None else None
        if data is None:
            # The first process decodes and caches; the others then read the cache.
            if not processes.main:
                processes.barrier()
            data = load_cifar10(config.data)
            if processes.main:
                processes.barrier()
        return Run(config, data, device, processes, run_dir, saved).run()


def _batches(
    config: TrainConfig, data: CIFAR10, device: torch.device, processes: Processes
) -> tuple[DeviceBatches, dict[str, DeviceBatches], DeviceBatches | None]:
    """The run's training batches, its evaluation sets by name, and the whole training set for
    the final fit when ``eval_train_size`` samples it every epoch (else None)."""
    splits = make_splits(data, config.val_size, config.train_subset, config.test_subset)
    shard = {"rank": processes.rank, "world_size": processes.world_size, "channels_last": config.channels_last}
    train_batches = DeviceBatches(
        *splits.train, config.batch_size, device, train=True, seed=config.seed, augment=config.augment, **shard
    )
    eval_batch = EVAL_BATCH_SIZE * processes.world_size
    named = [("train_eval", train_eval_sample(splits.train, config.eval_train_size))] if config.eval_train else []
    named += [("val", splits.val), ("test", splits.test)]
    eval_sets = {
        name: DeviceBatches(*pair, eval_batch, device, train=False, **shard) for name, pair in named if len(pair[1])
    }
    sampled = config.eval_train and config.eval_train_size is not None
    final = DeviceBatches(*splits.train, eval_batch, device, train=False, **shard) if sampled else None
    return train_batches, eval_sets, final


def _sgd(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.SGD:
    # Fused: one kernel updates every parameter (CUDA, and CPUs since torch 2.4), instead of a
    # loop of small ones per tensor; the update is the same.
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
        fused=device.type in ("cuda", "cpu") or None,
    )


def _precision(device: torch.device, amp: str) -> tuple[torch.autocast, torch.amp.GradScaler]:
    """The autocast context of ``--amp`` on ``device``, and the gradient scaler of the loss.

    float16's largest value is 65504: the loss is scaled up so small gradients do not
    underflow, a step whose gradients overflow is skipped and the scale lowered (a no-op in
    bf16 and float32, which have float32's exponent range)."""
    dtype = autocast_dtype(device, amp)
    autocast = torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
    return autocast, torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def _network(model: nn.Module, config: TrainConfig, device: torch.device, processes: Processes) -> nn.Module:
    """What the loop calls: ``model`` under DDP when distributed, compiled when asked."""
    if config.cudagraphs and device.type != "cuda":
        raise ConfigError(
            f"cudagraphs replays CUDA kernels, so it needs a CUDA device, not {device.type}; drop --cudagraphs "
            "(--compile alone works everywhere)"
        )
    if processes.distributed:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if config.cudagraphs:
        return torch.compile(model, mode="reduce-overhead")  # inductor's CUDA graph trees
    return torch.compile(model) if config.compile else model


class Run:
    """One training run's objects (batches, network, optimizer, precision, where it stands) and
    its step. ``run`` trains it to the end (``Loop``); the speed benchmark (``bench.py``) builds
    one and times its steps alone (``endless_steps``, ``evaluate_batch``).
    ``saved``: the checkpoint it goes on from, None for a new run; ``train`` reads it with
    ``run_folder.resume_point``, which also refuses a folder holding a run not asked to resume."""

    def __init__(
        self,
        config: TrainConfig,
        data: CIFAR10,
        device: torch.device,
        processes: Processes,
        run_dir: Path | None = None,
        saved: SavedRun | None = None,
    ) -> None:
        self.config, self.device, self.processes, self.run_dir = config, device, processes, run_dir
        self.folder = RunFolder(run_dir) if run_dir is not None and processes.main else None  # rank 0 writes
        self.train_batches, self.eval_sets, self.final_train_eval = _batches(config, data, device, processes)
        steps_per_epoch = len(self.train_batches)
        self.total_steps = config.iterations if config.iterations is not None else config.epochs * steps_per_epoch
        torch.manual_seed(config.seed)
        self.model = build_model(config.model, zero_init_residual=config.zero_init_residual).to(device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.monitor = GradientNormMonitor(self.model)
        self.optimizer = _sgd(self.model, config, device)
        self.autocast, self.scaler = _precision(device, config.amp)
        self.state = RunState(warming_up=config.warmup_error is not None)
        if saved is not None:
            saved.restore(self.model, self.optimizer)
            self.state = saved.state
            if saved.scaler is not None:
                self.scaler.load_state_dict(saved.scaler)
        self.network = _network(self.model, config, device, processes)  # after the restore: DDP copies rank 0's
        self.provenance = provenance(config, data, device, processes)

    def run(self) -> TrainResult:
        """Train to the end, or to a Ctrl-C; see ``Loop``."""
        return Loop(self).train()

    def step(self, batch: int, x: Tensor, y: Tensor, sums: EpochSums) -> None:
        """One optimizer step on batch number ``batch`` of the epoch: x (B, 3, 32, 32), y (B,)."""
        config, state = self.config, self.state
        lr = learning_rate(config, state.step, self.total_steps, state.warming_up)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if config.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs are dead: reuse their memory
        with self.autocast:
            logits = self.network(x)
            loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if state.step % config.grad_norm_every == 0:
            self.scaler.unscale_(self.optimizer)  # the true gradients' norms (a no-op unless fp16)
            sums.add_grad_norms(self.monitor.norms())
        self.scaler.step(self.optimizer)  # skipped if fp16 gradients overflowed
        self.scaler.update()
        sums.add_step(batch, loss.detach(), (logits.argmax(1) == y).sum())
        state.step += 1

    def endless_steps(self) -> Iterator[None]:
        """The loop's training steps, one per ``next()``, epoch after epoch, without end.

        What the speed benchmark times: every step is ``step`` as in ``run``, on the engine's
        batches; left out are the host read every ``sync_every`` steps and the end-of-epoch
        evaluation and checkpoint, which the benchmark times apart or not at all.
        """
        self.network.train()
        while True:
            sums = EpochSums.start(len(self.train_batches), self.device, None)
            for batch, (x, y) in enumerate(self.train_batches.epoch(self.state.epoch)):
                self.step(batch, x, y, sums)
                yield
            self.state.epoch += 1

    def evaluate(self, batches: DeviceBatches) -> dict[str, float]:
        """Loss and error on a held-out set, in eval mode (BN running statistics)."""
        self.network.eval()
        totals = torch.zeros(3, device=self.device)
        for x, y in batches.epoch():
            totals += self.evaluate_batch(x, y)
        self.network.train()
        loss, correct, count = self.processes.sum(totals).tolist()
        return {"loss": loss / count, "error": 1 - correct / count}

    @torch.no_grad()
    def evaluate_batch(self, x: Tensor, y: Tensor) -> Tensor:
        """(summed loss, correct predictions, images) of one batch, as a (3,) tensor on the device.

        x: (B, 3, 32, 32), y: (B,). The caller puts the network in eval mode.
        """
        if self.config.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        with self.autocast:
            logits = self.network(x)
        return torch.stack(
            [
                F.cross_entropy(logits.float(), y, reduction="sum"),
                (logits.argmax(1) == y).sum().float(),
                torch.tensor(float(len(y)), device=self.device),
            ]
        )


class Loop:
    """A run's epochs to its end: the host reads its device sums every ``sync_every`` steps
    (progress bar, NaN check, the paper's warm-up switch, a Ctrl-C agreed between processes);
    after each epoch it evaluates, appends the metrics and saves a checkpoint."""

    def __init__(self, run: Run) -> None:
        self.run, self.config, self.state = run, run.config, run.state

    def train(self) -> TrainResult:
        run, config, state = self.run, self.config, self.state
        if run.folder is not None:
            run.provenance = run.folder.start(run.provenance, state)
        bar = _progress_bar(config, run.total_steps, state.step, enabled=config.progress and run.processes.main)
        interrupted = False
        try:
            with GracefulStop() as stop:
                while state.step < run.total_steps and not interrupted and not self.reached_target():
                    interrupted = self.epoch(stop, bar)
        finally:
            bar.close()
        if interrupted:
            self.save()
            if run.processes.main:
                print(_stopped(state, run.run_dir), file=sys.stderr)
        elif run.folder is not None:
            run.folder.save_final(run.model)
        run.model.eval()
        return TrainResult(run.model, list(state.metrics), config, run.run_dir, interrupted, run.provenance)

    def reached_target(self) -> bool:
        """True once an epoch has ended with a test error at or below ``config.target_error``."""
        target, metrics = self.config.target_error, self.state.metrics
        return target is not None and bool(metrics) and metrics[-1].get("test_error", 1.0) <= target

    def save(self) -> None:
        run = self.run
        if run.folder is not None:
            run.folder.save_checkpoint(self.config, run.model, run.optimizer, run.scaler, self.state)

    def epoch(self, stop: GracefulStop, bar: Any) -> bool:
        """Train from ``state.batch`` to the end of the epoch (or the run); True if interrupted."""
        run, state = self.run, self.state
        run.network.train()
        steps_in_epoch = len(run.train_batches)
        sums = EpochSums.start(steps_in_epoch, run.device, state.partial)
        started = time.perf_counter()
        checked = batch = state.batch
        requested = False
        for batch, (x, y) in enumerate(run.train_batches.epoch(state.epoch, start=state.batch), start=state.batch):
            run.step(batch, x, y, sums)
            done = batch + 1
            last = done == steps_in_epoch or state.step >= run.total_steps
            # Several processes must sync at the same steps, so there a stop waits for the next sync.
            stop_now = stop.requested and not run.processes.distributed
            if last or stop_now or (done - checked) >= self.config.sync_every:
                requested = self.sync(sums, checked, done, stop.requested)
                bar.update(done - checked)
                checked = done
                if requested and not last:
                    elapsed = time.perf_counter() - started
                    state.batch, state.partial = done, sums.to_state(sums.seconds + elapsed)
                    state.seconds += elapsed
                    return True
            if state.step >= run.total_steps:
                break
        self.end_epoch(sums, batch + 1, started)
        bar.set_postfix_str(_postfix(state.metrics[-1]), refresh=False)
        return requested

    def sync(self, sums: EpochSums, start: int, end: int, stop: bool) -> bool:
        """The periodic host read: NaN check, warm-up switch, agreeing on a stop. Returns stop."""
        run, state = self.run, self.state
        losses = sums.losses[start:end]
        flags = torch.stack([(~torch.isfinite(losses)).any().float(), torch.tensor(float(stop), device=run.device)])
        images = torch.tensor(float(run.train_batches.batch_size * (end - start)), device=run.device)
        window = torch.stack([sums.window_correct(), images])
        run.processes.sum(flags), run.processes.sum(window)
        nonfinite, stop_votes = flags.tolist()  # the host waits here, once per sync_every steps
        if nonfinite:
            checkpoint = run.run_dir / CHECKPOINT if run.run_dir is not None else None
            raise TrainingDiverged(_divergence(sums.losses, start, end, state, checkpoint))
        if state.warming_up and 1 - window[0].item() / window[1].item() < self.config.warmup_error:
            state.warming_up = False
        return stop_votes > 0

    def end_epoch(self, sums: EpochSums, batches: int, started: float) -> None:
        """Evaluate, append the epoch's metrics, write them and the checkpoint."""
        run, state = self.run, self.state
        train_seconds = sums.seconds + time.perf_counter() - started
        seen = batches * run.train_batches.batch_size
        fit, gradients = sums.summary(batches, seen, run.processes)
        eval_sets = dict(run.eval_sets)
        if state.step >= run.total_steps and run.final_train_eval is not None:  # the last epoch: all of them
            eval_sets["train_eval"] = run.final_train_eval
        evaluation = {f"{name}_{k}": v for name, set_ in eval_sets.items() for k, v in run.evaluate(set_).items()}
        if "train_eval" in eval_sets:
            evaluation["train_eval_images"] = len(eval_sets["train_eval"].labels)
        state.seconds += time.perf_counter() - started
        state.epoch += 1
        state.batch, state.partial = 0, None
        lr = learning_rate(self.config, state.step - 1, run.total_steps, state.warming_up)
        speed = seen / train_seconds if train_seconds > 0 else math.nan
        state.metrics.append(
            {"epoch": state.epoch, "step": state.step, "lr": lr, **fit, **evaluation, **gradients}
            | {"train_seconds": train_seconds, "images_per_second": speed, "wall_seconds": state.seconds}
        )
        if run.folder is not None:
            run.folder.write_metrics(state.metrics)
        self.save()


@dataclass
class EpochSums:
    """Per-epoch running sums, kept on the device so the loop never waits for them."""

    losses: Tensor  # (steps_in_epoch,) loss of each step
    correct: Tensor  # () correct training predictions so far
    grad_norms: Tensor  # (2,) sums of sampled early/late gradient norms
    grad_samples: int
    window_start: Tensor  # correct count at the last sync (the warm-up rule reads the window)
    seconds: float = 0.0  # training time spent on this epoch before an interruption

    @classmethod
    def start(cls, steps: int, device: torch.device, partial: dict[str, Any] | None) -> EpochSums:
        """Zeros, or the sums an interrupted epoch saved (``RunState.partial``)."""
        if partial is not None:
            tensors = {k: partial[k].to(device) for k in ("losses", "correct", "grad_norms")}
            return cls(
                **tensors,
                grad_samples=partial["grad_samples"],
                window_start=tensors["correct"].clone(),
                seconds=partial["seconds"],
            )
        zero = torch.zeros((), dtype=torch.int64, device=device)
        return cls(torch.zeros(steps, device=device), zero, torch.zeros(2, device=device), 0, zero.clone())

    def add_step(self, batch: int, loss: Tensor, correct: Tensor) -> None:
        self.losses[batch] = loss.float()
        self.correct += correct

    def add_grad_norms(self, norms: dict[str, Tensor]) -> None:
        # A float16 step whose gradients overflowed (skipped by the scaler) reads inf: counted as 0.
        self.grad_norms += torch.stack([norms["early"], norms["late"]]).float().nan_to_num(posinf=0.0)
        self.grad_samples += 1

    def window_correct(self) -> Tensor:
        window = (self.correct - self.window_start).float()
        self.window_start = self.correct.clone()
        return window

    def summary(self, batches: int, images: int, processes: Processes) -> tuple[dict[str, float], dict[str, float]]:
        """The epoch's training loss and error over ``batches`` batches holding ``images`` images
        (per process), summed over the processes; and its mean sampled gradient norms."""
        totals = processes.sum(torch.stack([self.losses[:batches].sum(), self.correct.float()]))
        early, late = (self.grad_norms / max(self.grad_samples, 1)).tolist()
        fit = {
            "train_loss": totals[0].item() / (batches * processes.world_size),
            "train_error": 1 - totals[1].item() / images,
        }
        return fit, {"grad_norm_early": early, "grad_norm_late": late}

    def to_state(self, seconds: float) -> dict[str, Any]:
        return {
            "losses": self.losses.cpu(),
            "correct": self.correct.cpu(),
            "grad_norms": self.grad_norms.cpu(),
            "grad_samples": self.grad_samples,
            "seconds": seconds,
        }


def _divergence(losses: Tensor, start: int, end: int, state: RunState, checkpoint: Path | None) -> str:
    """What ``TrainingDiverged`` says: the step whose loss was not finite (of those from batch
    ``start`` to ``end`` of the epoch), and the checkpoint kept."""
    bad = (~torch.isfinite(losses[start:end])).nonzero()
    # Another process may have seen it first; then this one names the window it lies in.
    batch = start + int(bad[0, 0]) if len(bad) else start
    step = state.step - (end - batch) + 1  # 1-based: "step 1" is the first optimizer step
    value = losses[batch].item() if len(bad) else float("nan")
    where = f"step {step} (epoch {state.epoch + 1}, batch {batch + 1})" if len(bad) else f"steps {step} to {state.step}"
    if checkpoint is not None and checkpoint.exists():
        kept = (
            f"The last good checkpoint, {checkpoint} (epoch {state.epoch}), is kept; resume from it with a lower --lr."
        )
    else:
        kept = "No checkpoint was written before it (no output folder, or the first epoch)."
    return (
        f"the training loss became {value} at {where}; "
        f"training stopped. {kept} A learning rate too high for this model or bad input data are the usual causes."
    )


def _stopped(state: RunState, run_dir: Path | None) -> str:
    where = (
        f"a checkpoint is in {run_dir}; resume with --resume (resume=True)"
        if run_dir
        else "nothing was saved (no output folder)"
    )
    return f"Stopped at step {state.step} (epoch {state.epoch + 1}, batch {state.batch}); {where}."


def _progress_bar(config: TrainConfig, total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled,
        desc=f"{config.model} ({config.schedule})",
        unit="step",
        dynamic_ncols=True,
    )


def _postfix(record: dict[str, Any]) -> str:
    parts = [f"epoch {record['epoch']}", f"train err {record['train_error']:.1%}"]
    if "test_error" in record:
        parts.append(f"test err {record['test_error']:.1%}")
    return ", ".join(parts)


__all__ = ["EVAL_BATCH_SIZE", "Run", "TrainResult", "TrainingDiverged", "train", "train_eval_sample"]
