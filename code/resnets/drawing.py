"""The drawing sheet every diagram of the course is laid out on: boxes sized to their text.

    sheet = Sheet()
    box = sheet.box(1.0, 0.0, [line(bold("conv1")), line("3×3 conv, 16→32, /2")], edge="#0072B2")
    sheet.arrow([(1.0, box.bottom), (1.0, box.bottom + 0.3)], "#0072B2")
    diagram = sheet.render("conv1, then an arrow")      # a Diagram: SVG, PNG and alt text

Coordinates are inches with y growing *downwards* (a diagram is read top to bottom), and a box is
sized from its text as the renderer measures it, so a label cannot leave its box. The rendered
figure is exactly as large as what was drawn, one unit to the inch, so its text keeps the size it
was set in: at least ``FONT_PT`` points.

How large that is on the site: Jupyter Book shows a diagram as an SVG image at its natural size,
1 inch = 96 CSS pixels, as long as it fits the column (``max-width: 100%`` shrinks it otherwise).
At a 1280 px window the text column is 688 px wide (7.17 in) and a ``full-width`` cell 136% of it
(936 px, 9.75 in); the code font is 12.5 px. ``FONT_PT = 10`` is 13.3 px at natural size, so a
diagram no wider than ``PAGE_WIDTH_IN`` (or ``FULL_WIDTH_IN`` in a full-width cell) shows its
smallest text larger than the code beside it. ``text_faults`` checks a rendered figure with
matplotlib's own renderer: no two texts overlap, every label stays inside its box.

Dark mode: the site's theme puts every image on a white card and dims it slightly
(``brightness(0.8) contrast(1.2)``); Jupyter and Colab show the white card as it is. So a diagram
is drawn on white, its text in near-black (``INK``, ``MUTED``: at least 7:1 against the card, dimmed
or not), and colour marks only lines, edges and tints.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from .errors import ConfigError

FONT_PT = 10.0  # the smallest text: 13.3 px at the site's natural size, above its 12.5 px code font
TITLE_PT = 11.5
PX_PER_IN = 96  # CSS pixels per inch: an SVG of W inches (72·W pt) shows W·96 px wide
PAGE_WIDTH_IN = 7.0  # the text column at a 1280 px window: 688 px
FULL_WIDTH_IN = 9.5  # a cell tagged full-width there: 936 px
INK = "#111111"
MUTED = "#3d3d3d"  # secondary text: still 10:1 against white
GREY = "#555555"  # shortcut lines and edges
CARD = "white"
LINE_GAP = 0.3  # between two lines of text, in units of the font size
PAD_X, PAD_Y = 0.08, 0.07  # text to box edge, inches
RUN_GAP = 0.02  # between two runs of one line, inches: each run is its own text, and they must not touch
MEASURE_DPI = 288


@dataclass(frozen=True)
class Run:
    """A piece of text with one style; a line is a tuple of runs set side by side."""

    text: str
    bold: bool = False
    color: str = INK
    size: float = FONT_PT


Line = tuple[Run, ...]


def bold(text: str, color: str = INK, size: float = FONT_PT) -> Run:
    """A bold run: a layer's name, a title."""
    return Run(text, True, color, size)


def muted(text: str, size: float = FONT_PT) -> Run:
    """A run in the secondary colour: a shape, a note."""
    return Run(text, False, MUTED, size)


def line(*parts: Run | str) -> Line:
    """One line of text: ``line(bold("bn1"), "  batch norm")``; plain strings are set in ``INK``."""
    return tuple(part if isinstance(part, Run) else Run(part) for part in parts)


@dataclass(frozen=True)
class Rect:
    """A rectangle in sheet inches (y downwards)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def cx(self) -> float:
        return (self.left + self.right) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    def union(self, other: Rect) -> Rect:
        return Rect(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )


@lru_cache(maxsize=1)
def _scratch() -> tuple[Figure, object]:
    figure = Figure(figsize=(4, 4), dpi=MEASURE_DPI)  # fine enough that rounding to pixels does not matter
    canvas = FigureCanvasAgg(figure)
    return figure, canvas.get_renderer()


@lru_cache(maxsize=4096)
def measure(run: Run) -> tuple[float, float]:
    """Width and height of ``run`` in inches, as matplotlib's renderer sets it."""
    figure, renderer = _scratch()
    text = figure.text(0, 0, run.text, fontsize=run.size, fontweight="bold" if run.bold else "normal")
    extent = text.get_window_extent(renderer)
    text.remove()
    return extent.width / MEASURE_DPI, extent.height / MEASURE_DPI


def line_size(text: Line) -> tuple[float, float]:
    """Width and height of one line of runs."""
    sizes = [measure(run) for run in text]
    return sum(w for w, _ in sizes) + RUN_GAP * (len(sizes) - 1), max(h for _, h in sizes)


def block_size(lines: Sequence[Line]) -> tuple[float, float]:
    """Width and height of lines set one under the other, centred."""
    sizes = [line_size(text) for text in lines]
    gaps = sum(LINE_GAP * max(run.size for run in text) / 72 for text in lines[1:])
    return max(w for w, _ in sizes), sum(h for _, h in sizes) + gaps


def box_size(lines: Sequence[Line], pad_x: float = PAD_X, pad_y: float = PAD_Y) -> tuple[float, float]:
    """The smallest box around ``lines``."""
    width, height = block_size(lines)
    return width + 2 * pad_x, height + 2 * pad_y


@dataclass
class _Item:
    kind: str
    args: dict


@dataclass
class Sheet:
    """Boxes, texts, lines and arrows in inches, rendered at the end into a figure that fits them."""

    items: list[_Item] = field(default_factory=list)
    extent: Rect | None = None
    _boxes: list[tuple[int, list[int]]] = field(default_factory=list)  # (patch item, its text items)

    def _grow(self, rect: Rect) -> None:
        self.extent = rect if self.extent is None else self.extent.union(rect)

    def _add(self, kind: str, extent: Rect | None = None, **args) -> int:
        self.items.append(_Item(kind, args))
        if extent is not None:
            self._grow(extent)
        return len(self.items) - 1

    def lines(self, cx: float, cy: float, lines: Sequence[Line], ha: str = "center") -> tuple[Rect, list[int]]:
        """Lines of text centred on (cx, cy), or starting at cx (``ha="left"``), ending at it
        (``ha="right"``). Returns their rectangle and the ids of their texts."""
        width, height = block_size(lines)
        left = {"center": cx - width / 2, "left": cx, "right": cx - width}[ha]
        y = cy - height / 2
        ids = []
        for text in lines:
            w, h = line_size(text)
            x = {"center": left + (width - w) / 2, "left": left, "right": left + width - w}[ha]
            for run in text:
                rw, _ = measure(run)
                ids.append(self._add("text", x=x, y=y + h / 2, run=run))
                x += rw + RUN_GAP
            y += h + LINE_GAP * max(run.size for run in text) / 72
        rect = Rect(left, cy - height / 2, left + width, cy + height / 2)
        self._grow(rect)
        return rect, ids

    def box(
        self,
        cx: float,
        top: float,
        lines: Sequence[Line],
        edge: str,
        *,
        width: float | None = None,
        height: float | None = None,
        face: str = CARD,
        linewidth: float = 1.6,
    ) -> Rect:
        """A rounded box whose top edge is at ``top``, centred on ``cx``, around ``lines``: as
        small as they allow, or ``width``/``height`` if larger."""
        need_w, need_h = box_size(lines)
        w, h = max(need_w, width or 0.0), max(need_h, height or 0.0)
        rect = Rect(cx - w / 2, top, cx + w / 2, top + h)
        patch = self._add("box", rect, rect=rect, edge=edge, face=face, linewidth=linewidth)
        _, ids = self.lines(cx, rect.cy, lines)
        self._boxes.append((patch, ids))
        return rect

    def region(self, rect: Rect, color: str, alpha: float = 0.09) -> None:
        """A tinted background (drawn below everything else): what a bracket would group."""
        self._add("region", rect, rect=rect, color=color, alpha=alpha)

    def text(self, x: float, y: float, text: Line, ha: str = "center", rotation: float = 0) -> Rect:
        """A free label centred vertically on y; ``rotation=90`` reads bottom to top."""
        if rotation:
            w, h = line_size(text)
            rect = Rect(x, y - w / 2, x + h, y + w / 2)  # set to the right of x
            self._add("rotated", rect, x=x + h / 2, y=y, text=text)
            return rect
        rect, _ = self.lines(x, y, [text], ha=ha)
        return rect

    def polyline(self, points: Sequence[tuple[float, float]], color: str, width: float = 1.4) -> None:
        xs, ys = zip(*points)
        self._add("line", Rect(min(xs), min(ys), max(xs), max(ys)), points=list(points), color=color, width=width)

    def arrow(self, points: Sequence[tuple[float, float]], color: str, width: float = 1.4) -> None:
        """A polyline ending in an arrowhead at its last point."""
        if len(points) > 2:
            self.polyline(points[:-1], color, width)
        xs, ys = zip(*points)
        rect = Rect(min(xs), min(ys), max(xs), max(ys))
        self._add("arrow", rect, start=points[-2], end=points[-1], color=color, width=width)

    def circle(self, cx: float, cy: float, r: float, edge: str, label: str = "") -> Rect:
        """A small circle (the addition's ⊕), its label drawn in the edge colour."""
        rect = Rect(cx - r, cy - r, cx + r, cy + r)
        patch = self._add("circle", rect, cx=cx, cy=cy, r=r, edge=edge)
        if label:
            self._boxes.append((patch, [self._add("symbol", x=cx, y=cy, label=label, color=edge)]))
        return rect

    def dot(self, cx: float, cy: float, color: str, r: float = 0.035) -> None:
        """Where a path forks."""
        self._add("dot", Rect(cx - r, cy - r, cx + r, cy + r), cx=cx, cy=cy, r=r, color=color)

    def render(self, alt: str, margin: float = 0.05) -> Diagram:
        """The figure, exactly as large as what was drawn plus ``margin``."""
        if self.extent is None:
            raise ConfigError("nothing was drawn on this sheet: draw at least one box or text first")
        e = self.extent
        left, top, right, bottom = e.left - margin, e.top - margin, e.right + margin, e.bottom + margin
        # A layout engine that does nothing: the sheet places everything itself. Without one (and
        # layout="none" is no engine: savefig restores it by reading rcParams) the figure lays itself
        # out as rcParams say, and under viz.use_style's constrained layout every drawing warns
        # that its axes, placed by hand, are in no gridspec.
        still = PlaceHolderLayoutEngine(adjust_compatible=False, colorbar_gridspec=False)
        figure = Figure(figsize=(right - left, bottom - top), dpi=100, layout=still)
        FigureCanvasAgg(figure)
        ax = figure.add_axes((0, 0, 1, 1))
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)  # y downwards
        ax.axis("off")
        artists = []
        for item in self.items:
            artists.append(_draw(ax, item))
        boxes = [(artists[patch], [artists[i] for i in ids]) for patch, ids in self._boxes]
        return Diagram(figure, alt, boxes)


def _draw(ax, item: _Item):
    a = item.args
    if item.kind == "box":
        r = a["rect"]
        rounding = min(0.08, r.height / 3, r.width / 3)
        return ax.add_patch(
            FancyBboxPatch(
                (r.left, r.top),
                r.width,
                r.height,
                boxstyle=f"round,pad=0,rounding_size={rounding}",
                facecolor=a["face"],
                edgecolor=a["edge"],
                linewidth=a["linewidth"],
                zorder=2,
            )
        )
    if item.kind == "region":
        r = a["rect"]
        return ax.add_patch(
            FancyBboxPatch(
                (r.left, r.top),
                r.width,
                r.height,
                boxstyle="round,pad=0,rounding_size=0.1",
                facecolor=matplotlib.colors.to_rgba(a["color"], a["alpha"]),
                edgecolor=matplotlib.colors.to_rgba(a["color"], 0.55),
                linewidth=1.0,
                linestyle=(0, (4, 2)),
                zorder=0,
            )
        )
    if item.kind == "text":
        run = a["run"]
        return ax.text(
            a["x"],
            a["y"],
            run.text,
            ha="left",
            va="center",
            fontsize=run.size,
            color=run.color,
            fontweight="bold" if run.bold else "normal",
            zorder=4,
        )
    if item.kind == "rotated":
        run = a["text"][0]
        return ax.text(
            a["x"],
            a["y"],
            "".join(r.text for r in a["text"]),
            ha="center",
            va="center",
            rotation=90,
            rotation_mode="anchor",
            fontsize=run.size,
            color=run.color,
            fontweight="bold" if run.bold else "normal",
            zorder=4,
        )
    if item.kind == "line":
        xs, ys = zip(*a["points"])
        return ax.plot(xs, ys, color=a["color"], linewidth=a["width"], solid_capstyle="butt", zorder=1)[0]
    if item.kind == "arrow":
        return ax.add_patch(
            FancyArrowPatch(
                a["start"],
                a["end"],
                arrowstyle="-|>,head_length=0.5,head_width=0.25",
                mutation_scale=14,
                color=a["color"],
                linewidth=a["width"],
                shrinkA=0,
                shrinkB=0,
                zorder=1,
            )
        )
    if item.kind == "circle":
        return ax.add_patch(
            Circle((a["cx"], a["cy"]), a["r"], facecolor=CARD, edgecolor=a["edge"], linewidth=1.6, zorder=2)
        )
    if item.kind == "symbol":
        return ax.text(
            a["x"], a["y"], a["label"], ha="center", va="center", fontsize=11, color=a["color"], fontweight="bold",
            zorder=4,
        )  # fmt: skip
    if item.kind == "dot":
        return ax.add_patch(Circle((a["cx"], a["cy"]), a["r"], color=a["color"], zorder=3))
    raise AssertionError(f"unknown item {item.kind}: Sheet draws only the kinds above")


class Diagram:
    """A figure shown as SVG (text stays crisp) with a PNG fallback and alternative text.

    ``boxes`` pairs each box's patch with the texts drawn inside it, for ``text_faults``."""

    def __init__(self, figure: Figure, alt: str, boxes: Sequence[tuple[object, Sequence[Text]]] = ()) -> None:
        self.figure, self.alt, self.boxes = figure, alt, list(boxes)

    @property
    def width_px(self) -> float:
        """The width the site shows it at, in CSS pixels, when it fits the column."""
        return self.figure.get_figwidth() * PX_PER_IN

    def text_faults(self) -> list[str]:
        """What is wrong with the text of this diagram (empty when nothing is): see ``text_faults``."""
        return text_faults(self.figure, self.boxes)

    def _repr_svg_(self) -> str:
        buffer = io.StringIO()
        # Text as outlines: the picture looks the same in every browser, whatever its fonts.
        with matplotlib.rc_context({"svg.fonttype": "path"}):
            self.figure.savefig(buffer, format="svg", facecolor=CARD)
        svg = buffer.getvalue()
        start = svg.index("<svg")
        end = svg.index(">", start) + 1
        title = f"<title>{html.escape(self.alt)}</title>"
        return svg[:end].replace("<svg", '<svg role="img"', 1) + title + svg[end:]

    def _repr_html_(self) -> str:
        """The SVG as an image with its alternative text: what the site, Jupyter and Colab show."""
        data = base64.b64encode(self._repr_svg_().encode()).decode()
        alt = html.escape(self.alt, quote=True)
        return f'<img src="data:image/svg+xml;base64,{data}" alt="{alt}" style="max-width:100%;height:auto">'

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=200, facecolor=CARD)
        return buffer.getvalue()

    def save(self, path: str, dpi: int = PX_PER_IN) -> None:
        """Write a PNG at ``dpi`` (default: the size the site shows it at)."""
        self.figure.savefig(path, dpi=dpi, facecolor=CARD)

    def __repr__(self) -> str:
        return f"Diagram({self.alt})"


def _texts(figure: Figure) -> list[Text]:
    texts = list(figure.texts)
    for ax in figure.axes:
        texts += list(ax.texts) + [ax.title, ax._left_title, ax._right_title]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def text_faults(
    figure: Figure, boxes: Iterable[tuple[object, Sequence[Text]]] = (), tolerance_px: float = 0.5
) -> list[str]:
    """Every fault of ``figure``'s text, measured with matplotlib's renderer at the figure's dpi:
    two texts that overlap, a text that leaves the figure, a text of ``boxes`` (pairs of a patch
    and the texts meant to sit inside it) that leaves its box. Empty when the text is clean."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    texts = _texts(figure)
    extents = [t.get_window_extent(renderer) for t in texts]
    faults = []
    page = figure.bbox
    for text, e in zip(texts, extents):
        if (
            e.x0 < page.x0 - tolerance_px
            or e.x1 > page.x1 + tolerance_px
            or e.y0 < page.y0 - tolerance_px
            or (e.y1 > page.y1 + tolerance_px)
        ):
            faults.append(f"{text.get_text()!r} leaves the figure")
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = extents[i], extents[j]
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            if overlap_x > tolerance_px and overlap_y > tolerance_px:
                faults.append(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    for patch, inside in boxes:
        frame = patch.get_window_extent(renderer)
        for text in inside:
            e = text.get_window_extent(renderer)
            if (
                e.x0 < frame.x0 - tolerance_px
                or e.x1 > frame.x1 + tolerance_px
                or e.y0 < frame.y0 - tolerance_px
                or e.y1 > frame.y1 + tolerance_px
            ):
                faults.append(f"{text.get_text()!r} leaves its box")
    return faults


def font_sizes(figure: Figure) -> list[float]:
    """The size in points of every text of ``figure``."""
    return [t.get_fontsize() for t in _texts(figure)]
