"""Golden outputs for the notebook cells marked ``# NBVAL_CHECK_OUTPUT``.

Notebooks are committed without outputs, so the outputs that must never drift (parameter
and FLOP tables, shapes) are kept here, one JSON file per notebook, keyed by cell id. The
root conftest.py hands them to nbval as each checked cell's reference output.

    python tests/golden.py update [NOTEBOOK ...]   execute notebooks and record their checked cells
    python tests/golden.py check                   list checked cells without a golden output
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "golden"
MARKER = "NBVAL_CHECK_OUTPUT"


def is_checked(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and any(line.strip() == f"# {MARKER}" for line in cell.source.splitlines())


def golden_path(notebook: Path) -> Path:
    relative = notebook.resolve().relative_to(ROOT).with_suffix("")
    return GOLDEN_DIR / ("__".join(relative.parts) + ".json")


def load(notebook: Path) -> dict[str, list[dict]]:
    path = golden_path(notebook)
    return json.loads(path.read_text()) if path.exists() else {}


def _clean(output: dict) -> dict:
    output = dict(output)
    output.pop("execution_count", None)
    output.pop("metadata", None)
    return output


def update(notebook: Path) -> int:
    """Execute one notebook and record the outputs of its checked cells; return how many."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    if not any(is_checked(c) for c in nb.cells):
        golden_path(notebook).unlink(missing_ok=True)
        return 0
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    golden = {c.id: [_clean(o) for o in c.outputs] for c in nb.cells if is_checked(c)}
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    golden_path(notebook).write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(
        f"{notebook.relative_to(ROOT)}: {len(golden)} checked cell(s) recorded in {time.perf_counter() - start:.0f} s"
    )
    return len(golden)


def missing(notebook: Path) -> list[str]:
    """Ids of checked cells that have no golden output yet."""
    nb = nbformat.read(notebook, as_version=4)
    golden = load(notebook)
    return [c.id for c in nb.cells if is_checked(c) and c.id not in golden]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("update", "check"):
        print(__doc__)
        return 2
    notebooks = [Path(a).resolve() for a in argv[1:]] or sorted((ROOT / "chapters").rglob("*.ipynb"))
    if argv[0] == "update":
        for nb in notebooks:
            update(nb)
        return 0
    problems = [f"{nb.relative_to(ROOT)}: {cell}" for nb in notebooks for cell in missing(nb)]
    print("\n".join(problems) or "every checked cell has a golden output")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
