"""Profiles: one table of every experiment's sizes, one check, the environment read in one place."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from resnets import profiles, reproduce
from resnets.course import inside, table6, timings
from resnets.course import toy_experiments as te


@dataclass(frozen=True)
class Sizes:
    images: int | None
    steps: int = 10


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """An empty table for this test, the package's own put back after it."""
    table: dict = {}
    monkeypatch.setattr(profiles, "REGISTRY", table)
    return table


def test_every_experiment_registers_sizes_for_every_profile() -> None:
    assert {"degradation", "table6", "toy", "inside"} <= set(profiles.REGISTRY)
    for experiment, by_profile in profiles.REGISTRY.items():
        assert set(by_profile) == set(profiles.PROFILES), experiment
    assert te.toy_settings("quick") is profiles.sizes("toy", "quick")
    assert inside.probe_settings("full") is profiles.sizes("inside", "full")
    assert isinstance(profiles.sizes("degradation", "quick"), reproduce.CifarSizes)


def test_the_chapters_sizes_are_registered_beside_the_modules_that_serve_them() -> None:
    assert te.preactivation_pairs("quick") == [("resnet110", "preact_resnet110")]
    assert te.preactivation_pairs("full")[-1] == ("resnet1202", "preact_resnet1202")
    assert timings.hardware_timing("full").batch_size == 256 and not timings.hardware_timing("quick").compile_on_cuda
    assert timings.pipeline_timing("quick").batch_size == 32
    full_batches = timings.pipeline_timing("full").batch_windows
    assert full_batches.keywords() == {"warmup": 10, "windows": 5, "steps_per_window": 50}
    assert table6.recheck_test_subset("quick") == 1000 and table6.recheck_test_subset("full") is None  # all 10,000


def test_the_check_rejects_a_bad_registration_naming_the_fix(registry: dict) -> None:
    with pytest.raises(ValueError, match=r"toy registers no sizes for profile full; give register\(\) sizes for every"):
        profiles.register("toy", {"quick": Sizes(100)})
    with pytest.raises(ValueError, match=r"'medium' is not a profile; register sizes for quick, full only"):
        profiles.register("toy", {"quick": Sizes(100), "full": Sizes(1000), "medium": Sizes(500)})
    with pytest.raises(ValueError, match=r"toy in profile quick is missing images \(None\); give Sizes a value"):
        profiles.register("toy", {"quick": Sizes(None), "full": Sizes(1000)})
    with pytest.raises(ValueError, match=r"quick: Sizes, full: dict; give every profile an instance of one dataclass"):
        profiles.register("toy", {"quick": Sizes(100), "full": {"images": 1000}})
    assert registry == {}  # nothing half-registered
    profiles.register("toy", {"quick": Sizes(100), "full": Sizes(1000)})
    assert profiles.sizes("toy", "full") == Sizes(1000)


def test_an_unknown_profile_or_experiment_names_the_known_ones(registry: dict) -> None:
    profiles.register("toy", {"quick": Sizes(100), "full": Sizes(1000)})
    with pytest.raises(ValueError, match=r"unknown profile 'medium'; choose one of: quick, full"):
        profiles.sizes("toy", "medium")
    with pytest.raises(ValueError, match=r"unknown experiment 'fig7'; registered: toy"):
        profiles.sizes("fig7", "quick")


def test_adjust_changes_one_profile_checked_and_returns_what_it_replaced(registry: dict) -> None:
    profiles.register("toy", {"quick": Sizes(100), "full": Sizes(1000)})
    before = profiles.adjust("toy", "quick", images=2000)
    assert before == Sizes(100) and profiles.sizes("toy", "quick") == Sizes(2000)
    assert profiles.sizes("toy", "full") == Sizes(1000)
    with pytest.raises(ValueError, match=r"toy's sizes have no epochs; change one of: images, steps"):
        profiles.adjust("toy", "quick", epochs=3)
    with pytest.raises(ValueError, match=r"missing images"):
        profiles.adjust("toy", "quick", images=None)


def test_the_environment_is_read_and_checked_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (profiles.PROFILE_ENV, profiles.DEVICE_ENV, profiles.MAX_ITERATIONS_ENV):
        monkeypatch.delenv(name, raising=False)
    assert profiles.read_environment() == profiles.Environment(profile=None, device="auto", max_iterations=None)
    monkeypatch.setenv("RESNETS_PROFILE", " Full ")
    monkeypatch.setenv("RESNETS_DEVICE", "cpu")
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "2000")
    assert profiles.read_environment() == profiles.Environment(profile="full", device="cpu", max_iterations=2000)
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "many")
    with pytest.raises(
        ValueError, match="RESNETS_MAX_ITERATIONS='many' is not a count; set it to a positive integer or unset it"
    ):
        profiles.read_environment()
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "0")
    with pytest.raises(ValueError, match="is not a count"):
        profiles.read_environment()
