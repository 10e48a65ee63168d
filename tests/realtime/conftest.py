"""A private JACK server (dummy driver) for the real-time tests, and a JACK client that listens.

The dummy driver needs no sound hardware. Its frame clock drifts against wall time on a loaded VM,
so timing is judged by ``time.perf_counter`` stamps taken in the receiver's callback (the same
clock the engine's deadlines are on), with loose bounds: JACK delivers MIDI once per period.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from backbeat.benchmarks import jack
from backbeat.benchmarks.jack import Receiver

def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def jack_server() -> Iterator[jack.Server]:
    """A running ``jackd -d dummy`` with a unique name (synchronous: see ``jack.SERVER_OPTIONS``);
    JACK clients of this process use it."""
    if jack.JACKD is None:
        pytest.skip("jackd is not installed (Debian/Ubuntu: apt-get install jackd2): no real MIDI subsystem to test against")
    try:
        with jack.server("backbeat-test") as server:
            yield server
    except jack.JackError as e:
        pytest.fail(str(e))


@pytest.fixture
def receiver(jack_server: jack.Server) -> Iterator[Receiver]:
    r = Receiver(unique("recv"))
    yield r
    r.close()


def is_note(m: tuple[int, ...]) -> bool:
    return len(m) == 3 and m[0] & 0xE0 == 0x80


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True
