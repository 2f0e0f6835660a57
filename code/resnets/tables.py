"""Tables of results: one helper every chapter shows its tables with.

    table = format_table(["model", "params"], [["resnet20", "269,722"]], title="Table 1. ...")
    table            # a cell's last expression: an HTML table with its caption (Jupyter, Colab, the site)
    print(table)     # the same table as padded plain text (a terminal, a log, a test)

``format_table`` returns a ``Table``: a ``str`` holding the plain-text layout, so code and tests
that print, compare or search it work unchanged, which also shows itself as an HTML table
(``_repr_html_``: a caption, a header row, numbers right-aligned) wherever a notebook renders
HTML, and as its text in IPython's plain-text display. ``format_shape`` writes a tensor shape as
the papers do.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ConfigError


class Table(str):
    """A table as padded plain text (the ``str``) that a notebook shows as HTML.

    Made by ``format_table``; ``headers``, ``rows`` (cells as text) and ``caption`` are kept for
    the HTML form.
    """

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str
    numeric: tuple[bool, ...]

    def __new__(
        cls, text: str, headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str, numeric: Sequence[bool]
    ) -> Table:
        table = super().__new__(cls, text)
        table.headers, table.caption, table.numeric = tuple(headers), caption, tuple(numeric)
        table.rows = tuple(tuple(row) for row in rows)
        return table

    def _repr_html_(self) -> str:
        def cell(tag: str, text: str, number: bool) -> str:
            align = ' style="text-align: right"' if number else ""
            return f"<{tag}{align}>{html.escape(text)}</{tag}>"

        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(cell("th", h, num) for h, num in zip(self.headers, self.numeric))
        body = "".join(
            "<tr>" + "".join(cell("td", c, num) for c, num in zip(row, self.numeric)) + "</tr>" for row in self.rows
        )
        return f'<table class="resnets-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's plain-text display: the text itself
        printer.text(str(self))


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str = "") -> Table:
    """Columns padded to their widest cell: numbers right-aligned, text left-aligned.

        >>> print(format_table(["model", "params"], [["resnet20", "269,722"]]))
        model      params
        --------  -------
        resnet20  269,722

    A cell counts as a number when it starts with a digit, a sign or a decimal point (so
    "269,722", "1.8e9", "-0.3" and "4.1 G" are right-aligned); ``None`` prints as "—".
    """
    text_rows = [["—" if cell is None else str(cell) for cell in row] for row in rows]
    for row in text_rows:
        if len(row) != len(headers):
            raise ConfigError(f"a row has {len(row)} cells but there are {len(headers)} headers: {row}")
    widths = [max([len(h)] + [len(row[i]) for row in text_rows]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in text_rows) and bool(text_rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(padded).rstrip()

    lines = [title] if title else []
    lines += [line(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in text_rows]
    return Table("\n".join(lines), headers, text_rows, title, numeric)


def _is_number(cell: str) -> bool:
    body = cell.lstrip("+-.")
    return cell == "—" or (bool(body) and body[0].isdigit())


def format_shape(shape: Sequence[int]) -> str:
    """(1, 64, 56, 56) -> "64×56×56": the batch dimension left out, as the papers write it."""
    dims = tuple(shape)[1:] if len(shape) > 1 else tuple(shape)
    return "×".join(str(d) for d in dims)
