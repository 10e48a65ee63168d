"""Approval gates in the TUI: a song composed with ``/ask`` pauses after each stage; the TUI shows the
gate and answers it over the socket (buttons or typed answers), against a real daemon process."""

from __future__ import annotations

from backbeat.tui.app import BackbeatApp

from .support import FAST_SONG, TEST_BACKOFF, run, until
from .test_live import SIZE, logged, type_line


def stage(app: BackbeatApp) -> str | None:
    return (app.gatebox.waiting or {}).get("stage")


def test_a_gated_song_waits_at_each_stage_for_the_tuis_answer(daemon):
    async def body():
        app = BackbeatApp(daemon.socket, backoff=TEST_BACKOFF)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot.pause, lambda: app.link.connected, "connected")
            before = (daemon.call("status")["session"] or {}).get("session_id")
            await type_line(pilot, f"/ask {FAST_SONG}")
            await until(pilot.pause, lambda: stage(app) == "intent", "the intent gate")
            assert app.gatebox.has_class("open") and daemon.call("status")["gate"]["stage"] == "intent"
            await pilot.click("#gate-yes")  # the button answers
            await until(pilot.pause, lambda: stage(app) == "harmony", "the harmony gate")
            first = app.gatebox.waiting["summary"]
            await type_line(pilot, "a")  # another progression
            await until(pilot.pause, lambda: stage(app) == "harmony" and app.gatebox.waiting["summary"] != first,
                        "another progression at the same gate")
            await type_line(pilot, "e")
            await until(pilot.pause, lambda: logged(app, "say what to change after e"), "the edit's usage")
            await type_line(pilot, "y")
            await until(pilot.pause, lambda: stage(app) == "arrangement", "the arrangement gate")
            assert (daemon.call("status")["session"] or {}).get("session_id") == before, "nothing lands before the gates pass"
            await type_line(pilot, "y")
            await until(pilot.pause, lambda: stage(app) == "parts", "the parts gate")
            await type_line(pilot, "keep")
            await until(pilot.pause, lambda: stage(app) is None and not app.gatebox.has_class("open"), "the gate to close")
            await until(pilot.pause, lambda: FAST_SONG in ((app.timeline.session or {}).get("prompt") or ""), "the song")
            assert daemon.call("status")["gate"] is None

            await type_line(pilot, f"/ask {FAST_SONG}")
            await until(pilot.pause, lambda: stage(app) == "intent", "a second run's first gate")
            await pilot.click("#gate-quit")
            await until(pilot.pause, lambda: logged(app, "stopped after the intent stage"), "quit to stop the run")
            assert stage(app) is None
        daemon.call("stop")

    run(body(), timeout=60)
