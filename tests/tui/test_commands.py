"""The input line's parser: slash commands and plain text → protocol requests (pure)."""

from __future__ import annotations

import pytest

from backbeat.tui.commands import PLAIN_TEXT, SLASH, Action, help_rows, parse
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
    assert parse(line) == Action(cmd, args)


def test_plain_text_is_routed_by_the_daemon_and_only_new_composes():
    """What a line does never depends on what the TUI believes is loaded: the daemon routes it, so a
    request it does not understand cannot become a new song; ``/new`` always composes."""
    assert parse("  late night garage  ") == Action("say", {"text": "late night garage"})
    assert parse("change the tempo to 96") == Action("say", {"text": "change the tempo to 96"})
    assert parse("/new late night garage") == Action("generate", {"prompt": "late night garage", "play": True})
    assert parse("/redo") == Action("say", {"text": "redo"})


def test_help_is_local_and_lists_every_command():
    assert parse("/help") == Action("help", {}, local=True)
    text = "\n".join(f"{a} {b}" for a, b in help_rows())
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
    ("/new", "usage: /new PROMPT"),
    ("/redo now", "/redo takes no arguments"),
])
def test_bad_lines_are_one_line_errors(line, message):
    with pytest.raises(InputError) as caught:
        parse(line)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_plain_text_follows_the_table():
    said = parse("bass too busy")
    assert (said.cmd, said.args) == (PLAIN_TEXT, {"text": "bass too busy"}) == ("say", {"text": "bass too busy"})
    assert any(typed == "any other text" and "changes nothing" in what for typed, what in help_rows())


def test_refine_and_alternatives_commands():
    assert parse("/refine 3rd chord darker").args == {"text": "3rd chord darker"}
    assert parse("/alt bass 4").args == {"part": "bass", "n": 4}
    assert parse("/choose bass b").args == {"part": "bass", "option": "B"}
    assert parse("/ab drums").cmd == "ab"
    assert parse("/undo").cmd == "undo"
    with pytest.raises(InputError):
        parse("/choose bass")
