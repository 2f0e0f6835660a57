"""pytest hooks for the notebook run (``pytest --nbval-lax chapters``).

1. Cells marked ``# NBVAL_CHECK_OUTPUT`` get their reference output from tests/golden/
   (the notebooks themselves are committed without outputs).
2. The run ends with each notebook's execution time, so the CI log shows where time goes.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))
import golden  # noqa: E402

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    loaded: dict[Path, dict] = {}
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or not golden.is_checked(cell):
            continue
        notebook = Path(str(item.fspath))
        if notebook not in loaded:
            loaded[notebook] = golden.load(notebook)
        if cell.id not in loaded[notebook]:
            raise pytest.UsageError(
                f"{notebook.name}, cell {cell.id}: marked NBVAL_CHECK_OUTPUT but tests/golden has no output "
                f"for it. Record it with `make golden` (python tests/golden.py update {notebook})."
            )
        cell.outputs = [nbformat.from_dict(output) for output in loaded[notebook][cell.id]]
        cell.execution_count = 1  # nbval skips (and rejects outputs of) cells that look never run


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  in all")
