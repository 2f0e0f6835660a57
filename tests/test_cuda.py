"""The engine on a CUDA GPU: placement, repeatability, bf16 and fp16, channels_last,
torch.compile, CUDA graphs, torchrun with NCCL, and resuming an interrupted run.

Every test here needs a CUDA GPU and skips with the reason on any other machine; on a GPU,
``make gpu-check`` runs them (with the benchmark and a full-profile chapter) and records what
they found. The same paths run on the CPU in test_train.py and test_robustness.py, where runs
are bit-identical; on CUDA the engine lets cuDNN pick its fastest kernels per run
(``processes.backend_settings``), so two runs agree to float noise, not bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from resnets import build_model
from resnets import train as train_module
from resnets.checkpoints import load_file
from resnets.data import CIFAR10
from resnets.processes import Processes
from resnets.recipe import TrainConfig
from resnets.run_folder import read_metrics
from resnets.runtime import native_bf16
from resnets.train import train

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (make gpu-check runs these on one)"),
]


# The tests' tiny run (tests/conftest.py) on 640 real images, 20 steps an epoch, on the GPU.
ON_THE_GPU = dict(train_subset=640, test_subset=200, sync_every=5, grad_norm_every=5, device="cuda")


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "model.pt")


def flat(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """Every learned weight of resnet8 in one vector, on the CPU."""
    return torch.cat([state[name].float().cpu().flatten() for name, _ in build_model("resnet8").named_parameters()])


def losses(metrics: list[dict]) -> list[float]:
    return [m["train_loss"] for m in metrics]


@pytest.fixture(scope="module")
def reference(
    cifar10: CIFAR10, tmp_path_factory: pytest.TempPathFactory, tiny_config: Callable[..., TrainConfig]
) -> Path:
    """One uninterrupted run in the engine's default settings (amp auto, channels_last)."""
    out = tmp_path_factory.mktemp("reference")
    train(tiny_config(**ON_THE_GPU, out=str(out)), cifar10)
    return out


def test_model_batches_and_autocast_live_on_the_gpu(cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]) -> None:
    device = torch.device("cuda")
    run = train_module.Run(tiny_config(**ON_THE_GPU).resolved(), cifar10, device, Processes(), None)
    assert all(p.device.type == "cuda" for p in run.model.parameters())
    x, y = next(run.train_batches.epoch(0))
    assert x.device.type == y.device.type == "cuda", "the data lives on the device"
    assert x.is_contiguous(memory_format=torch.channels_last)
    convs = [p for p in run.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    expected = torch.bfloat16 if native_bf16(device) else torch.float16
    with run.autocast:
        assert run.network(x).dtype == expected, "amp auto: bf16 on Ampere or later, fp16 before"
    assert run.scaler.is_enabled() == (expected == torch.float16)


def test_a_seeded_run_repeats_to_float_noise(
    cifar10: CIFAR10, reference: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    again = train(tiny_config(**ON_THE_GPU, out=str(tmp_path)), cifar10)
    assert losses(again.metrics) == pytest.approx(losses(read_metrics(reference)), rel=2e-2)
    torch.manual_seed(0)  # the engine's initialisation for seed 0
    start = flat(build_model("resnet8").state_dict())
    first, second = flat(weights(reference)), flat(weights(tmp_path))
    assert (first - second).norm() < 0.1 * (first - start).norm(), "both runs must take (nearly) the same steps"


@pytest.mark.parametrize("amp", ["bf16", "fp16", "off"])
def test_each_precision_trains(
    cifar10: CIFAR10, tmp_path: Path, amp: str, tiny_config: Callable[..., TrainConfig]
) -> None:
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    result = train(tiny_config(**ON_THE_GPU, amp=amp, out=str(tmp_path)), cifar10)
    assert all(math.isfinite(v) for v in losses(result.metrics))
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["precision"] == {"off": "fp32"}.get(amp, amp)
    if amp == "fp16":
        assert load_file(tmp_path / "checkpoint.pt")["scaler"]["scale"] > 0


@pytest.mark.parametrize(
    "options", [{"compile": True}, {"compile": True, "cudagraphs": True}, {"channels_last": False}]
)
def test_compiled_graphed_and_nchw_runs_train_like_the_default(
    cifar10: CIFAR10, reference: Path, options: dict, tiny_config: Callable[..., TrainConfig]
) -> None:
    result = train(tiny_config(**ON_THE_GPU, **options), cifar10)
    assert losses(result.metrics) == pytest.approx(losses(read_metrics(reference)), rel=5e-2)


def test_torchrun_with_one_process_trains_through_nccl_and_ddp(
    tmp_path: Path, tiny_flags: Callable[..., list[str]]
) -> None:
    args = tiny_flags(**ON_THE_GPU, out=str(tmp_path))
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "resnets",
        "train",
        *args,
    ]
    done = subprocess.run(launch, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["process_group"] == "nccl" and run["hardware"].startswith("1 x ")
    assert not any(k.startswith("module.") for k in weights(tmp_path)), "DDP's prefix never reaches a saved file"
    assert all(math.isfinite(v) for v in losses(read_metrics(tmp_path)))


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(
    cifar10: CIFAR10,
    reference: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_config: Callable[..., TrainConfig],
) -> None:
    real = train_module.learning_rate

    def press_ctrl_c_in_epoch_2(config, step, *args):
        if step == 25:
            signal.raise_signal(signal.SIGINT)
        return real(config, step, *args)

    monkeypatch.setattr(train_module, "learning_rate", press_ctrl_c_in_epoch_2)
    stopped = train(tiny_config(**ON_THE_GPU, out=str(tmp_path)), cifar10)
    assert stopped.interrupted and load_file(tmp_path / "checkpoint.pt")["state"]["step"] == 26
    monkeypatch.setattr(train_module, "learning_rate", real)
    resumed = train(tiny_config(**ON_THE_GPU, out=str(tmp_path), resume=True), cifar10)
    assert not resumed.interrupted and [m["step"] for m in read_metrics(tmp_path)] == [20, 40]
    assert losses(read_metrics(tmp_path)) == pytest.approx(losses(read_metrics(reference)), rel=2e-2)
