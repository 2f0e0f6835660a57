"""Fixtures of the engine tests: the real CIFAR-10 copy, an isolated decode cache, and the
tiny training run (as a ``TrainConfig`` and as ``python -m resnets train`` flags)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from resnets import data as data_module
from resnets.data import CIFAR10
from resnets.recipe import TrainConfig

# resnet8 on 160 real images: 5 steps an epoch, a second or two on a CPU. A test module that
# needs another size says only what it changes.
TINY_RUN = dict(
    model="resnet8",
    epochs=2,
    batch_size=32,
    train_subset=160,
    val_size=50,
    test_subset=50,
    progress=False,
    sync_every=2,
    grad_norm_every=2,
)

# The engine tests train tiny nets, which gain little from a second thread, and on a shared
# 2-core machine two OpenMP threads that wait for each other run several times slower.
# One thread here and in the subprocesses the tests start keeps them fast and comparable.
torch.set_num_threads(1)
os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def cifar10() -> CIFAR10:
    """The real data set from RESNETS_DATA (the Makefile points it at the offline copy).

    Never downloads: without RESNETS_DATA the tests that need real images are skipped.
    """
    if not os.environ.get(data_module.DATA_ENV):
        pytest.skip(f"{data_module.DATA_ENV} is not set (the Makefile sets it to the offline CIFAR-10 copy)")
    return data_module.load_cifar10()


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private decode cache and an empty in-memory cache, so a test decodes for real."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data_module, "_loaded", {})
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., TrainConfig]:
    """The tiny run's ``TrainConfig``; keyword arguments change any setting (``out=``, ``epochs=``...)."""

    def config(**changes) -> TrainConfig:
        return TrainConfig(**{**TINY_RUN, **changes})

    return config


@pytest.fixture(scope="session")
def tiny_flags(tiny_config: Callable[..., TrainConfig]) -> Callable[..., list[str]]:
    """The same run as ``python -m resnets train`` flags: one for each setting that differs from
    the default (``--no-progress`` for ``progress=False``); keyword arguments as for ``tiny_config``."""

    def flags(**changes) -> list[str]:
        config, default = tiny_config(**changes), TrainConfig()
        argv = []
        for field in dataclasses.fields(TrainConfig):
            value, flag = getattr(config, field.name), "--" + field.name.replace("_", "-")
            if value == getattr(default, field.name):
                continue
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + flag[2:])
            else:
                argv += [flag, str(value)]
        return argv

    return flags
