"""The input line's parser: slash commands and plain text → protocol requests (pure)."""

from __future__ import annotations

import pytest

from backbeat.tui.commands import PLAIN_TEXT, SLASH, Action, help_lines, parse
from backbeat.tui.errors import InputError


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


def test_plain_text_is_a_new_song_played_at_once_or_routed_by_the_daemon():
    assert parse("  late night garage  ", has_session=False) == Action("generate", {"prompt": "late night garage", "play": True})
    assert parse("  late night garage  ", has_session=True) == Action("say", {"text": "late night garage"})


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


def test_plain_text_follows_the_table():
    """Without a song, text is a new song; with one, the daemon routes it (question, change, song)."""
    assert parse("darker", has_session=False) == parse("darker", has_session=False)
    assert parse("darker", has_session=False).cmd == PLAIN_TEXT[False] == "generate"
    said = parse("bass too busy", has_session=True)
    assert (said.cmd, said.args) == ("say", {"text": "bass too busy"})
    assert any("a song loaded" in line for line in help_lines())


def test_refine_and_alternatives_commands():
    assert parse("/refine 3rd chord darker", has_session=True).args == {"text": "3rd chord darker"}
    assert parse("/alt bass 4", has_session=True).args == {"part": "bass", "n": 4}
    assert parse("/choose bass b", has_session=True).args == {"part": "bass", "option": "B"}
    assert parse("/ab drums", has_session=True).cmd == "ab"
    assert parse("/undo", has_session=True).cmd == "undo"
    with pytest.raises(InputError):
        parse("/choose bass", has_session=True)
