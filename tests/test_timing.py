"""The throughput benchmark runs every option and reports what it measured (no speed asserted:
speed is the benchmark's output, never a unit test's pass condition)."""

from __future__ import annotations

import pytest
import torch

from resnets.timing import ModelTiming, format_results, time_model, time_steps


def test_time_steps_warms_up_then_times_each_window() -> None:
    calls = []
    seconds = time_steps(lambda: calls.append(1), torch.device("cpu"), warmup=2, windows=3, steps_per_window=4)
    assert len(calls) == 2 + 3 * 4
    assert len(seconds) == 3 and all(s >= 0 for s in seconds)
    with pytest.raises(ValueError, match="windows >= 1"):
        time_steps(lambda: None, torch.device("cpu"), windows=0)


@pytest.mark.parametrize("channels_last, bf16", [(False, False), (True, True)])
def test_benchmark_trains_the_named_model(channels_last: bool, bf16: bool) -> None:
    result = time_model(
        "resnet8",
        device="cpu",
        batch_size=2,
        channels_last=channels_last,
        bf16=bf16,
        warmup=1,
        windows=2,
        steps_per_window=1,
    )
    assert result.model == "resnet8" and result.device.startswith("CPU") and len(result.step_seconds) == 2
    assert result.images_per_second == pytest.approx(2 / result.median_step_seconds)
    assert result.setting == ("NHWC bf16" if bf16 else "NCHW fp32")


def test_format_results_gives_ratios_to_the_first_setting_of_each_model() -> None:
    def result(model: str, seconds: float, channels_last: bool) -> ModelTiming:
        return ModelTiming(model, "CPU (2 threads)", 10, channels_last, False, False, (seconds, seconds))

    table = format_results(
        [result("resnet20", 0.1, False), result("resnet20", 0.05, True), result("resnet56", 0.2, False)]
    )
    lines = table.splitlines()
    assert lines[0] == "Training steps on CPU (2 threads)"
    assert lines[3].endswith("1.00×") and lines[4].endswith("2.00×") and lines[5].endswith("1.00×")
    assert "100" in lines[3] and "200" in lines[4]  # images/s


def test_plot_results_draws_one_panel_per_model_with_each_settings_ratio() -> None:
    from resnets.timing import ModelTiming, plot_results

    def result(model: str, channels_last: bool, seconds: tuple[float, ...]) -> ModelTiming:
        return ModelTiming(model, "cpu", 8, channels_last, False, False, seconds)

    fig = plot_results(
        [
            result("resnet20", False, (0.1, 0.1, 0.12)),
            result("resnet20", True, (0.05, 0.05, 0.06)),
            result("resnet56", False, (0.3, 0.3, 0.3)),
        ]
    )
    first, second = fig.axes
    assert (first.get_title(), second.get_title()) == ("resnet20", "resnet56")
    assert [t.get_text() for t in first.get_yticklabels()] == ["NCHW fp32", "NHWC fp32"]
    assert [t.get_text().strip() for t in first.texts] == ["1.00×", "2.00×"]
