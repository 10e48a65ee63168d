"""Events to subscribers: every connection that subscribed gets its own bounded queue.

A subscriber whose queue is full is not silently skipped (notifications never get lost, as MPD's
protocol has it): it is cut off, with the reason, and reconnects to a fresh ``status``.

Warnings and errors are also kept (the last ``KEPT``) and replayed to each new subscriber to
``log``: a problem reported before anyone listened (a last session that would not load, an engine
that cannot start) still reaches the first client that asks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from .protocol import EVENTS, LogEvent, Payload, event

QUEUE = 256
"""Events a subscriber may have pending before it counts as stalled."""
KEPT = 32
"""Warnings and errors replayed to a new ``log`` subscriber."""


@dataclass(eq=False)
class Subscriber:
    topics: frozenset[str]
    send: trio.MemorySendChannel[dict[str, Any]]
    receive: trio.MemoryReceiveChannel[dict[str, Any]]
    overflowed: trio.Event = field(default_factory=trio.Event)


class Bus:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self.kept: deque[dict[str, Any]] = deque(maxlen=KEPT)
        """The latest warning and error ``log`` frames."""

    def subscribe(self, topics: list[str] | None) -> Subscriber:
        send, receive = trio.open_memory_channel[dict[str, Any]](QUEUE)
        sub = Subscriber(frozenset(topics or EVENTS), send, receive)
        if "log" in sub.topics:
            for frame in self.kept:
                send.send_nowait(frame)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        sub.send.close()

    def publish(self, name: str, data: Payload | dict[str, Any]) -> None:
        payload = data.model_dump(mode="json") if isinstance(data, Payload) else data
        frame = event(name, payload)
        for sub in list(self._subscribers):
            if name not in sub.topics:
                continue
            try:
                sub.send.send_nowait(frame)
            except trio.WouldBlock:
                sub.overflowed.set()
                self.unsubscribe(sub)
            except (trio.BrokenResourceError, trio.ClosedResourceError):  # its connection is gone
                self._subscribers.discard(sub)

    def log(self, level: str, message: str) -> None:
        payload = LogEvent(level=level, message=message)
        if level != "info":
            self.kept.append(event("log", payload.model_dump(mode="json")))
        self.publish("log", payload)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
