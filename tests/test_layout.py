"""The package's layout holds: two wings with arrows from the course to the library only, no
private name used outside its module, one source for every default, one base for every error."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from pathlib import Path

import nbformat
import pytest

import resnets
from resnets import bench, checkpoints, cli, data, errors, files, provenance, recipe, results, train
from resnets.flags import add_flags, count, describe_default, flag, positive_int

PACKAGE = Path(resnets.__file__).parent
ROOT = PACKAGE.parents[1]
LIBRARY = sorted(p for p in PACKAGE.glob("*.py"))
COURSE = sorted((PACKAGE / "course").glob("*.py"))
NOTEBOOKS = sorted((ROOT / "chapters").rglob("*.ipynb"))


def imported_modules(tree: ast.AST, package: str) -> set[str]:
    """Absolute names of every module a file of ``package`` imports (top-level or in a function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_library_never_imports_the_course() -> None:
    for path in LIBRARY:
        imports = imported_modules(ast.parse(path.read_text()), "resnets")
        assert not any(m.startswith("resnets.course") for m in imports), f"{path.name} imports course code"


def test_the_course_imports_the_library_it_needs() -> None:
    # The arrow the other way exists (else there would be no reason for two wings in one package).
    imports = set().union(*(imported_modules(ast.parse(p.read_text()), "resnets.course") for p in COURSE))
    assert {"resnets.probes", "resnets.cache", "resnets.models"} <= imports


MAX_MODULE_LINES = 600  # a module a reader can hold in mind (issue 30)


@pytest.mark.parametrize("path", LIBRARY + COURSE, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_every_module_is_short_enough_to_read_top_to_bottom(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines: split it by concern"


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (module -> the modules it imports) as [a, b, ..., a], or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return path[path.index(imported) :] + [imported]
            if imported not in state and (cycle := visit(imported, path + [imported])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_no_import_cycle_among_the_modules() -> None:
    # Imports inside functions count too: a cycle hidden in a function is still a cycle.
    wings = {"resnets": LIBRARY, "resnets.course": COURSE}
    graph = {
        f"{package}.{path.stem}": imported_modules(ast.parse(path.read_text()), package)
        for package, paths in wings.items()
        for path in paths
    }
    graph = {module: {m for m in imports if m in graph and m != module} for module, imports in graph.items()}
    assert import_cycle(graph) is None, f"import cycle: {' -> '.join(import_cycle(graph))}"
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check sees one


def private_imports(tree: ast.AST) -> list[str]:
    """``from x import _name``: a private name taken out of its module."""
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def private_attributes(tree: ast.AST, modules: set[str]) -> list[str]:
    """``module._name`` for a name bound to one of our modules."""
    return [
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    ]


def module_names(tree: ast.AST) -> set[str]:
    """Names a file binds to modules of this package (``import resnets``, ``from resnets import toy as t``)."""
    ours = {p.stem for p in LIBRARY + COURSE} | {"course", "resnets"}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("resnets"))
        elif isinstance(node, ast.ImportFrom) and ((node.module or "").startswith("resnets") or node.level):
            names.update(a.asname or a.name for a in node.names if a.name in ours)
    return names


def test_no_private_name_crosses_a_module() -> None:
    for path in LIBRARY + COURSE + sorted((ROOT / "tests").glob("*.py")):
        tree = ast.parse(path.read_text())
        assert not private_imports(tree), f"{path.name} imports private names: {private_imports(tree)}"
        assert not private_attributes(tree, module_names(tree)), (
            f"{path.name} reaches into a module: {private_attributes(tree, module_names(tree))}"
        )


def test_no_chapter_reaches_for_a_private_name() -> None:
    for path in NOTEBOOKS:
        code = "\n".join(
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code"
        )
        tree = ast.parse(code)
        found = private_imports(tree) + private_attributes(tree, module_names(tree))
        assert not found, f"{path.name} uses private names: {found}"


# ---------------------------------------------------------------------------------------
# One source for every default
# ---------------------------------------------------------------------------------------


def subcommand(name: str):
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")  # argparse keeps its subparsers here only
    return commands.choices[name]


def flags(parser) -> dict[str, object]:
    return {a.dest: a for a in parser._actions if a.dest != "help"}


def test_every_train_flag_leaves_its_default_to_the_config_and_quotes_it() -> None:
    actions = flags(subcommand("train"))
    config = recipe.TrainConfig()
    for name, action in actions.items():
        assert action.default is None or (name == "resume" and action.default is False), (
            f"--{name} holds a default of its own ({action.default!r}); TrainConfig decides"
        )
        value = getattr(config, name)
        if value is not None and name != "resume":
            assert f"default {describe_default(value)}" in action.help, f"--{name}'s help misstates {value!r}"


def test_every_bench_flag_defaults_to_its_settings_field_and_quotes_it() -> None:
    settings = bench.BenchSettings()
    for name, action in flags(subcommand("bench")).items():
        expected = getattr(settings, name)
        assert (dict(action.default) if name == "targets" else action.default) == expected, f"--{name}"
        if expected not in (None, {}) and name != "name":
            assert f"default {describe_default(expected)}" in action.help or name == "out", f"--{name}"


class Started(Exception):
    """Raised by a stand-in for the command's work, holding what the command passed it."""


def with_field(settings: type, name: str, definition: object) -> type:
    """``settings`` with one field more, defined as a developer would add it to the class."""
    return dataclasses.make_dataclass(settings.__name__, [(name, int, definition)], bases=(settings,))


def test_a_field_added_to_train_config_is_a_train_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    definition = flag("epochs of warm-up (default {default})", default=2, group=recipe.OPTIMIZER, type=count)
    extended = with_field(recipe.TrainConfig, "warmup_epochs", definition)
    monkeypatch.setattr(cli, "TrainConfig", extended)
    action = flags(subcommand("train"))["warmup_epochs"]
    assert action.option_strings == ["--warmup-epochs"] and action.default is None
    assert action.help == "epochs of warm-up (default 2)"
    assert "--warmup-epochs WARMUP_EPOCHS" in subcommand("train").format_help()

    def start(config: object, data: object = None) -> None:
        raise Started(config)

    monkeypatch.setattr(train, "train", start)
    with pytest.raises(Started) as started:
        cli.main(["train", "--model", "resnet8", "--warmup-epochs", "5", "--out", str(tmp_path / "run")])
    [config] = started.value.args
    assert isinstance(config, extended) and config.warmup_epochs == 5 and config.model == "resnet8"
    with pytest.raises(SystemExit):
        cli.main(["train", "--warmup-epochs", "-1"])
    assert "argument --warmup-epochs: must be a non-negative integer; got -1" in capsys.readouterr().err


def test_a_field_added_to_bench_settings_is_a_bench_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    definition = flag("timed rounds (default {default})", default=1, group=bench.SPEED, type=positive_int)
    extended = with_field(bench.BenchSettings, "rounds", definition)
    monkeypatch.setattr(cli, "BenchSettings", extended)
    action = flags(subcommand("bench"))["rounds"]
    assert action.option_strings == ["--rounds"] and action.default == 1 and action.help == "timed rounds (default 1)"

    def run(settings: object, command: str) -> None:
        raise Started(settings)

    monkeypatch.setattr(bench, "run", run)
    for argv, rounds in ((["--rounds", "3"], 3), ([], 1)):
        with pytest.raises(Started) as started:
            cli.main(["bench", "--device", "cpu", "--out", str(tmp_path), *argv])
        [settings] = started.value.args
        assert isinstance(settings, extended) and settings.rounds == rounds


def test_a_field_without_a_flag_is_refused() -> None:
    plain = dataclasses.make_dataclass("Plain", [("width", int, 16)])
    with pytest.raises(errors.ConfigError, match=r"Plain\.width has no flag: define it with flags\.flag"):
        add_flags(argparse.ArgumentParser(), plain, defaults=True)


# ---------------------------------------------------------------------------------------
# One base for every error, one version
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        errors.ConfigError,
        errors.DeviceError,
        files.FileError,
        files.FolderInUse,
        checkpoints.CheckpointError,
        data.DataError,
        train.TrainingDiverged,
        results.MissingResults,
    ],
)
def test_every_error_that_names_its_fix_is_a_resnets_error(error: type) -> None:
    assert issubclass(error, resnets.ResnetsError)


def test_no_library_module_raises_a_bare_value_error() -> None:
    for path in LIBRARY + COURSE:
        assert not re.search(r"raise ValueError\(", path.read_text()), f"{path.name}: raise ConfigError instead"


def test_the_version_is_written_once() -> None:
    written = [
        p.relative_to(ROOT)
        for p in [*LIBRARY, *COURSE, ROOT / "pyproject.toml"]
        if re.search(r"""^(__version__|version)\s*=\s*["']\d""", p.read_text(), re.M)
    ]
    assert written == [Path("code/resnets/version.py")]
    assert resnets.__version__ == provenance.__version__
