"""The training engine against the classic PyTorch CIFAR-10 recipe, measured side by side.

    python -m resnets bench                            # the command line (see its --help)
    text, files = run(BenchSettings(models=("resnet20",)))   # the same from Python
    result = compare("resnet20", load_cifar10(), BenchSettings(device="cpu"))  # one model
    print(format_report([result]))

``BenchSettings`` is the one description of a benchmark (the command's flags are made from
it) and ``run`` carries it out: comparisons, time to accuracy, the report written. The engine
is timed through its public interface (``train.Run``: ``endless_steps``, ``evaluate_batch``),
the windows by ``timing.time_interleaved``.

Two ways to train the same network on the same images with the same batch size and the same
optimizer settings:

    engine   ``train.py`` as it runs (its ``Run``, stepped one batch at a time): the data set
             decoded once and held on the device as uint8, shuffled, cropped and flipped there
             by tensor ops (``data.DeviceBatches``); channels_last; mixed precision as
             ``runtime.autocast_dtype`` picks it (bf16 on recent GPUs and CPUs with
             AVX512-BF16 or AMX, fp16 on older CUDA GPUs); fused SGD; optionally
             ``torch.compile`` and CUDA graphs.
    classic  the recipe of the PyTorch tutorials and of most CIFAR-10 repositories: a data set
             that hands out PIL images, as ``torchvision.datasets.CIFAR10`` does (here over
             the engine's decoded arrays, so both paths see the same pixels), transformed by
             RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize; a
             DataLoader with one worker process per core (shuffled, persistent workers, pinned
             memory on CUDA); float32, NCHW; ``torch.optim.SGD`` with its default kernels; the
             running loss and accuracy read with ``.item()`` every step, as the tutorials do.

What ``compare`` measures, for one model:

* training throughput: images/s after a warm-up, the median over timed windows, windows taken
  in turn from the two paths (engine, classic, engine, ...) so both meet the same background
  load; the ratio engine/classic, and its range over the rounds of windows;
* evaluation throughput: the same, for forward passes in eval mode over the test set;
* peak memory that a training step (and an evaluation batch) adds above what is held before
  it (``peak_memory_mib`` says how, on CUDA and on a CPU).

``time_to_accuracy`` trains with the engine's fast schedule until a target test accuracy.
Timings on a shared machine are noisy: compare the two paths by their ratio, measured in one
run on one machine, and never hard-code a measured speed anywhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import json
import os
import platform
import re
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .data import CIFAR10, MEAN, STD, load_cifar10, make_splits
from .errors import ConfigError
from .files import make_folder, write_atomic
from .flags import DATA_HELP, DEVICE_HELP, accuracy_target, count, flag, model_name, positive_int
from .models import build_model
from .processes import Processes, backend_settings
from .recipe import TrainConfig
from .runtime import AMP_MODES, autocast_dtype, cpu_model, device_name, git_commit, pick_device, precision_name
from .tables import format_table
from .timing import synchronize, time_interleaved
from .train import EVAL_BATCH_SIZE, Run, train

MODELS = ("resnet20", "resnet56", "resnet110")
BATCH_SIZE = 128  # He et al. 2015's batch size, and the classic recipe's
#: Test accuracy for ``time_to_accuracy`` on the original CIFAR-10 ...
TARGETS = {"resnet20": 0.91, "resnet56": 0.93}
#: ... and how much lower on an image-folder copy (this project's is JPEG q75; one point is the
#: estimate of that copy's README, not a measurement of this package).
IMAGE_FOLDER_TARGET_DROP = 0.01


def default_target(model: str, data: CIFAR10) -> float:
    """The test accuracy ``time_to_accuracy`` aims at for ``model`` on ``data``."""
    if model not in TARGETS:
        raise ConfigError(f"no default target accuracy for {model}; give one, e.g. --target {model}=0.9")
    return round(TARGETS[model] - (IMAGE_FOLDER_TARGET_DROP if data.from_image_folder else 0.0), 4)


# The groups its flags are listed in (the first fields are the command's own options).
SPEED, ACCURACY, OUTPUT = "throughput", "time to accuracy", "output"
ENGINE = "the engine's switches (the classic recipe is always float32, NCHW, eager)"


@dataclass
class BenchSettings:
    """What ``python -m resnets bench`` measures, and how. The command's flags are made from
    these fields (``flags.flag``: default, help, check), so a setting is written here alone."""

    models: tuple[str, ...] = flag(
        "the networks to measure (default {default})", default=MODELS, type=model_name, nargs="+", metavar="NAME"
    )
    device: str = flag(DEVICE_HELP, default="auto")
    data: str | None = flag(DATA_HELP, default=None, metavar="PATH")  # None reads RESNETS_DATA, else downloads
    throughput: bool = flag(
        "measure training and evaluation throughput and peak memory (default {default})", default=True, group=SPEED
    )
    batch_size: int = flag(
        "training batch size of both paths (default {default})",
        default=BATCH_SIZE,
        group=SPEED,
        type=positive_int,
        metavar="N",
    )
    warmup: int = flag(
        "untimed steps of each path before its timed windows (default {default}; they also absorb torch.compile's "
        "compilation)",
        default=3,
        group=SPEED,
        type=count,
        metavar="STEPS",
    )
    windows: int = flag("timed windows per path (default {default})", default=5, group=SPEED, type=positive_int)
    steps_per_window: int = flag(
        "steps in each timed window (default {default})", default=5, group=SPEED, type=positive_int, metavar="STEPS"
    )
    memory_steps: int = flag(
        "steps over which peak memory is taken (default {default})",
        default=3,
        group=SPEED,
        type=positive_int,
        metavar="STEPS",
    )
    workers: int | None = flag(
        "the classic DataLoader's worker processes (default: one per core, os.cpu_count())",
        default=None,
        group=SPEED,
        type=count,
        metavar="N",
    )
    train_subset: int | None = flag(
        "use N class-balanced training images (a multiple of 10; default all 50,000)",
        default=None,
        group=SPEED,
        type=positive_int,
        metavar="N",
    )
    test_subset: int | None = flag(
        "use N class-balanced test images (default all 10,000)",
        default=None,
        group=SPEED,
        type=positive_int,
        metavar="N",
    )
    amp: str = flag(
        "the engine's mixed precision, as train --amp (default {default})",
        default="auto",
        group=ENGINE,
        choices=AMP_MODES,
    )  # the classic recipe is always float32
    compile: bool = flag("torch.compile the engine's model (default {default})", default=False, group=ENGINE)
    cudagraphs: bool = flag(
        "compile with mode='reduce-overhead': CUDA graphs (CUDA only; implies --compile; default {default})",
        default=False,
        group=ENGINE,
    )
    time_to_accuracy: bool | None = flag(
        "train each model of --models that has a target until it reaches it (default: on with CUDA, off otherwise)",
        default=None,
        group=ACCURACY,
    )
    targets: dict[str, float] = flag(
        "test accuracy to reach, e.g. resnet20=0.91 (repeat for several models)",
        default_factory=dict,
        group=ACCURACY,
        name="--target",
        type=accuracy_target,
        action="append",
        metavar="MODEL=ACC",
    )  # by model
    tta_epochs: int | None = flag(
        "length of the fast schedule the run may use (default 40)",
        default=None,
        group=ACCURACY,
        type=positive_int,
        metavar="N",
    )  # None: the fast schedule's own length
    out: str = flag(
        "where the JSON and markdown go (default ./{default})", default="benchmarks", group=OUTPUT, metavar="FOLDER"
    )
    name: str | None = flag(
        "file name without suffix (default: the device, e.g. nvidia-h100-80gb-hbm3)",
        default=None,
        group=OUTPUT,
        metavar="NAME",
    )
    seed: int = flag("seed of the initial weights and data order (default {default})", default=0, type=count)


# ---------------------------------------------------------------------------------------
# The classic recipe
# ---------------------------------------------------------------------------------------


def classic_transform(train: bool) -> Callable[[Any], Tensor]:
    """The torchvision transforms of the classic recipe: PIL image -> (3, 32, 32) float tensor."""
    from torchvision import transforms

    to_tensor = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    if not train:
        return transforms.Compose(to_tensor)
    return transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), *to_tensor])


class ClassicCIFAR10(Dataset):
    """CIFAR-10 served the way ``torchvision.datasets.CIFAR10`` serves it: one PIL image at a time.

    images: (N, 32, 32, 3) uint8 (the engine's decoded arrays, kept as NumPy like torchvision
    keeps them); labels: (N,). Item i is ``(transform(PIL image), label)``.
    """

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable[[Any], Tensor]) -> None:
        self.images = images.numpy()
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def classic_loader(
    dataset: Dataset, batch_size: int, device: torch.device, *, train: bool, workers: int | None = None
) -> DataLoader:
    """The classic DataLoader: ``workers`` processes (default one per core), shuffled for training."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        drop_last=train,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def forever(batches: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """The items of ``batches()``, then of a fresh ``batches()``, and so on: epoch after epoch."""
    while True:
        yield from batches()


# ---------------------------------------------------------------------------------------
# The two paths, as step functions that fetch their own next batch
# ---------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """One way to train: a training step and an evaluation step, each on its own next batch."""

    name: str
    setting: str
    model: torch.nn.Module
    train_step: Callable[[], None]
    eval_step: Callable[[], None]
    set_mode: Callable[[bool], None]  # True: training mode, False: eval mode
    close: Callable[[], None] = lambda: None


def engine_config(
    model: str,
    device: torch.device,
    settings: BenchSettings | None = None,
    *,
    epochs: int | None = None,
    target_error: float | None = None,
) -> TrainConfig:
    """The engine's fast-schedule run of ``model`` as ``settings`` describe it (batch size,
    subsets, precision, compilation, seed), on all 50k training images or a subset; ``epochs``
    and ``target_error`` for a run that trains to a target (``time_to_accuracy``)."""
    settings = settings or BenchSettings()
    return TrainConfig(
        model=model,
        schedule="fast",
        epochs=epochs,
        batch_size=settings.batch_size,
        val_size=0,
        train_subset=settings.train_subset,
        test_subset=settings.test_subset,
        target_error=target_error,
        seed=settings.seed,
        device=str(device),
        amp=settings.amp,
        compile=settings.compile or settings.cudagraphs,
        cudagraphs=settings.cudagraphs,
        progress=False,
    ).resolved()


def engine_path(config: TrainConfig, data: CIFAR10) -> Pipeline:
    """The engine's own ``Run``, each step under the engine's backend settings."""
    device = pick_device(config.device)
    run = Run(config, data, device, Processes(), None)
    training = run.endless_steps()
    test = run.eval_sets["test"]
    evaluation = forever(test.epoch)

    def train_step() -> None:
        with backend_settings(device):
            next(training)

    def eval_step() -> None:
        with backend_settings(device):
            run.evaluate_batch(*next(evaluation))

    parts = [
        "data on device",
        "NHWC" if config.channels_last else "NCHW",
        precision_name(autocast_dtype(device, config.amp)),
        "fused SGD" if run.optimizer.defaults.get("fused") else "SGD",
    ]
    parts += ["CUDA graphs"] if config.cudagraphs else ["compiled"] if config.compile else []
    return Pipeline("engine", ", ".join(parts), run.model, train_step, eval_step, run.network.train)


def classic_path(config: TrainConfig, data: CIFAR10, workers: int | None = None) -> Pipeline:
    """The classic recipe on the engine's images, with the engine's model, batch size and optimizer settings."""
    device = pick_device(config.device)
    splits = make_splits(data, config.val_size, config.train_subset, config.test_subset)
    torch.manual_seed(config.seed)
    model = build_model(config.model).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
    )
    loaders = [
        classic_loader(ClassicCIFAR10(*split, classic_transform(train)), size, device, train=train, workers=workers)
        for split, size, train in ((splits.train, config.batch_size, True), (splits.test, EVAL_BATCH_SIZE, False))
    ]
    training, evaluation = (forever(lambda loader=loader: loader) for loader in loaders)
    totals = {"loss": 0.0, "correct": 0}  # the running sums the recipe prints

    def train_step() -> None:
        x, y = next(training)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        loss.backward()
        optimizer.step()
        totals["loss"] += loss.item()
        totals["correct"] += (logits.argmax(1) == y).sum().item()

    @torch.no_grad()
    def eval_step() -> None:
        x, y = next(evaluation)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        totals["loss"] += F.cross_entropy(logits, y, reduction="sum").item()
        totals["correct"] += (logits.argmax(1) == y).sum().item()

    def close() -> None:
        training.close()
        evaluation.close()
        loaders.clear()  # the last references: persistent workers exit with their DataLoader

    workers = loaders[0].num_workers
    setting = f"DataLoader ({_plural(workers, 'worker')}), PIL transforms, NCHW, fp32, SGD, .item() each step"
    return Pipeline("classic", setting, model, train_step, eval_step, model.train, close)


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------


def peak_memory_mib(step: Callable[[], None], device: torch.device, steps: int = 3) -> float | None:
    """Peak memory that ``steps`` calls of ``step`` add above what is held before them, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated`` over the calls minus ``memory_allocated`` before
    them: activations, gradients and workspaces, not the weights, optimizer state or a data
    set already on the device. CPU (Linux with glibc): freed heap memory is first returned to
    the system (``malloc_trim``), so that memory the step touches counts again; then the peak
    resident set size over the calls (``VmHWM``, reset through ``/proc/self/clear_refs``) minus
    the resident size before them. This process only: a DataLoader's workers are not counted.
    None where neither is available.
    """
    gc.collect()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        for _ in range(steps):
            step()
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    if device.type != "cpu" or not _can_reset_peak_rss():
        return None
    _libc().malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak resident set size
    before = _status_kib("VmRSS")
    for _ in range(steps):
        step()
    return (_status_kib("VmHWM") - before) / 1024


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def _can_reset_peak_rss() -> bool:
    try:
        return hasattr(_libc(), "malloc_trim") and os.access("/proc/self/clear_refs", os.W_OK)
    except OSError:
        return False


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field} line")
    return int(match.group(1))


# ---------------------------------------------------------------------------------------
# One model, both paths
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathResult:
    """What was measured for one path: seconds per step in each timed window, and peak memory."""

    setting: str
    train_seconds: tuple[float, ...]
    eval_seconds: tuple[float, ...]
    train_peak_mib: float | None
    eval_peak_mib: float | None


@dataclass(frozen=True)
class Comparison:
    """The engine and the classic recipe, measured together on one model."""

    model: str
    device: str
    batch_size: int
    eval_batch_size: int
    steps_per_window: int
    engine: PathResult
    classic: PathResult

    def images_per_second(self, path: str, phase: str = "train") -> float:
        """Median throughput of ``path`` ("engine" or "classic") in ``phase`` ("train" or "eval")."""
        seconds = getattr(getattr(self, path), f"{phase}_seconds")
        return (self.batch_size if phase == "train" else self.eval_batch_size) / statistics.median(seconds)

    def speedup(self, phase: str = "train") -> float:
        """Engine images/s over classic images/s: the ratio of the medians."""
        return speedup(getattr(self.engine, f"{phase}_seconds"), getattr(self.classic, f"{phase}_seconds"))

    def speedup_range(self, phase: str = "train") -> tuple[float, float]:
        """The lowest and highest ratio within one round of windows (engine, then classic)."""
        ratios = round_ratios(getattr(self.engine, f"{phase}_seconds"), getattr(self.classic, f"{phase}_seconds"))
        return min(ratios), max(ratios)


def speedup(fast_seconds: Sequence[float], slow_seconds: Sequence[float]) -> float:
    """How many times faster ``fast`` is: median seconds per step of ``slow`` over that of ``fast``
    (the ratio of images per second, as both steps hold the same number of images)."""
    return statistics.median(slow_seconds) / statistics.median(fast_seconds)


def round_ratios(fast_seconds: Sequence[float], slow_seconds: Sequence[float]) -> list[float]:
    """The speed-up within each round of alternating windows: slow window i over fast window i."""
    if len(fast_seconds) != len(slow_seconds) or not fast_seconds:
        raise ConfigError(
            f"need as many windows of each, at least one; got {len(fast_seconds)} and {len(slow_seconds)}"
        )
    return [slow / fast for fast, slow in zip(fast_seconds, slow_seconds)]


def spread(seconds: Sequence[float]) -> float:
    """Half the range of the windows over their median: "±5%" means the windows lay within about 5% of it."""
    return (max(seconds) - min(seconds)) / 2 / statistics.median(seconds)


def compare(
    model: str, data: CIFAR10, settings: BenchSettings | None = None, device: torch.device | None = None
) -> Comparison:
    """Time the engine and the classic recipe training (then evaluating) ``model``, in turns, as
    ``settings`` say (default ``BenchSettings()``) on ``device`` (default: ``settings.device``).

    Both train on the same images (all 50k training images, or ``train_subset`` of them) from
    the same initial weights with the same optimizer settings: the engine's fast schedule at
    ``batch_size``. Evaluation runs over the test set (or ``test_subset``) in batches of
    ``EVAL_BATCH_SIZE``. ``workers``: the classic DataLoader's processes (default one per core).
    """
    settings = settings or BenchSettings()
    device = device or pick_device(settings.device)
    config = engine_config(model, device, settings)
    warmup, windows, steps_per_window = settings.warmup, settings.windows, settings.steps_per_window
    memory_steps = settings.memory_steps
    paths = [engine_path(config, data), classic_path(config, data, settings.workers)]
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True  # the classic recipe sets it too (the engine sets it for its own steps)
    try:
        for path in paths:
            path.set_mode(True)
        train = time_interleaved({p.name: p.train_step for p in paths}, device, warmup, windows, steps_per_window)
        train_peak = {p.name: peak_memory_mib(p.train_step, device, memory_steps) for p in paths}
        for path in paths:
            path.set_mode(False)
        evaluation = time_interleaved({p.name: p.eval_step for p in paths}, device, warmup, windows, steps_per_window)
        eval_peak = {p.name: peak_memory_mib(p.eval_step, device, memory_steps) for p in paths}
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        for path in paths:
            path.close()
    results = {
        p.name: PathResult(
            p.setting, tuple(train[p.name]), tuple(evaluation[p.name]), train_peak[p.name], eval_peak[p.name]
        )
        for p in paths
    }
    eval_batch = min(EVAL_BATCH_SIZE, settings.test_subset or len(data.test_labels))
    return Comparison(
        model,
        device_name(device),
        settings.batch_size,
        eval_batch,
        steps_per_window,
        results["engine"],
        results["classic"],
    )


# ---------------------------------------------------------------------------------------
# Time to accuracy
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeToAccuracy:
    """One fast-schedule run that stopped at the first epoch reaching ``target`` test accuracy."""

    model: str
    target: float
    reached: bool
    epochs: int
    train_seconds: float  # the training steps alone
    wall_seconds: float  # with the test evaluation after every epoch
    accuracy: float  # test accuracy after the last epoch run
    train_images: int
    test_images: int
    epochs_planned: int
    compiled: bool
    cudagraphs: bool


def time_to_accuracy(
    model: str, data: CIFAR10, target: float, settings: BenchSettings | None = None, device: torch.device | None = None
) -> TimeToAccuracy:
    """Train ``model`` with the fast schedule on all 50k training images (or ``train_subset``)
    until the test accuracy reaches ``target`` (checked after every epoch), or the schedule ends;
    ``settings`` (default ``BenchSettings()``) say how, on ``device`` (default ``settings.device``).

    ``settings.tta_epochs``: the schedule's length (default: the fast schedule's 40); the learning
    rate follows it, so a shorter schedule anneals sooner. With ``compile`` the compilation falls
    in the first epoch and is part of the time, as it is for anyone running it.
    """
    if not 0 < target < 1:
        raise ConfigError(f"target is a test accuracy in (0, 1), e.g. 0.91; got {target!r}")
    settings = settings or BenchSettings()
    device = device or pick_device(settings.device)
    config = engine_config(model, device, settings, epochs=settings.tta_epochs, target_error=round(1 - target, 6))
    result = train(config, data)
    last = result.final
    return TimeToAccuracy(
        model=model,
        target=target,
        reached=last["test_error"] <= result.config.target_error,
        epochs=last["epoch"],
        train_seconds=sum(m["train_seconds"] for m in result.metrics),
        wall_seconds=last["wall_seconds"],
        accuracy=1 - last["test_error"],
        train_images=settings.train_subset or len(data.train_labels),
        test_images=settings.test_subset or len(data.test_labels),
        epochs_planned=result.config.epochs,
        compiled=result.config.compile,
        cudagraphs=settings.cudagraphs,
    )


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------


def machine(device: torch.device) -> dict[str, Any]:
    """Where a benchmark ran: hardware, software versions, code version and date."""
    import torchvision

    return {
        "device": device_name(device),
        "cpu": cpu_model() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _mib(value: float | None) -> str | None:
    return None if value is None else f"{value:,.0f}"


def format_report(comparisons: Sequence[Comparison], accuracies: Sequence[TimeToAccuracy] = ()) -> str:
    """The measurements as plain-text tables: throughput, memory and time to accuracy."""
    sections = []
    if comparisons:
        first = comparisons[0]
        legend = [
            f"engine:  {first.engine.setting}",
            f"classic: {first.classic.setting}",
            f"median of {_plural(len(first.engine.train_seconds), 'window')} of "
            f"{_plural(first.steps_per_window, 'step')}, taken "
            "in turn from the two paths; ± is half the range of the windows; ratio range: lowest and highest within "
            "one round",
        ]
        sections.append("\n".join(legend))
        for phase, title, batch in (
            ("train", "Training", first.batch_size),
            ("eval", "Evaluation", first.eval_batch_size),
        ):
            rows = []
            for c in comparisons:
                engine, classic = getattr(c.engine, f"{phase}_seconds"), getattr(c.classic, f"{phase}_seconds")
                low, high = c.speedup_range(phase)
                rows.append(
                    (
                        c.model,
                        f"{c.images_per_second('engine', phase):,.0f}",
                        f"±{spread(engine):.0%}",
                        f"{c.images_per_second('classic', phase):,.0f}",
                        f"±{spread(classic):.0%}",
                        f"{c.speedup(phase):.2f}×",
                        f"{low:.2f}–{high:.2f}×",
                    )
                )
            headers = ["model", "engine img/s", "±", "classic img/s", "±", "engine/classic", "ratio range"]
            sections.append(format_table(headers, rows, title=f"{title} throughput on {first.device}, batch {batch}"))
        rows = [
            (
                c.model,
                _mib(c.engine.train_peak_mib),
                _mib(c.classic.train_peak_mib),
                _mib(c.engine.eval_peak_mib),
                _mib(c.classic.eval_peak_mib),
            )
            for c in comparisons
        ]
        headers = ["model", "engine train", "classic train", "engine eval", "classic eval"]
        sections.append(format_table(headers, rows, title="Peak memory a step adds (MiB; see bench.peak_memory_mib)"))
    if accuracies:
        rows = [
            (
                a.model,
                f"{a.target:.1%}",
                "yes" if a.reached else "no",
                f"{a.epochs}/{a.epochs_planned}",
                f"{a.train_seconds:,.1f}",
                f"{a.wall_seconds:,.1f}",
                f"{a.accuracy:.2%}",
                f"{a.train_images:,}/{a.test_images:,}",
                "CUDA graphs" if a.cudagraphs else "yes" if a.compiled else "no",
            )
            for a in accuracies
        ]
        headers = [
            "model",
            "target",
            "reached",
            "epochs",
            "train s",
            "wall s",
            "test acc",
            "train/test images",
            "compiled",
        ]
        sections.append(
            format_table(
                headers, rows, title="Time to accuracy, fast schedule (stops at the first epoch at or above the target)"
            )
        )
    return "\n\n".join(sections)


def write_report(folder: str | Path, name: str, report: dict[str, Any], text: str) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.json`` (every window and setting) and ``<folder>/<name>.md`` (the tables)."""
    folder = make_folder(folder)
    json_path, markdown_path = folder / f"{name}.json", folder / f"{name}.md"
    write_atomic(json_path, lambda f: f.write((json.dumps(report, indent=2) + "\n").encode()))
    about = report["machine"]
    cuda_build = f" (built for CUDA {about['cuda']})" if about["cuda"] else ""
    lines = [
        f"# Speed: engine against the classic recipe ({about['device']})",
        "",
        f"- command: `{report['command']}`",
        f"- date: {about['date']}; code: {about['git_commit']}",
        f"- machine: {about['cpu']}, {about['cores']} cores ({about['torch_threads']} torch threads); "
        f"{about['device']}",
        f"- software: torch {about['torch']}{cuda_build}, torchvision {about['torchvision']}, Python {about['python']}",
        f"- data: {report['data']}",
        "",
        "```text",
        text,
        "```",
        "",
    ]
    write_atomic(markdown_path, lambda f: f.write("\n".join(lines).encode()))
    return json_path, markdown_path


def report_dict(
    command: str,
    device: torch.device,
    data: CIFAR10,
    comparisons: Sequence[Comparison],
    accuracies: Sequence[TimeToAccuracy],
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything measured, with where and how, as JSON-ready data."""
    note = (
        "CIFAR-10 from an image folder (this project's copy: JPEG q75, lossy)"
        if data.from_image_folder
        else "original CIFAR-10"
    )
    return {
        "command": command,
        "settings": settings or {},
        "machine": machine(device),
        "data": f"{note}; {data.source}; sha256 {data.checksum[:16]}",
        "comparisons": [
            {
                **dataclasses.asdict(c),
                "train_speedup": c.speedup("train"),
                "eval_speedup": c.speedup("eval"),
                "images_per_second": {
                    p: {ph: c.images_per_second(p, ph) for ph in ("train", "eval")} for p in ("engine", "classic")
                },
            }
            for c in comparisons
        ],
        "time_to_accuracy": [dataclasses.asdict(a) for a in accuracies],
    }


# ---------------------------------------------------------------------------------------
# The whole benchmark: what `python -m resnets bench` runs
# ---------------------------------------------------------------------------------------


def run(settings: BenchSettings, command: str = "python -m resnets bench") -> tuple[str, tuple[Path, Path]]:
    """Measure everything ``settings`` asks for, write the report, and return its tables and
    the two files written (JSON, markdown). Progress goes to stderr."""
    device = pick_device(settings.device)
    timed = settings.time_to_accuracy if settings.time_to_accuracy is not None else device.type == "cuda"
    to_train = [m for m in settings.models if m in TARGETS or m in settings.targets] if timed else []
    if not settings.throughput and not to_train:
        raise ConfigError(
            "nothing to measure: --no-throughput needs --time-to-accuracy and a model with a target "
            "(--target MODEL=ACC)"
        )
    make_folder(settings.out)  # a folder that cannot be written fails now, not after the measuring
    data = load_cifar10(settings.data)
    comparisons = []
    for model in settings.models if settings.throughput else []:
        _say(f"Timing {model}: the engine and the classic recipe in turn...")
        comparison = compare(model, data, settings, device)
        comparisons.append(comparison)
        _say(
            f"  training {comparison.images_per_second('engine'):,.0f} against "
            f"{comparison.images_per_second('classic'):,.0f} images/s: {comparison.speedup():.2f}×"
        )
    accuracies = []
    for model in to_train:
        target = settings.targets.get(model) or default_target(model, data)
        _say(f"Training {model} to {target:.1%} test accuracy...")
        accuracies.append(time_to_accuracy(model, data, target, settings, device))
    text = format_report(comparisons, accuracies)
    report = report_dict(command, device, data, comparisons, accuracies, dataclasses.asdict(settings))
    name = settings.name or re.sub(r"[^a-z0-9]+", "-", device_name(device).lower()).strip("-")
    return text, write_report(settings.out, name, report, text)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


__all__ = [
    "BATCH_SIZE",
    "MODELS",
    "TARGETS",
    "ClassicCIFAR10",
    "Comparison",
    "PathResult",
    "Pipeline",
    "TimeToAccuracy",
    "classic_loader",
    "classic_path",
    "classic_transform",
    "compare",
    "default_target",
    "engine_config",
    "engine_path",
    "format_report",
    "machine",
    "peak_memory_mib",
    "report_dict",
    "round_ratios",
    "speedup",
    "time_to_accuracy",
    "write_report",
    "BenchSettings",
    "run",
]
