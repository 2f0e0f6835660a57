"""The numpy toy nets of Part 1: every hand-written backward pass against finite differences
and against PyTorch's autograd, the data, training, and the path/lesion machinery."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from resnets.course import toy

RNG = np.random.default_rng(0)


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of x (in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def check_layer(layer, x: np.ndarray, params: tuple[str, ...] = ()) -> None:
    """Gradient of sum(R * layer(x)) for a random R: backward vs finite differences, for the
    input and for each named parameter."""
    R = RNG.standard_normal(layer.forward(x).shape)
    loss = lambda: float(np.sum(R * layer.forward(x)))  # noqa: E731
    loss()
    dx = layer.backward(R)
    analytic = {name: getattr(layer, "d" + name).copy() for name in params}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    for name in params:
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, getattr(layer, name)), rtol=1e-5, atol=1e-7)


def test_two_spirals_shapes_labels_and_symmetry() -> None:
    X, y = toy.two_spirals(100, noise=0.0, seed=3)
    assert X.shape == (100, 2) and y.shape == (100,)
    assert set(np.unique(y)) == {0.0, 1.0} and y.sum() == 50
    np.testing.assert_allclose(X[50:], -X[:50])  # the second spiral is the first turned by 180°
    assert np.abs(X).max() <= 1.0
    assert not np.array_equal(toy.two_spirals(100, seed=1)[0], toy.two_spirals(100, seed=2)[0])
    with pytest.raises(ValueError, match="positive even number"):
        toy.two_spirals(7)


def test_linear_relu_layernorm_gradients() -> None:
    check_layer(toy.Linear(4, 3, RNG), RNG.standard_normal((5, 4)), ("W", "b"))
    check_layer(toy.ReLU(), RNG.standard_normal((5, 4)))
    check_layer(toy.LayerNorm(), RNG.standard_normal((5, 6)) * 3 + 1)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("order", ["pre", "post"])
@pytest.mark.parametrize("norm", [True, False])
def test_block_gradients(residual: bool, order: str, norm: bool) -> None:
    block = toy.Block(5, RNG, residual=residual, norm=norm, order=order)
    block.linear.b[...] = RNG.standard_normal(5) * 0.1
    x = RNG.standard_normal((6, 5))
    R = RNG.standard_normal((6, 5))
    loss = lambda: float(np.sum(R * block.forward(x)))  # noqa: E731
    loss()
    dx = block.backward(R)
    dW, db = block.linear.dW.copy(), block.linear.db.copy()
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dW, numerical_gradient(loss, block.linear.W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(db, numerical_gradient(loss, block.linear.b), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("residual", [False, True])
def test_whole_net_gradient_with_the_loss(residual: bool) -> None:
    X, y = toy.two_spirals(12, seed=1)
    net = toy.Net(3, 6, residual=residual, seed=2)
    loss = lambda: toy.bce_with_logits(net.forward(X), y)[0]  # noqa: E731
    _, g = toy.bce_with_logits(net.forward(X), y)
    net.backward(g)
    analytic = net.grad.copy()
    np.testing.assert_allclose(analytic, numerical_gradient(loss, net.theta), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("residual", [False, True])
def test_stack_gradient_with_mse(residual: bool) -> None:
    X = RNG.uniform(0, 1, (10, 4))
    stack = toy.Stack(3, 4, residual=residual, norm=False, seed=0)
    stack.theta[~stack.is_weight] = RNG.normal(0, 0.1, (~stack.is_weight).sum())  # off the ReLUs' kinks
    loss = lambda: toy.mse(stack.forward(X), X)[0]  # noqa: E731
    _, g = toy.mse(stack.forward(X), X)
    dx = stack.backward(g)
    np.testing.assert_allclose(stack.grad.copy(), numerical_gradient(loss, stack.theta), rtol=1e-4, atol=1e-8)
    assert dx.shape == X.shape


def test_loss_gradients() -> None:
    logits, y = RNG.standard_normal((7, 1)) * 3, (RNG.uniform(size=7) > 0.5).astype(float)
    _, g = toy.bce_with_logits(logits, y)
    np.testing.assert_allclose(g, numerical_gradient(lambda: toy.bce_with_logits(logits, y)[0], logits), atol=1e-8)
    assert np.isfinite(toy.bce_with_logits(np.array([[800.0], [-800.0]]), np.array([0.0, 1.0]))[0])
    pred, target = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    _, g = toy.mse(pred, target)
    np.testing.assert_allclose(g, numerical_gradient(lambda: toy.mse(pred, target)[0], pred), atol=1e-8)


@pytest.mark.parametrize(
    "residual, order, norm", list(itertools.product([False, True], ["pre", "post"], [True, False]))
)
def test_hand_written_backward_matches_autograd(residual: bool, order: str, norm: bool) -> None:
    X, y = toy.two_spirals(32, seed=4)
    net = toy.Net(4, 8, residual=residual, order=order, norm=norm, seed=5)
    model = toy.to_torch(net)
    loss, g = toy.bce_with_logits(net.forward(X), y)
    net.backward(g)
    logits = model(torch.from_numpy(X))
    torch_loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.from_numpy(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), abs=1e-12)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    torch_grad = np.concatenate(
        [np.concatenate([m.weight.grad.numpy().T.ravel(), m.bias.grad.numpy()]) for m in linears]
    )
    np.testing.assert_allclose(net.grad, torch_grad, atol=1e-12)


@pytest.mark.parametrize("order", ["pre", "post"])
def test_the_paths_add_up_to_the_gradient(order: str) -> None:
    # The unrolled view, exactly: the gradient is the sum over all 2^n skip/branch paths.
    X, y = toy.two_spirals(16, seed=6)
    net = toy.Net(3, 5, residual=True, order=order, seed=7)
    _, g = toy.bce_with_logits(net.forward(X), y)
    full = net.backward(g)
    paths = sum(net.backward(g, list(routes)) for routes in itertools.product(["skip", "branch"], repeat=3))
    np.testing.assert_allclose(paths, full, atol=1e-12)


def test_deleting_a_block_skips_it() -> None:
    X, _ = toy.two_spirals(8)
    net = toy.Net(3, 5, residual=True, seed=1)
    h = net.embed.forward(X)
    h = net.blocks[2].forward(net.blocks[0].forward(h))
    expected = net.head.forward(net.head_relu.forward(net.head_norm.forward(h)))
    np.testing.assert_allclose(net.forward(X, skip_blocks=[1]), expected)


def test_parameters_are_views_of_one_flat_array() -> None:
    net = toy.Net(2, 4, residual=True, seed=0)
    assert net.theta.size == (2 * 4 + 4) + 2 * (4 * 4 + 4) + (4 + 1)
    assert np.shares_memory(net.blocks[1].linear.W, net.theta)
    assert net.is_weight.sum() == 2 * 4 + 2 * 16 + 4
    assert np.shares_memory(net.stack.theta, net.theta) and net.stack.theta.size == 2 * (4 * 4 + 4)
    net.theta[:] = 0.0
    assert not net.blocks[0].linear.W.any()


def test_training_reduces_the_loss_and_weight_decay_shrinks_weights() -> None:
    X, y = toy.two_spirals(64)
    losses = toy.fit(toy.Net(4, 8, residual=True, seed=0), X, y, toy.bce_with_logits, 150, lr=1e-2)
    assert losses.shape == (150,) and losses[-1] < 0.5 * losses[0]
    X = RNG.uniform(0, 1, (32, 4))
    norms = []
    for decay in (0.0, 1.0):
        stack = toy.Stack(2, 4, residual=True, norm=False, seed=0)
        toy.fit(stack, X, X, toy.mse, 200, lr=1e-2, weight_decay=decay)
        norms.append(np.linalg.norm(stack.theta[stack.is_weight]))
    assert norms[1] < 0.5 * norms[0]


def test_torch_training_runs_and_reduces_the_loss() -> None:
    X, y = toy.two_spirals(64)
    model = toy.to_torch(toy.Net(4, 8, residual=True, seed=0))
    seen = []
    losses = toy.fit_torch(model, X, y, 60, lr=1e-2, callback=lambda step, loss: seen.append(step))
    assert seen == list(range(60)) and losses[-1] < losses[0]


def test_unnormalised_residual_branches_start_scaled_unless_told_otherwise() -> None:
    # Variance gain / fan-in: 2 / 8 for He initialisation, 2 / (8 * depth) when scaled.
    def weight_variance(stack: toy.Stack) -> float:
        return float(np.var(np.concatenate([b.linear.W.ravel() for b in stack.blocks])))

    depth, width = 16, 8
    he = weight_variance(toy.Stack(depth, width, residual=True, norm=False, branch_init="he"))
    scaled = weight_variance(toy.Stack(depth, width, residual=True, norm=False))
    assert he == pytest.approx(2 / width, rel=0.15)
    assert scaled == pytest.approx(2 / (width * depth), rel=0.15)
    # plain layers and normalised branches keep He initialisation whatever branch_init says
    for stack in (toy.Stack(depth, width, residual=False, norm=False), toy.Stack(depth, width, residual=True)):
        assert weight_variance(stack) == pytest.approx(2 / width, rel=0.15)


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="depth >= 0"):
        toy.Net(-1, residual=True)
    with pytest.raises(ValueError, match="'scaled' .* or 'he'"):
        toy.Stack(4, 4, residual=True, norm=False, branch_init="fixup")
    with pytest.raises(ValueError, match="'pre' .* or 'post'"):
        toy.Block(4, RNG, residual=True, order="middle")
    plain = toy.Block(4, RNG, residual=False)
    plain.forward(RNG.standard_normal((3, 4)))
    with pytest.raises(ValueError, match="needs a residual block"):
        plain.backward(np.ones((3, 4)), route="skip")
