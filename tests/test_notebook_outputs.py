"""Each chapter executed once: the notebook tests store what they executed (conftest.py), and
tools/notebook_outputs.py files it in the book's jupyter-cache only under this checkout's stamp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

import notebook_outputs

ROOT = Path(__file__).resolve().parents[1]


def tiny_notebook() -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("A chapter."),
        nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1]);"),
        nbformat.v4.new_code_cell("x + 1"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_a_stored_chapter_is_found_by_its_code_and_merges_its_outputs(tmp_path: Path) -> None:
    chapter = tiny_notebook()
    outputs = {1: [{"output_type": "stream", "name": "stdout", "text": "42\n"}], 2: [], 3: []}
    outputs[3] = [{"output_type": "execute_result", "data": {"text/plain": "43"}, "metadata": {}}]
    notebook_outputs.store_executed(chapter, outputs, tmp_path / "executed" / "chapters" / "c.ipynb")
    assert notebook_outputs.file_executed(tmp_path / "executed", tmp_path / "cache") == 1

    cache = get_cache(str(tmp_path / "cache"))
    _, merged = cache.merge_match_into_notebook(tiny_notebook())  # the committed form: no outputs
    assert merged.cells[1].outputs[0].text == "42\n"
    assert merged.cells[3].outputs[0].data["text/plain"] == "43"
    assert [cell.execution_count for cell in merged.cells[1:]] == [1, 2, 3]
    assert merged.cells[0].source == "A chapter."  # prose comes from the chapter itself

    changed = tiny_notebook()
    changed.cells[1].source = "x = 6 * 9\nprint(x)"
    with pytest.raises(KeyError):  # a chapter whose code changed is executed afresh
        cache.match_cache_notebook(changed)


def test_outputs_of_other_code_never_reach_the_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = tmp_path / "executed" / "c.ipynb"
    notebook_outputs.store_executed(tiny_notebook(), {1: [], 2: [], 3: []}, stored)
    notebook_outputs.file_executed(tmp_path / "executed", tmp_path / "cache")
    assert get_cache(str(tmp_path / "cache")).list_cache_records()

    now = {**notebook_outputs.stamp(), "torch": "0.0.1"}  # the libraries changed since the run
    monkeypatch.setattr(notebook_outputs, "stamp", lambda: now)
    assert notebook_outputs.file_executed(tmp_path / "executed", tmp_path / "cache") == 0
    assert not get_cache(str(tmp_path / "cache")).list_cache_records()  # the old entries went too


def test_a_stale_cache_is_cleared_even_when_nothing_is_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `make book` without a notebook run before it: no folder of stored chapters, but a cache
    # an earlier build filled under another stamp (or under none) must still go.
    notebook_outputs.store_executed(tiny_notebook(), {1: [], 2: [], 3: []}, tmp_path / "executed" / "c.ipynb")
    notebook_outputs.file_executed(tmp_path / "executed", tmp_path / "cache")
    now = {**notebook_outputs.stamp(), "resnets_source": "changed"}
    monkeypatch.setattr(notebook_outputs, "stamp", lambda: now)
    monkeypatch.setattr(notebook_outputs, "book_cache_path", lambda: tmp_path / "cache")
    assert notebook_outputs.main([str(tmp_path / "missing")]) == 0  # what `make book` runs
    assert not get_cache(str(tmp_path / "cache")).list_cache_records()

    unstamped = tmp_path / "unstamped"
    get_cache(str(unstamped)).cache_notebook_bundle(CacheBundleIn(tiny_notebook(), "c.ipynb"), check_validity=False)
    notebook_outputs.file_executed(tmp_path / "missing", unstamped)
    assert not get_cache(str(unstamped)).list_cache_records()


def run_notebook_tests(folder: Path, notebook: nbformat.NotebookNode) -> Path:
    """The root conftest.py's hooks around nbval, on ``notebook`` written in ``folder``; returns
    where the executed notebook was stored."""
    chapter = folder / "chapter.ipynb"
    nbformat.write(notebook, chapter)
    command = [sys.executable, "-m", "pytest", "-p", "conftest", "--nbval-lax", "--nbval-current-env", "-q"]
    command += ["-p", "no:cacheprovider", "--store-outputs", str(folder / "out"), str(chapter)]
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}  # the kernel's inline
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # keep a worktree's code
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notebook execution times" in result.stdout  # conftest's summary: where CI's time goes
    return next((folder / "out").rglob("chapter.ipynb"))


def test_the_notebook_run_stores_what_a_notebook_shows(tmp_path: Path) -> None:
    # A trailing semicolon hides a cell's value, as in a notebook.
    stored = nbformat.read(run_notebook_tests(tmp_path, tiny_notebook()), as_version=4)
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert code[0].outputs[0].text == "42\n"
    assert [output.output_type for output in code[1].outputs] == ["display_data"]  # no Line2D list
    assert code[2].outputs[0].data["text/plain"] == "43"
    assert stored.metadata[notebook_outputs.STAMP_KEY] == notebook_outputs.stamp()


@pytest.mark.skipif(os.name != "posix", reason="ZeroMQ's ipc transport needs Unix sockets")
def test_notebook_kernels_listen_on_socket_files_of_their_own(tmp_path: Path) -> None:
    # No TCP ports to race for (a CI run lost a chapter to "Kernel died before replying to
    # kernel_info"), and no socket path shared between two kernels.
    source = "from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\nprint(app.transport, app.ip)"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = tiny_notebook().metadata["kernelspec"]
    stored = nbformat.read(run_notebook_tests(tmp_path, notebook), as_version=4)
    transport, ip = stored.cells[0].outputs[0].text.split()
    assert transport == "ipc"
    assert Path(ip).is_absolute() and Path(ip).name.startswith("kernel-")
    assert not list(Path(ip).parent.glob(Path(ip).name + "-*")), "the kernel's socket files outlived it"
