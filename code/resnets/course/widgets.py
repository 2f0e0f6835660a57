"""Explorers: interactive figures that work wherever the course is read.

An ``Explorer`` is a figure with controls (sliders, toggles, drop-downs, an action button).

* In Jupyter or Colab it is a live ipywidgets view: moving a control calls Python, which can
  compute something new (train a net, initialise another one).
* On the static site there is no Python. So the same object also carries a self-contained
  HTML version: every combination of control values is drawn once, when the book is built,
  into a PNG frame, and a few lines of inline JavaScript swap frames as the reader moves the
  controls. Nothing is fetched from anywhere: the frames are data URIs in the page.

Both come out of ``_repr_mimebundle_``: Jupyter and Colab prefer the widget view, the book's
build prefers text/html (``nb_mime_priority_overrides`` in _config.yml).

    explorer = Explorer(
        controls=[Control("depth", (4, 8, 16)), Control("skip", (False, True), "skip connections")],
        frame=draw,       # draw(depth=..., skip=...) -> matplotlib Figure, from precomputed data
    )
    explorer              # as a cell's last expression

Keep the grid small (tens of frames): every frame is an image inside the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import viz
from ..errors import ConfigError
from ..viz import to_png
from . import toy, toy_experiments

Draw = Callable[..., Figure]
Show = Callable[[Figure], None]
CONTROL_KINDS = ("slider", "toggle", "select")


@dataclass(frozen=True)
class Control:
    """One control of an explorer: the keyword ``name`` takes one of ``values``.

    ``kind``: "toggle" (a checkbox; values must be two, off then on), "slider" (ordered
    values) or "select" (a drop-down, for unordered choices such as images). By default
    (False, True) becomes a toggle and anything else a slider.
    """

    name: str
    values: tuple
    label: str = ""
    kind: str = ""
    default: Any = None

    def __post_init__(self) -> None:
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not values:
            raise ConfigError(f"control {self.name!r} has no values")
        kind = self.kind or ("toggle" if values == (False, True) else "slider")
        if kind not in CONTROL_KINDS:
            raise ConfigError(f"control {self.name!r}: kind must be one of {', '.join(CONTROL_KINDS)}; got {kind!r}")
        if kind == "toggle" and len(values) != 2:
            raise ConfigError(f"control {self.name!r}: a toggle needs exactly two values (off, on); got {values}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "label", self.label or self.name)
        default = values[0] if self.default is None else self.default
        if default not in values:
            raise ConfigError(f"control {self.name!r}: default {default!r} is not one of its values {values}")
        object.__setattr__(self, "default", default)

    @property
    def default_index(self) -> int:
        return self.values.index(self.default)


@dataclass(frozen=True)
class Action:
    """A button. Live, it calls ``run(choice, show)``: ``choice`` maps control names to their
    current values and ``show(fig)`` puts a new figure on screen (call it as often as you like,
    e.g. every few training steps). On the static site the button replays the current frame:
    it sweeps the plot in from left to right over ``replay_seconds``, as a curve is drawn
    during training."""

    label: str
    run: Callable[[dict[str, Any], Show], None]
    replay_seconds: float = 1.5


@dataclass
class Explorer:
    """A figure with controls; see the module docstring.

    ``frame(**choice)`` draws one combination of control values from precomputed data
    (both views use it). ``live(**choice)``, if given, is what the live view draws instead,
    free to compute afresh. ``caption`` is shown under the figure and used as its alt text.
    """

    controls: Sequence[Control]
    frame: Draw
    live: Draw | None = None
    action: Action | None = None
    caption: str = ""
    _frames: dict[tuple[int, ...], tuple[str, list[float]]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.controls = tuple(self.controls)
        names = [c.name for c in self.controls]
        if len(set(names)) != len(names):
            raise ConfigError(f"two controls share a name: {names}")

    # ----- the grid ----------------------------------------------------------------------

    def keys(self) -> list[tuple[int, ...]]:
        """Every combination of control values, as a tuple of indices into each control's values."""
        return list(itertools.product(*(range(len(c.values)) for c in self.controls)))

    def choice(self, key: Sequence[int]) -> dict[str, Any]:
        """The keyword arguments of ``frame`` for one key."""
        return {c.name: c.values[i] for c, i in zip(self.controls, key)}

    def frames(self) -> dict[tuple[int, ...], tuple[str, list[float]]]:
        """{key: (PNG data URI, plot box)} for every key, drawn once and kept.

        The plot box is where the first axes sit in the image, as fractions of its width
        and height from the top left (left, top, right, bottom): the replay sweeps it.
        """
        if self._frames is None:
            self._frames = {key: _render(self.frame(**self.choice(key))) for key in self.keys()}
        return self._frames

    # ----- the static view ---------------------------------------------------------------

    def to_html(self) -> str:
        """A self-contained HTML fragment: controls, the frames, and inline JavaScript."""
        frames = self.frames()
        default = tuple(c.default_index for c in self.controls)
        payload = {
            "frames": {",".join(map(str, key)): value for key, value in frames.items()},
            "labels": [[_label(v) for v in c.values] for c in self.controls],
            "replay": self.action.replay_seconds if self.action else 0,
        }
        digest = hashlib.sha1(json.dumps(payload["labels"]).encode() + frames[default][0][-64:].encode())
        uid = f"resnets-explorer-{digest.hexdigest()[:10]}-{next(_ids)}"
        controls = "".join(_control_html(c, i) for i, c in enumerate(self.controls))
        if self.action:
            controls += (
                f'<button type="button" data-action style="{_BUTTON_STYLE}">{html.escape(self.action.label)}</button>'
            )
        caption = html.escape(self.caption)
        note = (
            f"Precomputed when the book was built ({len(frames)} frames); "
            "open the notebook in Jupyter or Colab to compute live."
        )
        script = _SCRIPT.replace("__UID__", uid).replace("__PAYLOAD__", json.dumps(payload).replace("</", "<\\/"))
        return (
            f'<div class="resnets-explorer" id="{uid}" style="margin:0.5em 0 1em 0">'
            f'<div class="resnets-explorer-controls" style="{_CONTROLS_STYLE}">{controls}</div>'
            f'<div style="position:relative;display:inline-block;max-width:100%">'
            f'<img src="{frames[default][0]}" alt="{caption}" data-frame="{",".join(map(str, default))}" '
            f'style="display:block;max-width:100%;height:auto">'
            f'<div data-cover style="position:absolute;background:#fff;display:none"></div></div>'
            + (f'<div style="font-size:0.9em;margin-top:0.3em">{caption}</div>' if caption else "")
            + f'<div style="font-size:0.8em;color:#777">{note}</div>'
            f"<script>{script}</script></div>"
        )

    # ----- the live view -----------------------------------------------------------------

    def widget(self):  # -> ipywidgets.VBox; imported lazily: the package works without it
        """The live ipywidgets view: controls, an image, and the action's button."""
        import ipywidgets as widgets

        inputs = {c.name: _control_widget(widgets, c) for c in self.controls}
        default = tuple(c.default_index for c in self.controls)
        image = widgets.Image(value=_png_bytes(self.frames()[default][0]), format="png")
        image.layout.max_width = "100%"

        def current() -> dict[str, Any]:
            return {name: w.value for name, w in inputs.items()}

        def show(fig: Figure) -> None:
            image.value = to_png(fig)
            plt.close(fig)

        def redraw(_change: Any = None) -> None:
            show((self.live or self.frame)(**current()))

        for w in inputs.values():
            w.observe(redraw, names="value")
        row = list(inputs.values())
        if self.action:
            button = widgets.Button(description=self.action.label, button_style="primary")
            button.on_click(lambda _: self.action.run(current(), show))
            row.append(button)
        children = [widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")), image]
        if self.caption:
            children.append(widgets.HTML(f"<small>{html.escape(self.caption)}</small>"))
        return widgets.VBox(children)

    # ----- display -----------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": f"Explorer({', '.join(c.name for c in self.controls)})"}
        bundle["text/html"] = self.to_html()
        view = widget_view_bundle(self.widget())
        bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        return bundle


# The widget view's mime type and the message protocol version that ipywidgets 7 and 8 both
# speak (Colab keeps ipywidgets 7.x).
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def widget_view_bundle(widget: Any) -> dict[str, Any]:
    """The mime bundle that shows a live ipywidget, under ipywidgets 8 and 7 alike.

    ipywidgets 8 widgets have ``_repr_mimebundle_``; 7.x widgets (Colab's) only display
    themselves through ``_ipython_display_``, whose bundle is this one.
    """
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_() or {}
    return {WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}}


_ids = itertools.count()


def _render(fig: Figure) -> tuple[str, list[float]]:
    """(data URI, plot box) of a figure, which is then closed."""
    if not isinstance(fig, Figure):
        raise TypeError(
            f"an explorer's frame function must return a matplotlib Figure; it returned {type(fig).__name__}"
        )
    png = to_png(fig)
    box = fig.axes[0].get_position() if fig.axes else None  # figure fractions, origin bottom left
    plt.close(fig)
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    plot_box = [box.x0, 1 - box.y1, box.x1, 1 - box.y0] if box is not None else [0.0, 0.0, 1.0, 1.0]
    return uri, [round(v, 4) for v in plot_box]


def _png_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def _label(value: Any) -> str:
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def _control_html(control: Control, index: int) -> str:
    label = html.escape(control.label)
    if control.kind == "toggle":
        checked = " checked" if control.default_index == 1 else ""
        return f'<label style="cursor:pointer"><input type="checkbox" data-control="{index}"{checked}> {label}</label>'
    if control.kind == "select":
        options = "".join(
            f'<option value="{i}"{" selected" if i == control.default_index else ""}>{html.escape(_label(v))}</option>'
            for i, v in enumerate(control.values)
        )
        return f'<label>{label} <select data-control="{index}">{options}</select></label>'
    return (
        f'<label>{label} <input type="range" min="0" max="{len(control.values) - 1}" step="1" '
        f'value="{control.default_index}" data-control="{index}" aria-label="{label}" style="vertical-align:middle">'
        f' <output style="display:inline-block;min-width:2.5em;font-weight:600">'
        f"{html.escape(_label(control.default))}</output></label>"
    )


def _control_widget(widgets: Any, control: Control) -> Any:
    style = {"description_width": "initial"}
    if control.kind == "toggle":
        return widgets.Checkbox(value=bool(control.default_index), description=control.label, style=style)
    options = [(_label(v), v) for v in control.values]
    if control.kind == "select":
        return widgets.Dropdown(options=options, value=control.default, description=control.label, style=style)
    return widgets.SelectionSlider(
        options=options, value=control.default, description=control.label, continuous_update=False, style=style
    )


_CONTROLS_STYLE = "display:flex;flex-wrap:wrap;gap:1.5em;align-items:center;margin-bottom:0.4em;font-size:0.95em"
_BUTTON_STYLE = (
    "padding:0.2em 1em;border:1px solid #0072B2;border-radius:4px;background:#0072B2;color:#fff;cursor:pointer"
)

# Swaps frames as the controls move. Checkboxes map to index 0/1, sliders and drop-downs
# carry the index as their value. The replay uncovers the plot box from left to right.
_SCRIPT = """(function () {
  var root = document.getElementById("__UID__");
  var data = __PAYLOAD__;
  var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));
  var img = root.querySelector("img");
  var cover = root.querySelector("[data-cover]");
  function key() {
    return inputs.map(function (el) {
      return el.type === "checkbox" ? (el.checked ? 1 : 0) : Number(el.value);
    }).join(",");
  }
  function update() {
    var k = key();
    cover.style.display = "none";
    img.src = data.frames[k][0];
    img.setAttribute("data-frame", k);
    inputs.forEach(function (el) {
      var out = el.parentNode.querySelector("output");
      if (out) { out.textContent = data.labels[Number(el.getAttribute("data-control"))][Number(el.value)]; }
    });
  }
  inputs.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
  var button = root.querySelector("[data-action]");
  if (button) {
    button.addEventListener("click", function () {
      var box = data.frames[key()][1];
      var left = box[0] * 100, right = box[2] * 100;
      cover.style.transition = "none";
      cover.style.display = "block";
      cover.style.top = (box[1] * 100) + "%";
      cover.style.height = ((box[3] - box[1]) * 100 - 0.5) + "%";
      cover.style.left = (left + 0.2) + "%";
      cover.style.width = (right - left - 0.4) + "%";
      void cover.offsetWidth;  /* apply the starting state before animating */
      cover.style.transition = "left " + data.replay + "s linear, width " + data.replay + "s linear";
      cover.style.left = (right - 0.2) + "%";
      cover.style.width = "0%";
    });
  }
})();"""


# ---------------------------------------------------------------------------------------
# The explorers of Part 1
# ---------------------------------------------------------------------------------------


def degradation_explorer(curves: dict[tuple[int, bool], Any], lr: float | None = None) -> Explorer:
    """Depth slider, skip-connection toggle and a Train button over training-loss curves.

    ``curves`` is ``toy_experiments.degradation_curves(...)``: {(depth, residual): (seeds, steps)}.
    Live, Train trains one more net of the chosen kind with a new seed and draws its loss as
    it goes; on the site it replays the precomputed curves.
    """
    depths = sorted({d for d, _ in curves})
    lr = toy_experiments.LR if lr is None else lr
    every = np.concatenate(list(curves.values()), axis=0)
    ylim = (max(float(np.nanmin(every)) * 0.5, 1e-5), 1.5)
    new_seeds = itertools.count(1000)

    def draw(depth: int, skip: bool, live_curve: Any = None) -> Figure:
        kind = viz.kind_of(skip)
        fig, ax = viz.figure()
        with viz.style():
            others = [d for d in depths if d != depth]
            for other in others:  # context: the mean curve of every other depth, labelled at its end
                mean = curves[(other, skip)].mean(axis=0)
                label = "other depths (mean)" if other == others[0] else None
                viz.plot_curves(ax, mean, kind, alpha=0.25, linewidth=1.2, label=label)
                ax.annotate(
                    str(other),
                    (len(mean), mean[-1]),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=viz.COLORS[kind],
                    alpha=0.6,
                )
            runs = curves[(depth, skip)]
            viz.plot_curves(ax, runs, kind, label=f"{depth} layers ({len(runs)} seeds)")
            if live_curve is not None:
                viz.plot_curves(ax, live_curve, "live", label="training now")
            viz.mark_chance(ax)
            viz.log_axis(ax)
            ax.set(
                ylim=ylim,
                xlim=(1, runs.shape[1]),
                xlabel="training step (full batch)",
                ylabel="training loss (nats, log scale)",
            )
            ax.set_title(f"{viz.LABELS[kind].capitalize()} net, {depth} hidden layers: training loss on two spirals")
            ax.legend(loc="lower left")
        return fig

    def train_now(choice: dict[str, Any], show: Show) -> None:
        depth, skip = choice["depth"], choice["skip"]
        X, y = toy_experiments.spirals()
        steps = curves[(depth, skip)].shape[1]
        net = toy.Net(depth, toy_experiments.WIDTH, residual=skip, seed=next(new_seeds))
        losses: list[float] = []

        def progress(step: int, loss: float) -> None:
            losses.append(loss)
            if step % 15 == 14 or step == steps - 1:
                show(draw(depth, skip, np.array(losses)))

        toy.fit(net, X, y, toy.bce_with_logits, steps, lr, callback=progress)

    return Explorer(
        controls=[
            Control("depth", tuple(depths), "depth", default=depths[len(depths) // 2]),
            Control("skip", (False, True), "skip connections"),
        ],
        frame=lambda depth, skip: draw(depth, skip),
        action=Action("Train", train_now),
        caption="Training loss of toy nets on the two spirals. Move the depth slider with the skip "
        "connections off, then on: deeper plain nets end higher; residual nets end low at every depth.",
    )


def gradient_flow_explorer(profiles: dict[tuple[int, bool], Any], live_seeds: int = 3) -> Explorer:
    """Depth slider and plain/residual toggle over per-layer gradient norms at initialisation.

    ``profiles`` is ``toy_experiments.gradient_profiles(...)``: {(depth, residual): (seeds, depth)}.
    Live, each move initialises ``live_seeds`` new nets and measures them afresh.
    """
    depths = sorted({d for d, _ in profiles})
    every = np.concatenate([p.ravel() for p in profiles.values()])
    ylim = (float(every.min()) / 5, float(every.max()) * 5)
    new_seeds = itertools.count(1000)

    def draw(depth: int, skip: bool, norms: Any = None) -> Figure:
        kind = viz.kind_of(skip)
        norms = profiles[(depth, skip)] if norms is None else norms
        fig, ax = viz.figure()
        with viz.style():
            viz.plot_layer_profile(ax, norms, kind, ylabel="‖∂loss/∂W‖ at initialisation (log scale)")
            spread = np.mean([toy_experiments.orders_of_magnitude(p) for p in norms])
            ax.set(ylim=ylim, xlim=(0.4, depth + 0.6))
            ax.set_title(f"{viz.LABELS[kind].capitalize()} net, {depth} layers: gradient norm of each layer")
            ax.text(
                0.98,
                0.95,
                f"largest / smallest ≈ $10^{{{spread:.1f}}}$",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=10,
                bbox=dict(boxstyle="round", fc="white", ec=viz.COLORS[kind]),
            )
        return fig

    def fresh(depth: int, skip: bool) -> Figure:
        seeds = [next(new_seeds) for _ in range(live_seeds)]
        return draw(depth, skip, np.stack([toy_experiments.init_gradient_profile(depth, skip, s) for s in seeds]))

    return Explorer(
        controls=[
            Control("depth", tuple(depths), "depth", default=depths[len(depths) // 2]),
            Control("skip", (False, True), "skip connections"),
        ],
        frame=lambda depth, skip: draw(depth, skip),
        live=fresh,
        caption="Gradient norm of every layer's weights in a freshly initialised toy net (bars: geometric "
        "mean over initialisations; whiskers: their range). Plain nets spread over more and more orders "
        "of magnitude as they deepen; residual nets stay within one or two.",
    )
