"""The processes a run is made of, and the process-wide state it sets while it runs.

    processes = Processes.from_env()            # rank 0 of 1, or this process's place under torchrun
    device = device_for("auto", processes)      # under torchrun on CUDA: this process's own GPU
    with GracefulStop() as stop, backend_settings(device):
        ...                                     # stop.requested turns True on Ctrl-C / SIGTERM

What it holds:

    Processes         where this process sits in a torchrun launch; ``sum`` and ``barrier`` over
                      all of them (no-ops when alone)
    device_for        the device a process trains on
    GracefulStop      SIGINT and SIGTERM ask the loop to finish its step and save, instead of killing it
    backend_settings  the engine's global torch switches (deterministic CPU kernels, cuDNN
                      autotuning), set for a run's duration and restored after

Multi-GPU: launch with ``torchrun --nproc_per_node=N``; each process trains on its share of
every global batch under DistributedDataParallel (NCCL on CUDA, gloo on CPU), rank 0 writes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from .runtime import pick_device


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


def device_for(name: str, processes: Processes) -> torch.device:
    """The device this process trains on: ``runtime.pick_device(name)``, and under torchrun on
    CUDA the GPU of this process's local rank."""
    device = pick_device(name)
    if device.type == "cuda" and processes.distributed:
        device = torch.device("cuda", processes.local_rank)
        torch.cuda.set_device(device)
    return device


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


__all__ = ["GracefulStop", "Processes", "backend_settings", "device_for"]
