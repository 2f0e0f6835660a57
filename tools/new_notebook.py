"""Create a chapter notebook that follows the course's conventions.

    python tools/new_notebook.py chapters/part1/01_degradation.ipynb "The degradation problem"

The notebook gets the title, the canonical set-up cell (tests/test_notebooks.py checks every
chapter starts with it) and Colab metadata; write the chapter from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from notebook_conventions import SETUP_CELL, notebook_metadata


def new_notebook(path: Path, title: str, gpu: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata=notebook_metadata(gpu=gpu))
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell(SETUP_CELL)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return nb


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    new_notebook(Path(sys.argv[1]), sys.argv[2], gpu=len(sys.argv) == 4 and sys.argv[3] == "--gpu")
