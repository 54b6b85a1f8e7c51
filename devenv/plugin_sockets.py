"""Where the providers that tests and benches start put their Unix sockets.

A provider removes its socket directory when it shuts down, but tests and
benches also kill providers (benches by the hundred, right after the
handshake line), and a killed process cannot clean up. With
PLUGIN_UNIX_SOCKET_DIR (go-plugin's setting, passed on by Terraform) pointing
at a directory of the run's own, removed at its end, none is left in /tmp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def plugin_sockets() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="tk-plugins-", dir="/tmp"))
    previous = os.environ.get("PLUGIN_UNIX_SOCKET_DIR")
    os.environ["PLUGIN_UNIX_SOCKET_DIR"] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop("PLUGIN_UNIX_SOCKET_DIR", None)
        else:
            os.environ["PLUGIN_UNIX_SOCKET_DIR"] = previous
        shutil.rmtree(directory, ignore_errors=True)
