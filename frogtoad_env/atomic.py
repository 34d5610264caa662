"""Atomic file writes, shared by training checkpoints and the CMNI probe's files.

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


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Replace ``path`` by ``data``; ``fsync`` makes it durable across a power loss (a few ms)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
