"""The input line's parser: slash commands and plain text → protocol requests (pure)."""

from __future__ import annotations

import pytest

from tui.commands import PLAIN_TEXT, SLASH, Action, help_lines, parse
from tui.errors import InputError


@pytest.mark.parametrize(("line", "cmd", "args"), [
    ("/jump chorus", "jump", {"section": "chorus", "quantize": "section"}),
    ("/jump chorus 2", "jump", {"section": "chorus 2", "quantize": "section"}),
    ("/jump 2 bar", "jump", {"section": 1, "quantize": "bar"}),
    ("/JUMP verse section", "jump", {"section": "verse", "quantize": "section"}),
    ("/tempo 124", "tempo", {"bpm": 124.0}),
    ("/tempo 96.5", "tempo", {"bpm": 96.5}),
    ("/mute bass", "mute", {"track": "bass", "on": True}),
    ("/unmute Bass", "mute", {"track": "bass", "on": False}),
    ("/regen lead", "regenerate", {"part": "lead"}),
    ("/regenerate drums", "regenerate", {"part": "drums"}),
    ("/play", "play", {}),
    ("/stop", "stop", {}),
    ("/panic", "panic", {}),
    ("/learn jump:next", "learn", {"action": "jump:next"}),
    ("  /stop  ", "stop", {}),
])
def test_slash_commands(line, cmd, args):
    assert parse(line, has_session=True) == Action(cmd, args)


def test_plain_text_is_a_new_song_played_at_once():
    for has_session in (False, True):
        action = parse("  late night garage  ", has_session=has_session)
        assert action == Action(PLAIN_TEXT[has_session], {"prompt": "late night garage", "play": True})


def test_help_is_local_and_lists_every_command():
    assert parse("/help", has_session=False) == Action("help", {}, local=True)
    text = "\n".join(help_lines())
    assert all(spec.usage in text for spec in SLASH.values())


@pytest.mark.parametrize(("line", "message"), [
    ("", "type a prompt"),
    ("/", "unknown command"),
    ("/frobnicate", "unknown command /frobnicate"),
    ("/jump", "usage: /jump"),
    ("/jump 0", "numbered from 1"),
    ("/tempo", "usage: /tempo"),
    ("/tempo fast", "usage: /tempo"),
    ("/tempo 500", "less than or equal to 300"),
    ("/mute", "usage: /mute"),
    ("/mute kazoo", "/mute: track"),
    ("/regen bass lead", "usage: /regen"),
    ("/stop now", "/stop takes no arguments"),
    ("/learn", "usage: /learn"),
])
def test_bad_lines_are_one_line_errors(line, message):
    with pytest.raises(InputError) as caught:
        parse(line, has_session=True)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_plain_text_follows_the_table(monkeypatch):
    """Switching text with a song loaded to ``refine`` is one table entry (the daemon lacks it today)."""
    monkeypatch.setitem(PLAIN_TEXT, True, "refine")
    assert parse("darker", has_session=False).cmd == "generate"
    with pytest.raises(InputError, match="no refine command"):
        parse("darker", has_session=True)
    assert any("refinement" in line for line in help_lines())
