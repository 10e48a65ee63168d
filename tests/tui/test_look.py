"""The TUI's conventions, without a daemon: the help screen, the palette, described keys, mute and
solo marks, wrapped log lines and readable border titles."""

from __future__ import annotations

import asyncio

from textual.color import Color

from backbeat.tui.app import BackbeatApp
from backbeat.tui.commands import SLASH
from backbeat.tui.widgets.timeline import render_arrangement, track_mark

from .support import TEST_BACKOFF

SECTIONS = [{"name": "intro", "bars": 4, "start_bar": 1}, {"name": "drop", "bars": 8, "start_bar": 5}]


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio of two colours."""
    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_help_palette_keys_log_and_colours(tmp_path):
    async def body():
        app = BackbeatApp(tmp_path / "nobody.sock", backoff=TEST_BACKOFF)
        async with app.run_test(size=(100, 30)) as pilot:
            for widget in (app.timeline, app.stages, app.logview):
                title, behind = widget.styles.border_title_color, app.screen.styles.background
                title = behind + title  # its alpha over the background
                assert contrast(title, behind) >= 4.5, f"{widget.id}: border title contrast {contrast(title, behind):.1f}"

            assert all(b.description for b in app.BINDINGS), "every key of the Keys panel says what it does"
            palette = [c.title for c in app.get_system_commands(app.screen)]
            assert all(any(spec.usage in t for t in palette) for spec in SLASH.values())

            await pilot.press("f1")
            await pilot.pause()
            from rich.console import Console

            console = Console(width=100, record=True, file=open("/dev/null", "w"))
            console.print(app.screen.table)
            shown = console.export_text()
            assert type(app.screen).__name__ == "HelpScreen"
            for needed in ("space", "1…9", "⇧1…9", "esc", "ctrl+p", *(spec.usage for spec in SLASH.values()), "any other text"):
                assert needed in shown, needed
            await pilot.press("escape")
            await pilot.press("escape", "question_mark")  # ? from the arrangement opens it too
            await pilot.pause()
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")

            long = "a very long line " * 20
            app.logview.note(long)
            await pilot.pause()
            assert len(app.logview.plain) and app.logview.plain[-1] == long.strip()
            assert app.logview.virtual_size.height >= 3  # wrapped, not cut off

    asyncio.run(asyncio.wait_for(body(), 30))


def test_mute_and_solo_marks_beside_the_part_names():
    assert track_mark("bass", ["bass"])[0] == "M"
    assert track_mark("drums", ["bass", "chords", "lead"])[0] == "S"
    assert track_mark("drums", ["bass"])[0] == " "
    rows = render_arrangement(SECTIONS, {}, current=None, offset=0, busy=False, width=60, muted=["lead"]).plain.splitlines()
    assert rows[5].startswith("lead  M") and rows[2].startswith("drums   ")
