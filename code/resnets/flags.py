"""Command-line flags made from dataclass fields: a field says what its flag means, the CLI reads it.

    @dataclass
    class Settings:
        seed: int = flag("seed of the data order (default {default})", default=0, type=count)

    add_flags(parser, Settings, defaults=True)    # --seed N, checked by count, "(default 0)"

What it holds:

    flag           a ``dataclasses.field`` whose metadata holds its flag: the help (``{default}``
                   stands for the field's default), the argument group, the argparse keywords
                   (type, choices, metavar, nargs, action) and, where it is not ``--field-name``,
                   the flag's name
    add_flags      one flag per field of a dataclass, in field order; a ``bool`` field is a
                   ``--x/--no-x`` switch
    describe_default   a default as a help text shows it (on/off; a tuple's items space-separated)
    positive_int, positive_float, fraction, count, model_name, accuracy_target   the flag value checks
                   (each error says what was expected and what came)
    DEVICE_HELP, DATA_HELP   the help of the flags that several commands share

So a setting is written once, with its default, its help and its check, and a field added to
``recipe.TrainConfig`` or ``bench.BenchSettings`` is a flag of ``train`` or ``bench`` at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from .data import DATA_ENV
from .errors import ConfigError
from .models import parse_model_name

FLAG = "flag"  # the metadata key that ``flag`` fills and ``add_flags`` reads
DEVICE_HELP = (
    "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default {default}); a device that is not there is "
    "an error"
)
DATA_HELP = f"CIFAR-10 source (default: ${DATA_ENV}, else download)"
# Switches that take no value and have no --no- form keep argparse's own default (off).
SWITCHES = ("store_true", "store_false")


def flag(
    help: str,
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
    group: str | None = None,
    exclusive: str | None = None,
    name: str | None = None,
    **argparse_keywords: Any,
) -> Any:
    """A dataclass field (``default`` or ``default_factory`` as for ``dataclasses.field``) that
    is also a command-line flag. ``help``: what the flag does, ``{default}`` standing for the
    field's default; ``group``: the title of the argument group it is listed under (None: the
    command's own options); ``exclusive``: a name shared by flags of which at most one may be
    given; ``name``: the flag, when not ``--`` + the field's name with dashes; the remaining
    keywords go to ``argparse.ArgumentParser.add_argument`` as they are."""
    meaning = {"help": help, "group": group, "exclusive": exclusive, "name": name, "argparse": argparse_keywords}
    return dataclasses.field(default=default, default_factory=default_factory, metadata={FLAG: meaning})


def add_flags(parser: argparse.ArgumentParser, settings: type, *, defaults: bool) -> None:
    """Add one flag per field of the dataclass ``settings`` to ``parser``, in field order, each
    in its field's argument group (made at its first field). The parsed value lands under the
    field's name. ``defaults``: True, each flag defaults to its field's default (the command
    builds ``settings`` from every flag); False, to None, so that whatever the command asks
    first (the dataclass, a resumed run's checkpoint) decides for a flag not given."""
    hints = typing.get_type_hints(settings)
    groups: dict[str | None, Any] = {None: parser}
    exclusive: dict[tuple[str | None, str], Any] = {}
    for field in dataclasses.fields(settings):
        if FLAG not in field.metadata:
            raise ConfigError(
                f"{settings.__name__}.{field.name} has no flag: define it with flags.flag(help, default=...) so that "
                "its command has a flag for it"
            )
        meta = field.metadata[FLAG]
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        keywords = dict(meta["argparse"])
        if "action" not in keywords and bool in (hints[field.name], *typing.get_args(hints[field.name])):
            keywords["action"] = argparse.BooleanOptionalAction
        if defaults:
            # An appending flag collects a list; the command turns it into the field's type.
            keywords["default"] = [] if keywords.get("action") == "append" else default
        elif keywords.get("action") not in SWITCHES:
            keywords["default"] = None
        group = meta["group"]
        if group not in groups:
            groups[group] = parser.add_argument_group(group)
        container = groups[group]
        if meta["exclusive"] is not None:
            key = (group, meta["exclusive"])
            if key not in exclusive:
                exclusive[key] = container.add_mutually_exclusive_group()
            container = exclusive[key]
        help_text = meta["help"].format(default=describe_default(default)).replace("%", "%%")  # argparse formats %
        flag_name = meta["name"] or "--" + field.name.replace("_", "-")
        container.add_argument(flag_name, dest=field.name, help=help_text, **keywords)


def describe_default(value: object) -> str:
    """A default as a help text shows it: booleans as on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def positive_int(text: str) -> int:
    value = number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def positive_float(text: str) -> float:
    value = number(text, float)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text}")
    return value


def fraction(text: str) -> float:
    value = number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1); got {text}")
    return value


def count(text: str) -> int:
    value = number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text}")
    return value


def number(text: str, kind: type) -> int | float:
    """``text`` as an int or a float (``kind``), or the flag's error saying which was expected."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}; got {text!r}"
        ) from None


def model_name(text: str) -> str:
    """A name ``models.parse_model_name`` reads (no network is built), or the flag's error saying why not."""
    try:
        parse_model_name(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def accuracy_target(text: str) -> tuple[str, float]:
    """``MODEL=ACCURACY`` (e.g. resnet20=0.91) as (model, accuracy)."""
    model, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected MODEL=ACCURACY, e.g. resnet20=0.91; got {text!r}")
    accuracy = number(value, float)
    if not 0 < accuracy < 1:
        raise argparse.ArgumentTypeError(f"the accuracy is a fraction in (0, 1), e.g. 0.91; got {value}")
    return model_name(model), accuracy


__all__ = [
    "DATA_HELP",
    "DEVICE_HELP",
    "add_flags",
    "count",
    "describe_default",
    "flag",
    "fraction",
    "model_name",
    "number",
    "positive_float",
    "positive_int",
    "accuracy_target",
]
