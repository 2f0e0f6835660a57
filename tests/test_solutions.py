"""What the chapters' exercise solutions say about results, checked on the same calls.

An exercise's numeric answer is checked by ``exercises.check``; this file checks the sentences of
the solutions that describe what a run shows ("far below ln 2", "within one order of magnitude"),
in the quick profile's settings that a reader on a CPU meets. Each test names the solution.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from resnets import build_model, probes
from resnets.course import toy_experiments as te

QUICK = te.toy_settings("quick")


def final_loss(run: te.SpiralRun) -> float:
    return float(run.losses[-20:].mean())


def test_part1_degradation_capacity_a_smaller_rate_finds_what_more_steps_do_not() -> None:
    # "With the small learning rate and many more steps the 32-layer plain net does get far
    # below ln 2 ... Tripling the steps at the original learning rate does not rescue it."
    slow = te.train_spirals(32, False, seed=0, steps=2000, lr=1e-3)
    longer = te.train_spirals(32, False, seed=0, steps=3 * QUICK.steps)
    assert final_loss(slow) < 0.25 * math.log(2)
    assert final_loss(longer) > 0.7 * math.log(2)


def test_part1_highway_orders_the_residual_net_stays_within_one_order() -> None:
    # "The residual net of the same depth stays within about one order of magnitude."
    plain = te.orders_of_magnitude(te.init_gradient_profile(128, residual=False, seed=0))
    residual = te.orders_of_magnitude(te.init_gradient_profile(128, residual=True, seed=0))
    assert residual < 1.0 < plain


def test_part1_highway_monitor_the_plain_net_s_early_stage_gets_more_gradient() -> None:
    # "In the plain net the early stage's gradient is larger than the late stage's ...;
    # in ResNet-20 they are of similar size."
    torch.manual_seed(0)
    images, labels = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    ratios = {}
    for name in ("plain20", "resnet20"):
        norms = dict(probes.gradient_profile(build_model(name), images, labels))
        ratios[name] = norms["layer1.0.conv1"] / norms["layer3.2.conv2"]
    assert ratios["plain20"] > 1 and 0.2 < ratios["resnet20"] < 5 and ratios["plain20"] > ratios["resnet20"]


def test_part1_preact_deeper_the_gap_between_the_orderings_grows_with_depth() -> None:
    # "At 32 blocks the two orderings' medians end close to each other; at 64 and 128 the
    # post-activation nets fall behind. The gap grows with depth."
    def gap(depth: int) -> float:
        seeds = QUICK.training_seeds
        losses = {
            order: np.median([final_loss(te.train_spirals(depth, True, s, QUICK.steps, order=order)) for s in seeds])
            for order in ("pre", "post")
        }
        return losses["post"] - losses["pre"]

    gap32, gap64, gap128 = gap(32), gap(64), gap(128)
    assert gap32 < 0.05 and gap64 > 2 * gap32 and gap128 > 2 * gap32


def test_part1_ensemble_early_the_blocks_that_change_the_stream_most_are_the_ones_it_cannot_lose() -> None:
    # "the relative change is largest for the first few blocks ... and those are the deletions that hurt"
    net, _ = te.trained_spiral_net(32, True, 0, QUICK.steps)
    X_test, y_test = te.spirals(seed=1)
    changes, errors = te.relative_changes(net, te.spirals()[0]), te.toy_lesion_errors(net, X_test, y_test)
    assert np.argmax(changes) < 4 and np.argmax(errors) < 4
    assert np.corrcoef(changes, errors)[0, 1] > 0.5
