"""Trustworthy under bad input and interruption: model arguments, SIGKILL, several processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from resnets import build_model
from resnets.checkpoints import load_file
from resnets.data import CIFAR10
from resnets.models import IMAGENET_LAYERS
from resnets.recipe import TrainConfig
from resnets.run_folder import read_metrics
from resnets.train import train

# --- the model builder, property-based --------------------------------------------------------

HELPFUL = (
    "Valid names",
    "is impossible for a CIFAR ResNet",
    "num_classes must be an integer of at least 2",
    "unknown shortcut option",
    "unknown option(s)",
    "choose 'basic' or 'bottleneck'",
    "the block option applies to the CIFAR ResNets only",
)


def _expected_valid(kind: str, depth: int, block: str | None, num_classes, shortcut: str | None) -> bool:
    """An independent statement of which arguments make a network (the papers' rules)."""
    if isinstance(num_classes, bool) or not (
        num_classes is None or (isinstance(num_classes, int) and num_classes >= 2)
    ):
        return False
    if shortcut not in (None, "A", "B", "C"):
        return False
    imagenet = depth in IMAGENET_LAYERS and kind in ("resnet", "plain")
    if imagenet:
        return block is None  # the ImageNet nets fix their block by depth
    if block is None:
        block = "bottleneck" if kind == "preact_resnet" and depth >= 164 else "basic"
    step = 6 if block == "basic" else 9
    return block in ("basic", "bottleneck") and depth >= step + 2 and (depth - 2) % step == 0


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["resnet", "plain", "preact_resnet", "cifar_resnet"]),
    depth=st.integers(0, 120),
    block=st.sampled_from([None, "basic", "bottleneck", "wide"]),
    num_classes=st.one_of(st.none(), st.integers(-2, 12), st.sampled_from([2.5, True, "10"])),
    shortcut=st.sampled_from([None, "A", "B", "C", "D"]),
)
def test_build_model_builds_exactly_the_valid_networks_and_explains_the_rest(
    kind, depth, block, num_classes, shortcut
) -> None:
    name = f"{kind}{depth}"
    options = {k: v for k, v in (("block", block), ("shortcut", shortcut)) if v is not None}
    family = "cifar" if kind == "cifar_resnet" else kind
    valid = _expected_valid(family if family != "cifar" else "cifar", depth, block, num_classes, shortcut)
    try:
        model = build_model(name, num_classes, **options)
    except (ValueError, TypeError) as err:
        assert not valid, f"{name} {options} num_classes={num_classes!r} should build, but: {err}"
        assert any(phrase in str(err) for phrase in HELPFUL), f"unhelpful message: {err}"
        return
    assert valid, f"{name} {options} num_classes={num_classes!r} built, but the papers' rules say it cannot"
    classes = num_classes or (1000 if depth in IMAGENET_LAYERS and kind in ("resnet", "plain") else 10)
    assert model.fc.out_features == classes and model.arch == name
    if model.conv1.kernel_size == (3, 3) and depth <= 20:
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, classes)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=5).filter(lambda s: len(s) != 4 or s[1] != 3))
def test_a_wrongly_shaped_input_says_what_was_expected_and_what_came(shape: list[int]) -> None:
    model = build_model("resnet8")
    with pytest.raises(
        ValueError,
        match=rf"resnet8 expects a batch of RGB images shaped \(N, 3, H, W\); got a tensor of shape \({shape[0]},",
    ):
        model(torch.zeros(shape))


# --- runs killed at any moment ---------------------------------------------------------------

# The tests' tiny run (tests/conftest.py), longer: 3 epochs of 20 steps, long enough to be killed.
LONGER = dict(epochs=3, train_subset=640, val_size=0, sync_every=5)


def test_sigkill_mid_epoch_then_resume_ends_with_the_uninterrupted_weights(
    cifar10: CIFAR10, tmp_path: Path, tiny_config: Callable[..., TrainConfig], tiny_flags: Callable[..., list[str]]
) -> None:
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "resnets", "train", *tiny_flags(**LONGER, out=str(killed))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (killed / "metrics.jsonl").exists() or not (killed / "metrics.jsonl").read_text():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the first epoch never finished"
        time.sleep(0.02)
    time.sleep(0.3)  # into the second epoch
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (killed / "model.pt").exists(), "the run finished before it could be killed; make it longer"
    saved = load_file(killed / "checkpoint.pt")  # whatever moment it died, the checkpoint is whole
    assert 1 <= saved["state"]["epoch"] < 3

    resumed = train(tiny_config(**LONGER, out=str(killed), resume=True), cifar10)
    train(tiny_config(**LONGER, out=str(tmp_path / "reference")), cifar10)
    assert len(resumed.metrics) == 3 and [m["epoch"] for m in read_metrics(killed)] == [1, 2, 3]
    got, expected = load_file(killed / "model.pt"), load_file(tmp_path / "reference" / "model.pt")
    assert all(torch.equal(got[k], expected[k]) for k in expected), "resumed weights differ from an uninterrupted run"


def test_sigint_in_a_terminal_saves_and_says_how_to_resume(
    cifar10: CIFAR10, tmp_path: Path, tiny_flags: Callable[..., list[str]]
) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "resnets", "train", *tiny_flags(**LONGER, out=str(out))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "run.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, (
            process.stderr.read() if process.poll() is not None else "no start"
        )
        time.sleep(0.02)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert (
        "finishing this step and saving a checkpoint" in err
        and f"To resume: python -m resnets train --out {out} --resume" in err
    )
    assert "Traceback" not in err
    assert load_file(out / "checkpoint.pt")["state"]["step"] > 0


# --- several processes -----------------------------------------------------------------------


def test_two_processes_on_gloo_match_one_process(
    cifar10: CIFAR10, tmp_path: Path, tiny_config: Callable[..., TrainConfig], tiny_flags: Callable[..., list[str]]
) -> None:
    """Same global batch split over 2 CPU processes (DDP, gloo) vs 1 process.

    Not bit-identical, and it should not be: each process normalises its half-batch with
    its own BatchNorm statistics (as on the paper's 2 GPUs). The losses agree closely and the
    weights moved the same way.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "resnets",
        "train",
        *tiny_flags(out=str(tmp_path / "ddp")),
    ]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Done:") == 1, "only rank 0 reports"
    single = train(tiny_config(out=str(tmp_path / "one")), cifar10)

    two = read_metrics(tmp_path / "ddp")
    for a, b in zip(two, single.metrics):
        assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)
    torch.manual_seed(0)
    start = torch.cat([p.detach().flatten() for p in build_model("resnet8").parameters()])
    flat = lambda state: torch.cat([state[k].flatten() for k, _ in build_model("resnet8").named_parameters()])  # noqa: E731
    ddp, one = flat(load_file(tmp_path / "ddp" / "model.pt")), flat(load_file(tmp_path / "one" / "model.pt"))
    moved = (one - start).norm()
    assert (ddp - one).norm() < 0.5 * moved, "two processes must take (nearly) the same steps as one"
    assert not any(k.startswith("module.") for k in load_file(tmp_path / "ddp" / "checkpoint.pt")["model"])
