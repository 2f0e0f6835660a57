"""Rewrite every copy of the repository URL from `_config.yml` (`repository.url`).

    python tools/sync_repository.py

The site's badges and launch buttons read `_config.yml` themselves; this updates what a reader
runs outside the site: the set-up cell of every chapter notebook (its Colab install) and the
clone command in `intro.md`. tests/test_notebooks.py fails while any copy disagrees.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from notebook_conventions import ROOT, SETUP_CELL, clone_command

CLONE_LINE = re.compile(r"^git clone \S+ && cd \S+$", re.MULTILINE)


def sync() -> list[Path]:
    """Rewrite the set-up cells and the intro's clone line; returns the files changed."""
    changed = []
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        if first_code.source != SETUP_CELL:
            first_code.source = SETUP_CELL
            nbformat.write(nb, path)
            changed.append(path)
    intro = ROOT / "intro.md"
    text = intro.read_text()
    synced = CLONE_LINE.sub(clone_command(), text)
    if synced != text:
        intro.write_text(synced)
        changed.append(intro)
    return changed


if __name__ == "__main__":
    for path in sync():
        print(f"rewrote {path.relative_to(ROOT)}")
