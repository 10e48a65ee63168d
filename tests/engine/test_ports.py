import pytest

from backbeat.engine import ports
from backbeat.engine.commands import EngineConfig
from backbeat.engine.errors import NoMidiApiError, PortNotFoundError
from backbeat.engine.monitor import MonitorOutput, NullOutput
from backbeat.engine.ports import ApiStatus, match_port


def test_match_port_is_a_case_insensitive_substring_skipping_our_own_client():
    names = ["backbeat:out", "MPC Beats:MPC Beats In 1", "loopMIDI Port"]
    assert match_port(names, "mpc") == 1
    assert match_port(names, "LOOPMIDI") == 2
    assert match_port(names, "out", exclude_client="backbeat") is None
    assert match_port(names, "synth") is None


def test_not_found_lists_what_exists():
    error = ports._not_found("output", "MPC", ["a:in", "b:in"], "jack")
    assert isinstance(error, PortNotFoundError) and isinstance(error, ValueError)
    assert str(error) == "no jack output port matches 'MPC'; ports that exist: 'a:in', 'b:in'"


def test_no_usable_api_is_one_line_with_every_reason(monkeypatch):
    monkeypatch.setattr(ports, "platform_apis", lambda: ("alsa", "jack"))
    monkeypatch.setattr(ports, "probe", lambda name: ApiStatus(name, False, f"{name} is broken (fix it)"))
    with pytest.raises(NoMidiApiError) as caught:
        ports.choose_api("auto")
    message = str(caught.value)
    assert "\n" not in message and "ALSA: alsa is broken (fix it)" in message and "JACK: jack is broken" in message


def test_auto_falls_back_to_the_terminal_monitor_and_says_why(monkeypatch):
    monkeypatch.setattr(ports, "choose_api", lambda requested: (_ for _ in ()).throw(NoMidiApiError("no MIDI API")))
    opened = ports.open_ports(EngineConfig(midi_api="auto", clock_out=()), lambda m: None)
    assert opened.api == "monitor" and isinstance(opened.notes[0], MonitorOutput)
    assert opened.notice == "no MIDI API: playing to the terminal monitor"
    with pytest.raises(NoMidiApiError):  # asked for explicitly: an error, not a fallback
        ports.open_ports(EngineConfig(midi_api="jack"), lambda m: None)


def test_null_sink_gets_the_clock_when_asked():
    opened = ports.open_ports(EngineConfig(midi_api="null", clock_out=()), lambda m: None)
    assert isinstance(opened.notes[0], NullOutput) and opened.clock == opened.notes
