"""Atomic file writes: every file of a run folder (checkpoints, config, probe files) goes through here.

Each write goes to a temporary file in the target's folder, is flushed (and, by default,
fsync'ed), then moved over the target with ``os.replace``: a reader, a crash or a Ctrl-C
sees the old file or the complete new one, never a half-written file. The temporary file
is removed if anything fails, KeyboardInterrupt included.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: mode of the files written here: what ``open()`` would give (0o666 less the umask),
#: not the 0o600 of a bare ``mkstemp``
FILE_MODE: int = 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Replace ``path`` by ``data``; ``fsync`` makes it durable across a power loss (a few ms)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=_TEMP_SUFFIX)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> Path:
    """Replace ``path`` by ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray], fsync: bool = True, compressed: bool = False) -> Path:
    """``np.savez(path, **arrays)`` (``np.savez_compressed`` if ``compressed``), atomically."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue(), fsync=fsync)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that a process killed mid-write (``kill -9``) left under
    ``folder``; call it only while no other process writes there. Returns what was removed."""
    stale = [p for p in Path(folder).rglob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
