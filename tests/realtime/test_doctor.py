"""``backbeat doctor`` against a real MIDI system: JACK's dummy driver is usable, its ports are
listed, and a virtual port can be created there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import Receiver

pytestmark = pytest.mark.realtime


def test_jack_is_usable_its_ports_listed_and_a_virtual_port_can_be_made(receiver: Receiver):
    port = receiver.listen_virtual()
    out = subprocess.run([sys.executable, "-m", "backbeat", "doctor", "--json"], capture_output=True, text=True, timeout=60).stdout
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["midi JACK"]["status"] == "ok" and "input(s)" in checks["midi JACK"]["detail"]
    assert checks["virtual port JACK"]["status"] == "ok"
    assert "midi" not in checks, "no 'nothing usable' failure while JACK works"
    listed = subprocess.run([sys.executable, "-m", "backbeat", "ports", "--midi-api", "jack"], capture_output=True, text=True).stdout
    assert port in listed
