"""The package's version, in one place: ``pyproject.toml`` reads it from here (setuptools'
``attr:``), ``resnets.__version__`` and every record of provenance import it."""

__version__ = "0.1.0"
