"""The recipe of a training run: ``TrainConfig``, the one description of a run, and its schedules.

    config = TrainConfig(model="resnet56", schedule="paper").resolved()   # defaults filled, checked
    learning_rate(config, step, total_steps)

What it holds:

    TrainConfig        every setting of a run; ``resolved`` fills in the schedule's defaults and
                       checks, ``check`` names the fix for a bad value, ``identity`` is what a
                       resumed run must keep (all but ``RUNTIME_FIELDS``)
    SCHEDULES, SCHEDULE_DEFAULTS   the three schedules and the settings each one implies
    learning_rate      the rate at a step: a function of the step (and the paper's warm-up) only
    PAPER_MILESTONES, PAPER_WARMUP_DEPTH, PAPER_WARMUP_ERROR, FAST_WARMUP   the recipes' constants
    WHAT, OPTIMIZER, DATA, RUNNING   the groups ``train --help`` lists the fields' flags in

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
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .data import CLASSES
from .errors import ConfigError
from .flags import DATA_HELP, DEVICE_HELP, count, flag, fraction, model_name, positive_float, positive_int
from .models import list_models, parse_model_name
from .runtime import AMP_MODES

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
# The groups its flags are listed in.
WHAT, OPTIMIZER = "what to train", "optimizer (defaults depend on --schedule, see below)"
DATA, RUNNING = "data", "running"


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
    Each field is also a flag of ``python -m resnets train`` (``flags.flag``: its help, check
    and group), in the order ``--help`` lists them; ``None`` there too leaves it to the schedule.
    """

    model: str = flag(
        "plain56, resnet110, preact_resnet164, any resnet<6n+2>... (default {default}; "
        f"{', '.join(list_models()[:11])}, ...)",
        default="resnet20",
        group=WHAT,
        type=model_name,
        metavar="NAME",
    )
    zero_init_residual: bool = flag(
        "start every residual branch at zero, so each block begins as the identity "
        "(Goyal et al. 2017; residual nets only; default {default})",
        default=False,
        group=WHAT,
    )
    schedule: str = flag(
        "(default {default}) paper: step decay as He et al. 2015; fast: warm-up + cosine, label smoothing; "
        "cpu: the fast shape at batch 128, lr 0.1 (Part 3's CPU-trained nets)",
        default="paper",
        group=WHAT,
        choices=SCHEDULES,
    )
    seed: int = flag(
        "seed for the initial weights, data order and augmentation (default {default})",
        default=0,
        group=WHAT,
        type=count,
    )
    epochs: int | None = flag(
        "training length in epochs (default: the schedule's)",
        default=None,
        group=WHAT,
        exclusive="length",
        type=positive_int,
    )
    iterations: int | None = flag(
        "training length in optimizer steps (paper: 64000)",
        default=None,
        group=WHAT,
        exclusive="length",
        type=positive_int,
    )
    target_error: float | None = flag(
        "stop after the first epoch whose test error is at most ERROR, e.g. 0.09 for 91% accuracy (time to accuracy)",
        default=None,
        group=WHAT,
        type=fraction,
        metavar="ERROR",
    )
    batch_size: int | None = flag(
        "global batch size (split over processes under torchrun)", default=None, group=OPTIMIZER, type=positive_int
    )
    lr: float | None = flag("(peak) learning rate", default=None, group=OPTIMIZER, type=positive_float)
    momentum: float = flag("SGD momentum (default {default})", default=0.9, group=OPTIMIZER, type=fraction)
    weight_decay: float | None = flag("L2 weight decay", default=None, group=OPTIMIZER, type=fraction)
    nesterov: bool | None = flag("Nesterov momentum", default=None, group=OPTIMIZER)
    label_smoothing: float | None = flag(
        "label smoothing of the cross-entropy", default=None, group=OPTIMIZER, type=fraction
    )
    warmup_error: float | None = flag(
        "train at lr/10 until the training error is below ERROR (paper: 0.8 for depth >= 110, automatic)",
        default=None,
        group=OPTIMIZER,
        type=positive_float,
        metavar="ERROR",
    )
    data: str | None = flag(DATA_HELP, default=None, group=DATA, metavar="PATH")
    val_size: int = flag(
        "training images held out for validation (default {default}, the paper's 45k/5k split; 0 trains on all 50k)",
        default=5000,
        group=DATA,
        type=count,
    )
    train_subset: int | None = flag(
        "train on N class-balanced images (a multiple of 10) for a quick run",
        default=None,
        group=DATA,
        type=count,
        metavar="N",
    )
    test_subset: int | None = flag(
        "evaluate on N class-balanced test images", default=None, group=DATA, type=count, metavar="N"
    )
    augment: bool = flag(
        "random crops (4-pixel padding) and horizontal flips, as the paper (default {default})",
        default=True,
        group=DATA,
    )
    eval_train: bool = flag(
        "after each epoch also measure the error on the training images in eval mode, unaugmented "
        "(train_eval_error; default {default})",
        default=False,
        group=DATA,
    )
    eval_train_size: int | None = flag(
        "with --eval-train: measure it on a fixed class-balanced sample of N training images per epoch, and on "
        "all of them after the last (default: all, every epoch)",
        default=None,
        group=DATA,
        type=positive_int,
        metavar="N",
    )
    out: str | None = flag(
        "output folder (default runs/<model>-<schedule>-s<seed>)", default=None, group=RUNNING, metavar="FOLDER"
    )
    resume: bool = flag(
        "continue the run in --out from its checkpoint (its settings are read from it)",
        default=False,
        group=RUNNING,
        action="store_true",
    )
    device: str = flag(DEVICE_HELP, default="auto", group=RUNNING)
    amp: str = flag(
        "mixed precision (default {default}). auto: bf16 where the hardware computes in it (NVIDIA GPUs from "
        "Ampere on, CPUs with AVX512-BF16 or AMX), fp16 with loss scaling on older CUDA GPUs (T4, V100), float32 "
        "elsewhere; bf16 or fp16: that everywhere; off: float32",
        default="auto",
        group=RUNNING,
        choices=AMP_MODES,
    )
    channels_last: bool = flag("channels_last memory format (default {default})", default=True, group=RUNNING)
    compile: bool = flag("torch.compile the model (default {default})", default=False, group=RUNNING)
    cudagraphs: bool = flag(
        "compile with mode='reduce-overhead': each step replayed as CUDA graphs (CUDA only; default {default})",
        default=False,
        group=RUNNING,
    )
    sync_every: int = flag(
        "steps between host reads: progress bar and NaN check (default {default})",
        default=50,
        group=RUNNING,
        type=positive_int,
        metavar="STEPS",
    )
    grad_norm_every: int = flag(
        "steps between gradient-norm samples (default {default})",
        default=10,
        group=RUNNING,
        type=positive_int,
        metavar="STEPS",
    )
    progress: bool = flag("show a progress bar (default {default})", default=True, group=RUNNING)

    def resolved(self) -> TrainConfig:
        """A copy with the schedule's defaults filled in, checked; raises ValueError naming the fix."""
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
        spec = parse_model_name(self.model)  # an unknown name or impossible depth explains itself here
        if self.zero_init_residual and spec.plain:
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
        if config.warmup_error is None and config.schedule == "paper" and spec.depth >= PAPER_WARMUP_DEPTH:
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


__all__ = [
    "FAST_WARMUP",
    "PAPER_MILESTONES",
    "PAPER_WARMUP_DEPTH",
    "PAPER_WARMUP_ERROR",
    "RUNTIME_FIELDS",
    "SCHEDULES",
    "SCHEDULE_DEFAULTS",
    "TrainConfig",
    "learning_rate",
]
