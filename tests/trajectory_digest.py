"""A SHA-256 digest of env outputs, so a test can pin a whole trajectory bit for bit."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


class TrajectoryDigest:
    """Feed it what ``reset``/``step`` return; :meth:`hexdigest` changes if any value, dtype or type does.

    Arrays hash their dtype, shape and raw bytes; dicts hash their items in key order;
    everything else hashes its type name and ``repr`` (so ``1`` and ``True`` and ``1.0`` differ).
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def feed(self, value: Any) -> None:
        if isinstance(value, np.ndarray):
            self._hash.update(f"array {value.dtype} {value.shape}:".encode())
            self._hash.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, dict):
            self._hash.update(b"{")
            for key in sorted(value):
                self._hash.update(f"{key!r}:".encode())
                self.feed(value[key])
            self._hash.update(b"}")
        elif isinstance(value, tuple):
            self._hash.update(b"(")
            for item in value:
                self.feed(item)
            self._hash.update(b")")
        else:
            self._hash.update(f"{type(value).__name__} {value!r};".encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
