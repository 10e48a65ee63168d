"""The real-time engine: turns timed MIDI events into bytes on ports at the right microsecond.

Layers, bottom up:

* ``time``      ticks at 480 PPQ, meters and the tempo map (ticks <-> seconds).
* ``events``    frozen values: ``Note``, ``Clip``, ``Event`` (one MIDI message at a tick).
* ``ledger``    which (port, channel, note) is sounding, so nothing is ever left hanging.
* ``scheduler`` pure: pending events, replace-from-tick, tempo, start/stop — no clock, no I/O.
* ``rt``        the engine process: one loop that sleeps to absolute deadlines and sends.
* ``ports``     python-rtmidi outputs/inputs, and the terminal monitor when no MIDI API works.
* ``client``    the owner's handle on the engine process (spawn, commands, telemetry).

The engine owns timing and sending. It must never generate music, parse LLM output, touch the
session folder, or import ``generators``/``daemon``/``trio``: the engine process stays small so its
clock is not disturbed by anything else.
"""
