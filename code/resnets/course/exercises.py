"""Answers to the chapters' exercises, and the ``check`` cell readers run against them.

In a chapter:

    answer = None  # your answer here
    resnets.exercises.check("part2.bottleneck_macs", answer)

Each answer is *computed* by the package (never typed in), so it stays right if the code
changes. Register one with ``@solution("key", hint="...")`` below, grouped by part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class _Solution:
    compute: Callable[[], Any]
    hint: str
    rel: float


_SOLUTIONS: dict[str, _Solution] = {}


def solution(key: str, hint: str = "", rel: float = 1e-3) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register the function that computes the answer to exercise ``key``."""

    def register(compute: Callable[[], Any]) -> Callable[[], Any]:
        if key in _SOLUTIONS:
            raise ConfigError(f"exercise {key!r} is registered twice")
        _SOLUTIONS[key] = _Solution(compute, hint, rel)
        return compute

    return register


def _matches(given: Any, expected: Any, rel: float) -> bool:
    if isinstance(expected, (bool, str)) or expected is None:
        return given == expected
    if isinstance(expected, (int, float, np.number)):
        try:
            return math.isclose(float(given), float(expected), rel_tol=rel, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, (list, tuple, np.ndarray)):
        try:
            return np.allclose(np.asarray(given, dtype=float), np.asarray(expected, dtype=float), rtol=rel)
        except (TypeError, ValueError):
            return False
    return given == expected


def _entry(key: str) -> _Solution:
    if key not in _SOLUTIONS:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(sorted(_SOLUTIONS))}")
    return _SOLUTIONS[key]


def check(key: str, answer: Any) -> bool:
    """Print whether ``answer`` is right for exercise ``key``; return True if it is."""
    entry = _entry(key)
    if answer is None:
        print(f"[{key}] Put your answer in `answer`, then run this cell again.")
        return False
    if _matches(answer, entry.compute(), entry.rel):
        print(f"[{key}] ✓ Correct.")
        return True
    print(f"[{key}] ✗ Not yet." + (f" Hint: {entry.hint}" if entry.hint else ""))
    return False


def solution_of(key: str) -> Any:
    """The computed answer to exercise ``key`` (what ``check`` compares with)."""
    return _entry(key).compute()


def keys() -> list[str]:
    """Every registered exercise."""
    return sorted(_SOLUTIONS)


# --- Part 1 · The math ---------------------------------------------------------------------


@solution(
    "part1.chance_loss",
    hint="A logit of 0 means probability 1/2 for either class: the loss is -log(1/2) at every point.",
)
def _chance_loss() -> float:
    from .toy import bce_with_logits

    return bce_with_logits(np.zeros((2, 1)), np.array([0.0, 1.0]))[0]


@solution(
    "part1.toy_parameters_64",
    hint="W and b of the input layer (2 -> 16), of 64 blocks (16 -> 16) and of the head (16 -> 1).",
)
def _toy_parameters_64() -> int:
    from .toy import Net
    from .toy_experiments import WIDTH

    return Net(64, WIDTH, residual=True).theta.size


@solution("part1.residual_output", hint="F(x) = W x with the walkthrough's W; then H(x) = F(x) + x.")
def _residual_output() -> np.ndarray:
    from .toy_experiments import WALKTHROUGH_W, linear_residual

    return linear_residual(WALKTHROUGH_W, np.array([2.0, -1.0]))[1]


@solution("part1.residual_jacobian", hint="H(x) = W x + x, so dH/dx = W + I.")
def _residual_jacobian() -> np.ndarray:
    from .toy_experiments import WALKTHROUGH_W

    return np.eye(2) + WALKTHROUGH_W


@solution("part1.gradient_after_50_layers", hint="The factors multiply: 0.8 x 0.8 x ... fifty times.")
def _gradient_after_50_layers() -> float:
    return 0.8**50


@solution(
    "part1.plain128_orders",
    hint="te.orders_of_magnitude(te.init_gradient_profile(128, residual=False, seed=0))",
    rel=0.02,
)
def _plain128_orders() -> float:
    from .toy_experiments import init_gradient_profile, orders_of_magnitude

    return orders_of_magnitude(init_gradient_profile(128, residual=False, seed=0))


@solution("part1.paths_of_length_3", hint="Choose which 3 of the 10 blocks the path goes through: C(10, 3).")
def _paths_of_length_3() -> int:
    from .toy_experiments import path_counts

    return int(path_counts(10)[3])


@solution(
    "part1.mean_path_length_resnet110", hint="ResNet-110 has 54 blocks; a random path's length is Binomial(54, 1/2)."
)
def _mean_path_length_resnet110() -> float:
    from .toy_experiments import path_counts

    counts = path_counts(54)
    return float((np.arange(55) * counts).sum() / counts.sum())


@solution(
    "part1.clean_path_fraction",
    hint="A unit keeps its clean path only if all 54 gates let it through: 0.85 multiplied 54 times.",
)
def _clean_path_fraction() -> float:
    return 0.85**54


# --- Part 2 · The implementation -----------------------------------------------------------


@solution(
    "part2.resnet20_parameters", hint="count_parameters(build_model(...)), or do it by hand: 9·C_in·C_out per 3x3 conv."
)
def _resnet20_parameters() -> int:
    from ..models import build_model, count_parameters

    return count_parameters(build_model("resnet20"))


@solution(
    "part2.basic_block_parameters",
    hint="Two 3x3 convs of 64·64·9 weights (no bias), and two BNs with a scale and a shift per channel.",
)
def _basic_block_parameters() -> int:
    from ..blocks import BasicBlock
    from ..models import count_parameters

    return count_parameters(BasicBlock(64, 64))


@solution("part2.strided_block_output_shape", hint="conv1 has stride 2 and `planes` output channels; answer (C, H, W).")
def _strided_block_output_shape() -> list[int]:
    import torch

    from ..blocks import BasicBlock, make_shortcut

    block = BasicBlock(32, 64, stride=2, downsample=make_shortcut("A", 32, 64, 2)).eval()
    with torch.no_grad():
        return list(block(torch.zeros(1, 32, 16, 16)).shape[1:])


@solution(
    "part2.resnet34_option_b_extra_parameters",
    hint="Three projections (64→128, 128→256, 256→512), each a 1x1 conv plus a BN.",
)
def _resnet34_option_b_extra_parameters() -> int:
    from .family import shortcut_costs

    a, b, _ = shortcut_costs("resnet34")
    return b.parameters - a.parameters


@solution(
    "part2.resnet110_option_c_projections",
    hint="Option C puts a projection on every block; how many blocks has a 6n+2 net?",
)
def _resnet110_option_c_projections() -> int:
    from .family import shortcut_costs

    return shortcut_costs("resnet110")[2].projections


@solution(
    "part2.bottleneck_macs_per_position",
    hint="Sum k·k·C_in·C_out over the three convs: 1024→256 (1x1), 256→256 (3x3), 256→1024 (1x1).",
)
def _bottleneck_macs_per_position() -> int:
    from ..blocks import Bottleneck
    from ..flops import count_flops

    return count_flops(Bottleneck(1024, 256), (1024, 14, 14)) // (14 * 14)


@solution(
    "part2.resnet50_stride_cost_ratio", hint="Divide torchvision's multiply-adds by the paper's (stride_in_1x1=True)."
)
def _resnet50_stride_cost_ratio() -> float:
    from .family import summarize

    return summarize("resnet50").macs / summarize("resnet50", stride_in_1x1=True).macs


@solution(
    "part2.preact_minus_original_parameters",
    hint="Compare where the BNs sit: the stem's BN, each block's first BN (on its input), and bn_final.",
)
def _preact_minus_original_parameters() -> int:
    from ..models import build_model, count_parameters

    return count_parameters(build_model("preact_resnet110")) - count_parameters(build_model("resnet110"))


@solution(
    "part2.relus_on_the_original_identity_path", hint="One ReLU after every addition: count the blocks of ResNet-110."
)
def _relus_on_the_original_identity_path() -> int:
    from ..models import build_model

    return len(build_model("resnet110").blocks())


@solution("part2.resnet50_layer4_size_at_320", hint="The stem divides by 4 and stages 2-4 each by 2; answer [H, W].")
def _resnet50_layer4_size_at_320() -> list[int]:
    import torch

    from ..models import build_model
    from ..probes import trace_shapes

    records = trace_shapes(build_model("resnet50"), torch.zeros(1, 3, 320, 320), depth=1)
    return list(next(r for r in records if r.name == "layer4").output_shape[2:])


@solution(
    "part2.densenet121_first_block_channels",
    hint="Each of the 6 layers appends k = 32 channels to the 64 it starts with.",
)
def _densenet121_first_block_channels() -> int:
    from .relatives import DenseBlock

    return DenseBlock(6, 64, growth_rate=32).out_channels


@solution(
    "part2.highway_carry_at_init",
    hint="Where the gate conv sees zeros, T = sigmoid(b_T); the carry share is 1 - T.",
    rel=1e-3,
)
def _highway_carry_at_init() -> float:
    import torch

    from .relatives import HighwayLayer

    layer = HighwayLayer(8, gate_bias=-2.0)
    return 1 - layer.transform_gate(torch.zeros(1, 8, 1, 1)).mean().item()


@solution(
    "part2.channels_last_strides",
    hint="In channels_last the channel index moves fastest: stride 1 for C, then C for W, W·C for H.",
)
def _channels_last_strides() -> list[int]:
    import torch

    return list(torch.empty(8, 64, 56, 56).contiguous(memory_format=torch.channels_last).stride())


@solution(
    "part2.bf16_epsilon", hint="bfloat16 keeps 7 explicit mantissa bits: eps = 2**-7. Or ask torch.finfo.", rel=1e-6
)
def _bf16_epsilon() -> float:
    import torch

    return torch.finfo(torch.bfloat16).eps


# --- Part 3 · Training on CIFAR-10 ---------------------------------------------------------


@solution(
    "part2.resnext101_first_group_width",
    hint="32x8d: groups x channels per group; look at conv2.groups and conv2.in_channels.",
)
def _resnext101_first_group_width() -> list[int]:
    from ..models import build_model

    conv = build_model("resnext101_32x8d").layer1[0].conv2
    return [conv.in_channels // conv.groups, conv.in_channels]


@solution(
    "part3.quick_degradation_steps", hint="Steps per epoch = training images / batch size; then times the epochs."
)
def _quick_degradation_steps() -> int:
    from ..reproduce import experiment_config

    quick = experiment_config("plain20", "quick")
    return quick.train_subset // quick.batch_size * quick.epochs


@solution(
    "part3.plain56_extra_parameters",
    hint="resnets.count_parameters(resnets.build_model(...)) for both nets, then subtract.",
)
def _plain56_extra_parameters() -> int:
    from ..models import build_model, count_parameters

    return count_parameters(build_model("plain56")) - count_parameters(build_model("plain20"))


@solution(
    "part3.augmented_views",
    hint="Each offset runs over 0..2·PAD in both directions, and each crop may be flipped or not.",
)
def _augmented_views() -> int:
    from ..data import PAD

    return (2 * PAD + 1) ** 2 * 2


@solution(
    "part3.train_set_megabytes", hint="50,000 images × 32 × 32 × 3 values, at 1 byte (uint8) and at 4 bytes (float32)."
)
def _train_set_megabytes() -> list[float]:
    from ..data import CLASSES, IMAGE_SHAPE, IMAGES_PER_CLASS

    values = len(CLASSES) * IMAGES_PER_CLASS[0] * math.prod(IMAGE_SHAPE)
    return [values * 1 / 1e6, values * 4 / 1e6]


@solution("part3.paper_epochs", hint="64,000 steps × 128 images per step, divided by the 45,000 training images.")
def _paper_epochs() -> float:
    from ..data import CLASSES, IMAGES_PER_CLASS
    from ..recipe import SCHEDULE_DEFAULTS, TrainConfig

    paper = SCHEDULE_DEFAULTS["paper"]
    training_images = len(CLASSES) * IMAGES_PER_CLASS[0] - TrainConfig().val_size
    return paper["iterations"] * paper["batch_size"] / training_images


@solution(
    "part3.table6_standard_error", hint="sqrt(p (1 - p) / n) with p = 0.0697 and n = 10,000, in percentage points."
)
def _table6_standard_error() -> float:
    from ..papers import PAPER_TABLE6
    from ..stats import binomial_standard_error

    return 100 * binomial_standard_error(PAPER_TABLE6["resnet56"] / 100, 10_000)


@solution("part3.best_below_mean", hint="(mean - best) / std, with Table 6's ResNet-110 numbers.")
def _best_below_mean() -> float:
    from ..papers import PAPER_RESNET110_MEAN_STD, PAPER_TABLE6

    mean, std = PAPER_RESNET110_MEAN_STD
    return (mean - PAPER_TABLE6["resnet110"]) / std


@solution(
    "part3.resnet56_lead_in_seed_stds",
    hint="(mean of ResNet-20's seeds - ResNet-56's final test error) / the standard deviation of ResNet-20's "
    "seeds, from the printed tables (within 5% counts: they are rounded).",
    rel=0.05,
)
def _resnet56_lead_in_seed_stds() -> float:
    from ..reproduce import table6_summary
    from ..shipped import cpu_recipe_runs, cpu_recipe_seeds, shipped_result

    [resnet20] = table6_summary(shipped_result(cpu_recipe_seeds("resnet20")))  # mean ± std over its seeds
    resnet56 = 100 * cpu_recipe_runs()["resnet56"]["metrics"][-1]["test_error"]
    return (resnet20["test_error_mean"] - resnet56) / resnet20["test_error_std"]


@solution(
    "part3.fig7_layers_resnet56",
    hint="probes.bn_after_3x3(build_model('resnet56')): the stem's 3x3 layer, then two per block.",
)
def _fig7_layers_resnet56() -> int:
    from ..models import build_model
    from ..probes import bn_after_3x3

    return len(bn_after_3x3(build_model("resnet56")))


@solution(
    "part3.paths_left_after_three_lesions",
    hint="Each deleted block removes every path through its branch: half of those left.",
)
def _paths_left_after_three_lesions() -> float:
    from ..models import build_model

    blocks = len(build_model("resnet56").blocks())
    return 2.0 ** (blocks - 3) / 2.0**blocks


@solution(
    "part3.filter_normalized_step",
    hint="Filter normalisation gives every filter of d the norm of the same filter of the weight.",
)
def _filter_normalized_step() -> float:
    import torch

    from ..landscape import filter_normalized
    from ..models import build_model

    weight = build_model("resnet56").layer1[0].conv1.weight.detach()
    direction = filter_normalized(torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)), weight)
    return ((0.5 * direction).norm() / weight.norm()).item()
