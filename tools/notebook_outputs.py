"""Each chapter executed once in `make test`: the notebook tests' outputs, reused by the book.

`make test-notebooks` runs nbval with ``--store-outputs _build/executed`` (see conftest.py):
every chapter whose cells all passed is written there with the outputs that run produced and a
stamp of what produced them. `make book` first runs this tool, which files those notebooks in the
book's jupyter-cache; MyST-NB (``execute_notebooks: cache`` in _config.yml) finds a chapter there
by the hash of its code cells and executes only the chapters it does not find.

Why the stamp: jupyter-cache matches a notebook by its code alone, so outputs computed by another
version of the package (or of torch, or in the other profile) would match too. The cache is
cleared whenever the stamp of this checkout differs from the one it was filled under, and a
stored notebook with another stamp is not filed.

    stamp()                         what produced a chapter's outputs: package source and records,
                                    versions, profile
    store_executed(nb, outputs, to) a notebook with the outputs a test run produced, stamped
    file_executed(folder, cache)    the stored chapters into the jupyter-cache; returns how many

    python tools/notebook_outputs.py [FOLDER]    (default _build/executed)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STAMP_KEY = "resnets_executed_with"
#: Distributions whose version changes what a chapter computes or draws.
STAMPED_DISTRIBUTIONS = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets")
DEFAULT_FOLDER = ROOT / "_build" / "executed"


def stamp() -> dict[str, str]:
    """What produced a chapter's outputs here: the package's source and records, Python's and
    the stamped distributions' versions, and the environment variables that choose the
    profile, its limits and the device."""
    from resnets.cache import source_hash  # the package's own definition of "the code changed"
    from resnets.profiles import read_environment  # the one reader of the RESNETS_* variables

    versions = {name: metadata.version(name) for name in STAMPED_DISTRIBUTIONS}
    environment = {key: str(value) for key, value in dataclasses.asdict(read_environment()).items()}
    return {
        "resnets_source": source_hash(),
        "resnets_records": records_hash(),
        "python": platform.python_version(),
        **versions,
        **environment,
    }


def records_hash() -> str:
    """SHA-256 over the package's JSON records (the shipped nets' manifest, with each weight
    file's checksum, and the stored results): a chapter that reads them shows what they hold."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "code" / "resnets" / "assets").rglob("*.json")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def store_executed(notebook: nbformat.NotebookNode, outputs: dict[int, list], target: Path) -> None:
    """Write ``notebook`` to ``target`` with ``outputs`` (code cell index -> the outputs the kernel
    sent, as nbval collects them), numbered as a notebook run top to bottom, and stamped."""
    executed = copy.deepcopy(notebook)
    for count, (index, cell_outputs) in enumerate(sorted(outputs.items()), start=1):
        cell = executed.cells[index]
        cell.outputs = [nbformat.from_dict(dict(output)) for output in cell_outputs]
        cell.execution_count = count
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    language = {"name": "python", "version": platform.python_version(), "pygments_lexer": "ipython3"}
    executed.metadata["language_info"] = language
    executed.metadata[STAMP_KEY] = stamp()
    nbformat.validate(executed)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, target)


def book_cache_path() -> Path:
    """The book's jupyter-cache folder, as _config.yml names it."""
    import yaml  # the book's environment has it; Colab's test run (conftest) does not need it

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return ROOT / config["execute"]["cache"]


def file_executed(folder: Path, cache_path: Path) -> int:
    """File every stored chapter of ``folder`` (which may be missing) whose stamp is this
    checkout's in the cache at ``cache_path``; returns how many. The cache is cleared first
    unless it was filled under this very stamp: outputs of an earlier build of other code, or of
    a build that recorded no stamp, must not reach the book even when nothing is filed."""
    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    current = stamp()
    stamp_file = cache_path / "resnets-stamp.yml"
    if cache_path.exists() and not (stamp_file.exists() and yaml.safe_load(stamp_file.read_text()) == current):
        shutil.rmtree(cache_path)
    cache_path.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_path))
    stamp_file.write_text(yaml.safe_dump(current))
    filed = 0
    for path in sorted(folder.rglob("*.ipynb")) if folder.is_dir() else []:
        nb = nbformat.read(path, as_version=4)
        if nb.metadata.get(STAMP_KEY) != current:
            continue
        chapter = ROOT / path.relative_to(folder)
        bundle = CacheBundleIn(nb, str(chapter), data={"stored_by": "make test-notebooks"})
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
        filed += 1
    return filed


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT_FOLDER
    filed = file_executed(folder, book_cache_path())  # also when there is no folder: the stamp check
    print(
        f"{filed} chapters' outputs from the notebook tests filed for the book ({folder}); "
        "the book build executes the rest."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
