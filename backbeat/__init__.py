"""The ``backbeat`` command line: the shell that ties engine, generators, daemon and tui together.

It owns argument parsing, exit codes and the one-line error contract (a traceback only with
``--debug``); every command's work lives in the package that owns it. Command modules live in
``backbeat.commands`` and each registers its own sub-parser.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backbeat")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
