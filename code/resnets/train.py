"""The training engine: one ``train(config)`` for the CLI, the chapters and the benchmarks.

    result = train(TrainConfig(model="resnet56", schedule="paper", out="runs/resnet56"))
    result.metrics[-1]["test_error"]

What it does, in the order a step meets it:

* **Data** on the device (``data.DeviceBatches``): no loader processes, no host round trip.
* **Forward** under mixed precision (``amp``, ``runtime.autocast_dtype``): bf16 autocast where
  the hardware computes in bf16 (recent NVIDIA GPUs, CPUs with AVX512-BF16 or AMX); fp16 with a
  gradient scaler on older CUDA GPUs (T4, V100), which have fp16 tensor cores but no bf16; float32
  elsewhere. channels_last memory, optionally ``torch.compile``d
  (and on CUDA optionally replayed as CUDA graphs, one launch for the whole step's kernels).
* **SGD** with momentum 0.9 and weight decay, fused (one kernel for all parameters) on CUDA and
  CPU, its learning rate set from the step number alone.
* **Bookkeeping without host syncs**: per-step losses, correct counts and sampled gradient norms
  accumulate in device tensors; the host reads them every ``sync_every`` steps (progress bar,
  the NaN check) and at the end of each epoch (metrics).

Three schedules:

    paper  He et al. 2015 sec. 4.2: batch 128, lr 0.1, divided by 10 at 32k and 48k iterations,
           stop at 64k (milestones at 50% and 75% of a shorter run); weight decay 1e-4. Nets of
           depth >= 110 warm up at lr 0.01 until the training error is below 80%.
    fast   for quick results: batch 256, peak lr 0.2 reached by a linear warm-up over the first
           5% of steps, then cosine decay to zero; Nesterov momentum, weight decay 5e-4, label
           smoothing 0.1; 40 epochs unless told otherwise.
    cpu    the reference recipe for a 2-core CPU, the same for every depth (Part 3's shipped nets):
           the fast schedule's shape (warm-up over 5% of the steps, cosine to zero, Nesterov,
           weight decay 5e-4, label smoothing 0.1) at the paper's batch 128 and lr 0.1, 60 epochs.
           Twice the fast schedule's steps per epoch, and a peak lr that plain-56 survives.

Time to accuracy: with ``target_error`` set, the run stops after the first epoch whose test
error is at most that (``python -m resnets bench`` times this).

Nothing is lost: with ``out`` set, a checkpoint is written atomically after every epoch and on
Ctrl-C (SIGINT finishes the current step, saves and returns); ``resume=True`` continues from it,
and on a CPU ends bit-identical to an uninterrupted run, because every random choice derives
from (seed, epoch) and the checkpoint holds model, optimizer and the epoch's partial sums. A
NaN or Inf loss stops the run naming the step, keeping the last good checkpoint. ``run.json``
keeps the first start's provenance and lists every resume's machine, precision and code.

Nothing is used that changed on disk, and one process owns a run: every file of the folder is
listed with its SHA-256 in ``SHA256SUMS`` (``files.VerifiedFolder``) and checked before it is
read back (resume, ``ship``); the previous epoch's checkpoint is kept as ``checkpoint.prev.pt``
until the new one has been read back and matched. The folder is locked (``files.lock_folder``)
for the whole run, so a second ``train`` on it is refused at once with the holder's pid.

Multi-GPU: launch with ``torchrun --nproc_per_node=N``; each process trains on its share of
every global batch under DistributedDataParallel (NCCL on CUDA, gloo on CPU), rank 0 writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoints import CheckpointError, load_file, load_state_dict, model_state, serialize
from .data import CIFAR10, CLASSES, DeviceBatches, load_cifar10, make_splits, stratified_indices
from .errors import ConfigError, ResnetsError
from .files import SUMS, VerifiedFolder, lock_folder, previous_name, remove_stale_temporaries
from .models import NAME_PATTERN, build_model
from .probes import GradientNormMonitor
from .runtime import AMP_MODES, autocast_dtype, cpu_model, device_name, git_commit, pick_device, precision_name
from .version import __version__

SCHEDULES = ("paper", "fast", "cpu")
#: Defaults of each schedule; anything set explicitly in ``TrainConfig`` wins.
SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {
        "batch_size": 128,
        "lr": 0.1,
        "weight_decay": 1e-4,
        "label_smoothing": 0.0,
        "nesterov": False,
        "iterations": 64_000,
    },
    "fast": {
        "batch_size": 256,
        "lr": 0.2,
        "weight_decay": 5e-4,
        "label_smoothing": 0.1,
        "nesterov": True,
        "epochs": 40,
    },
    "cpu": {"batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "label_smoothing": 0.1, "nesterov": True, "epochs": 60},
}
PAPER_MILESTONES = (0.5, 0.75)  # 32k and 48k of 64k iterations: lr / 10 at each
PAPER_WARMUP_DEPTH = 110  # "we use 0.01 to warm up the training until the training error is below 80%"
PAPER_WARMUP_ERROR = 0.8
FAST_WARMUP = 0.05  # fraction of the steps spent rising linearly to the peak lr
EVAL_BATCH_SIZE = 1000  # images per evaluation batch (no gradients kept, so larger than training's)
CHECKPOINT, METRICS, CONFIG, FINAL = "checkpoint.pt", "metrics.jsonl", "run.json", "model.pt"
#: Settings that change how a run computes, not what it computes: free to differ on resume.
RUNTIME_FIELDS = (
    "device",
    "progress",
    "compile",
    "cudagraphs",
    "out",
    "resume",
    "data",
    "amp",
    "channels_last",
    "sync_every",
)


class TrainingDiverged(ResnetsError, RuntimeError):
    """The loss became NaN or Inf; the message names the step and the checkpoint kept."""


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the schedule's default".

    Length: ``epochs`` or ``iterations`` (steps); give at most one.
    Data: ``val_size`` images held out of the 50k training set (the paper's 5k; 0 = train on
    all 50k); ``train_subset`` / ``test_subset`` cut the sets down for quick runs; ``augment``
    (the paper's random crops and flips) can be turned off, and ``eval_train`` also measures
    the error on the training images themselves (eval mode, no augmentation) after each epoch:
    on a fixed class-balanced sample of ``eval_train_size`` of them when that is set (cheap
    enough for every epoch), and on all of them after the last epoch.
    """

    model: str = "resnet20"
    zero_init_residual: bool = False  # start every residual branch at zero (Goyal et al. 2017)
    schedule: str = "paper"
    epochs: int | None = None
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    nesterov: bool | None = None
    label_smoothing: float | None = None
    warmup_error: float | None = None  # train at lr/10 until the training error is below this
    val_size: int = 5000
    train_subset: int | None = None
    test_subset: int | None = None
    augment: bool = True  # random 32x32 crops of the 4-pixel padded image, and horizontal flips
    eval_train: bool = False  # log train_eval_error: how well the net fits its training images
    eval_train_size: int | None = (
        None  # measure train_eval on this many of them per epoch (all after the last); None = all
    )
    target_error: float | None = None  # stop after the first epoch whose test error is at most this
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # mixed precision: auto, bf16, fp16 (with loss scaling) or off (runtime.autocast_dtype)
    channels_last: bool = True
    compile: bool = False
    cudagraphs: bool = False  # torch.compile(mode="reduce-overhead"): the step replayed as CUDA graphs (CUDA only)
    sync_every: int = 50  # steps between host reads (progress bar, NaN check)
    grad_norm_every: int = 10  # steps between gradient-norm samples
    progress: bool = True
    out: str | None = None  # run folder: checkpoint.pt, metrics.jsonl, run.json, model.pt
    resume: bool = False
    data: str | None = None  # data source; None reads RESNETS_DATA

    def resolved(self) -> TrainConfig:
        """A copy with the schedule's defaults filled in, checked; raises ValueError naming the fix."""
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
        build_model(self.model)  # an unknown name or impossible depth explains itself here
        if self.zero_init_residual and self.model.strip().lower().startswith("plain"):
            raise ConfigError(
                f"zero_init_residual would make every block of {self.model} output zeros: a plain net has no shortcut "
                "to carry the signal"
            )
        if self.epochs is not None and self.iterations is not None:
            raise ConfigError("give epochs or iterations, not both")
        defaults = dict(SCHEDULE_DEFAULTS[self.schedule])
        if self.epochs is not None or self.iterations is not None:
            defaults.pop("epochs", None), defaults.pop("iterations", None)
        filled = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        config = dataclasses.replace(self, **filled, device=str(self.device))
        if config.warmup_error is None and config.schedule == "paper" and _depth(config.model) >= PAPER_WARMUP_DEPTH:
            config.warmup_error = PAPER_WARMUP_ERROR
        config.check()
        return config

    def check(self) -> None:
        positive = {
            "batch_size": self.batch_size,
            "lr": self.lr,
            "epochs": self.epochs,
            "iterations": self.iterations,
            "sync_every": self.sync_every,
            "grad_norm_every": self.grad_norm_every,
        }
        for name, value in positive.items():
            if value is not None and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value)
            ):
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{name} ({flag}) must be a positive number; got {value!r}")
        for name in ("momentum", "weight_decay", "label_smoothing"):
            value = getattr(self, name)
            if value is not None and not (0 <= value < 1):
                raise ConfigError(f"{name} must be in [0, 1); got {value!r}")
        if self.warmup_error is not None and not (0 < self.warmup_error <= 1):
            raise ConfigError(f"warmup_error is a training error in (0, 1]; got {self.warmup_error!r}")
        if self.target_error is not None and not (0 <= self.target_error < 1):
            raise ConfigError(
                f"target_error is a test error in [0, 1), e.g. 0.09 for 91% accuracy; got {self.target_error!r}"
            )
        if self.eval_train_size is not None and not (
            isinstance(self.eval_train_size, int)
            and self.eval_train_size > 0
            and self.eval_train_size % len(CLASSES) == 0
        ):
            raise ConfigError(
                "eval_train_size (--eval-train-size) must be a positive multiple of 10, so every class has as many "
                f"images; got {self.eval_train_size!r}"
            )
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp (--amp) must be one of {', '.join(AMP_MODES)}; got {self.amp!r}")
        if self.target_error is not None and self.test_subset == 0:
            raise ConfigError("target_error stops at a test error, so it needs test images; drop --test-subset 0")

    def identity(self) -> dict[str, Any]:
        """The fields that define what is computed (a resumed run must keep them)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in RUNTIME_FIELDS}


def train_eval_sample(train: tuple[Tensor, Tensor], size: int | None) -> tuple[Tensor, Tensor]:
    """The training images whose fit is measured after each epoch: all of them (``size=None``),
    or a fixed class-balanced sample of ``size`` (the same for every run and epoch).
    ``train``: (images (N, 32, 32, 3) uint8, labels (N,)); ``size`` a multiple of the classes."""
    images, labels = train
    if size is None or size >= len(labels):
        return images, labels
    _, keep = stratified_indices(labels, size // len(CLASSES), seed=3)
    return images[keep], labels[keep]


def _depth(name: str) -> int:
    match = NAME_PATTERN.match(name.strip().lower())
    return int(match.group(3)) if match else 0


# ---------------------------------------------------------------------------------------
# Learning-rate schedules: functions of the step (and the paper's warm-up flag) only
# ---------------------------------------------------------------------------------------


def learning_rate(config: TrainConfig, step: int, total_steps: int, warming_up: bool = False) -> float:
    """The learning rate for ``step`` (0-based) of a ``total_steps`` run."""
    if config.schedule == "paper":
        drops = sum(step >= round(m * total_steps) for m in PAPER_MILESTONES)
        lr = config.lr * 0.1**drops
        return lr * 0.1 if warming_up else lr
    warmup = max(1, round(FAST_WARMUP * total_steps))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------
# Processes: one, or several under torchrun
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Processes:
    """Where this process sits in a torchrun launch (rank 0 of 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun, which sets WORLD_SIZE

    @classmethod
    def from_env(cls) -> Processes:
        env = os.environ
        return cls(
            int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)), "WORLD_SIZE" in env
        )

    @property
    def distributed(self) -> bool:
        """DDP and a process group: under torchrun, even as its only process (so one GPU
        checks the NCCL path that N GPUs take), or whenever there are several."""
        return self.launched or self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, tensor: Tensor) -> Tensor:
        """Sum over all processes (identity when alone)."""
        if self.distributed:
            dist.all_reduce(tensor)
        return tensor

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def _device_for(config: TrainConfig, processes: Processes) -> torch.device:
    device = pick_device(config.device)
    if device.type == "cuda" and processes.distributed:
        device = torch.device("cuda", processes.local_rank)
        torch.cuda.set_device(device)
    return device


# ---------------------------------------------------------------------------------------
# Interruption: Ctrl-C finishes the step, saves and returns
# ---------------------------------------------------------------------------------------


class GracefulStop:
    """While active, SIGINT (Ctrl-C, a notebook's interrupt button) and SIGTERM (a scheduler or
    torchrun stopping the job) set ``requested`` instead of killing the process; a second
    signal acts as usual (Ctrl-C twice aborts without saving)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signum, self._previous[signum])
        name = "Interrupted" if signum == signal.SIGINT else "Asked to stop"
        print(
            f"\n{name}: finishing this step and saving a checkpoint (Ctrl-C again to abort without saving).",
            file=sys.stderr,
        )

    def __exit__(self, *exc: Any) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous)


@contextlib.contextmanager
def backend_settings(device: torch.device) -> Iterator[None]:
    """The engine's global switches for ``device``, set for the duration and restored after.

    CPU: deterministic kernels, because a resumed run must end bit-identical. Not filling every
    new tensor with NaN first, which deterministic mode also does by default: that is a
    debugging aid (it exposes reads of uninitialised memory), costs a pass over every fresh
    activation and changes no result. CUDA: cuDNN autotuning; a run's shapes are fixed, so
    the fastest convolution algorithms are searched once and reused for every step.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.backends.cudnn.benchmark = cudnn_benchmark


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches done in the current epoch (non-zero only after an interruption)
    step: int = 0  # optimizer steps done in all
    warming_up: bool = False
    seconds: float = 0.0  # wall time spent training so far, over all sessions
    metrics: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, Any] | None = None  # the current epoch's sums, when stopped mid-epoch


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


def equivalent_command(config: TrainConfig) -> str:
    """The ``python -m resnets train`` command line that computes the same run as ``config``."""
    words = ["python -m resnets train"]
    for name, value in config.identity().items():
        if value is None or value == getattr(TrainConfig, name, None):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        else:
            words.append(f"{flag} {value}")
    return " ".join(words)


def code_and_host() -> dict[str, Any]:
    """The facts every record of provenance names about the code that ran and the machine it
    ran on: commit, versions, host CPU, platform (the device and precision are the caller's)."""
    return {
        "git_commit": git_commit(),
        "resnets_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
    }


def data_facts(data: CIFAR10) -> dict[str, Any]:
    """Which images a result was computed on: source, checksum, and what the copy is."""
    return {"data_source": data.source, "data_checksum": data.checksum, "data_note": data.note}


def provenance(
    config: TrainConfig, data: CIFAR10, device: torch.device, processes: Processes = Processes()
) -> dict[str, Any]:
    """What produced a result: command, code version, hardware, data, seed."""
    return {
        "command": equivalent_command(config),
        **code_and_host(),
        "hardware": f"{processes.world_size} x {device_name(device)}",
        "process_group": dist.get_backend() if dist.is_initialized() else None,  # nccl, gloo
        "precision": precision_name(autocast_dtype(device, config.amp)),  # what --amp chose here
        **data_facts(data),
        "seed": config.seed,
        "config": dataclasses.asdict(config),
    }


#: What can change when a run resumes on another machine or with newer code: each resume's are
#: recorded apart (``resumed_provenance``), so a run that moved says so.
RESUME_FACTS = ("git_commit", "resnets_version", "torch_version", "hardware", "cpu", "precision", "platform")


def resumed_provenance(first: dict[str, Any], now: dict[str, Any], state: RunState) -> dict[str, Any]:
    """The provenance of a run resumed at ``state``: the first start's (``first``, as its
    ``run.json`` holds it), with where this resume begins and its ``RESUME_FACTS`` from ``now``
    appended to ``resumes``. A run trained on two machines, in two precisions, or by two
    versions of the code keeps every one on record instead of only the last."""
    resume = {"epoch": state.epoch + 1, "batch": state.batch, "step": state.step}
    resume.update({fact: now.get(fact) for fact in RESUME_FACTS})
    return {**first, "resumes": [*first.get("resumes", []), resume]}


def train(config: TrainConfig, data: CIFAR10 | None = None) -> TrainResult:
    """Train ``config.model`` as ``config`` says; see the module docstring.

    ``data``: a loaded ``CIFAR10`` to reuse (default: ``load_cifar10(config.data)``).
    Returns when the run is complete, or early (``interrupted=True``) after a Ctrl-C, having
    saved a checkpoint when ``config.out`` is set. Raises ``TrainingDiverged`` on a NaN loss.
    """
    config = config.resolved()
    processes = Processes.from_env()
    device = _device_for(config, processes)
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
        if data is None:
            # The first process decodes and caches; the others then read the cache.
            if not processes.main:
                processes.barrier()
            data = load_cifar10(config.data)
            if processes.main:
                processes.barrier()
        return Run(config, data, device, processes, run_dir).run()


class Run:
    """One training run's objects and loop. ``train`` runs it to the end; the speed benchmark
    (``bench.py``) builds one and times its steps (``endless_steps``, ``evaluate_batch``)."""

    def __init__(
        self, config: TrainConfig, data: CIFAR10, device: torch.device, processes: Processes, run_dir: Path | None
    ) -> None:
        self.config, self.device, self.processes, self.run_dir = config, device, processes, run_dir
        self.folder = VerifiedFolder(run_dir) if run_dir is not None else None  # its files, with their digests
        self.data = data
        splits = make_splits(data, config.val_size, config.train_subset, config.test_subset)
        shard = {"rank": processes.rank, "world_size": processes.world_size, "channels_last": config.channels_last}
        self.train_batches = DeviceBatches(
            *splits.train, config.batch_size, device, train=True, seed=config.seed, augment=config.augment, **shard
        )
        eval_batch = EVAL_BATCH_SIZE * processes.world_size
        named = [("train_eval", train_eval_sample(splits.train, config.eval_train_size))] if config.eval_train else []
        named += [("val", splits.val), ("test", splits.test)]
        self.eval_sets = {
            name: DeviceBatches(*pair, eval_batch, device, train=False, **shard) for name, pair in named if len(pair[1])
        }
        # After the last epoch the fit is measured on every training image, not on the sample.
        sampled = config.eval_train and config.eval_train_size is not None
        self.final_train_eval = (
            DeviceBatches(*splits.train, eval_batch, device, train=False, **shard) if sampled else None
        )
        if config.iterations is not None:
            self.total_steps = config.iterations
        else:
            self.total_steps = config.epochs * len(self.train_batches)

        torch.manual_seed(config.seed)
        self.model = build_model(config.model, zero_init_residual=config.zero_init_residual).to(device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.monitor = GradientNormMonitor(self.model)
        # Fused SGD: one kernel updates every parameter (CUDA, and CPUs since torch 2.4), instead
        # of a loop of small ones per tensor; the update is the same.
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
            fused=device.type in ("cuda", "cpu") or None,
        )
        self.state = RunState(warming_up=config.warmup_error is not None)
        self.saved_scaler: dict[str, Any] | None = None
        self._maybe_resume()
        network: nn.Module = self.model
        if processes.distributed:
            ids = [device.index] if device.type == "cuda" else None
            network = nn.parallel.DistributedDataParallel(network, device_ids=ids)
        if config.cudagraphs and device.type != "cuda":
            raise ConfigError(
                f"cudagraphs replays CUDA kernels, so it needs a CUDA device, not {device.type}; drop --cudagraphs "
                "(--compile alone works everywhere)"
            )
        if config.cudagraphs:
            self.network = torch.compile(network, mode="reduce-overhead")  # inductor's CUDA graph trees
        else:
            self.network = torch.compile(network) if config.compile else network
        self.amp_dtype = autocast_dtype(device, config.amp)
        self.autocast = torch.autocast(
            device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None
        )
        # float16's largest value is 65504: the loss is scaled up so small gradients do not
        # underflow, a step whose gradients overflow is skipped and the scale lowered (a no-op
        # in bf16 and float32, which have float32's exponent range).
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        if self.saved_scaler is not None:
            self.scaler.load_state_dict(self.saved_scaler)
        self.provenance = provenance(config, data, device, processes)

    # -- checkpoints ----------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / CHECKPOINT if self.run_dir else None

    def _maybe_resume(self) -> None:
        path = resumable_checkpoint(self.run_dir) if self.run_dir is not None else None
        if path is None:
            return
        if not self.config.resume:
            raise CheckpointError(
                f"{self.run_dir} already holds a run ({path.name}); pass --resume (resume=True) to continue it, "
                "or choose another output folder (--out)."
            )
        saved = load_file(path, map_location=self.device)
        check_resumable(saved, self.config, path)
        load_state_dict(self.model, saved["model"], source=str(path), arch=saved["config"]["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.state = RunState(**saved["state"])
        self.saved_scaler = saved.get("scaler") or None

    def _save(self) -> None:
        if self.run_dir is None or not self.processes.main:
            return
        checkpoint = {
            "format": "resnets.train/1",
            "config": dataclasses.asdict(self.config),
            "model": model_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": dataclasses.asdict(self.state),
        }
        self.folder.save(CHECKPOINT, serialize(checkpoint), keep_previous=True)

    def _write_metrics(self) -> None:
        """Write metrics.jsonl whole from the run's history (a few kB), with its digest."""
        if self.run_dir is None or not self.processes.main:
            return
        self.folder.save_text(METRICS, "".join(json.dumps(m) + "\n" for m in self.state.metrics))

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> TrainResult:
        config, state = self.config, self.state
        if self.run_dir is not None and self.processes.main:
            for name in (CHECKPOINT, previous_name(CHECKPOINT), METRICS, CONFIG, FINAL, SUMS):
                remove_stale_temporaries(self.run_dir / name)
            if state.step > 0 and (self.run_dir / CONFIG).is_file():  # resumed: keep the first start's record
                first = json.loads(self.folder.verify(CONFIG).read_text())
                self.provenance = resumed_provenance(first, self.provenance, state)
            self.folder.save_text(CONFIG, json.dumps(self.provenance, indent=2) + "\n")
            self._write_metrics()
        bar = _progress_bar(config, self.total_steps, state.step, enabled=config.progress and self.processes.main)
        interrupted = False
        try:
            with GracefulStop() as stop:
                while state.step < self.total_steps and not interrupted and not self.reached_target():
                    interrupted = self._epoch(stop, bar)
        finally:
            bar.close()
        if interrupted:
            self._save()
            if self.processes.main:
                where = (
                    f"a checkpoint is in {self.run_dir}; resume with --resume (resume=True)"
                    if self.run_dir
                    else "nothing was saved (no output folder)"
                )
                print(
                    f"Stopped at step {state.step} (epoch {state.epoch + 1}, batch {state.batch}); {where}.",
                    file=sys.stderr,
                )
        elif self.run_dir is not None and self.processes.main:
            self.folder.save(FINAL, serialize(model_state(self.model)))
        self.model.eval()
        return TrainResult(self.model, list(state.metrics), config, self.run_dir, interrupted, self.provenance)

    def reached_target(self) -> bool:
        """True once an epoch has ended with a test error at or below ``config.target_error``."""
        target, metrics = self.config.target_error, self.state.metrics
        return target is not None and bool(metrics) and metrics[-1].get("test_error", 1.0) <= target

    def _epoch(self, stop: GracefulStop, bar: Any) -> bool:
        """Train from ``state.batch`` to the end of the epoch (or the run); True if interrupted."""
        config, state, device = self.config, self.state, self.device
        self.network.train()
        steps_in_epoch = len(self.train_batches)
        sums = _EpochSums.start(steps_in_epoch, device, state.partial)
        started = time.perf_counter()
        checked = batch = state.batch
        requested = False
        for batch, (x, y) in enumerate(self.train_batches.epoch(state.epoch, start=state.batch), start=state.batch):
            self._step(batch, x, y, sums)
            done = batch + 1
            last = done == steps_in_epoch or state.step >= self.total_steps
            # Several processes must sync at the same steps, so there a stop waits for the next sync.
            stop_now = stop.requested and not self.processes.distributed
            if last or stop_now or (done - checked) >= config.sync_every:
                requested = self._sync(sums, checked, done, stop.requested)
                bar.update(done - checked)
                checked = done
                if requested and not last:
                    elapsed = time.perf_counter() - started
                    state.batch, state.partial = done, sums.to_state(sums.seconds + elapsed)
                    state.seconds += elapsed
                    return True
            if state.step >= self.total_steps:
                break
        self._end_epoch(sums, batch + 1, started)
        bar.set_postfix_str(_postfix(state.metrics[-1]), refresh=False)
        return requested

    def _step(self, batch: int, x: Tensor, y: Tensor, sums: _EpochSums) -> None:
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

        What the speed benchmark times: every step is ``_step`` as in ``run``, on the engine's
        batches; left out are the host read every ``sync_every`` steps and the end-of-epoch
        evaluation and checkpoint, which the benchmark times apart or not at all.
        """
        self.network.train()
        while True:
            sums = _EpochSums.start(len(self.train_batches), self.device, None)
            for batch, (x, y) in enumerate(self.train_batches.epoch(self.state.epoch)):
                self._step(batch, x, y, sums)
                yield
            self.state.epoch += 1

    def _sync(self, sums: _EpochSums, start: int, end: int, stop: bool) -> bool:
        """The periodic host read: NaN check, warm-up switch, agreeing on a stop. Returns stop."""
        losses = sums.losses[start:end]
        flags = torch.stack([(~torch.isfinite(losses)).any().float(), torch.tensor(float(stop), device=self.device)])
        window = torch.stack(
            [
                sums.window_correct(),
                torch.tensor(float(self.train_batches.batch_size * (end - start)), device=self.device),
            ]
        )
        self.processes.sum(flags), self.processes.sum(window)
        nonfinite, stop_votes = flags.tolist()  # the host waits here, once per sync_every steps
        if nonfinite:
            self._diverged(sums, start, end)
        state = self.state
        if state.warming_up and 1 - window[0].item() / window[1].item() < self.config.warmup_error:
            state.warming_up = False
        return stop_votes > 0

    def _diverged(self, sums: _EpochSums, start: int, end: int) -> None:
        bad = (~torch.isfinite(sums.losses[start:end])).nonzero()
        # Another process may have seen it first; then this one names the window it lies in.
        batch = start + int(bad[0, 0]) if len(bad) else start
        step = self.state.step - (end - batch) + 1  # 1-based: "step 1" is the first optimizer step
        value = sums.losses[batch].item() if len(bad) else float("nan")
        where = (
            f"step {step} (epoch {self.state.epoch + 1}, batch {batch + 1})"
            if len(bad)
            else f"steps {step} to {self.state.step}"
        )
        path = self.checkpoint_path
        if path is not None and path.exists():
            kept = (
                f"The last good checkpoint, {path} (epoch {self.state.epoch}), is kept; "
                "resume from it with a lower --lr."
            )
        else:
            kept = "No checkpoint was written before it (no output folder, or the first epoch)."
        raise TrainingDiverged(
            f"the training loss became {value} at {where}; "
            f"training stopped. {kept} A learning rate too high for this model or bad input data are the usual causes."
        )

    def _end_epoch(self, sums: _EpochSums, batches: int, started: float) -> None:
        state = self.state
        train_seconds = sums.seconds + time.perf_counter() - started
        seen = batches * self.train_batches.batch_size
        totals = self.processes.sum(torch.stack([sums.losses[:batches].sum(), sums.correct.float()]))
        train_loss = totals[0].item() / (batches * self.processes.world_size)
        train_error = 1 - totals[1].item() / seen
        grad = (sums.grad_norms / max(sums.grad_samples, 1)).tolist()
        final = state.step >= self.total_steps
        eval_sets = dict(self.eval_sets)
        if final and self.final_train_eval is not None:
            eval_sets["train_eval"] = self.final_train_eval
        evaluation = {name: self._evaluate(batches_) for name, batches_ in eval_sets.items()}
        state.seconds += time.perf_counter() - started
        state.epoch += 1
        state.batch, state.partial = 0, None
        record = {
            "epoch": state.epoch,
            "step": state.step,
            "lr": learning_rate(self.config, state.step - 1, self.total_steps, state.warming_up),
            "train_loss": train_loss,
            "train_error": train_error,
            **{f"{name}_{k}": v for name, ev in evaluation.items() for k, v in ev.items()},
            **({"train_eval_images": len(eval_sets["train_eval"].labels)} if "train_eval" in eval_sets else {}),
            "grad_norm_early": grad[0],
            "grad_norm_late": grad[1],
            "train_seconds": train_seconds,
            "images_per_second": seen / train_seconds if train_seconds > 0 else float("nan"),
            "wall_seconds": state.seconds,
        }
        state.metrics.append(record)
        self._write_metrics()
        self._save()

    def _evaluate(self, batches: DeviceBatches) -> dict[str, float]:
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


def check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint into a run that would compute something else."""
    if not isinstance(saved, dict) or saved.get("format") != "resnets.train/1":
        raise CheckpointError(
            f"{path} is not a training checkpoint of this package (no 'format': 'resnets.train/1'); start a new run "
            "elsewhere"
        )
    # Fields added to TrainConfig after the checkpoint was saved take their defaults.
    before = {**TrainConfig().identity(), **{k: v for k, v in saved["config"].items() if k not in RUNTIME_FIELDS}}
    now = config.identity()
    changed = [f"{k}={before.get(k)!r} (now {now[k]!r})" for k in now if before.get(k) != now[k]]
    if changed:
        raise CheckpointError(
            f"{path} was saved by a run with different settings: {', '.join(changed)}. Resume with the run's own "
            "settings (python -m resnets train --out FOLDER --resume reads them from the checkpoint), or start a new "
            "run in another folder."
        )


@dataclass
class _EpochSums:
    """Per-epoch running sums, kept on the device so the loop never waits for them."""

    losses: Tensor  # (steps_in_epoch,) loss of each step
    correct: Tensor  # () correct training predictions so far
    grad_norms: Tensor  # (2,) sums of sampled early/late gradient norms
    grad_samples: int
    window_start: Tensor  # correct count at the last sync (the warm-up rule reads the window)
    seconds: float = 0.0  # training time spent on this epoch before an interruption

    @classmethod
    def start(cls, steps: int, device: torch.device, partial: dict[str, Any] | None) -> _EpochSums:
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

    def to_state(self, seconds: float) -> dict[str, Any]:
        return {
            "losses": self.losses.cpu(),
            "correct": self.correct.cpu(),
            "grad_norms": self.grad_norms.cpu(),
            "grad_samples": self.grad_samples,
            "seconds": seconds,
        }


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


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch metrics of a run folder (one JSON object per line), verified first."""
    path = VerifiedFolder(run_dir).verify(METRICS)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def resumable_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint a run in ``run_dir`` goes on from, verified against the folder's digests:
    ``checkpoint.pt``, or ``checkpoint.prev.pt`` when the former is missing (a crash between
    keeping the previous one and renaming the new one into place, or a damaged one deleted).
    None for a folder without a run. Raises ``files.FileError`` naming the fix for a damaged file."""
    folder = VerifiedFolder(run_dir)
    for name in (CHECKPOINT, previous_name(CHECKPOINT)):
        if (folder.path / name).is_file():
            if name != CHECKPOINT:
                print(
                    f"Note: {folder.path / CHECKPOINT} is missing; going on from the previous good checkpoint, {name}.",
                    file=sys.stderr,
                )
            return folder.verify(name)
    return None


def config_from_checkpoint(path: str | Path) -> TrainConfig:
    """The TrainConfig a checkpoint was saved with (the CLI's --resume reads it)."""
    saved = load_file(path)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved["config"].items() if k in fields})


__all__ = [
    "SCHEDULES",
    "Run",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "backend_settings",
    "code_and_host",
    "config_from_checkpoint",
    "data_facts",
    "learning_rate",
    "read_metrics",
    "resumable_checkpoint",
    "resumed_provenance",
    "train",
]
