"""Part 1's experiments: the effects the chapters teach, asserted where they are cheap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from resnets.course import toy
from resnets.course import toy_experiments as te


def test_settings_per_profile() -> None:
    assert te.toy_settings("quick").steps < te.toy_settings("full").steps
    with pytest.raises(ValueError, match="quick, full"):
        te.toy_settings("medium")


def test_degradation_plain_gets_worse_with_depth_residual_does_not() -> None:
    curves = te.degradation_curves((4, 32), (0,), steps=300)
    final = {key: value[0] for key, value in te.final_losses(curves).items()}
    assert final[(32, False)] > final[(4, False)] + 0.3  # the deep plain net ends near chance (ln 2)
    assert final[(32, True)] < 0.05 and final[(4, True)] < 0.05


def test_identity_is_easy_for_residual_layers_and_hard_for_plain_ones() -> None:
    plain, _ = te.identity_fit(8, False)
    residual, _ = te.identity_fit(8, True)
    assert plain[-1] > 5 * residual[-1]
    assert te.steps_to_converge(residual) < math.inf == te.steps_to_converge(plain)
    assert te.steps_to_converge(np.array([1.0, 0.5, 0.001]), tol=0.01) == 2


def test_the_control_starts_residual_branches_from_plain_he_initialisation() -> None:
    depths = (1, 8)
    scaled = te.identity_sweep(depths, (0,))
    he = te.identity_sweep(depths, (0,), branch_init="he")
    # one layer: the same initialisation either way; the plain stacks never change
    assert he.start[(1, True)][0] == scaled.start[(1, True)][0]
    assert he.final[(8, False)][0] == scaled.final[(8, False)][0]
    # eight unnormalised He branches swamp the input: the sum starts far from x and, within
    # the budget, never gets within IDENTITY_TOL of it
    assert he.start[(8, True)][0] > 50 * scaled.start[(8, True)][0]
    assert math.isinf(he.steps[(8, True)][0]) and math.isfinite(scaled.steps[(8, True)][0])


def test_shipped_gradient_ratios_read_the_runs_records() -> None:
    from resnets import shipped

    ratios = te.shipped_gradient_ratios(("plain56",))
    metrics = shipped.cpu_recipe_runs()["plain56"]["metrics"]
    assert ratios["plain56"].shape == (len(metrics),)
    last = metrics[-1]
    assert ratios["plain56"][-1] == pytest.approx(last["grad_norm_early"] / last["grad_norm_late"])
    with pytest.raises(ValueError, match="no shipped run of the cpu recipe for plain1202"):
        te.shipped_gradient_ratios(("plain1202",))


def test_weight_decay_pulls_residual_branches_to_zero() -> None:
    _, free = te.identity_fit(4, True, steps=300)
    _, decayed = te.identity_fit(4, True, steps=300, weight_decay=1.0)
    assert decayed.mean() < 0.5 * free.mean()


def test_init_gradients_vanish_in_deep_plain_nets_not_in_residual_ones() -> None:
    plain = te.init_gradient_profile(256, residual=False)
    residual = te.init_gradient_profile(256, residual=True)
    assert plain.shape == (256,)
    assert te.orders_of_magnitude(plain) > 5
    assert te.orders_of_magnitude(residual) < 2.5


def test_path_counts_are_binomial() -> None:
    counts = te.path_counts(10)
    assert counts.sum() == 2**10 and counts[3] == 120 and counts.argmax() == 5


def test_path_gradients_shrink_with_length_and_lesions_run() -> None:
    X, y = te.spirals()
    net = toy.Net(6, 8, residual=True, seed=0)
    toy.fit(net, X, y, toy.bce_with_logits, 100, lr=1e-2)
    per_path = te.path_gradient_by_length(net, X, y, samples=5)
    assert per_path.shape == (7,) and per_path[0] > per_path[-1] > 0
    lesions = te.toy_lesion_errors(net, X, y)
    assert lesions.shape == (6,) and ((0 <= lesions) & (lesions <= 1)).all()
    assert te.random_lesion_errors(net, X, y, counts=(0,))[0] == net.error_rate(X, y)
    assert te.random_lesion_errors(net, X, y, counts=(2,), among=(4, 5))[0] == net.error_rate(X, y, [4, 5])
    with pytest.raises(ValueError, match="cannot delete 3 blocks out of 2"):
        te.random_lesion_errors(net, X, y, counts=(3,), among=(4, 5))


def test_by_kind_stacks_depths_for_plotting() -> None:
    results = {(d, r): np.full(2, d + 100 * r) for d in (4, 8) for r in (False, True)}
    table = te.by_kind(results, (4, 8))
    assert table["plain"].shape == (2, 2) and table["residual"][1, 0] == 108


@pytest.mark.parametrize("order", ["pre", "post"])
def test_only_the_pre_activation_skip_path_is_clean(order: str) -> None:
    X, y = te.spirals()
    net = toy.Net(32, 16, residual=True, order=order, seed=0)
    ratios = te.skip_path_gradient_ratio(net, X, y)
    assert ratios.shape == (33,) and te.signal_norms(net, X).shape == (33,)
    if order == "pre":
        np.testing.assert_allclose(ratios, 1.0)
    else:
        assert ratios[-1] < 0.9 and np.all(np.diff(ratios) <= 1e-12)  # every block's ReLU closes some


def test_trained_nets_come_back_from_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESNETS_CACHE", str(tmp_path))
    net, run = te.trained_spiral_net(2, True, 0, steps=20)
    again, run_again = te.trained_spiral_net(2, True, 0, steps=20)
    assert len(list(tmp_path.glob("_train_spirals-*.pkl"))) == 1
    np.testing.assert_array_equal(run.losses, run_again.losses)
    X, y = te.spirals()
    np.testing.assert_array_equal(net.forward(X), again.forward(X))
    assert np.shares_memory(again.blocks[0].linear.W, again.theta)
    assert run.early_grad.shape == (20,) and (run.early_grad > 0).all()


def test_monitored_torch_run_records_every_step() -> None:
    run = te.monitored_torch_run(8, True, steps=5)
    assert run.losses.shape == run.early.shape == run.late.shape == (5,)
    assert np.isfinite(run.early).all() and (run.early > 0).all()
    # the gradient profile is cached as a whole, keyed by its (tuple) arguments
    profiles = te.gradient_profiles((4, 8), (0, 1))
    assert profiles[(8, False)].shape == (2, 8)


def test_identity_and_weight_decay_sweeps_summarise_identity_fit() -> None:
    sweep = te.identity_sweep((1, 4), (0,))
    curve, norms = te.identity_fit(4, True, 0)
    assert sweep.start[(4, True)][0] == curve[0] and sweep.final[(4, True)][0] == curve[-1]
    assert sweep.steps[(4, True)][0] == te.steps_to_converge(curve)
    error, weight = te.weight_decay_sweep(4, (0.0,), (0,))
    assert error[(0.0, True)] == pytest.approx(curve[-1]) and weight[(0.0, True)] == pytest.approx(norms.mean())
