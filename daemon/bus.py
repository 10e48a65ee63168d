"""Events to subscribers: every connection that subscribed gets its own bounded queue.

A subscriber whose queue is full is not silently skipped (notifications never get lost, as MPD's
protocol has it): it is cut off, with the reason, and reconnects to a fresh ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from .protocol import EVENTS, LogEvent, Payload, event

QUEUE = 256
"""Events a subscriber may have pending before it counts as stalled."""


@dataclass(eq=False)
class Subscriber:
    topics: frozenset[str]
    send: trio.MemorySendChannel[dict[str, Any]]
    receive: trio.MemoryReceiveChannel[dict[str, Any]]
    overflowed: trio.Event = field(default_factory=trio.Event)


class Bus:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self.recent_log: list[dict[str, Any]] = []

    def subscribe(self, topics: list[str] | None) -> Subscriber:
        send, receive = trio.open_memory_channel[dict[str, Any]](QUEUE)
        sub = Subscriber(frozenset(topics or EVENTS), send, receive)
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
        self.publish("log", LogEvent(level=level, message=message))

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
