"""Where the providers that tests and benches start put their Unix sockets.

A provider removes its socket directory when it shuts down, but tests and
benches also kill providers (benches by the hundred, right after the
handshake line), and a killed process cannot clean up. With
PLUGIN_UNIX_SOCKET_DIR (go-plugin's setting, passed on by Terraform) pointing
at a directory of the run's own, removed at its end, none of ours is left in
/tmp. The peers' plugins put theirs in the temporary directory instead (the
Go provider's go-plugin, pyvider, hfern's tf), so TMPDIR points there too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from devenv.scratch import short_directory

# What the processes started inside plugin_sockets() are told to use.
PLACES = ("PLUGIN_UNIX_SOCKET_DIR", "TMPDIR")


@contextlib.contextmanager
def plugin_sockets() -> Iterator[Path]:
    previous = {name: os.environ.get(name) for name in PLACES}
    with short_directory("tk-plugins-") as directory:
        os.environ.update(dict.fromkeys(PLACES, str(directory)))
        try:
            yield directory
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
