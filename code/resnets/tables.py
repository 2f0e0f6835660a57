"""Plain-text tables: what the chapters print for parameter, FLOP and shape tables.

Plain text, not HTML or pandas, so a table reads the same in a terminal, in a notebook, on
the static site, and in the golden outputs that nbval compares character for character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import ConfigError


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str = "") -> str:
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
    return "\n".join(lines)


def _is_number(cell: str) -> bool:
    body = cell.lstrip("+-.")
    return cell == "—" or (bool(body) and body[0].isdigit())


def format_shape(shape: Sequence[int]) -> str:
    """(1, 64, 56, 56) -> "64×56×56": the batch dimension left out, as the papers write it."""
    dims = tuple(shape)[1:] if len(shape) > 1 else tuple(shape)
    return "×".join(str(d) for d in dims)
