"""The engine-against-classic benchmark: the classic recipe is the standard one, both paths train
on real batches, ratios and memory are computed right, and `python -m resnets bench` runs and
writes its files. Nothing here asserts a speed: speed is the benchmark's output, not a test's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import RandomSampler, SequentialSampler
from torchvision import transforms

from resnets import bench, bench_pipelines, bench_report
from resnets.data import CIFAR10, MEAN, STD
from resnets.runtime import native_bf16
from resnets.timing import time_interleaved
from test_cli import run as run_cli

TINY = dict(batch_size=8, train_subset=40, test_subset=20)


def test_classic_transforms_are_exactly_the_recipes() -> None:
    crop, flip, to_tensor, normalize = bench_pipelines.classic_transform(train=True).transforms
    assert type(crop) is transforms.RandomCrop and crop.size == (32, 32) and crop.padding == 4
    assert crop.fill == 0 and crop.padding_mode == "constant" and not crop.pad_if_needed
    assert type(flip) is transforms.RandomHorizontalFlip and flip.p == 0.5
    assert type(to_tensor) is transforms.ToTensor
    assert type(normalize) is transforms.Normalize and tuple(normalize.mean) == MEAN and tuple(normalize.std) == STD
    assert [type(t) for t in bench_pipelines.classic_transform(train=False).transforms] == [
        transforms.ToTensor,
        transforms.Normalize,
    ]


def test_classic_dataset_hands_pil_images_to_the_transform(cifar10: CIFAR10) -> None:
    seen = []
    dataset = bench_pipelines.ClassicCIFAR10(
        cifar10.test_images[:3], cifar10.test_labels[:3], lambda image: seen.append(image) or torch.zeros(1)
    )
    _, label = dataset[2]
    assert len(dataset) == 3 and label == int(cifar10.test_labels[2]) and isinstance(label, int)
    assert isinstance(seen[0], Image.Image) and seen[0].size == (32, 32) and seen[0].mode == "RGB"
    assert (np.asarray(seen[0]) == cifar10.test_images[2].numpy()).all()


def test_classic_loader_uses_a_worker_per_core_and_shuffles_for_training(cifar10: CIFAR10) -> None:
    dataset = bench_pipelines.ClassicCIFAR10(
        cifar10.test_images[:20], cifar10.test_labels[:20], bench_pipelines.classic_transform(True)
    )
    loader = bench_pipelines.classic_loader(dataset, 8, torch.device("cpu"), train=True)
    assert loader.num_workers == os.cpu_count() and loader.persistent_workers and not loader.pin_memory
    assert isinstance(loader.sampler, RandomSampler) and loader.drop_last and loader.batch_size == 8
    evaluation = bench_pipelines.classic_loader(dataset, 8, torch.device("cpu"), train=False, workers=0)
    assert (
        isinstance(evaluation.sampler, SequentialSampler)
        and not evaluation.drop_last
        and not evaluation.persistent_workers
    )


@pytest.mark.parametrize("kind", ["engine", "classic"])
def test_both_paths_train_and_evaluate_on_real_batches(
    kind: str, cifar10: CIFAR10, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = bench.engine_config("resnet8", torch.device("cpu"), bench.BenchSettings(**TINY))
    path = (
        bench_pipelines.engine_path(config, cifar10)
        if kind == "engine"
        else bench_pipelines.classic_path(config, cifar10, workers=1)
    )
    inputs = []
    real_forward = type(path.model).forward
    monkeypatch.setattr(
        type(path.model), "forward", lambda model, x: inputs.append(x.detach().clone()) or real_forward(model, x)
    )
    try:
        before = [p.detach().clone() for p in path.model.parameters()]
        path.set_mode(True)
        path.train_step()
        path.set_mode(False)
        path.eval_step()
    finally:
        path.close()
    train_batch, eval_batch = inputs
    assert train_batch.shape == (8, 3, 32, 32) and eval_batch.shape == (20, 3, 32, 32)
    assert train_batch.dtype == torch.float32 and train_batch.is_contiguous(memory_format=torch.channels_last) == (
        kind == "engine"
    )
    # Normalised real images: the per-channel statistics of CIFAR-10, not of random tensors.
    assert abs(float(eval_batch.mean())) < 0.5 and 0.5 < float(eval_batch.std()) < 1.5
    assert all(not torch.equal(a, b.detach()) for a, b in zip(before, path.model.parameters()) if b.requires_grad)
    assert not path.model.training


def test_both_paths_start_from_the_same_weights_and_settings(cifar10: CIFAR10) -> None:
    config = bench.engine_config("resnet8", torch.device("cpu"), bench.BenchSettings(**TINY))
    engine, classic = (
        bench_pipelines.engine_path(config, cifar10),
        bench_pipelines.classic_path(config, cifar10, workers=0),
    )
    for a, b in zip(engine.model.state_dict().values(), classic.model.state_dict().values()):
        assert torch.equal(a, b)
    assert config.batch_size == 8 and config.momentum == 0.9 and config.nesterov and config.weight_decay == 5e-4
    assert (
        "NHWC" in engine.setting
        and "fused SGD" in engine.setting
        and "NCHW, fp32" in classic.setting
        and ("bf16" in engine.setting) == native_bf16(torch.device("cpu"))
    )


def test_interleaved_windows_alternate_after_every_warm_up() -> None:
    calls: list[str] = []
    seconds = time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        torch.device("cpu"),
        warmup=1,
        windows=2,
        steps_per_window=2,
    )
    assert "".join(calls) == "ab" + "aabb" * 2
    assert set(seconds) == {"a", "b"} and all(len(s) == 2 for s in seconds.values())


def test_ratios_are_of_medians_and_within_rounds() -> None:
    engine, classic = (0.1, 0.5, 0.2), (0.4, 0.6, 0.8)
    assert bench_report.speedup(engine, classic) == pytest.approx(0.6 / 0.2)
    assert bench_report.round_ratios(engine, classic) == pytest.approx([4.0, 1.2, 4.0])
    assert bench_report.spread([1.0, 2.0, 3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="as many windows"):
        bench_report.round_ratios((1.0,), (1.0, 2.0))
    result = bench_report.PathResult("x", (0.5, 0.25, 0.5), (1.0,), 10.0, None)
    slow = bench_report.PathResult("y", (1.0, 1.0, 1.0), (4.0,), None, 5.0)
    comparison = bench_report.Comparison("resnet20", "CPU", 128, 1000, 5, result, slow)
    assert comparison.images_per_second("engine") == pytest.approx(256) and comparison.images_per_second(
        "classic", "eval"
    ) == pytest.approx(250)
    assert comparison.speedup() == pytest.approx(2.0) and comparison.speedup("eval") == pytest.approx(4.0)
    assert comparison.speedup_range() == pytest.approx((2.0, 4.0))
    table = bench_report.format_report([comparison])
    assert "2.00×" in table and "2.00–4.00×" in table and "4.00×" in table and "—" in table  # no memory figure: a dash


@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="the CPU memory measure needs Linux's /proc/self/clear_refs"
)
def test_cpu_peak_memory_sees_a_step_that_touches_64_mib() -> None:
    held = []
    peak = bench.peak_memory_mib(lambda: held.append(torch.ones(16 * 2**20)), torch.device("cpu"), steps=1)
    assert 60 < peak < 200
    assert bench.peak_memory_mib(lambda: None, torch.device("cpu"), steps=1) < 20


def test_time_to_accuracy_stops_at_the_first_epoch_on_target(cifar10: CIFAR10) -> None:
    result = bench.time_to_accuracy(
        "resnet8", cifar10, 0.01, bench.BenchSettings(device="cpu", tta_epochs=3, train_subset=300, test_subset=50)
    )
    assert result.reached and result.epochs == 1 and result.epochs_planned == 3 and result.accuracy >= 0.01
    assert 0 < result.train_seconds <= result.wall_seconds and (result.train_images, result.test_images) == (300, 50)
    assert bench.default_target("resnet20", cifar10) == pytest.approx(0.90 if cifar10.from_image_folder else 0.91)
    with pytest.raises(ValueError, match="no default target"):
        bench.default_target("resnet110", cifar10)


def test_bench_help_names_the_models_measurements_and_switches(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(["bench", "--help"], capsys)
    assert code == 0
    out = " ".join(out.split())  # argparse wraps help text at the terminal's width
    for text in (
        "resnet20 resnet56 resnet110",
        "RandomCrop(32, padding=4)",
        "one worker per core",
        "--windows",
        "--steps-per-window",
        "--warmup",
        "--compile",
        "--cudagraphs",
        "--time-to-accuracy",
        "--target",
        "max_memory_allocated",
        "VmHWM",
        ".json",
        ".md",
    ):
        assert text in out, f"bench --help does not mention {text}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--target", "resnet20"], "expected MODEL=ACCURACY"),
        (["bench", "--target", "resnet20=91"], "a fraction in (0, 1)"),
        (["bench", "--models", "resnet21"], "depth 21 is impossible"),
        (
            [
                "bench",
                "--device",
                "cpu",
                "--cudagraphs",
                "--models",
                "resnet8",
                "--batch-size",
                "8",
                "--train-subset",
                "40",
                "--test-subset",
                "20",
            ],
            "needs a CUDA device",
        ),
        (["bench", "--no-throughput", "--no-time-to-accuracy"], "nothing to measure"),
    ],
)
def test_bench_usage_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture, cifar10: CIFAR10
) -> None:
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_bench_runs_a_tiny_configuration_and_writes_its_files(
    cifar10: CIFAR10, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    argv = [
        "bench",
        "--device",
        "cpu",
        "--models",
        "resnet8",
        "--batch-size",
        "8",
        "--train-subset",
        "300",
        "--test-subset",
        "20",
        "--warmup",
        "1",
        "--windows",
        "1",
        "--steps-per-window",
        "1",
        "--memory-steps",
        "1",
        "--workers",
        "1",
        "--time-to-accuracy",
        "--target",
        "resnet8=0.01",
        "--tta-epochs",
        "2",
        "--out",
        str(tmp_path),
        "--name",
        "tiny",
    ]
    code, out, _ = run_cli(argv, capsys)
    assert code == 0 and "Training throughput on CPU" in out and "Time to accuracy" in out
    report = json.loads((tmp_path / "tiny.json").read_text())
    assert report["command"] == "python -m resnets " + " ".join(argv)
    assert {"torch", "torchvision", "cpu", "cores", "date"} <= set(report["machine"])
    (comparison,) = report["comparisons"]
    assert (
        comparison["model"] == "resnet8"
        and len(comparison["engine"]["train_seconds"]) == 1
        and comparison["train_speedup"] > 0
    )
    assert report["time_to_accuracy"][0]["reached"] and report["time_to_accuracy"][0]["epochs"] == 1
    markdown = (tmp_path / "tiny.md").read_text()
    assert markdown.startswith("# Speed") and "Training throughput on CPU" in markdown and report["command"] in markdown
