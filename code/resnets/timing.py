"""Training throughput: images per second through forward, backward and an optimiser step.

    result = time_model("resnet56", device=rt.device, channels_last=True)
    print(format_results([result]))

``time_steps`` times any step function (warm-up, then the median of several timed windows,
with the device synchronised around each window), and ``time_interleaved`` several of them in
alternating windows, so other benchmarks, such as ``python -m resnets bench`` (``bench.py``:
the training engine against the classic recipe), reuse it with their own steps. ``time_model``
builds the usual one for a named model on a synthetic batch that lives on the device: it
measures the network, not the data loading.

Numbers from a shared or busy machine are noisy; compare settings measured together, as
ratios, and never hard-code a measured speed anywhere.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ConfigError
from .models import build_model, input_size
from .runtime import device_name, pick_device
from .tables import format_table


def synchronize(device: torch.device) -> None:
    """Wait for the device to finish its queued work (GPU kernels run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_steps(
    step: Callable[[], object],
    device: torch.device,
    warmup: int = 3,
    windows: int = 5,
    steps_per_window: int = 5,
) -> list[float]:
    """Seconds per step in each of ``windows`` timed windows, after ``warmup`` untimed steps.

    The warm-up absorbs one-off costs (memory allocation, cuDNN's algorithm search,
    torch.compile); averaging inside a window smooths out single-step jitter; the median over
    windows (taken by the caller) ignores a window that another process disturbed.
    """
    return time_interleaved({"step": step}, device, warmup, windows, steps_per_window)["step"]


def time_interleaved(
    steps: Mapping[str, Callable[[], object]],
    device: torch.device,
    warmup: int = 3,
    windows: int = 5,
    steps_per_window: int = 5,
) -> dict[str, list[float]]:
    """``time_steps`` for several step functions at once, their windows taken in turn (a, b, a, b...).

    Alternating puts every setting through the same moments of background load, so on a
    shared machine the ratio of two medians (and the ratio within each round of windows) is
    far steadier than either number alone. Returns seconds per step, per window, by name.
    """
    if warmup < 0 or windows < 1 or steps_per_window < 1:
        raise ConfigError(
            f"need warmup >= 0, windows >= 1, steps_per_window >= 1; got {warmup}, {windows}, {steps_per_window}"
        )
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize(device)
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(windows):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_window):
                step()
            synchronize(device)  # GPU work is asynchronous: the window ends when its kernels have
            seconds[name].append((time.perf_counter() - start) / steps_per_window)
    return seconds


@dataclass(frozen=True)
class ModelTiming:
    """One model and setting, timed on one device."""

    model: str
    device: str  # the device's human name (GPU model, or CPU and its threads)
    batch_size: int
    channels_last: bool
    bf16: bool
    compiled: bool
    step_seconds: tuple[float, ...]  # mean step time of each timed window

    @property
    def setting(self) -> str:
        """E.g. "NHWC bf16 compiled": NHWC is channels_last, bf16 is bfloat16 autocast."""
        parts = ["NHWC" if self.channels_last else "NCHW", "bf16" if self.bf16 else "fp32"]
        return " ".join(parts + (["compiled"] if self.compiled else []))

    @property
    def median_step_seconds(self) -> float:
        return statistics.median(self.step_seconds)

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.median_step_seconds


def time_model(
    name: str,
    *,
    device: torch.device | str = "auto",
    batch_size: int = 128,
    image_size: int | None = None,
    channels_last: bool = False,
    bf16: bool = False,
    compile: bool = False,
    warmup: int = 3,
    windows: int = 5,
    steps_per_window: int = 5,
    seed: int = 0,
) -> ModelTiming:
    """Training-step throughput of ``build_model(name)`` on a random batch kept on ``device``.

    One step is what training does: forward, cross-entropy loss, backward, SGD update.

    Args:
        channels_last: store activations and weights as N, H, W, C: the layout tensor cores
            and oneDNN prefer, so convolutions skip internal transposes.
        bf16: run the forward pass under ``torch.autocast`` in bfloat16 (CUDA and CPU):
            convolutions and matmuls in half the bytes; weights, optimiser and the reductions
            stay in float32. No loss scaling is needed: bf16 has float32's exponent range.
        compile: ``torch.compile`` the model (slow warm-up; pays off over many steps).
        image_size: default 32 for CIFAR nets, 224 for the ImageNet ones.
    """
    device = pick_device(device)
    if bf16 and device.type not in ("cuda", "cpu"):
        raise ConfigError(f"bf16 autocast is benchmarked on CUDA and CPU only, not on {device.type}; pass bf16=False")
    torch.manual_seed(seed)
    model = build_model(name)
    size = image_size or input_size(model)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    images = torch.randn(batch_size, 3, size, size, device=device).contiguous(memory_format=memory_format)
    labels = torch.randint(0, model.fc.out_features, (batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    forward = torch.compile(model) if compile else model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = F.cross_entropy(forward(images), labels)
        loss.backward()
        optimizer.step()

    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True  # let cuDNN pick the fastest kernels for these fixed shapes
    try:
        seconds = time_steps(step, device, warmup, windows, steps_per_window)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return ModelTiming(name, device_name(device), batch_size, channels_last, bf16, compile, tuple(seconds))


def format_results(results: Sequence[ModelTiming]) -> str:
    """A table of results, each with its speed relative to the first result for the same model."""
    baseline: dict[str, float] = {}
    rows = []
    for r in results:
        base = baseline.setdefault(r.model, r.images_per_second)
        spread = (max(r.step_seconds) - min(r.step_seconds)) / r.median_step_seconds
        rows.append(
            (
                r.model,
                r.setting,
                r.batch_size,
                f"{r.median_step_seconds * 1e3:,.1f}",
                f"±{spread / 2:.0%}",
                f"{r.images_per_second:,.0f}",
                f"{r.images_per_second / base:.2f}×",
            )
        )
    devices = sorted({r.device for r in results})
    headers = ["model", "setting", "batch", "ms/step", "spread", "images/s", "vs first"]
    return format_table(headers, rows, title=f"Training steps on {', '.join(devices)}")


def plot_results(results: Sequence[ModelTiming]):  # -> matplotlib Figure
    """Images/s of each setting as bars, one panel per model, the first setting of each model
    as the baseline it is compared with; the whiskers span the fastest and slowest window."""
    from . import viz  # plotting only here: timing needs no matplotlib

    models = list(dict.fromkeys(r.model for r in results))
    fig, axes = viz.figure(
        len(models),
        figsize=(4.2 * len(models), 0.5 + 0.55 * max(sum(r.model == m for r in results) for m in models)),
        sharey=False,
    )
    axes = [axes] if len(models) == 1 else list(axes)
    for ax, model in zip(axes, models):
        rows = [r for r in results if r.model == model]
        speeds = [r.images_per_second for r in rows]
        low = [s - r.batch_size / max(r.step_seconds) for s, r in zip(speeds, rows)]
        high = [r.batch_size / min(r.step_seconds) - s for s, r in zip(speeds, rows)]
        labels = [r.setting for r in rows]
        colors = [viz.COLORS["reference"]] + [viz.COLORS["residual"]] * (len(rows) - 1)
        ax.barh(labels, speeds, xerr=[low, high], color=colors, capsize=3)
        for y, (speed, whisker) in enumerate(zip(speeds, high)):  # the ratio beyond the whisker's end
            ax.text(speed + whisker, y, f"  {speed / speeds[0]:.2f}×", va="center", fontsize=9)
        ax.invert_yaxis()
        ax.set_title(model)
        ax.set_xlabel("training images/s")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, max(speeds[i] + high[i] for i in range(len(rows))) * 1.3)
    return fig
