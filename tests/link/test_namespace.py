"""Runs the Link tests (test_link.py) inside a fresh loopback-only network namespace: Link discovery
multicasts on every interface, so those tests never run in the machine's own network."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from backbeat.benchmarks import netns

ROOT = Path(__file__).resolve().parents[2]


def test_link_tests_pass_inside_a_loopback_only_network_namespace():
    if netns.inside():
        pytest.skip("already inside a loopback-only namespace: test_link.py runs directly here")
    if importlib.util.find_spec("link") is None:
        pytest.skip("LinkPython-extern is not installed (pip install 'backbeat[link]'): no Link peer to test against")
    try:
        netns.check()
    except netns.NamespaceError as error:
        pytest.skip(f"Link tests need a loopback-only network namespace: {error}")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(Path(__file__).with_name("test_link.py"))]
    done = netns.run(argv, timeout=600, capture_output=True, text=True, cwd=ROOT)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary and "failed" not in summary, summary
    print(summary)
