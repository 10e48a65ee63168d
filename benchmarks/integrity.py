"""Note-on/note-off integrity as a listener hears it: on every key, note-ons and note-offs alternate.

One checker for the fake-clock tests (the scheduler's sends), the swap trials and ``bench soak``
(messages a JACK receiver got). A key is (port, channel, note); a note-on with velocity 0 is a
note-off, as in MIDI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

Key = tuple[str, int, int]


@dataclass
class Keys:
    """Every key's state, fed message by message."""

    sounding: dict[Key, object] = field(default_factory=dict)
    """Keys switched on and not yet off, with what ``feed`` was told about their note-on."""
    ons: Counter[Key] = field(default_factory=Counter)
    offs: Counter[Key] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    """Alternation broken: a note-on for a sounding key, or a note-off for a silent one."""

    def feed(self, port: str, message: tuple[int, ...], about: object = None) -> tuple[bool, object]:
        """Take one message; (True, what the note-on was fed with) when it is a note-off that ended a note."""
        if len(message) != 3 or message[0] & 0xE0 != 0x80:
            return False, None
        key = (port, message[0] & 0x0F, message[1])
        if message[0] & 0xF0 == 0x90 and message[2] > 0:
            self.ons[key] += 1
            if key in self.sounding:
                self.problems.append(f"note-on for {key}, already sounding (since {self.sounding[key]})")
            self.sounding[key] = about
            return False, None
        self.offs[key] += 1
        if key not in self.sounding:
            self.problems.append(f"note-off for {key}, not sounding ({about})")
            return False, None
        return True, self.sounding.pop(key)

    def unbalanced(self) -> dict[Key, int]:
        """Keys whose note-ons and note-offs differ in number: note-ons minus note-offs."""
        return {k: self.ons[k] - self.offs[k] for k in self.ons | self.offs if self.ons[k] != self.offs[k]}

    def summary(self) -> dict[str, int]:
        return {
            "keys": len(self.ons | self.offs), "note_ons": sum(self.ons.values()), "note_offs": sum(self.offs.values()),
            "unbalanced_keys": len(self.unbalanced()), "alternation_errors": len(self.problems),
            "sounding_at_end": len(self.sounding),
        }
