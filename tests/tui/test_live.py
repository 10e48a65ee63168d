"""The TUI driven by Textual's pilot against a real daemon process."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from backbeat.tui.app import BackbeatApp

from .support import FAST_SONG, TEST_BACKOFF, run, until

SIZE = (120, 36)


def logged(app: BackbeatApp, *words: str) -> list[str]:
    """The log lines that contain every one of ``words``."""
    return [line for line in app.logview.plain if all(w in line for w in words)]


def bar(app: BackbeatApp) -> int:
    return (app.bar.transport or {}).get("bar", 0)


async def type_line(pilot, text: str, *, keys: bool = False) -> None:
    """Enter ``text`` on the input line: key by key, or (much faster) set and press enter."""
    line = pilot.app.query_one(Input)
    line.focus()
    if keys:
        await pilot.press(*text, "enter")
    else:
        line.value = text
        await pilot.press("enter")


def test_prompt_plays_jump_tempo_and_space_stops(daemon):
    async def body():
        app = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: app.link.connected, "connected")
            await type_line(pilot, FAST_SONG, keys=True)
            await until(pilot.pause, lambda: logged(app, "composing", FAST_SONG), "the generate confirmation")
            await until(pilot.pause, lambda: app.bar.state == "playing", "playback")
            await until(pilot.pause, lambda: app.stages.stages and not app.stages.busy
                        and all(s["status"] == "done" for s in app.stages.stages.values()), "every stage done")
            assert len(app.stages.stages) >= 4
            await until(pilot.pause, lambda: app.timeline.session and app.timeline.session["sections"], "the song's sections")
            await until(pilot.pause, lambda: app.timeline.tracks and "drums" in app.timeline.tracks, "the tracks' clips")
            first = bar(app)
            await until(pilot.pause, lambda: bar(app) >= first + 1, "the bar number to advance")

            await type_line(pilot, "/jump chorus")
            await until(pilot.pause, lambda: logged(app, "jump", "pending"), "a pending jump in the log")
            await until(pilot.pause, lambda: logged(app, "jump", "landed"), "the jump to land")
            await until(pilot.pause, lambda: "chorus" in (app.bar.transport or {}).get("section", ""), "the chorus")

            await type_line(pilot, "/tempo 124")
            await until(pilot.pause, lambda: logged(app, "tempo", "pending"), "a pending tempo change")
            assert (app.bar.transport or {}).get("bpm") != 124
            await until(pilot.pause, lambda: (app.bar.transport or {}).get("bpm") == 124, "124 BPM after it lands")

            await pilot.press("escape", "at")  # shift+2 on a US layout: section 2 at the next bar
            await until(pilot.pause, lambda: logged(app, "jump verse", "landed"), "shift+2 to land at the next bar")
            await pilot.press("1")
            await until(pilot.pause, lambda: logged(app, "jump intro", "pending"), "key 1 to schedule the intro")
            await pilot.press("space")
            await until(pilot.pause, lambda: app.bar.state == "stopped", "space to stop playback")

    run(body())
    assert daemon.call("status")["transport"]["state"] == "stopped"


def test_two_tuis_see_events_and_quitting_leaves_the_music_playing(daemon):
    async def body():
        one = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        two = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        async with one.run_test(size=SIZE) as p1, two.run_test(size=SIZE) as p2:
            await until(p1.pause, lambda: one.link.connected and two.link.connected, "both connected")
            await asyncio.to_thread(daemon.call, "generate", prompt=FAST_SONG, bars=12, seed=5, play=True)
            for app, pilot in ((one, p1), (two, p2)):
                await until(pilot.pause, lambda: app.bar.state == "playing", "playback in both TUIs")
                await until(pilot.pause, lambda: logged(app, "session written"), "the daemon's log line in both")
            start = bar(two)
            await p1.press("escape", "q")
            await until(p2.pause, lambda: not one.is_running, "the first TUI to quit")
            await until(p2.pause, lambda: bar(two) > start, "the second TUI still to see bars")
            assert two.link.connected
        return True

    assert run(body())
    status = daemon.call("status")
    assert status["transport"]["state"] == "playing", "quitting a TUI must never stop the music"
    daemon.call("stop")


def test_a_bad_slash_command_is_one_log_line(daemon):
    async def body():
        app = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: app.link.connected, "connected")
            for line, expected in (("/frobnicate now", "unknown command /frobnicate"), ("/tempo fast", "usage: /tempo"),
                                   ("/mute kazoo", "/mute: track"), ("/jump nowhere", "jump: ")):
                before = len(app.logview.plain)
                await type_line(pilot, line)
                await until(pilot.pause, lambda: len(app.logview.plain) > before, f"an answer to {line}")
                await pilot.pause(0.2)
                new = list(app.logview.plain)[before:]
                assert len(new) == 1 and expected in new[0], new
                assert "Traceback" not in new[0]

    run(body())


def test_reconnects_when_the_daemon_restarts(fresh_daemon):
    async def body():
        app = BackbeatApp(fresh_daemon.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: "disconnected — retrying" in app.bar.link, "the no-daemon line")
            assert app.is_running and logged(app, "disconnected — retrying")
            await asyncio.to_thread(fresh_daemon.start)
            await until(pilot.pause, lambda: app.link.connected, "the first connection")
            await asyncio.to_thread(fresh_daemon.call, "generate", prompt=FAST_SONG, bars=12, seed=9, play=True)
            await until(pilot.pause, lambda: logged(app, "session written"), "the song to be written")
            await until(pilot.pause, lambda: app.bar.state == "playing", "playback")

            await asyncio.to_thread(fresh_daemon.stop, 9)  # SIGKILL: no goodbye
            await until(pilot.pause, lambda: "disconnected — retrying" in app.bar.link, "the disconnect to show")
            assert app.bar.transport is None and not app.link.connected
            connections = len(logged(app, "connected to the daemon"))

            await asyncio.to_thread(fresh_daemon.start)
            await until(pilot.pause, lambda: len(logged(app, "connected to the daemon")) > connections, "a reconnect")
            await until(pilot.pause, lambda: app.bar.linked and app.bar.transport is not None, "the transport after the reconnect")
            await until(pilot.pause, lambda: app.timeline.session is not None, "the last session after the restart")

    run(body())
