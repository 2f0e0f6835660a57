"""pytest hooks for the notebook run (``pytest --nbval-lax chapters``).

1. Cells marked ``# NBVAL_CHECK_OUTPUT`` get their reference output from tests/golden/
   (the notebooks themselves are committed without outputs).
2. Part 3's chapters (the long ones) are collected first; the run ends with each notebook's
   execution time, so the CI log shows where time goes.
3. ``--store-outputs DIR``: every notebook whose cells all passed is written under DIR with the
   outputs this run produced (stamped; tools/notebook_outputs.py), and the book build files them
   in its cache instead of executing the chapter a second time.
4. Kernels talk over Unix sockets, not TCP ports, where the system has them (see
   ``SocketFileKernelManager``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

import nbformat
import nbval.kernel
import pytest
from jupyter_client.manager import KernelManager
from nbval.kernel import RunningKernel
from traitlets import CaselessStrEnum

sys.path.insert(0, str(Path(__file__).parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent / "tools"))
import golden  # noqa: E402
import notebook_outputs  # noqa: E402

_notebook_seconds: dict[str, float] = defaultdict(float)
_failed_notebooks: set[str] = set()
_cell_outputs: dict[str, dict[int, list]] = defaultdict(dict)  # notebook -> cell index -> outputs


def execute_as_a_notebook_does(kernel: RunningKernel, cell_input: str, allow_stdin: bool | None = None) -> str:
    """nbval sends cells with store_history=False, and IPython then ignores a cell's trailing
    semicolon (its check reads the history): a figure cell's ``ax.legend();`` would show its
    return value. Jupyter, nbclient and the book send store_history=True; so does this run."""
    return kernel.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


RunningKernel.execute_cell_input = execute_as_a_notebook_does


class SocketFileKernelManager(KernelManager):
    """A kernel manager whose kernels listen on Unix socket files (ZeroMQ's ipc transport) on POSIX.

    Over TCP, jupyter_client picks five free ports, closes them and lets the kernel bind them a
    moment later; another process can take a port in that moment (another worker's kernel, or the
    Colab environment's pip downloading beside the notebook tests), and the kernel then dies before
    it answers ("Kernel died before replying to kernel_info": a CI run lost a chapter so). Each
    kernel gets socket files of its own, by absolute path (jupyter_client's default for ipc is the
    relative "kernel-ipc", the same for every kernel and read against two working directories)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp", config=True)

    def _ip_default(self) -> str:
        if self.transport == "ipc":  # the sockets are <ip>-1 ... <ip>-5, removed at shutdown
            return str(Path(tempfile.gettempdir()) / f"kernel-{uuid.uuid4().hex}")
        return super()._ip_default()


nbval.kernel.KernelManager = SocketFileKernelManager  # what nbval's start_new_kernel builds


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-outputs",
        metavar="DIR",
        help="write each notebook whose cells all passed under DIR, with this run's outputs "
        "(the book build reuses them: tools/notebook_outputs.py)",
    )


def part_number(item: pytest.Item) -> int:
    """3 for a cell of chapters/part3/..., 0 for anything that is not a chapter's cell."""
    folder = Path(str(item.fspath)).parent.name
    return int(folder.removeprefix("part")) if folder.startswith("part") and folder[4:].isdigit() else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Part 3's chapters train and take most of the time: run on two workers (make
    # test-notebooks), they start first so that both workers end together. Stable: every
    # notebook's cells keep their order.
    items.sort(key=lambda item: -part_number(item))
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
        if report.failed:
            _failed_notebooks.add(path)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Keep each cell's outputs; after a notebook's last cell, store the executed notebook."""
    folder = item.config.getoption("store_outputs")
    cell = getattr(item, "cell", None)
    if folder is None or cell is None:
        return
    notebook = item.parent.nb
    path = item.nodeid.split("::")[0]
    index = next(i for i, each in enumerate(notebook.cells) if each is cell)
    _cell_outputs[path][index] = item.test_outputs or []
    if nextitem is not None and nextitem.parent is item.parent:
        return
    code_cells = [i for i, each in enumerate(notebook.cells) if each.cell_type == "code"]
    if path in _failed_notebooks or sorted(_cell_outputs[path]) != code_cells:
        return  # a failed or partly run notebook is not stored: the book executes it afresh
    notebook_outputs.store_executed(notebook, _cell_outputs.pop(path), Path(folder) / path)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  in all")
