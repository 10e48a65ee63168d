"""The TUI never lies and never destroys: its model agrees with ``status`` after every kind of event,
and a line it does not understand never replaces the song (real daemon processes, Textual's pilot)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Input

from backbeat.tui.app import BackbeatApp

from .support import FAST_SONG, TEST_BACKOFF, run, until
from .test_live import SIZE, logged, type_line


def shown(app: BackbeatApp) -> dict[str, Any]:
    """What the TUI holds: the song, its clips and mutes, the transport (bar positions aside)."""
    t = app.bar.transport or {}
    return {"session": app.timeline.session, "tracks": app.timeline.tracks, "muted": app.timeline.muted,
            "state": t.get("state"), "bpm": t.get("bpm"), "section": t.get("section")}


def truth(status: dict[str, Any]) -> dict[str, Any]:
    """The same from the daemon's ``status``."""
    t, buffer = status["transport"], status.get("buffer")
    return {"session": status["session"], "tracks": None if buffer is None else buffer["tracks"],
            "muted": [] if buffer is None else buffer.get("muted"), "state": t["state"], "bpm": t["bpm"],
            "section": t["section"]}


async def agree(pilot, app: BackbeatApp, daemon, what: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the TUI's model equals ``status`` (events reach it within ``timeout`` s)."""
    last: dict[str, Any] = {}

    def same() -> bool:
        last["status"] = daemon.call("status")
        return shown(app) == truth(last["status"])

    try:
        await until(pilot.pause, same, f"the TUI to agree with status after {what}", timeout)
    except AssertionError:
        mine, theirs = shown(app), truth(last["status"])
        diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
        raise AssertionError(f"after {what} the TUI shows what status does not: {diff}") from None
    return last["status"]


def session_id(daemon) -> str | None:
    return (daemon.call("status")["session"] or {}).get("session_id")


def test_the_tui_and_status_agree_after_every_event(fresh_daemon):
    d = fresh_daemon

    async def body():
        await asyncio.to_thread(d.start)
        app = BackbeatApp(d.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: app.link.connected, "connected")
            await type_line(pilot, "/new " + FAST_SONG)
            await until(pilot.pause, lambda: logged(app, "session written"), "the first song")
            first = (await agree(pilot, app, d, "a new song"))["session"]["session_id"]

            # another song while this one plays, with the same section names: it takes over at a
            # boundary, and the TUI shows it then, whole (not when a section name it lacks comes up)
            await asyncio.to_thread(d.call, "generate", prompt=FAST_SONG, seed=77, play=True)
            await until(pilot.pause, lambda: session_id(d) not in (None, first), "the second song to take over", 15)
            await agree(pilot, app, d, "a song replacing another")

            await type_line(pilot, "/jump 2")
            await until(pilot.pause, lambda: logged(app, "jump", "landed"), "the jump to land", 10)
            await agree(pilot, app, d, "a jump")
            await type_line(pilot, "/mute bass")
            await until(pilot.pause, lambda: "bass" in app.timeline.muted, "the mute")
            await agree(pilot, app, d, "a mute")
            assert "bass    M" not in app.timeline.render().plain  # the mark sits beside the name
            assert "bass  M" in app.timeline.render().plain
            await type_line(pilot, "make the intro 8 bars")  # a new arrangement: a whole new song view
            await until(pilot.pause, lambda: logged(app, "intro"), "the refinement's answer")
            await until(pilot.pause, lambda: any(s["name"] == "intro" and s["bars"] == 8 for s in
                                                 (d.call("status")["session"] or {}).get("sections", [])), "the new intro", 15)
            await agree(pilot, app, d, "a refinement")
            await type_line(pilot, "/stop")
            await agree(pilot, app, d, "stop")

            await asyncio.to_thread(d.call, "play", loop=False, section=len(app.timeline.session["sections"]) - 1)
            await until(pilot.pause, lambda: d.call("status")["transport"]["state"] != "playing", "the song's end", 15)
            await agree(pilot, app, d, "the end of the song")

            # a second TUI attaching now shows the real clips at once (not "unknown")
            other = BackbeatApp(d.socket, backoff=TEST_BACKOFF)
            async with other.run_test(size=SIZE) as p2:
                await until(p2.pause, lambda: other.link.connected, "the second TUI")
                assert other.timeline.tracks == d.call("status")["buffer"]["tracks"]
                rows = other.timeline.render().plain.splitlines()[2:6]  # the four parts' rows
                assert rows and not any("┄" in row for row in rows), rows

            await asyncio.to_thread(d.stop, 9)
            await until(pilot.pause, lambda: not app.link.connected, "the disconnect")
            await asyncio.to_thread(d.start)
            await until(pilot.pause, lambda: app.link.connected, "the reconnect", 10)
            await agree(pilot, app, d, "a daemon restart")

    run(body(), timeout=90)


def test_a_line_that_is_not_understood_never_replaces_the_song_and_undo_brings_one_back(daemon):
    async def body():
        app = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: app.link.connected, "connected")
            await asyncio.to_thread(daemon.call, "generate", prompt=FAST_SONG, seed=11, play=True)
            await until(pilot.pause, lambda: logged(app, "session written"), "the song")
            first = session_id(daemon)
            for line, answer in (("change the tempo to 96", "tempo"), ("slow it down a bit", "tempo"),
                                 ("go to the chorus", "jump chorus"), ("stop the bass", "bass: muted"),
                                 ("undo", "undo: "), ("the weather is nice today", "I did not understand"),
                                 ("redo", "redo: "), ("back", "undo: ")):
                before = len(app.logview.plain)
                await type_line(pilot, line)
                await until(pilot.pause, lambda: [x for x in list(app.logview.plain)[before:] if answer in x],
                            f"the answer to {line!r}")
                assert session_id(daemon) == first, f"{line!r} replaced the song"
                assert not logged(app, "composing"), f"{line!r} composed a new song"
            assert len(logged(app, "I did not understand", "weather", "Try e.g.")) == 1  # once, with suggestions

            await type_line(pilot, "/new lofi hip hop at 300 bpm")
            await until(pilot.pause, lambda: session_id(daemon) != first, "the new song to take over", 15)
            await type_line(pilot, "undo")
            await until(pilot.pause, lambda: logged(app, "back to the previous song"), "the undo of the new song")
            await until(pilot.pause, lambda: session_id(daemon) == first, "the previous song to come back", 15)
            await until(pilot.pause, lambda: (app.timeline.session or {}).get("session_id") == first, "the TUI to show it")
            assert app.query_one(Input).has_focus

    run(body(), timeout=60)
