"""Conventions every chapter notebook follows (the notebooks' execution is nbval's job)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

from notebook_conventions import REPOSITORY, SETUP_CELL, clone_command

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").rglob("*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


def ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in paths]


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 16


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists() -> None:
    listed = set(toc_files())
    for nb in NOTEBOOKS:
        assert nb.relative_to(ROOT).with_suffix("").as_posix() in listed, f"{nb} is missing from _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".ipynb", ".md")), (
            f"_toc.yml lists missing {entry}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: strip the saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_starts_with_a_title_and_the_set_up_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == SETUP_CELL, f"{path.name}: the first code cell must be the canonical set-up cell"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebooks_define_no_modules_of_their_own(path: Path) -> None:
    # Models, loaders and training loops live in the package; a notebook only calls them. The one
    # exception is the reader's own: a build-it-yourself exercise's My... class, handed to build_it.
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = TransformerManager().transform_cell(cell.source)  # %magics -> plain Python
        for node in ast.walk(ast.parse(source)):
            readers_own = "build_it.check_" in source and getattr(node, "name", "").startswith("My")
            if isinstance(node, ast.ClassDef) and not readers_own:
                pytest.fail(f"{path.name} defines class {node.name}: put it in the package")
        assert not re.search(r"\bfor\b.*\bin\b.*loader", source) or "backward" not in source, (
            f"{path.name} has a training loop: use resnets.train"
        )


#: Characters of code a line of the site's text column holds (_static/custom.css); the site test
#: checks the rendered pages, this the source.
CODE_COLUMNS = 84


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_code_lines_fit_the_page(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [line for cell in nb.cells if cell.cell_type == "code" for line in cell.source.splitlines()]
    for cell in nb.cells:  # and the code blocks of the prose (```python ... ```), directives aside
        if cell.cell_type == "markdown":
            blocks = re.findall(r"^(`{3,})(?!\{)[^\n]*\n(.*?)^\1", cell.source, re.M | re.S)
            code += [line for _, block in blocks for line in block.splitlines()]
    long = [line for line in code if len(line) > CODE_COLUMNS]
    assert not long, f"{path.name}: code lines over {CODE_COLUMNS} characters scroll sideways on the site: {long[:3]}"


def test_part3_notebooks_ask_colab_for_a_gpu() -> None:
    for path in NOTEBOOKS:
        if "part3" in path.parts:
            assert nbformat.read(path, as_version=4).metadata.get("accelerator") == "GPU", path.name


def test_every_copy_of_the_repository_url_is_config_s() -> None:
    """`_config.yml`'s repository.url is the one source (the badges and launch buttons read it);
    the set-up cells are checked above, the intro's clone line here. `python tools/sync_repository.py`
    rewrites every copy."""
    intro = (ROOT / "intro.md").read_text()
    assert clone_command() in intro, (
        "intro.md's clone line differs from _config.yml: run python tools/sync_repository.py"
    )
    copies = {
        p.relative_to(ROOT)
        for p in [*ROOT.glob("*.md"), *(ROOT / "chapters").rglob("*.ipynb")]
        if "github.com/" in p.read_text()
    }
    for path in copies:
        urls = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", (ROOT / path).read_text()))
        assert urls <= {REPOSITORY}, f"{path} names {urls - {REPOSITORY}}, not _config.yml's {REPOSITORY}"


PART3 = [path for path in NOTEBOOKS if "part3" in path.parts]
DEGRADATION_CHAPTER = ROOT / "chapters" / "part3" / "02_degradation_cifar.ipynb"
#: The calls that train a network: the engine, and the experiments that call it.
TRAINING_CALLS = {
    "train",
    "resnets.train.train",
    "reproduce.degradation",
    "reproduce.degradation_run",
    "reproduce.table6",
    "resnets.reproduce.degradation",
    "resnets.reproduce.table6",
}


def code_cells(path: Path) -> list[str]:
    """A notebook's code cells as plain Python (IPython's %magics turned into calls)."""
    nb = nbformat.read(path, as_version=4)
    return [TransformerManager().transform_cell(c.source) for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_chapters_read_their_sizes_from_the_profiles_table(path: Path) -> None:
    """A profile's sizes have one home, ``profiles`` (the course modules register the chapters'):
    a chapter reads them with ``profiles.sizes`` or its module's lookup, never picks them by ``rt.quick``."""
    for source in code_cells(path):
        assert "rt.quick" not in source, f"{path.name} picks sizes by rt.quick: register them with profiles.register"


@pytest.mark.parametrize("path", PART3, ids=ids(PART3))
def test_part3_chapters_train_only_through_the_degradation_plan(path: Path) -> None:
    """Training in Part 3 goes through one door, ``plan.train`` of the degradation chapter, which
    in the full profile trains only when the page's TRAIN_FULL line says so (the next test); the
    other chapters read stored results and the shipped nets."""
    for source in code_cells(path):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                assert name not in TRAINING_CALLS, (
                    f"{path.name} calls {name}(): train through course.degradation.degradation_plan"
                )
                if name.endswith(".train"):
                    assert path == DEGRADATION_CHAPTER and name == "plan.train", f"{path.name} calls {name}()"


class TrainingStarted(Exception):
    """Raised by the patched engine: something began to train."""


@pytest.mark.parametrize("opt_in", [False, True], ids=["default", "TRAIN_FULL = True"])
def test_the_degradation_chapter_trains_nothing_in_the_full_profile_unless_opted_in(
    opt_in: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Part 3's degradation chapter, executed here cell by cell with RESNETS_PROFILE=full on a CPU
    and the engine patched to raise: as committed it runs to the end and trains nothing (it shows
    the shipped nets); with its opt-in line changed it prints the estimated time, then its first
    net's cell starts training. No data is loaded, nothing trains: seconds."""
    import matplotlib.pyplot as plt

    from resnets import reproduce
    from resnets import train as engine

    def refuse(*args: object, **kwargs: object) -> None:
        raise TrainingStarted

    monkeypatch.setenv("RESNETS_PROFILE", "full")
    for variable in ("RESNETS_CACHE", "RESNETS_MAX_ITERATIONS", "RESNETS_DEVICE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # no results/degradation-full.json here
    monkeypatch.setattr(engine, "train", refuse)
    monkeypatch.setattr(reproduce, "train", refuse)
    monkeypatch.setattr(reproduce, "load_cifar10", lambda: None)
    cells = code_cells(DEGRADATION_CHAPTER)
    [decision] = [i for i, source in enumerate(cells) if "TRAIN_FULL = False" in source]
    if opt_in:
        cells[decision] = cells[decision].replace("TRAIN_FULL = False", "TRAIN_FULL = True", 1)
    namespace: dict[str, object] = {}
    try:
        for i, source in enumerate(cells):
            if opt_in and i > decision:
                with pytest.raises(TrainingStarted):
                    exec(compile(source, DEGRADATION_CHAPTER.name, "exec"), namespace)
                assert source.startswith("plan.train(")
                assert "Estimated time, before it starts" in capsys.readouterr().out
                return
            exec(compile(source, DEGRADATION_CHAPTER.name, "exec"), namespace)
    finally:
        plt.close("all")
    printed = capsys.readouterr().out
    assert not opt_in and "Profile full" in printed and "nothing trains" in printed
    assert namespace["result"]["profile"] == "shipped"  # type: ignore[index]
