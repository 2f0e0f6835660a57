"""Profiles: how big every experiment is in each profile, in one table with one check.

    PROFILES                      the profiles: quick (minutes on a 2-core laptop CPU; CI runs it)
                                  and full (the papers' experiments, meant for a GPU)
    Environment, read_environment the RESNETS_* variables that pick the profile, the device and
                                  the full profile's cap on iterations, read in one place
    REGISTRY                      the table: {experiment: {profile: sizes}}
    register(experiment, sizes)   an experiment's sizes in every profile, from the module that owns it
    sizes(experiment, profile)    one experiment's sizes in one profile
    adjust(experiment, profile)   change some of them (an exercise's bigger run), checked again
    check(experiment, sizes)      the one check every registration passes

An experiment's sizes in one profile are a dataclass (``course.toy_experiments.ToySettings``,
``course.inside.ProbeSettings``, ``reproduce.CifarSizes``): the same class in every profile, each
field set. The library registers its own experiments; the course registers its own, so this module
knows none of them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

PROFILES = ("quick", "full")
PROFILE_ENV = "RESNETS_PROFILE"
DEVICE_ENV = "RESNETS_DEVICE"
MAX_ITERATIONS_ENV = "RESNETS_MAX_ITERATIONS"

#: {experiment: {profile: sizes}}: filled by ``register`` as the modules that own the experiments
#: are imported.
REGISTRY: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Environment:
    """What the environment asks for; None (or "auto") where a variable is unset.

    profile         RESNETS_PROFILE: "quick" or "full" (``runtime.get_profile`` picks one by
                    the device when unset)
    device          RESNETS_DEVICE: "auto" (CUDA, then MPS, then CPU), "cuda", "cuda:1", "mps", "cpu"
    max_iterations  RESNETS_MAX_ITERATIONS: every full-profile run a chapter trains takes at most
                    this many iterations (``make gpu-check``'s smoke test: the paper's schedule,
                    compressed to fit)
    """

    profile: str | None
    device: str
    max_iterations: int | None


def read_environment() -> Environment:
    """Read and check RESNETS_PROFILE, RESNETS_DEVICE and RESNETS_MAX_ITERATIONS; a bad value is
    an error naming the values it may take."""
    profile = os.environ.get(PROFILE_ENV, "").strip().lower() or None
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"{PROFILE_ENV}={profile!r} is not a profile; set it to one of: {', '.join(PROFILES)}")
    cap = os.environ.get(MAX_ITERATIONS_ENV, "").strip()
    if cap and (not cap.isdigit() or int(cap) < 1):
        raise ConfigError(f"{MAX_ITERATIONS_ENV}={cap!r} is not a count; set it to a positive integer or unset it")
    device = os.environ.get(DEVICE_ENV, "").strip() or "auto"
    return Environment(profile=profile, device=device, max_iterations=int(cap) if cap else None)


def check(experiment: str, by_profile: dict[str, Any]) -> None:
    """The one check of an experiment's sizes: a dataclass for every profile in ``PROFILES`` and
    none other, the same class in each, every field set (not None). Raises ConfigError naming the fix."""
    unknown = [p for p in by_profile if p not in PROFILES]
    if unknown:
        raise ConfigError(
            f"{experiment}: {', '.join(map(repr, unknown))} is not a profile; register sizes for "
            f"{', '.join(PROFILES)} only (profiles.PROFILES)"
        )
    missing = [p for p in PROFILES if p not in by_profile]
    if missing:
        raise ConfigError(
            f"{experiment} registers no sizes for profile {', '.join(missing)}; give register() sizes for every "
            f"one of {', '.join(PROFILES)}"
        )
    kinds = {type(s) for s in by_profile.values()}
    if len(kinds) > 1 or not all(dataclasses.is_dataclass(s) for s in by_profile.values()):
        found = ", ".join(f"{p}: {type(s).__name__}" for p, s in by_profile.items())
        raise ConfigError(f"{experiment}'s sizes are {found}; give every profile an instance of one dataclass")
    for profile, settings in by_profile.items():
        unset = [f.name for f in dataclasses.fields(settings) if getattr(settings, f.name) is None]
        if unset:
            raise ConfigError(
                f"{experiment} in profile {profile} is missing {', '.join(unset)} (None); give "
                f"{type(settings).__name__} a value for each"
            )


def register(experiment: str, by_profile: dict[str, Any]) -> None:
    """Enter an experiment's sizes ({profile: dataclass}) in ``REGISTRY``, after ``check``.
    Registering it again replaces them."""
    check(experiment, by_profile)
    REGISTRY[experiment] = dict(by_profile)


def sizes(experiment: str, profile: str) -> Any:
    """The sizes ``experiment`` registered for ``profile``; an unknown name is an error naming the known ones."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    if experiment not in REGISTRY:
        known = ", ".join(REGISTRY) or "none"
        raise ConfigError(
            f"unknown experiment {experiment!r}; registered: {known} (an experiment registers when the module "
            "that runs it is imported: import it first)"
        )
    return REGISTRY[experiment][profile]


def adjust(experiment: str, profile: str, **changes: Any) -> Any:
    """Change some of ``experiment``'s sizes in ``profile`` (``dataclasses.replace``), checked like a
    registration; returns the sizes it replaced, so that they can be put back."""
    before = sizes(experiment, profile)
    names = [f.name for f in dataclasses.fields(before)]
    unknown = [name for name in changes if name not in names]
    if unknown:
        raise ConfigError(f"{experiment}'s sizes have no {', '.join(unknown)}; change one of: {', '.join(names)}")
    register(experiment, {**REGISTRY[experiment], profile: dataclasses.replace(before, **changes)})
    return before
