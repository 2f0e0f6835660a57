"""What ``python -m resnets bench`` measured, and how it is reported.

Map: ``PathResult`` (one path's timed windows and peak memory) and ``Comparison`` (the engine and
the classic recipe on one model: images per second, their ratio and its range over the rounds
of windows), with ``speedup``, ``round_ratios`` and ``spread``, the arithmetic on windows;
``TimeToAccuracy`` (one run to a target test accuracy); ``machine`` (where it ran),
``format_report`` (the plain-text tables), ``report_dict`` (everything as JSON-ready data) and
``write_report`` (``<name>.json`` and ``<name>.md``). ``bench.py`` measures; this module holds
no timing code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .data import CIFAR10
from .errors import ConfigError
from .files import make_folder, write_atomic
from .runtime import cpu_model, device_name, git_commit
from .tables import format_table

# ---------------------------------------------------------------------------------------
# What was measured
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathResult:
    """What was measured for one path: seconds per step in each timed window, and peak memory."""

    setting: str
    train_seconds: tuple[float, ...]
    eval_seconds: tuple[float, ...]
    train_peak_mib: float | None
    eval_peak_mib: float | None


@dataclass(frozen=True)
class Comparison:
    """The engine and the classic recipe, measured together on one model."""

    model: str
    device: str
    batch_size: int
    eval_batch_size: int
    steps_per_window: int
    engine: PathResult
    classic: PathResult

    def images_per_second(self, path: str, phase: str = "train") -> float:
        """Median throughput of ``path`` ("engine" or "classic") in ``phase`` ("train" or "eval")."""
        seconds = getattr(getattr(self, path), f"{phase}_seconds")
        return (self.batch_size if phase == "train" else self.eval_batch_size) / statistics.median(seconds)

    def speedup(self, phase: str = "train") -> float:
        """Engine images/s over classic images/s: the ratio of the medians."""
        return speedup(getattr(self.engine, f"{phase}_seconds"), getattr(self.classic, f"{phase}_seconds"))

    def speedup_range(self, phase: str = "train") -> tuple[float, float]:
        """The lowest and highest ratio within one round of windows (engine, then classic)."""
        ratios = round_ratios(getattr(self.engine, f"{phase}_seconds"), getattr(self.classic, f"{phase}_seconds"))
        return min(ratios), max(ratios)


def speedup(fast_seconds: Sequence[float], slow_seconds: Sequence[float]) -> float:
    """How many times faster ``fast`` is: median seconds per step of ``slow`` over that of ``fast``
    (the ratio of images per second, as both steps hold the same number of images)."""
    return statistics.median(slow_seconds) / statistics.median(fast_seconds)


def round_ratios(fast_seconds: Sequence[float], slow_seconds: Sequence[float]) -> list[float]:
    """The speed-up within each round of alternating windows: slow window i over fast window i."""
    if len(fast_seconds) != len(slow_seconds) or not fast_seconds:
        raise ConfigError(
            f"need as many windows of each, at least one; got {len(fast_seconds)} and {len(slow_seconds)}"
        )
    return [slow / fast for fast, slow in zip(fast_seconds, slow_seconds)]


def spread(seconds: Sequence[float]) -> float:
    """Half the range of the windows over their median: "±5%" means the windows lay within about 5% of it."""
    return (max(seconds) - min(seconds)) / 2 / statistics.median(seconds)


@dataclass(frozen=True)
class TimeToAccuracy:
    """One fast-schedule run that stopped at the first epoch reaching ``target`` test accuracy."""

    model: str
    target: float
    reached: bool
    epochs: int
    train_seconds: float  # the training steps alone
    wall_seconds: float  # with the test evaluation after every epoch
    accuracy: float  # test accuracy after the last epoch run
    train_images: int
    test_images: int
    epochs_planned: int
    compiled: bool
    cudagraphs: bool


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------


def machine(device: torch.device) -> dict[str, Any]:
    """Where a benchmark ran: hardware, software versions, code version and date."""
    import torchvision

    return {
        "device": device_name(device),
        "cpu": cpu_model() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _mib(value: float | None) -> str | None:
    return None if value is None else f"{value:,.0f}"


def format_report(comparisons: Sequence[Comparison], accuracies: Sequence[TimeToAccuracy] = ()) -> str:
    """The measurements as plain-text tables: throughput, memory and time to accuracy."""
    sections = []
    if comparisons:
        first = comparisons[0]
        legend = [
            f"engine:  {first.engine.setting}",
            f"classic: {first.classic.setting}",
            f"median of {_plural(len(first.engine.train_seconds), 'window')} of "
            f"{_plural(first.steps_per_window, 'step')}, taken "
            "in turn from the two paths; ± is half the range of the windows; ratio range: lowest and highest within "
            "one round",
        ]
        sections.append("\n".join(legend))
        for phase, title, batch in (
            ("train", "Training", first.batch_size),
            ("eval", "Evaluation", first.eval_batch_size),
        ):
            rows = []
            for c in comparisons:
                engine, classic = getattr(c.engine, f"{phase}_seconds"), getattr(c.classic, f"{phase}_seconds")
                low, high = c.speedup_range(phase)
                rows.append(
                    (
                        c.model,
                        f"{c.images_per_second('engine', phase):,.0f}",
                        f"±{spread(engine):.0%}",
                        f"{c.images_per_second('classic', phase):,.0f}",
                        f"±{spread(classic):.0%}",
                        f"{c.speedup(phase):.2f}×",
                        f"{low:.2f}–{high:.2f}×",
                    )
                )
            headers = ["model", "engine img/s", "±", "classic img/s", "±", "engine/classic", "ratio range"]
            sections.append(format_table(headers, rows, title=f"{title} throughput on {first.device}, batch {batch}"))
        rows = [
            (
                c.model,
                _mib(c.engine.train_peak_mib),
                _mib(c.classic.train_peak_mib),
                _mib(c.engine.eval_peak_mib),
                _mib(c.classic.eval_peak_mib),
            )
            for c in comparisons
        ]
        headers = ["model", "engine train", "classic train", "engine eval", "classic eval"]
        sections.append(format_table(headers, rows, title="Peak memory a step adds (MiB; see bench.peak_memory_mib)"))
    if accuracies:
        rows = [
            (
                a.model,
                f"{a.target:.1%}",
                "yes" if a.reached else "no",
                f"{a.epochs}/{a.epochs_planned}",
                f"{a.train_seconds:,.1f}",
                f"{a.wall_seconds:,.1f}",
                f"{a.accuracy:.2%}",
                f"{a.train_images:,}/{a.test_images:,}",
                "CUDA graphs" if a.cudagraphs else "yes" if a.compiled else "no",
            )
            for a in accuracies
        ]
        headers = [
            "model",
            "target",
            "reached",
            "epochs",
            "train s",
            "wall s",
            "test acc",
            "train/test images",
            "compiled",
        ]
        sections.append(
            format_table(
                headers, rows, title="Time to accuracy, fast schedule (stops at the first epoch at or above the target)"
            )
        )
    return "\n\n".join(sections)


def write_report(folder: str | Path, name: str, report: dict[str, Any], text: str) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.json`` (every window and setting) and ``<folder>/<name>.md`` (the tables)."""
    folder = make_folder(folder)
    json_path, markdown_path = folder / f"{name}.json", folder / f"{name}.md"
    write_atomic(json_path, lambda f: f.write((json.dumps(report, indent=2) + "\n").encode()))
    about = report["machine"]
    cuda_build = f" (built for CUDA {about['cuda']})" if about["cuda"] else ""
    lines = [
        f"# Speed: engine against the classic recipe ({about['device']})",
        "",
        f"- command: `{report['command']}`",
        f"- date: {about['date']}; code: {about['git_commit']}",
        f"- machine: {about['cpu']}, {about['cores']} cores ({about['torch_threads']} torch threads); "
        f"{about['device']}",
        f"- software: torch {about['torch']}{cuda_build}, torchvision {about['torchvision']}, Python {about['python']}",
        f"- data: {report['data']}",
        "",
        "```text",
        text,
        "```",
        "",
    ]
    write_atomic(markdown_path, lambda f: f.write("\n".join(lines).encode()))
    return json_path, markdown_path


def report_dict(
    command: str,
    device: torch.device,
    data: CIFAR10,
    comparisons: Sequence[Comparison],
    accuracies: Sequence[TimeToAccuracy],
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything measured, with where and how, as JSON-ready data."""
    note = (
        "CIFAR-10 from an image folder (this project's copy: JPEG q75, lossy)"
        if data.from_image_folder
        else "original CIFAR-10"
    )
    return {
        "command": command,
        "settings": settings or {},
        "machine": machine(device),
        "data": f"{note}; {data.source}; sha256 {data.checksum[:16]}",
        "comparisons": [
            {
                **dataclasses.asdict(c),
                "train_speedup": c.speedup("train"),
                "eval_speedup": c.speedup("eval"),
                "images_per_second": {
                    p: {ph: c.images_per_second(p, ph) for ph in ("train", "eval")} for p in ("engine", "classic")
                },
            }
            for c in comparisons
        ],
        "time_to_accuracy": [dataclasses.asdict(a) for a in accuracies],
    }


__all__ = [
    "Comparison",
    "PathResult",
    "TimeToAccuracy",
    "format_report",
    "machine",
    "report_dict",
    "round_ratios",
    "speedup",
    "spread",
    "write_report",
]
