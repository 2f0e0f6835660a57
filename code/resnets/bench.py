"""The training engine against the classic PyTorch CIFAR-10 recipe, measured side by side.

    python -m resnets bench                            # the command line (see its --help)
    text, files = run(BenchSettings(models=("resnet20",)))   # the same from Python
    result = compare("resnet20", load_cifar10(), BenchSettings(device="cpu"))  # one model
    print(bench_report.format_report([result]))

``BenchSettings`` is the one description of a benchmark (the command's flags are made from
it) and ``run`` carries it out: comparisons, time to accuracy, the report written. The two
paths, the engine (``train.Run`` stepped through its public interface: ``endless_steps``,
``evaluate_batch``) and the classic PyTorch recipe (PIL images, a DataLoader, float32), are
built in ``bench_pipelines.py``; the windows are timed by ``timing.time_interleaved``; what
was measured is reported by ``bench_report.py``.

Map: the defaults (``MODELS``, ``BATCH_SIZE``, ``TARGETS``, ``default_target``),
``BenchSettings``, ``engine_config`` (the engine's run as the settings describe it),
``peak_memory_mib``, ``compare`` (one model, both paths), ``time_to_accuracy``, ``run``.

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
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .bench_pipelines import classic_path, engine_path
from .bench_report import Comparison, PathResult, TimeToAccuracy, format_report, report_dict, write_report
from .data import CIFAR10, load_cifar10
from .errors import ConfigError
from .files import make_folder
from .flags import DATA_HELP, DEVICE_HELP, accuracy_target, count, flag, model_name, positive_int
from .recipe import TrainConfig
from .runtime import AMP_MODES, device_name, pick_device
from .timing import synchronize, time_interleaved
from .train import EVAL_BATCH_SIZE, train

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
# The engine's run as the settings describe it
# ---------------------------------------------------------------------------------------


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
    "IMAGE_FOLDER_TARGET_DROP",
    "MODELS",
    "TARGETS",
    "compare",
    "default_target",
    "engine_config",
    "peak_memory_mib",
    "time_to_accuracy",
    "BenchSettings",
    "run",
]
