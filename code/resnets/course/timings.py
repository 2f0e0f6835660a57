"""How much the chapters that time things measure, in each profile (registered with ``profiles``).

    TimingWindows                      untimed warm-up steps, then timed windows of some steps each
    HardwareTiming, hardware_timing    Part 2, ch. 7 (hardware): ResNet-20/56 in each memory
                                       layout and precision (``timing.time_model``)
    PipelineTiming, pipeline_timing    Part 3, ch. 1 (data pipeline): one batch of the package's
                                       pipeline (``timing.time_steps``) against one training step

The quick profile runs on a 2-core CPU, where one training step of a batch of 128 takes about a
second: small batches and a few short windows, so a chapter times in seconds (noisy, and the
chapters say so). The full profile is meant for a GPU: full batches and windows long enough to
average the GPU's jitter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import profiles


@dataclass(frozen=True)
class TimingWindows:
    """The arguments of ``timing.time_steps`` (and ``time_model``) that say how long to measure."""

    warmup: int  # untimed steps first (the allocator, cuDNN's choice of kernels, a compile)
    windows: int  # timed windows; the chapters read their median
    steps_per_window: int

    def keywords(self) -> dict[str, int]:
        """As keyword arguments: ``timing.time_steps(step, device, **windows.keywords())``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class HardwareTiming:
    """Part 2's hardware chapter: each model and setting trains ``windows`` of batches of ``batch_size``."""

    batch_size: int
    windows: TimingWindows
    compile_on_cuda: bool  # also time torch.compile on a CUDA GPU (slow to warm up: not in quick)


@dataclass(frozen=True)
class PipelineTiming:
    """Part 3's data-pipeline chapter: batches of ``batch_size``, timed as the package makes them
    (``batch_windows``) and as ResNet-20 trains on them (``step_windows``)."""

    batch_size: int  # the paper's 128 on a GPU; 32 on a CPU, where a step of 128 is slow
    batch_windows: TimingWindows
    step_windows: TimingWindows


profiles.register(
    "hardware_timing",
    {
        "quick": HardwareTiming(8, TimingWindows(warmup=1, windows=3, steps_per_window=1), compile_on_cuda=False),
        "full": HardwareTiming(256, TimingWindows(warmup=5, windows=5, steps_per_window=10), compile_on_cuda=True),
    },
)
profiles.register(
    "pipeline_timing",
    {
        "quick": PipelineTiming(
            32,
            batch_windows=TimingWindows(warmup=1, windows=3, steps_per_window=5),
            step_windows=TimingWindows(warmup=1, windows=2, steps_per_window=1),
        ),
        "full": PipelineTiming(
            128,
            batch_windows=TimingWindows(warmup=10, windows=5, steps_per_window=50),
            step_windows=TimingWindows(warmup=5, windows=5, steps_per_window=10),
        ),
    },
)


def hardware_timing(profile: str) -> HardwareTiming:
    """The hardware chapter's sizes for ``rt.profile``, as registered with ``profiles``."""
    return profiles.sizes("hardware_timing", profile)


def pipeline_timing(profile: str) -> PipelineTiming:
    """The data-pipeline chapter's sizes for ``rt.profile``, as registered with ``profiles``."""
    return profiles.sizes("pipeline_timing", profile)
