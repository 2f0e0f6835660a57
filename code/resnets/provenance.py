"""What produced a result, recorded beside it: the command, the code, the machine, the data.

    record = provenance(config, data, device)    # a run's run.json, before its resumes

What it holds:

    equivalent_command  the ``python -m resnets train`` line that computes the same run as a config
    code_and_host       commit, versions, host CPU and platform: what every record names
    data_facts          which images: source, checksum, what the copy is
    provenance          all of these for one training run, with its hardware, precision and seed

A resumed run keeps its first start's record and appends each resume's facts
(``run_folder.resumed_provenance``).
"""

from __future__ import annotations

import dataclasses
import platform
from typing import Any

import torch
import torch.distributed as dist

from .data import CIFAR10
from .processes import Processes
from .recipe import TrainConfig
from .runtime import autocast_dtype, cpu_model, device_name, git_commit, precision_name
from .version import __version__


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


__all__ = ["code_and_host", "data_facts", "equivalent_command", "provenance"]
