"""Files that survive crashes, changes on disk and a second process: the package's file I/O.

Four tools, each tested (``tests/test_files.py``; ``make_folder`` through the CLI, ``tests/test_cli_outputs.py``):

1. ``write_atomic(path, write)``: readers see the old file or the new one, never a mix. The
   bytes go to a temporary file beside ``path``, are flushed to disk, then renamed over it
   (a rename is atomic on POSIX and Windows). A crash, SIGKILL or full disk leaves ``path`` as it was.
2. ``VerifiedFolder``: a folder whose files are listed with their SHA-256 in ``SHA256SUMS``
   (the format of ``sha256sum``, so ``sha256sum -c SHA256SUMS`` checks a finished run by hand).
   ``save`` writes a file and its digest so that a crash at any moment leaves every file
   matching a listed digest; ``verify`` refuses a file that changed after it was written (a bad
   disk, a partial copy, a sync tool), naming the file and what to do. With ``keep_previous``
   the last good version stays beside the new one (``checkpoint.prev.pt``) until the new one
   has been read back from disk and matched.
3. ``lock_folder``: an OS-level lock (``flock``; ``msvcrt.locking`` on Windows) held by
   the one process that writes the folder. It disappears with the process, so a SIGKILLed run
   never leaves a stale lock; a second process is refused with the holder's pid.
4. ``make_folder``: an output folder made and written to once before a command's work, so
   that a folder which cannot be (a file in the way, no permission, a read-only file system)
   is a ``FileError`` naming what stands in the way and the fix, before minutes of work rather
   than after. ``lock_folder`` says the same of the folder it locks.

Nothing here imports torch: checkpoints, the decode cache and the results cache all write through it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ResnetsError

SUMS = "SHA256SUMS"
LOCK = ".lock"
ANOTHER_FOLDER = "choose another folder (--out)"  # the fix for an output folder that cannot be used


class FileError(ResnetsError, RuntimeError):
    """A file that cannot be written, or is not what was written; the message says what to do."""


class FolderInUse(FileError):
    """Another live process holds the folder's lock."""


# ---------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------


def write_atomic(
    path: str | Path, write: Callable[[BinaryIO], None], *, check: Callable[[Path], None] | None = None
) -> Path:
    """Write ``path`` with ``write(file)`` so that readers see the old file or the new one.

    ``check(temporary)`` runs after the bytes are on disk and before the rename: it may raise to
    keep the old file. On any failure the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # what open() would give; mkstemp makes it private
        with os.fdopen(handle, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, path)
    except BaseException as err:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(err, OSError):
            kept = f"The previous {path.name} is intact." if path.exists() else "Nothing was written."
            reason = "the disk is full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
            raise FileError(f"could not write {path}: {reason}. {kept} Free some space or write elsewhere.") from err
        raise
    fsync_directory(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(path: str | Path) -> None:
    """Delete temporary files that a process killed while writing ``path`` left behind."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a power cut right after could otherwise lose it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------
# A folder of verified files
# ---------------------------------------------------------------------------------------


def previous_name(name: str) -> str:
    """Where the last good version of ``name`` is kept: checkpoint.pt -> checkpoint.prev.pt."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.prev.{suffix}" if dot else f"{name}.prev"


class VerifiedFolder:
    """A folder whose files are written with their SHA-256 and verified when read back.

    Only the process holding ``lock_folder(path)`` should write; any process may ``verify``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- the digests ----------------------------------------------------------------------

    @property
    def sums_file(self) -> Path:
        return self.path / SUMS

    def sums(self) -> dict[str, set[str]]:
        """name -> the digests it may have (two only while a save is under way)."""
        listed: dict[str, set[str]] = {}
        if self.sums_file.is_file():
            for line in self.sums_file.read_text().splitlines():
                digest, _, name = line.partition("  ")
                if name:
                    listed.setdefault(name, set()).add(digest)
        return listed

    def _write_sums(self, sums: dict[str, set[str]]) -> None:
        text = "".join(f"{d}  {name}\n" for name in sorted(sums) for d in sorted(sums[name]))
        write_atomic(self.sums_file, lambda f: f.write(text.encode()))

    def verified(self) -> bool:
        """True if the folder lists digests (folders written before digests existed do not)."""
        return self.sums_file.is_file()

    def verify(self, name: str) -> Path:
        """The path of ``name``, after checking it against its listed digest.

        Raises ``FileError`` naming the file and the fix when it is missing, unlisted or changed.
        A folder without ``SHA256SUMS`` (written before this package kept digests) is not checked.
        """
        path = self.path / name
        if not path.is_file():
            raise FileError(f"{path} is missing")
        if not self.verified():
            return path
        listed = self.sums().get(name)
        if listed is None:
            raise FileError(
                f"{path} is not listed in {self.sums_file}: it was not written by this run. It was not used; remove "
                "it, or start the run again in a new folder (--out)."
            )
        actual = sha256_file(path)
        if actual not in listed:
            raise FileError(
                f"{path} changed after it was written (SHA-256 {actual[:12]}..., {SUMS} lists "
                f"{sorted(listed)[0][:12]}...): "
                f"a bad disk, a partial copy or a sync tool. It was not used. {self._remedy(name)}"
            )
        return path

    def _remedy(self, name: str) -> str:
        previous = previous_name(name)
        with contextlib.suppress(FileError):
            if (self.path / previous).is_file() and self.verify(previous):
                return (
                    f"The previous good version, {previous}, is kept: "
                    f"delete {name} and run the same command again to go on from it."
                )
        return "Start again in a new folder (--out), or delete this folder and run the same command again."

    def save(self, name: str, data: bytes, *, keep_previous: bool = False) -> Path:
        """Write ``data`` as ``name`` with its digest, atomically; verified on disk before use.

        At every moment a crash leaves each file of the folder matching a listed digest: the
        new digest is listed before the rename and the old one dropped after it. With
        ``keep_previous`` the current file, if it verifies, becomes ``previous_name(name)``.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()
        target, previous, sums = self.path / name, previous_name(name), self.sums()

        def matches_what_was_meant(temporary: Path) -> None:
            if sha256_file(temporary) != digest:
                raise FileError(
                    f"{target} read back differently from what was written; the previous version is kept. Check the "
                    "disk, then run the same command again."
                )
            current = sha256_file(target) if keep_previous and target.is_file() else None
            keep = current is not None and current in sums.get(name, set())  # a damaged file is not worth keeping
            sums[name] = sums.get(name, set()) | {digest}
            if keep:
                sums[previous] = sums.get(previous, set()) | {current}
            self._write_sums(sums)  # the new digest, and the kept one under its new name, before any rename
            if keep:
                os.replace(target, self.path / previous)
                sums[previous] = {current}

        write_atomic(target, lambda f: f.write(data), check=matches_what_was_meant)
        sums[name] = {digest}
        self._write_sums(sums)
        return target

    def save_text(self, name: str, text: str) -> Path:
        return self.save(name, text.encode())


# ---------------------------------------------------------------------------------------
# Output folders that can be written
# ---------------------------------------------------------------------------------------


def make_folder(folder: str | Path, *, elsewhere: str = ANOTHER_FOLDER) -> Path:
    """Make ``folder`` (and its parents) unless it is there, and write a file in it and delete
    it again: a command calls this before its work, so that an output folder that cannot be
    used fails at once. Returns the folder.

    Raises ``FileError`` naming what stands in the way (a file, no permission, a read-only file
    system, a file system that takes no new folders) and ending with ``elsewhere``, the fix."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # unnamed where the OS can: nothing left if killed
            pass
    except OSError as err:
        raise _unusable(folder, err, elsewhere) from err
    return folder


def _unusable(folder: Path, err: OSError, elsewhere: str) -> FileError:
    """The error for a folder that ``err`` kept from being made or written, in words."""
    there = next(p for p in (folder, *folder.parents) if p.exists())  # the nearest part that exists
    if not there.is_dir():
        obstacle = f"{there} is a file, not a folder"
    elif err.errno == errno.EROFS:
        obstacle = f"{there} is on a read-only file system"
    elif err.errno in (errno.EACCES, errno.EPERM):
        obstacle = f"you have no permission to write in {there}"
    elif err.errno == errno.ENOSPC:
        obstacle = "the disk is full"
    elif err.errno == errno.ENOENT:  # /proc, for one, answers a new folder so
        obstacle = f"{there} takes no new folders ({err.strerror}: {err.filename})"
    else:
        obstacle = f"{err.strerror or err}: {err.filename or there}"
    return FileError(f"cannot write in {folder}: {obstacle}; {elsewhere}.")


# ---------------------------------------------------------------------------------------
# One process at a time
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def lock_folder(folder: str | Path, what: str, *, elsewhere: str = ANOTHER_FOLDER) -> Iterator[None]:
    """Hold ``folder`` for this process while the block runs; ``what`` says what for.

    Raises ``FolderInUse`` at once, naming the holder's pid, if another live process holds it,
    and ``FileError`` if the folder cannot be made or written (see ``make_folder``); both
    messages end with ``elsewhere``, the way out.
    The lock is the OS's (on the file ``folder/.lock``), so it ends with its process, however
    that process ends: a lock file left by a dead process blocks nothing.
    """
    folder = Path(folder)
    lock_file = folder / LOCK
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _unusable(folder, err, elsewhere) from err
    try:
        if not _try_lock(fd):
            holder = lock_file.read_text().strip() or "another process"
            raise FolderInUse(f"{folder} is in use by {holder}; wait for it to finish (or stop it), or {elsewhere}.")
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} ({what})\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            _unlock(fd)
    finally:
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


__all__ = [
    "ANOTHER_FOLDER",
    "LOCK",
    "SUMS",
    "FileError",
    "FolderInUse",
    "VerifiedFolder",
    "fsync_directory",
    "lock_folder",
    "make_folder",
    "previous_name",
    "remove_stale_temporaries",
    "sha256_file",
    "write_atomic",
]
