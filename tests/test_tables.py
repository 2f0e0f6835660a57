"""tables.Table: the plain text a test or a terminal reads, the HTML a notebook shows."""

from html.parser import HTMLParser

from resnets.tables import Table, format_table


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str, str | None]] = []  # (tag, text, style)
        self._open: tuple[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("caption", "th", "td"):
            self._open = (tag, dict(attrs).get("style"))

    def handle_data(self, data: str) -> None:
        if self._open:
            self.cells.append((self._open[0], data, self._open[1]))
            self._open = None


def test_a_table_is_its_text_and_shows_as_html_with_caption_and_aligned_numbers() -> None:
    table = format_table(["model", "error (%)"], [["resnet20", "12.05"], ["a<b", None]], title="Table 6, here")
    assert isinstance(table, Table) and isinstance(table, str)
    assert str(table).splitlines() == ["Table 6, here", "model     error (%)", "--------  ---------",
                                       "resnet20      12.05", "a<b               —"]  # fmt: skip
    parser = _Cells()
    parser.feed(table._repr_html_())
    assert parser.cells == [
        ("caption", "Table 6, here", None),
        ("th", "model", None),
        ("th", "error (%)", "text-align: right"),
        ("td", "resnet20", None),
        ("td", "12.05", "text-align: right"),
        ("td", "a<b", None),  # escaped in the HTML, read back as text
        ("td", "—", "text-align: right"),
    ]
    assert "a&lt;b" in table._repr_html_()


def test_a_table_without_a_title_has_no_caption() -> None:
    assert "<caption>" not in format_table(["a"], [["1"]])._repr_html_()
