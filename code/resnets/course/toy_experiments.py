"""The experiments of Part 1, run on the toy nets of ``toy.py``.

Each function returns plain numbers (numpy arrays, dicts of them); the chapters plot them.
The expensive ones are ``@cached``: with RESNETS_CACHE set, the second execution of a
chapter (and every chapter that trains the same net) reads them back.

    Sizes      toy_settings(profile)       how big each experiment is (registered with ``profiles``)
    Chapter 1  degradation_curves          training loss of plain and residual nets by depth
    Chapter 2  identity_fit                fit y = x with k plain or residual layers
               relative_changes            how far each layer of a trained net is from the identity
    Chapter 3  init_gradient_profile       per-layer gradient norms at initialisation
               shipped_gradient_ratios     ... and during training, in Part 3's shipped nets
    Chapter 4  path_gradient_by_length,    the unrolled view: gradient per path length,
               toy_lesion_errors           and deleting blocks from trained nets
    Chapter 5  signal_norms, skip_path_gradient_ratio
                                           what the identity path carries, pre vs post
               preactivation_pairs(profile) the real CIFAR nets it probes beside them (``profiles``)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import profiles
from ..cache import cached
from ..errors import ConfigError
from ..probes import GradientNormMonitor
from . import toy

#: The spiral set every chapter trains on, and the nets' width and learning rate.
SPIRAL_POINTS = 256
WIDTH = 16
LR = 5e-3


@dataclass(frozen=True)
class ToySettings:
    """How big Part 1's experiments are in one profile."""

    depths: tuple[int, ...]  # depths of the degradation sweep
    seeds: tuple[int, ...]  # independent initialisations per net (chapters 2 to 4)
    steps: int  # full-batch Adam steps per training run
    profile_depths: tuple[int, ...]  # depths of the gradient-flow profiles (no training: cheap)
    # Seeds of the training comparisons that reach 64 blocks (chapter 1's degradation sweep,
    # chapter 5's orderings), which compare medians: at 64 blocks a single run can land far from
    # the rest, and which one does changes with the CPU's BLAS kernels (measured: two seeds gave
    # opposite answers on a Zen 2 and a Zen 4 CPU).
    training_seeds: tuple[int, ...]
    path_samples: int  # random paths of each length whose gradients are averaged (chapter 4)


profiles.register(
    "toy",
    {
        "quick": ToySettings(
            depths=(4, 8, 16, 32, 64),
            seeds=(0, 1),
            steps=300,
            profile_depths=(4, 8, 16, 32, 64, 128, 256),
            training_seeds=tuple(range(6)),
            path_samples=20,
        ),
        "full": ToySettings(
            depths=(4, 8, 16, 32, 64),
            seeds=(0, 1, 2, 3, 4),
            steps=600,
            profile_depths=(4, 8, 16, 32, 64, 128, 256),
            training_seeds=tuple(range(10)),
            path_samples=100,
        ),
    },
)


def toy_settings(profile: str) -> ToySettings:
    """The experiment sizes for ``rt.profile`` ("quick" or "full"), as registered with ``profiles``."""
    return profiles.sizes("toy", profile)


@dataclass(frozen=True)
class PreactivationDepths:
    """The depths at which Chapter 5 probes real CIFAR nets, post- against pre-activation, freshly
    initialised (``probes.block_norms``)."""

    depths: tuple[int, ...]


#: Quick: ResNet-110 only; full: also ResNet-1202, the paper's deepest (600 blocks, 19.4M
#: parameters), which the quick profile leaves out to stay fast on a CPU.
profiles.register(
    "preactivation_nets",
    {"quick": PreactivationDepths((110,)), "full": PreactivationDepths((110, 1202))},
)


def preactivation_pairs(profile: str) -> list[tuple[str, str]]:
    """(post-activation, pre-activation) model names of each depth Chapter 5 probes in ``profile``."""
    depths = profiles.sizes("preactivation_nets", profile).depths
    return [(f"resnet{depth}", f"preact_resnet{depth}") for depth in depths]


def spirals(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The training set of Part 1 (``seed=0``); other seeds give fresh points of the same spirals."""
    return toy.two_spirals(SPIRAL_POINTS, seed=seed)


# ---------------------------------------------------------------------------------------
# Chapter 1: the degradation problem
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpiralRun:
    """One training run on the spirals: the final weights and what was seen on the way."""

    theta: np.ndarray  # the trained net's flat parameters
    losses: np.ndarray  # (steps,) training loss at each step
    early_grad: np.ndarray  # (steps,) gradient norm of the first block's weight at each step
    late_grad: np.ndarray  # (steps,) the same for the last block


def train_spirals(
    depth: int, residual: bool, seed: int, steps: int, lr: float = LR, width: int = WIDTH, order: str = "pre"
) -> SpiralRun:
    """Train one toy net on the spirals; record its loss and early/late gradient norms.

    Cached: every chapter that trains the same net, however it spells the call, reads the
    same result back (the arguments are passed on in one fixed order).
    """
    return _train_spirals(depth, residual, seed, steps, lr, width, order)


@cached
def _train_spirals(depth: int, residual: bool, seed: int, steps: int, lr: float, width: int, order: str) -> SpiralRun:
    X, y = spirals()
    net = toy.Net(depth, width, residual=residual, order=order, seed=seed)
    early, late = np.zeros(steps), np.zeros(steps)

    def watch(step: int, loss: float) -> None:  # after each backward: the gradients are fresh
        if depth:
            early[step] = np.linalg.norm(net.blocks[0].linear.dW)
            late[step] = np.linalg.norm(net.blocks[-1].linear.dW)

    losses = toy.fit(net, X, y, toy.bce_with_logits, steps, lr, callback=watch)
    return SpiralRun(net.theta.copy(), losses, early, late)


def trained_spiral_net(
    depth: int, residual: bool, seed: int, steps: int, lr: float = LR, width: int = WIDTH, order: str = "pre"
) -> tuple[toy.Net, SpiralRun]:
    """The net ``train_spirals`` trained (rebuilt from its cached weights), and its run."""
    run = train_spirals(depth, residual, seed, steps, lr, width, order)
    net = toy.Net(depth, width, residual=residual, order=order, seed=seed)
    net.theta[:] = run.theta  # in place: the layers' weights are views of theta
    return net, run


def degradation_curves(
    depths: tuple[int, ...], seeds: tuple[int, ...], steps: int, lr: float = LR, order: str = "pre"
) -> dict[tuple[int, bool], np.ndarray]:
    """{(depth, residual): (len(seeds), steps) training-loss curves} for plain and residual nets."""
    return {
        (depth, residual): np.stack([train_spirals(depth, residual, s, steps, lr, order=order).losses for s in seeds])
        for residual in (False, True)
        for depth in depths
    }


def by_kind(results: dict[tuple[int, bool], np.ndarray], depths: tuple[int, ...]) -> dict[str, np.ndarray]:
    """{(depth, residual): (seeds,)} -> {"plain": (depths, seeds), "residual": (depths, seeds)},
    the layout ``viz.plot_by_depth`` draws."""
    return {kind: np.stack([results[(d, kind == "residual")] for d in depths]) for kind in ("plain", "residual")}


def final_losses(curves: dict[tuple[int, bool], np.ndarray], last: int = 20) -> dict[tuple[int, bool], np.ndarray]:
    """Each run's final training loss: the mean of its last ``last`` steps, (seeds,) per net."""
    return {key: c[:, -last:].mean(axis=1) for key, c in curves.items()}


# ---------------------------------------------------------------------------------------
# Chapter 2: fitting the identity
# ---------------------------------------------------------------------------------------

#: The numeric walkthrough of Chapter 2: a 2-D residual layer with a linear branch F(x) = W x.
WALKTHROUGH_X = np.array([1.0, 0.5])
WALKTHROUGH_W = np.array([[0.1, 0.05], [0.05, 0.1]])


def linear_residual(W: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F(x), H(x)) for the linear residual layer H(x) = F(x) + x with F(x) = W x."""
    F = W @ x
    return F, F + x


IDENTITY_DIM = 8
IDENTITY_STEPS = 500
IDENTITY_TOL = 0.05  # "converged": the squared error is down to 5% of the signal's


def identity_data(n: int = 256, dim: int = IDENTITY_DIM, seed: int = 0) -> np.ndarray:
    """(n, dim) points uniform in [0, 1]^dim. Non-negative, so a stack of plain ReLU layers
    *can* represent the identity exactly (W = I, b = 0 in every layer): the question is
    only whether training finds it."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, dim))


def identity_fit(
    depth: int,
    residual: bool,
    seed: int = 0,
    steps: int = IDENTITY_STEPS,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    branch_init: toy.BranchInit = "scaled",
) -> tuple[np.ndarray, np.ndarray]:
    """Train ``depth`` layers (no normalisation) to output their input.

    Returns (relative error at each step, (depth,) Frobenius norm of each trained W). The
    relative error is the mean squared error divided by the mean ||x||², so 1.0 is as bad
    as answering zero. Plain layers start from He initialisation; residual branches from He
    initialisation with its variance divided by ``depth`` (``branch_init="scaled"``, Fixup's
    idea), or from plain He initialisation (``branch_init="he"``, the control); see
    ``toy.Stack``. Cached.
    """
    return _identity_fit(depth, residual, seed, steps, lr, weight_decay, branch_init)


@cached
def _identity_fit(
    depth: int, residual: bool, seed: int, steps: int, lr: float, weight_decay: float, branch_init: str
) -> tuple[np.ndarray, np.ndarray]:
    X = identity_data()
    stack = toy.Stack(depth, IDENTITY_DIM, residual=residual, norm=False, seed=seed, branch_init=branch_init)
    losses = toy.fit(stack, X, X, toy.mse, steps, lr, weight_decay=weight_decay)
    weight_norms = np.array([np.linalg.norm(b.linear.W) for b in stack.blocks])
    return losses / np.mean(np.sum(X * X, axis=1)), weight_norms


def steps_to_converge(curve: np.ndarray, tol: float = IDENTITY_TOL) -> float:
    """First step at which ``curve`` drops below ``tol``; inf if it never does."""
    below = np.flatnonzero(curve < tol)
    return float(below[0]) if below.size else math.inf


@dataclass(frozen=True)
class IdentitySweep:
    """``identity_fit`` over depths and seeds: each field maps (depth, residual) to (seeds,)."""

    start: dict[tuple[int, bool], np.ndarray]  # relative error before training
    final: dict[tuple[int, bool], np.ndarray]  # relative error after IDENTITY_STEPS steps
    steps: dict[tuple[int, bool], np.ndarray]  # steps to reach IDENTITY_TOL (inf: never)


def identity_sweep(
    depths: tuple[int, ...], seeds: tuple[int, ...], branch_init: toy.BranchInit = "scaled"
) -> IdentitySweep:
    """Fit y = x with stacks of every depth, plain and residual, from every seed; the residual
    branches start as ``branch_init`` says (the plain stacks are the same either way)."""
    fits = {
        (k, skip): [identity_fit(k, skip, seed, branch_init=branch_init if skip else "scaled")[0] for seed in seeds]
        for k in depths
        for skip in (False, True)
    }
    return IdentitySweep(
        start={key: np.array([c[0] for c in runs]) for key, runs in fits.items()},
        final={key: np.array([c[-1] for c in runs]) for key, runs in fits.items()},
        steps={key: np.array([steps_to_converge(c) for c in runs]) for key, runs in fits.items()},
    )


def weight_decay_sweep(
    depth: int, decays: tuple[float, ...], seeds: tuple[int, ...]
) -> tuple[dict[tuple[float, bool], float], dict[tuple[float, bool], float]]:
    """Fit y = x with ``depth`` plain and residual layers at each weight decay. Returns
    ({(decay, residual): final relative error}, {(decay, residual): mean ||W|| of a layer}),
    both averaged over the seeds."""
    runs = {
        (lam, skip): [identity_fit(depth, skip, seed, weight_decay=lam) for seed in seeds]
        for lam in decays
        for skip in (False, True)
    }
    error = {key: float(np.mean([curve[-1] for curve, _ in fits])) for key, fits in runs.items()}
    weight = {key: float(np.mean([norms.mean() for _, norms in fits])) for key, fits in runs.items()}
    return error, weight


def relative_changes(net: toy.Net, X: np.ndarray) -> np.ndarray:
    """(depth,) how far each block of a net is from the identity on the data X:
    ||h_out - h_in|| / ||h_in|| (norms over the whole batch). For a residual block this is
    ||F(h)|| / ||h||; He et al. 2015 (Fig. 7) saw the same thing as small "layer responses"."""
    h = net.embed.forward(X)
    changes = []
    for block in net.blocks:
        out = block.forward(h)
        changes.append(float(np.linalg.norm(out - h) / np.linalg.norm(h)))
        h = out
    return np.array(changes)


# ---------------------------------------------------------------------------------------
# Chapter 3: gradient norms at initialisation
# ---------------------------------------------------------------------------------------


def init_gradient_profile(depth: int, residual: bool, seed: int = 0, order: str = "pre") -> np.ndarray:
    """(depth,) L2 norm of each block's weight gradient, input side first, for a freshly
    initialised net on the spiral set (one full-batch backward pass)."""
    X, y = spirals()
    net = toy.Net(depth, WIDTH, residual=residual, order=order, seed=seed)
    _, g = toy.bce_with_logits(net.forward(X), y)
    net.backward(g)
    return net.weight_grad_norms()


@cached
def gradient_profiles(depths: tuple[int, ...], seeds: tuple[int, ...]) -> dict[tuple[int, bool], np.ndarray]:
    """{(depth, residual): (len(seeds), depth) per-layer gradient norms at initialisation}; cached."""
    return {
        (depth, residual): np.stack([init_gradient_profile(depth, residual, s) for s in seeds])
        for residual in (False, True)
        for depth in depths
    }


@dataclass(frozen=True)
class MonitoredRun:
    """A PyTorch toy net trained with a ``probes.GradientNormMonitor`` on its first and last layer."""

    losses: np.ndarray  # (steps,) training loss
    early: np.ndarray  # (steps,) gradient norm of the first linear layer's weight
    late: np.ndarray  # (steps,) the same for the last one


@cached
def monitored_torch_run(depth: int, residual: bool, steps: int, seed: int = 0, lr: float = LR) -> MonitoredRun:
    """Train the PyTorch copy of a toy net on the spirals, recording early and late gradient
    norms after every backward: the same monitor a CIFAR-10 training run uses. Cached."""
    X, y = spirals()
    model = toy.to_torch(toy.Net(depth, WIDTH, residual=residual, seed=seed))
    monitor = GradientNormMonitor(model)  # the first and the last linear layer, unless told otherwise
    losses = toy.fit_torch(model, X, y, steps, lr, callback=lambda step, loss: monitor.record())
    return MonitoredRun(losses, np.array(monitor.history["early"]), np.array(monitor.history["late"]))


def shipped_gradient_ratios(models: tuple[str, ...] = ("plain56", "resnet56")) -> dict[str, np.ndarray]:
    """{model: (epochs,) first-layer / last-layer gradient norm} of the nets Part 3 trained.

    Read from the shipped runs of the ``cpu`` recipe (``shipped.cpu_recipe_runs``, no
    training): every epoch a run records the mean gradient norm of its first convolution and of
    its classifier (``GradientNormMonitor``), so entry e is their ratio in epoch e + 1.
    """
    from .. import shipped  # only here: the toy experiments need none of the training code

    runs = shipped.cpu_recipe_runs()
    missing = [model for model in models if model not in runs]
    if missing:
        raise ConfigError(
            f"no shipped run of the cpu recipe for {', '.join(missing)}; shipped: {', '.join(runs) or 'none'}. "
            "Train one with tools/train_cpu_runs.sh and ship it with python -m resnets ship."
        )
    return {
        model: np.array([epoch["grad_norm_early"] / epoch["grad_norm_late"] for epoch in runs[model]["metrics"]])
        for model in models
    }


def orders_of_magnitude(profile: np.ndarray) -> float:
    """log10(largest / smallest) of a gradient-norm profile: how far its layers are apart."""
    return float(np.log10(profile.max() / profile.min()))


# ---------------------------------------------------------------------------------------
# Chapter 4: the ensemble view
# ---------------------------------------------------------------------------------------


def path_counts(n_blocks: int) -> np.ndarray:
    """(n+1,) number of paths through n residual blocks that pass k branches: C(n, k).

    Each block offers two routes (skip or branch), so there are 2^n paths in all and a
    random one has Binomial(n, 1/2) branches: its length.
    """
    return np.array([math.comb(n_blocks, k) for k in range(n_blocks + 1)], dtype=float)


def path_gradient_by_length(net: toy.Net, X: np.ndarray, y: np.ndarray, samples: int = 20, seed: int = 0) -> np.ndarray:
    """(n+1,) mean gradient norm at the first block's input carried by ONE path of length k.

    Veit et al. 2016's measurement: for each k, pick k of the n blocks at random; the
    backward pass goes through the branch of those blocks and through the skip of all
    others; average the norm of the resulting gradient over ``samples`` such paths.
    Multiply by ``path_counts(n)`` for the total gradient that paths of each length carry.
    """
    _, g = toy.bce_with_logits(net.forward(X), y)
    rng = np.random.default_rng(seed)
    n = net.depth
    norms = np.zeros(n + 1)
    for k in range(n + 1):
        for _ in range(samples):
            through_branch = set(rng.choice(n, size=k, replace=False).tolist())
            routes = ["branch" if i in through_branch else "skip" for i in range(n)]
            norms[k] += np.linalg.norm(net.backward(g, routes)) / samples
    return norms


def toy_lesion_errors(net: toy.Net, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(depth,) error rate on (X, y) with block i deleted, for each i.

    Deleting a block leaves its input unchanged: for a residual block that removes F(x)
    (x passes on by the skip); for a plain layer it removes the layer outright.
    """
    return np.array([net.error_rate(X, y, skip_blocks=[i]) for i in range(net.depth)])


def random_lesion_errors(
    net: toy.Net,
    X: np.ndarray,
    y: np.ndarray,
    counts: tuple[int, ...],
    samples: int = 10,
    seed: int = 0,
    among: tuple[int, ...] | None = None,
) -> np.ndarray:
    """(len(counts),) mean error rate with ``k`` blocks deleted at random, for each k in
    ``counts``; the blocks are drawn from ``among`` (block indices; default: all)."""
    candidates = np.arange(net.depth) if among is None else np.asarray(among)
    if max(counts) > len(candidates):
        raise ConfigError(f"cannot delete {max(counts)} blocks out of {len(candidates)} candidates")
    rng = np.random.default_rng(seed)
    return np.array(
        [
            np.mean([net.error_rate(X, y, rng.choice(candidates, size=k, replace=False)) for _ in range(samples)])
            for k in counts
        ]
    )


# ---------------------------------------------------------------------------------------
# Chapter 5: pre-activation vs post-activation
# ---------------------------------------------------------------------------------------


def signal_norms(net: toy.Net, X: np.ndarray) -> np.ndarray:
    """(depth + 1,) root-mean-square of the signal entering the first block and leaving each block."""
    h = net.embed.forward(X)
    rms = [np.sqrt(np.mean(h * h))]
    for block in net.blocks:
        h = block.forward(h)
        rms.append(np.sqrt(np.mean(h * h)))
    return np.array(rms)


def skip_path_gradient_ratio(net: toy.Net, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(depth + 1,) how much of the gradient at the top survives the pure identity path.

    Entry j is ||gradient at the input of block depth-j, sent back through the skips only||
    divided by ||gradient at the output of the last block||: 1 all the way down for a
    pre-activation net (the skip is exactly x), shrinking at every block of a post-activation
    net, whose ReLU after the addition zeroes the gradient of every unit it switches off.
    """
    _, g = toy.bce_with_logits(net.forward(X), y)
    g = net.head_norm.backward(net.head_relu.backward(net.head.backward(g)))
    top = np.linalg.norm(g)
    ratios = [1.0]
    for block in reversed(net.blocks):
        g = block.backward(g, route="skip")
        ratios.append(np.linalg.norm(g) / top)
    return np.array(ratios)
