"""The training engine: schedules, metrics, resume, Ctrl-C and NaN handling, on tiny real runs."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from resnets import build_model
from resnets import train as train_module
from resnets.checkpoints import CheckpointError, load_file, load_state_dict
from resnets.data import CIFAR10
from resnets.processes import Processes, backend_settings
from resnets.recipe import TrainConfig, learning_rate
from resnets.run_folder import read_metrics, resume_point
from resnets.runtime import autocast_dtype, native_bf16
from resnets.train import TrainingDiverged, train

METRIC_KEYS = {
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_error",
    "val_loss",
    "val_error",
    "test_loss",
    "test_error",
    "grad_norm_early",
    "grad_norm_late",
    "train_seconds",
    "images_per_second",
    "wall_seconds",
}


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "model.pt")


@pytest.fixture(scope="module")
def uninterrupted(
    cifar10: CIFAR10, tmp_path_factory: pytest.TempPathFactory, tiny_config: Callable[..., TrainConfig]
) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    train(tiny_config(out=str(out)), cifar10)
    return out


def test_a_run_writes_metrics_provenance_and_plain_weights(uninterrupted: Path) -> None:
    metrics = read_metrics(uninterrupted)
    assert [m["epoch"] for m in metrics] == [1, 2] and [m["step"] for m in metrics] == [5, 10]
    assert set(metrics[0]) == METRIC_KEYS
    assert all(0 <= m[k] <= 1 for m in metrics for k in ("train_error", "val_error", "test_error"))
    assert all(m["grad_norm_early"] > 0 and m["grad_norm_late"] > 0 for m in metrics)
    run = json.loads((uninterrupted / "run.json").read_text())
    assert {"command", "git_commit", "hardware", "torch_version", "data_checksum", "seed", "config"} <= set(run)
    assert run["command"].startswith("python -m resnets train --model resnet8 --epochs 2 --batch-size 32")
    state = weights(uninterrupted)
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in state)
    build_model("resnet8").load_state_dict(state, strict=True)


def test_ctrl_c_saves_mid_epoch_and_resume_ends_bit_identical(
    cifar10: CIFAR10,
    uninterrupted: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_config: Callable[..., TrainConfig],
) -> None:
    real = train_module.learning_rate

    def press_ctrl_c_at_step_7(config, step, *args):
        if step == 6:  # the 7th step: epoch 2, batch 2
            signal.raise_signal(signal.SIGINT)
        return real(config, step, *args)

    monkeypatch.setattr(train_module, "learning_rate", press_ctrl_c_at_step_7)
    handler_before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    stopped = train(tiny_config(out=str(tmp_path)), cifar10)
    assert stopped.interrupted and len(stopped.metrics) == 1
    state = load_file(tmp_path / "checkpoint.pt")["state"]
    assert (state["epoch"], state["batch"], state["step"]) == (1, 2, 7), "the step in progress finishes, then it saves"
    assert signal.getsignal(signal.SIGINT) == handler_before, "the caller's handler is restored"

    monkeypatch.setattr(train_module, "learning_rate", real)
    resumed = train(tiny_config(out=str(tmp_path), resume=True), cifar10)
    assert not resumed.interrupted
    expected, got = weights(uninterrupted), weights(tmp_path)
    assert all(torch.equal(expected[k], got[k]) for k in expected), (
        "resume must reproduce the uninterrupted run exactly"
    )
    for a, b in zip(read_metrics(uninterrupted), read_metrics(tmp_path)):
        assert a["train_loss"] == b["train_loss"] and a["test_error"] == b["test_error"]
    record = json.loads((tmp_path / "run.json").read_text())
    [resume] = record["resumes"]
    assert (resume["epoch"], resume["batch"], resume["step"]) == (2, 2, 7), "where the resume began"
    assert all(resume[fact] == record[fact] for fact in ("precision", "hardware", "cpu", "git_commit"))
    assert record["command"] == stopped.provenance["command"], "the first start's record is kept"


def test_a_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    cifar10: CIFAR10, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_config: Callable[..., TrainConfig]
) -> None:
    calls = {"train": 0}

    def cross_entropy(logits, target, **kwargs):
        loss = F.cross_entropy(logits, target, **kwargs)
        if kwargs.get("reduction", "mean") == "mean":  # training steps (evaluation sums)
            calls["train"] += 1
            if calls["train"] == 8:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(train_module, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    with pytest.raises(
        TrainingDiverged,
        match=r"the training loss became nan at step 8 \(epoch 2, batch 3\); training stopped\. "
        r"The last good checkpoint, .*checkpoint\.pt \(epoch 1\), is kept; resume from it with a lower --lr",
    ):
        train(tiny_config(out=str(tmp_path), epochs=3), cifar10)
    kept = load_file(tmp_path / "checkpoint.pt")
    assert kept["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point()
    )
    assert len(read_metrics(tmp_path)) == 1


def test_an_existing_run_is_never_overwritten_or_resumed_with_other_settings(
    cifar10: CIFAR10, uninterrupted: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    with pytest.raises(
        CheckpointError,
        match=r"already holds a run \(checkpoint\.pt\); pass --resume \(resume=True\) "
        r"to continue it, or choose another output folder",
    ):
        train(tiny_config(out=str(uninterrupted)), cifar10)
    with pytest.raises(CheckpointError, match=r"was saved by a run with different settings: lr=0\.1 \(now 0\.05\)"):
        train(tiny_config(out=str(uninterrupted), resume=True, lr=0.05), cifar10)
    finished = train(tiny_config(out=str(uninterrupted), resume=True), cifar10)  # nothing left to do
    assert len(finished.metrics) == 2 and not finished.interrupted


def test_paper_schedule_steps_at_32k_and_48k_and_warms_up_deep_nets() -> None:
    paper = TrainConfig(model="resnet56").resolved()
    assert (paper.batch_size, paper.lr, paper.weight_decay, paper.iterations, paper.warmup_error) == (
        128,
        0.1,
        1e-4,
        64_000,
        None,
    )
    lrs = [learning_rate(paper, s, 64_000) for s in (0, 31_999, 32_000, 47_999, 48_000, 63_999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert learning_rate(paper, 0, 64_000, warming_up=True) == pytest.approx(0.01)
    assert TrainConfig(model="resnet110").resolved().warmup_error == 0.8
    assert TrainConfig(model="resnet110", schedule="fast").resolved().warmup_error is None


def test_fast_schedule_warms_up_then_decays_to_zero() -> None:
    fast = TrainConfig(schedule="fast").resolved()
    assert (fast.batch_size, fast.epochs, fast.label_smoothing, fast.nesterov, fast.iterations) == (
        256,
        40,
        0.1,
        True,
        None,
    )
    lrs = [learning_rate(fast, s, 1000) for s in range(1000)]
    assert lrs[0] == pytest.approx(0.2 / 50) and max(lrs) == pytest.approx(0.2) and lrs.index(max(lrs)) == 49
    assert lrs[-1] < 1e-5 and all(a >= b for a, b in zip(lrs[49:], lrs[50:]))


def test_the_warm_up_ends_when_the_training_error_falls_below_the_threshold(
    cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]
) -> None:
    never = train(tiny_config(epochs=1, warmup_error=0.01), cifar10).final["lr"]
    at_once = train(tiny_config(epochs=1, warmup_error=1.0), cifar10).final["lr"]
    assert at_once == pytest.approx(0.001) and never == pytest.approx(0.0001)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, r"batch_size \(--batch-size\) must be a positive number; got 0"),
        ({"lr": -0.1}, r"lr \(--lr\) must be a positive number; got -0\.1"),
        ({"lr": float("nan")}, r"lr \(--lr\) must be a positive number; got nan"),
        ({"schedule": "cosine"}, r"unknown schedule 'cosine'; choose one of: paper, fast"),
        ({"epochs": 3, "iterations": 100}, r"give epochs or iterations, not both"),
        ({"model": "resnet9"}, r"depth 9 is impossible.*Nearest valid depths: 8, 14"),
        ({"model": "resnet_56"}, r"unknown model 'resnet_56'\. Did you mean resnet56"),
        ({"momentum": 1.5}, r"momentum must be in \[0, 1\); got 1\.5"),
        (
            {"model": "plain20", "zero_init_residual": True},
            r"zero_init_residual would make every block of plain20 output zeros",
        ),
        ({"target_error": 9.0}, r"target_error is a test error in \[0, 1\), e\.g\. 0\.09 for 91% accuracy; got 9\.0"),
        ({"target_error": 0.1, "test_subset": 0}, r"target_error stops at a test error, so it needs test images"),
    ],
)
def test_bad_settings_are_explained_before_anything_runs(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TrainConfig(), **overrides).resolved()


def test_a_run_with_a_target_stops_at_the_first_epoch_that_reaches_it(
    cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]
) -> None:
    result = train(tiny_config(epochs=3, target_error=0.99), cifar10)
    assert [m["epoch"] for m in result.metrics] == [1] and result.metrics[0]["test_error"] <= 0.99
    never_reached = train(tiny_config(epochs=2, target_error=0.0), cifar10)
    assert len(never_reached.metrics) == 2, "the schedule runs out"


def test_the_engine_sets_its_backend_switches_only_while_it_runs() -> None:
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
        torch.backends.cudnn.benchmark,
    )
    with backend_settings(torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() and not torch.utils.deterministic.fill_uninitialized_memory
    assert (
        torch.are_deterministic_algorithms_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
        torch.backends.cudnn.benchmark,
    ) == before


def test_amp_autocasts_as_chosen_and_cuda_graphs_only_on_cuda(
    cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]
) -> None:
    cpu = torch.device("cpu")
    auto = torch.bfloat16 if native_bf16(cpu) else torch.float32
    for amp, expected in (("auto", auto), ("bf16", torch.bfloat16), ("fp16", torch.float16), ("off", torch.float32)):
        run = train_module.Run(tiny_config(amp=amp).resolved(), cifar10, cpu, Processes(), None)
        x, _ = next(run.train_batches.epoch(0))
        with run.autocast:
            assert run.network(x).dtype == expected
        assert run.scaler.is_enabled() == (amp == "fp16"), "loss scaling is for float16 alone"
    with pytest.raises(
        ValueError, match=r"cudagraphs replays CUDA kernels, so it needs a CUDA device, not cpu; drop --cudagraphs"
    ):
        train(tiny_config(cudagraphs=True, device="cpu"), cifar10)
    with pytest.raises(ValueError, match=r"amp \(--amp\) must be one of auto, bf16, fp16, off; got 'half'"):
        tiny_config(amp="half").resolved()


@pytest.mark.parametrize(
    ("capability", "native", "expected"),
    [
        ((7, 5), False, torch.float16),
        ((7, 0), False, torch.float16),
        ((8, 0), True, torch.bfloat16),
        ((9, 0), True, torch.bfloat16),
    ],
)
def test_auto_amp_picks_fp16_on_gpus_without_bf16(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], native: bool, expected: torch.dtype
) -> None:
    """A T4 (7.5) or V100 (7.0) trains in fp16 with loss scaling, an A100 (8.0) or H100 (9.0) in bf16."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    cuda = torch.device("cuda")
    assert native_bf16(cuda) == native
    assert autocast_dtype(cuda, "auto") == expected and autocast_dtype(cuda, "off") is None
    assert autocast_dtype(cuda, "fp16") == torch.float16 and autocast_dtype(cuda, "bf16") == torch.bfloat16
    with pytest.raises(
        ValueError, match="--amp fp16 autocasts on CUDA and CPU only, not on mps; use --amp auto or off"
    ):
        autocast_dtype(torch.device("mps"), "fp16")
    assert autocast_dtype(torch.device("mps"), "auto") is None


def test_fp16_trains_with_loss_scaling_skips_an_overflowed_step_and_resumes_its_scale(
    cifar10: CIFAR10, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    """The gradient scaler on a CPU (autocast to float16 works there too): a step whose scaled
    gradients overflow changes no weight and halves the scale; the scale is checkpointed."""
    cpu = torch.device("cpu")
    run = train_module.Run(tiny_config(amp="fp16", grad_norm_every=1).resolved(), cifar10, cpu, Processes(), None)
    steps = run.endless_steps()
    run.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**100)  # so large that every gradient overflows
    parameters = lambda: {k: v.detach().clone() for k, v in run.model.named_parameters()}  # noqa: E731 (BN statistics move in any forward)
    before = parameters()
    next(steps)
    assert all(torch.equal(v, parameters()[k]) for k, v in before.items()), (
        "an overflowed step must not move the weights"
    )
    assert run.scaler.get_scale() == 2.0**99
    run.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    next(steps)
    assert any(not torch.equal(v, parameters()[k]) for k, v in before.items()), "a finite step trains"

    result = train(tiny_config(amp="fp16", epochs=1, out=str(tmp_path / "run")), cifar10)
    assert math.isfinite(result.metrics[-1]["train_loss"])
    saved = load_file(tmp_path / "run" / "checkpoint.pt")
    assert saved["scaler"]["scale"] > 0, "the scale travels with the checkpoint"
    config = tiny_config(amp="fp16", epochs=1, out=str(tmp_path / "run"), resume=True).resolved()
    resumed = train_module.Run(
        config, cifar10, cpu, Processes(), tmp_path / "run", resume_point(tmp_path / "run", config, cpu)
    )
    assert resumed.scaler.get_scale() == saved["scaler"]["scale"]


def test_a_missing_gpu_is_an_error_for_the_engine(tiny_config: Callable[..., TrainConfig]) -> None:
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.raises(RuntimeError, match=r"sees no CUDA GPU.*Use --device auto"):
        train(tiny_config(device="cuda"))


def test_a_checkpoint_loads_into_a_fresh_model_by_its_arch(uninterrupted: Path) -> None:
    saved = load_file(uninterrupted / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"saved from resnet8, but the model is resnet14: missing keys"):
        load_state_dict(build_model("resnet14"), saved["model"], arch=saved["config"]["model"])


def test_an_unknown_profile_names_the_valid_ones() -> None:
    from resnets.reproduce import experiment_config

    with pytest.raises(ValueError, match=r"unknown profile 'medium'; choose one of: quick, full"):
        experiment_config("resnet20", "medium")
    assert experiment_config("resnet20", "full").resolved().iterations == 64_000
