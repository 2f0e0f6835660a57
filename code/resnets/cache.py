"""Remember expensive results between executions of the same notebook.

Readers re-run chapters, and chapters share experiments (several read the same trained toy nets).
With RESNETS_CACHE set to a folder, a function decorated with ``@cached`` stores
its result there, keyed by its arguments *and a hash of the package's source*, so any change
to the code recomputes. Unset (the default for readers), nothing is stored.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import pickle
from pathlib import Path
from typing import Any, Callable, TypeVar

from .files import write_atomic

CACHE_ENV = "RESNETS_CACHE"
F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def source_hash() -> str:
    """SHA-256 over every .py file of the package: a new hash whenever the code changes."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path | None:
    value = os.environ.get(CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _key(function: Callable, args: tuple, kwargs: dict) -> str:
    # Bind to the signature first, so f(1, x=2), f(1, 2) and f(1) (with x=2 the default)
    # share one entry.
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    text = repr((function.__module__, function.__qualname__, sorted(bound.arguments.items()), source_hash()))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached(function: F) -> F:
    """Cache ``function``'s (picklable) result under RESNETS_CACHE, if that is set.

    Arguments must have a stable ``repr`` (numbers, strings, tuples, torch.device...).
    Files are written atomically, so an interrupted run never leaves a broken entry.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        folder = cache_dir()
        if folder is None:
            return function(*args, **kwargs)
        path = folder / f"{function.__qualname__}-{_key(function, args, kwargs)}.pkl"
        if path.exists():
            with path.open("rb") as f:
                return pickle.load(f)
        result = function(*args, **kwargs)
        write_atomic(path, lambda f: pickle.dump(result, f))
        return result

    return wrapper  # type: ignore[return-value]
