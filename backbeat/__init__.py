"""The ``backbeat`` command line: the shell that ties engine, generators, daemon and tui together.

It owns argument parsing, exit codes and the one-line error contract (a traceback only with
``--debug``); every command's work lives in the package that owns it. Command modules live in
``backbeat.commands`` and each registers its own sub-parser.

The installed distribution maps the repository's top-level folders under this one import name:
``backbeat.daemon``, ``backbeat.engine``, ``backbeat.generators``, ``backbeat.tui``,
``backbeat.benchmarks``, and the tables of ``config/`` as the package data ``backbeat.config``.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is read from the installed metadata only when someone asks: a thin client such as
    # ``backbeat status`` should not pay for scanning the distributions on sys.path.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("backbeat")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
