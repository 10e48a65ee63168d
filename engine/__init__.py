"""The real-time engine: turns timed MIDI events into bytes on ports at the right microsecond.

Layers, bottom up:

* ``time``        ticks at 480 PPQ, meters and the tempo map (ticks <-> seconds).
* ``events``      frozen values: ``Note``, ``Clip``, ``Event`` (one MIDI message at a tick).
* ``errors``      the one error root, ``EngineError``, and its subclasses.
* ``ledger``      which (port, channel, note) is sounding, so nothing is ever left hanging.
* ``scheduler``   pure: pending events, replace-from-tick, tempo, jumps, start/stop — no clock, no I/O.
* ``clock_sync``  pure: MIDI clock out from the transport; tempo and start/stop from a clock in.
* ``stats``       the bounded lateness histogram.
* ``commands``    what crosses the pipe: config, commands, telemetry (frozen dataclasses).
* ``ports``       python-rtmidi outputs/inputs; ``monitor`` the terminal monitor and null sink.
* ``notemap``     per-port drum maps: channel-10 notes sent through a 128-note table.
* ``link``        Ableton Link: the session's tempo, bar phase and start/stop, read in this process.
* ``jack``        the JACK graph as a listener sees it (server loss, connections), for ``ports``.
* ``priority``    timer slack and real-time priority, as granted.
* ``outbox``      non-blocking frames from the engine to its owner.
* ``rt``          the engine process: one loop that sleeps to absolute deadlines and sends.
* ``client``      the owner's handle on the engine process (spawn, commands, telemetry).

The engine owns timing and sending. It must never generate music, parse LLM output, touch the
session folder, or import ``generators``/``daemon``/``trio``/``pydantic``: the engine process stays
small so its clock is not disturbed by anything else. See docs/ENGINE.md.
"""
