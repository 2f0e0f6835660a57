"""Fixtures of the engine tests: the real CIFAR-10 copy and an isolated decode cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from resnets import data as data_module
from resnets.data import CIFAR10

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
