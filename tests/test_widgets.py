"""Explorers: the static HTML carries every frame and wires every control to its frames; the
live view redraws; both come out of one mime bundle; nothing is fetched from the web."""

from __future__ import annotations

import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from resnets import viz
from resnets.course.widgets import (
    Action,
    Control,
    Explorer,
    degradation_explorer,
    gradient_flow_explorer,
    widget_view_bundle,
)

VIEW = "application/vnd.jupyter.widget-view+json"


def make_explorer(calls: list | None = None, action: Action | None = None) -> Explorer:
    def draw(depth: int, skip: bool):
        if calls is not None:
            calls.append((depth, skip))
        fig, ax = viz.figure(figsize=(2, 1))
        ax.plot([0, 1], [0, 10 * depth + skip])
        return fig

    return Explorer(
        controls=[Control("depth", (1, 2, 3), "depth"), Control("skip", (False, True), "skip connections")],
        frame=draw,
        action=action,
        caption="a test",
    )


def payload(html: str) -> dict:
    return json.loads(re.search(r"var data = (\{.*?\});\n", html, re.S).group(1).replace("<\\/", "</"))


def test_controls_validate_their_values() -> None:
    assert Control("skip", (False, True)).kind == "toggle"
    assert Control("depth", (4, 8)).kind == "slider" and Control("depth", (4, 8)).default == 4
    with pytest.raises(ValueError, match="exactly two values"):
        Control("x", (1, 2, 3), kind="toggle")
    with pytest.raises(ValueError, match="not one of its values"):
        Control("x", (1, 2), default=5)
    with pytest.raises(ValueError, match="kind must be one of"):
        Control("x", (1, 2), kind="knob")
    with pytest.raises(TypeError, match="must return a matplotlib Figure; it returned int"):
        Explorer([Control("x", (1, 2))], frame=lambda x: x).to_html()


def test_every_combination_is_drawn_once_and_keyed_by_control_indices() -> None:
    calls: list = []
    explorer = make_explorer(calls)
    html = explorer.to_html()
    assert sorted(calls) == [(d, s) for d in (1, 2, 3) for s in (False, True)]
    frames = payload(html)["frames"]
    assert set(frames) == {f"{i},{j}" for i in range(3) for j in range(2)}
    assert len({uri for uri, _ in frames.values()}) == 6  # six different pictures
    assert all(uri.startswith("data:image/png;base64,") for uri, _ in frames.values())
    explorer.to_html()
    assert len(calls) == 6  # drawn once, kept


def test_the_html_has_its_controls_and_nothing_external() -> None:
    html = make_explorer(action=Action("Train", lambda choice, show: None)).to_html()
    assert html.count('type="range"') == 1 and html.count('type="checkbox"') == 1
    assert "data-action" in html and ">Train</button>" in html
    assert payload(html)["labels"] == [["1", "2", "3"], ["off", "on"]]
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert html.count("<script>") == 1


def test_the_mime_bundle_offers_the_live_and_the_static_view() -> None:
    bundle = make_explorer()._repr_mimebundle_()
    assert {"text/plain", "text/html", VIEW} <= set(bundle)
    assert "model_id" in bundle[VIEW]


def test_an_ipywidgets_7_widget_gets_the_same_view_bundle() -> None:
    """Colab keeps ipywidgets 7.x, whose widgets have no _repr_mimebundle_ (issue 12)."""

    class Widget7:  # what a 7.x widget offers: a model id, display via _ipython_display_
        model_id = "abc123"

        def _ipython_display_(self) -> None: ...

    widget = make_explorer().widget()
    expected = {VIEW: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}}
    assert {VIEW: widget_view_bundle(widget)[VIEW]} == expected
    assert widget_view_bundle(Widget7()) == {VIEW: {**expected[VIEW], "model_id": "abc123"}}


def test_the_live_view_redraws_when_a_control_moves_and_runs_the_action() -> None:
    ran = []

    def train(choice, show):
        ran.append(choice)
        fig, _ = viz.figure(figsize=(2, 1))
        show(fig)

    view = make_explorer(action=Action("Train", train)).widget()
    row, image = view.children[0], view.children[1]
    slider, toggle, button = row.children
    before = image.value
    slider.value = 3
    assert image.value != before
    toggle.value = True
    button.click()
    assert ran == [{"depth": 3, "skip": True}]


def test_part1_explorers_build_from_experiment_results() -> None:
    rng = np.random.default_rng(0)
    curves = {(d, r): rng.uniform(0.01, 0.7, (2, 30)) for d in (4, 8) for r in (False, True)}
    explorer = degradation_explorer(curves)
    assert explorer.keys() == [(0, 0), (0, 1), (1, 0), (1, 1)] and explorer.action.label == "Train"
    assert "Plain net, 8 hidden layers" in explorer.frame(depth=8, skip=False).axes[0].get_title()
    profiles = {(d, r): rng.uniform(1e-3, 1.0, (3, d)) for d in (4, 8, 16) for r in (False, True)}
    explorer = gradient_flow_explorer(profiles)
    assert len(explorer.keys()) == 6 and explorer.live is not None
    fig = explorer.frame(depth=16, skip=True)
    assert len(fig.axes[0].patches) == 16
    plt.close("all")


def test_a_select_control_becomes_a_drop_down_in_both_views() -> None:
    def draw(image: str):
        fig, ax = viz.figure(figsize=(2, 1))
        ax.set_title(image)
        return fig

    explorer = Explorer([Control("image", ("cat", "ship"), "image", kind="select", default="ship")], frame=draw)
    html = explorer.to_html()
    assert '<select data-control="0">' in html and '<option value="1" selected>ship</option>' in html
    assert set(payload(html)["frames"]) == {"0", "1"}
    dropdown = explorer.widget().children[0].children[0]
    assert [label for label, _ in dropdown.options] == ["cat", "ship"] and dropdown.value == "ship"
    plt.close("all")
