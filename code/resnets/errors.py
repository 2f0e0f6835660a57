"""The package's errors: one base class, so a caller (the CLI above all) can tell a mistake
it should explain from a bug that needs its traceback.

    ResnetsError        every error that says what to do; ``python -m resnets`` prints it as one line
      ConfigError       a setting or argument that cannot work (also a ValueError)
      DeviceError       a device was asked for that is not there (also a RuntimeError)
      files.FileError   a file or folder that cannot be used: changed on disk, locked, unreadable, unwritable
        checkpoints.CheckpointError   a checkpoint that cannot be loaded or resumed
      data.DataError    CIFAR-10 that cannot be found, downloaded or read
      train.TrainingDiverged          the loss became NaN or Inf
      results.MissingResults          no stored results of an experiment (also a FileNotFoundError)

Each error lives beside the code that raises it; this module holds the base and the two that
every module raises. A TypeError for a programming mistake (a wrong object passed) stays a
TypeError: it is a bug to fix, with its traceback.
"""

from __future__ import annotations


class ResnetsError(Exception):
    """Base of every error whose message names the fix."""


class ConfigError(ResnetsError, ValueError):
    """A setting or argument that cannot work: out of range, unknown, or in conflict with another."""


class DeviceError(ResnetsError, RuntimeError):
    """A device (cuda, cuda:N, mps) was asked for that this machine does not have."""


__all__ = ["ConfigError", "DeviceError", "ResnetsError"]
