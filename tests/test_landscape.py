"""Loss-landscape slices (Li et al. 2018) on tiny nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnets import build_model
from resnets.data import normalize
from resnets.landscape import displaced, filter_normalized, loss_surface, random_directions


def test_filter_normalisation_gives_each_filter_the_norm_of_the_weights_filter() -> None:
    weight, direction = torch.randn(4, 3, 3, 3) * torch.arange(1.0, 5.0).view(4, 1, 1, 1), torch.randn(4, 3, 3, 3)
    scaled = filter_normalized(direction, weight)
    assert torch.allclose(scaled.flatten(1).norm(dim=1), weight.flatten(1).norm(dim=1))
    assert torch.allclose(
        scaled / scaled.flatten(1).norm(dim=1).view(4, 1, 1, 1),
        direction / direction.flatten(1).norm(dim=1).view(4, 1, 1, 1),
    )
    assert not filter_normalized(torch.randn(5), torch.randn(5)).any()  # BN and biases stay put
    with pytest.raises(ValueError, match="differ in shape"):
        filter_normalized(torch.randn(3, 2), torch.randn(2, 3))


def test_random_directions_cover_every_parameter_and_repeat_with_the_seed() -> None:
    model = build_model("resnet8")
    first, second = random_directions(model, count=2, seed=3)
    again = random_directions(model, count=2, seed=3)[1]
    assert set(first) == {n for n, _ in model.named_parameters()}
    assert all(torch.equal(second[n], again[n]) for n in second)
    assert not torch.equal(first["conv1.weight"], second["conv1.weight"])
    assert not first["bn1.weight"].any() and not first["fc.bias"].any()


def test_displaced_moves_along_the_directions_and_restores_the_weights() -> None:
    model = build_model("resnet8")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    (d,) = random_directions(model, seed=0)
    with displaced(model, [d]) as move:
        move([0.5])
        assert torch.allclose(model.conv1.weight, before["conv1.weight"] + 0.5 * d["conv1.weight"])
        move([0.0])
        assert torch.equal(model.conv1.weight, before["conv1.weight"])
        with pytest.raises(ValueError, match="2 coefficients for 1 directions"):
            move([1.0, 2.0])
        move([3.0])
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_loss_surface_is_the_nets_loss_at_the_centre_in_1d_and_2d() -> None:
    torch.manual_seed(0)
    model = build_model("resnet8").train()
    images = torch.randint(0, 256, (12, 8, 8, 3), dtype=torch.uint8)
    labels = torch.randint(0, 10, (12,))
    model.eval()
    with torch.no_grad():
        centre = F.cross_entropy(model(normalize(images)), labels).item()
    model.train()
    directions = random_directions(model, count=2, seed=0)
    line = loss_surface(model, normalize(images), labels, directions[:1], [-1.0, 0.0, 1.0], batch_size=5)
    grid = loss_surface(model, normalize(images), labels, directions, [-1.0, 0.0, 1.0], batch_size=5)
    assert line["loss"].shape == (3,) and grid["loss"].shape == grid["error"].shape == (3, 3)
    assert line["loss"][1] == pytest.approx(centre, rel=1e-5) and grid["loss"][1, 1] == pytest.approx(centre, rel=1e-5)
    assert np.allclose(grid["loss"][:, 1], line["loss"], rtol=1e-5)  # beta = 0 is the 1-D slice
    assert not np.allclose(line["loss"][0], centre)
    assert model.training  # the mode comes back
    with pytest.raises(ValueError, match="1 or 2 directions"):
        loss_surface(model, normalize(images), labels, [], [0.0])
