"""What training and probing cost: GPU time estimated from the FLOPs until a GPU measures it, and
the ``cpu`` recipe's time from the rates its shipped runs trained at.

    Workload(trained_images, forward_images, training_steps)   what a profile computes, net by net
    full_profile_flops(work)            its floating-point operations (``flops.forward_flops_of``)
    launch_floor_seconds(work)          the least time its training steps take to launch their kernels
    full_profile_estimate(work, what)   the time it takes on each GPU of ``GPU_PEAK_FLOPS``: a table
    gpu_time_estimate(flops, what)      ... of any number of FLOPs
    recipe_flop_rates()                 the rates (FLOP/s) the shipped ``cpu`` recipe runs trained at
    recipe_seconds_estimate(model, r)   how long the recipe would take ``model`` at those rates

Each experiment states its own workload (``reproduce.full_profile_work``, and the course's
chapters theirs); this module only counts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from . import shipped
from .checkpoints import MANIFEST, read_manifest
from .data import CLASSES, IMAGES_PER_CLASS
from .errors import ConfigError
from .flops import forward_flops_of
from .models import build_model, parse_model_name
from .recipe import TrainConfig
from .tables import format_table

#: Peak dense tensor throughput (FLOP/s) in the precision the engine trains in there
#: (``runtime.autocast_dtype``), from NVIDIA's data sheets: the T4's fp16 tensor cores (Colab's
#: free GPU; no bf16) and an H100 SXM's bf16 tensor cores, dense.
GPU_PEAK_FLOPS = {"T4 (fp16)": 65e12, "H100 SXM (bf16)": 989e12}
#: The share of that peak that nets this small are assumed to reach. An assumption, not a
#: measurement: 16- to 64-channel convolutions at batch 128 leave most of a GPU idle, and data
#: movement and Python add their share. ``make gpu-check`` measures the real rate.
ASSUMED_UTILISATION = (0.05, 0.25)
#: The CPU time PyTorch takes to launch one GPU kernel, low and high: "Usually, the launch time on
#: the CPU side is between 5-20 microseconds" (Meta's Holistic Trace Analysis documentation, "CUDA
#: Kernel Launch Statistics"). An assumption from that source, not measured here. A training step
#: of these small nets launches hundreds of kernels, most doing less work than their launch costs,
#: so in eager PyTorch a step takes at least its launches times this, however fast the GPU.
LAUNCH_SECONDS = (5e-6, 20e-6)
#: ATen operators that only make a view, an alias or an allocation: no kernel runs for them.
_NO_KERNEL = frozenset(
    {"detach", "alias", "view", "_unsafe_view", "_reshape_alias", "reshape", "t", "expand", "as_strided",
     "squeeze", "unsqueeze", "permute", "transpose", "slice", "select", "empty", "empty_like", "empty_strided",
     "lift_fresh"}
)  # fmt: skip


@dataclass(frozen=True)
class Workload:
    """What a profile computes, by model name: the images each net trains on (a forward and a
    backward each, about three forward passes), the images it only passes forward (evaluations,
    probes) and its training steps (each launches ``kernel_launches_per_step`` kernels on a GPU).
    ``+`` adds two workloads, net by net."""

    trained_images: Mapping[str, float] = field(default_factory=dict)
    forward_images: Mapping[str, float] = field(default_factory=dict)
    training_steps: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: Workload) -> Workload:
        def added(first: Mapping[str, float], second: Mapping[str, float]) -> dict[str, Any]:
            return {m: first.get(m, 0) + second.get(m, 0) for m in {**first, **second}}

        return Workload(
            added(self.trained_images, other.trained_images),
            added(self.forward_images, other.forward_images),
            added(self.training_steps, other.training_steps),
        )


def training_flops(model: str, images: float, evaluated: float = 0) -> float:
    """Floating-point operations to train ``model`` on ``images`` 32x32 images and evaluate it on
    ``evaluated`` more: a backward costs about twice a forward."""
    return forward_flops_of(model) * (3 * images + evaluated)


def full_profile_flops(work: Workload) -> float:
    """Floating-point operations of a workload: every net's training and forward-only images."""
    models = {**work.trained_images, **work.forward_images}
    return sum(training_flops(m, work.trained_images.get(m, 0), work.forward_images.get(m, 0)) for m in models)


@functools.cache
def kernel_launches_per_step(model: str) -> int:
    """The kernels one training step of ``model`` launches on a GPU, counted from below: the ATen
    operators of a forward, a cross-entropy loss, its backward and an SGD update with momentum
    and weight decay, dispatched on a CPU (``_NO_KERNEL`` ones left out) after a first step has made
    the momentum buffers. Each launches at least one kernel; in float32 (autocast's casts and
    cuDNN's multi-kernel convolutions would add more). The count does not depend on the batch."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        launches = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func.overloadpacket.__name__ not in _NO_KERNEL:
                self.launches += 1
            return func(*args, **(kwargs or {}))

    net = build_model(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True)
    images, labels = torch.zeros(2, 3, 32, 32), torch.tensor([0, 1])
    for _ in range(2):  # the second step is the one counted: momentum buffers exist by then
        counter = Count()
        with counter:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(images), labels).backward()
            optimizer.step()
    return counter.launches


def launch_floor_seconds(work: Workload) -> tuple[float, float]:
    """The least time a workload takes in eager PyTorch on any GPU, at each end of
    ``LAUNCH_SECONDS``: every net's training steps times the kernels a step launches (evaluation
    left out, so a floor)."""
    launches = sum(steps * kernel_launches_per_step(m) for m, steps in work.training_steps.items())
    low, high = LAUNCH_SECONDS
    return launches * low, launches * high


def format_duration(seconds: float) -> str:
    """Seconds as a reader takes them in: "42 s", "12 min", "3.5 h"."""
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:,.0f} min" if seconds < 5400 else f"{seconds / 3600:,.1f} h"


def gpu_time_estimate(flops: float, what: str, floor: tuple[float, float] | None = None) -> str:
    """A table of the time ``flops`` take on each GPU of ``GPU_PEAK_FLOPS`` at the assumed
    utilisations, titled as the estimate it is. With ``floor`` (seconds, low and high:
    ``launch_floor_seconds``) neither end is below the launch overhead's: a fast GPU that
    computes a small net's step in less time than launching its kernels waits for the launches."""
    low, high = ASSUMED_UTILISATION
    floor_low, floor_high = floor or (0.0, 0.0)
    rows = []
    for gpu, peak in GPU_PEAK_FLOPS.items():
        fast, slow = flops / (peak * high), flops / (peak * low)
        row = [gpu, f"{peak / 1e12:,.0f} TFLOP/s", f"{format_duration(fast)} to {format_duration(slow)}"]
        if floor:
            row.append(f"{format_duration(max(fast, floor_low))} to {format_duration(max(slow, floor_high))}")
        rows.append(tuple(row))
    title = f"{what}: {flops / 1e15:,.1f} PFLOP; an estimate at {low:.0%} to {high:.0%} of peak"
    if not floor:
        return format_table(["GPU", "peak", "time"], rows, title=title)
    import textwrap

    per_launch = " to ".join(f"{s * 1e6:.0f}" for s in LAUNCH_SECONDS)
    note = (
        f"estimate: the compute time, but never less than the kernel launches take, {format_duration(floor_low)} "
        f"to {format_duration(floor_high)} on any GPU at {per_launch} µs a launch (an assumption: Meta's Holistic "
        "Trace Analysis documentation)"
    )
    table = format_table(["GPU", "peak", "compute", "estimate"], rows, title=title)
    return table + "\n" + textwrap.fill(note, 78, break_on_hyphens=False)


def full_profile_estimate(work: Workload, what: str) -> str:
    """``gpu_time_estimate`` of a workload's FLOPs, with the launch floor of its training steps
    where it trains (a workload of forward passes only has none)."""
    floor = launch_floor_seconds(work) if work.training_steps else None
    return gpu_time_estimate(full_profile_flops(work), what, floor)


def training_flop_rate(entry: dict[str, Any]) -> float:
    """The rate (FLOP/s) a shipped run trained at, everything included: the FLOPs of its training
    steps (a forward and a backward, 3 forward passes, per image) over its wall time, which also
    holds its evaluations and any slowdown from other work on the machine (not the pauses between
    its sessions)."""
    config, last = entry["provenance"]["config"], entry["metrics"][-1]
    images = last["step"] * config["batch_size"]
    return 3 * forward_flops_of(entry["arch"]) * images / last["wall_seconds"]


def recipe_flop_rates(manifest: str | Path = MANIFEST) -> dict[str, float]:
    """``training_flop_rate`` of every shipped ResNet run of the ``cpu`` recipe at its length (any
    seed) that trained in one session, by name: a run that was resumed may have moved to another
    machine or precision, so its wall time does not measure one."""
    return {
        name: training_flop_rate(entry)
        for name, entry in read_manifest(manifest).items()
        if shipped.is_cpu_recipe_run(entry)
        and not parse_model_name(entry["arch"]).plain
        and not entry["provenance"].get("resumes")
        and name == shipped.cpu_run_name(entry["arch"], *shipped.run_seed_and_epochs(entry))
    }


def recipe_seconds_estimate(model: str, rates: Iterable[float], epochs: int | None = None) -> tuple[float, float]:
    """How long the ``cpu`` recipe (``epochs``, default its own length, on 45k images) would take to
    train ``model`` at the fastest and the slowest of ``rates`` (FLOP/s: ``recipe_flop_rates``),
    from its FLOPs (``flops.forward_flops``): seconds, (fastest, slowest)."""
    rates = list(rates)
    if not rates:
        raise ConfigError("no measured training rate to scale from: ship a run of the cpu recipe first")
    epochs = shipped.CPU_EPOCHS if epochs is None else epochs  # read now: a test may set another length
    images = epochs * (len(CLASSES) * IMAGES_PER_CLASS[0] - TrainConfig().val_size)
    flops = 3 * forward_flops_of(model) * images
    return flops / max(rates), flops / min(rates)


__all__ = [
    "ASSUMED_UTILISATION",
    "GPU_PEAK_FLOPS",
    "LAUNCH_SECONDS",
    "Workload",
    "format_duration",
    "full_profile_estimate",
    "full_profile_flops",
    "gpu_time_estimate",
    "kernel_launches_per_step",
    "launch_floor_seconds",
    "recipe_flop_rates",
    "recipe_seconds_estimate",
    "training_flop_rate",
    "training_flops",
]
