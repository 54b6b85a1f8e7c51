"""Temporary directories with short paths, for Unix sockets (a socket's path is
limited to about 104 bytes, and gpg's agent and ours put sockets in such
directories): made directly under /tmp, removed on leaving."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def short_directory(prefix: str = "tk-") -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
