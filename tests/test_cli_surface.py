"""The command line never surprises (issue 15): errors name their cause and fix in one line, no
hangs and no traps, ``--json`` wherever data is printed, shell completion, and a foreground daemon
that says what it is doing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from backbeat import cli
from backbeat.daemon.client import end_process, wait_until_ready
from backbeat.daemon.state import Memory
from backbeat.generators import pipeline
from backbeat.generators.errors import ConfigError
from backbeat.generators.settings import Settings

from tests.generators.songs import fresh_copy, session_folder


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_folder(tmp_path_factory.mktemp("sessions"), "pop song, uplifting", seed=5, bars=8)


@pytest.fixture
def folder(composed: Path, tmp_path: Path) -> Path:
    return fresh_copy(composed, tmp_path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def backbeat(*argv: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backbeat", *argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kwargs)


# --- errors name their cause and fix ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["sessions/nope", "./nope", "~/no-such-session-here"])
def test_a_session_path_that_does_not_exist_is_an_error_never_a_prompt(capsys, tmp_path, monkeypatch, target):
    from backbeat.commands import play

    def composed(args):  # what `play` did before: a song about the path, and a session folder
        raise AssertionError(f"{target!r} was composed as a prompt")

    monkeypatch.setattr(play, "_play_prompt", composed)
    monkeypatch.setenv("BACKBEAT_SOCKET", str(tmp_path / "none.sock"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "play", target)
    assert code == 2 and out == ""
    assert err.startswith("backbeat: error: no session folder at ") and err.count("\n") == 1


def test_a_folder_that_is_not_a_session_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "play", str(tmp_path))
    assert code == 2 and "is not a session folder (no song-state.json)" in err


def test_a_prompt_with_a_slash_is_still_a_prompt():
    from backbeat.commands.play import session_path

    assert session_path("lofi / jazz, 80 BPM") is False
    assert session_path("drum & bass") is False


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):
    """``backbeat daemon`` in a subprocess, and the first line it printed (its ready line)."""
    tmp = tmp_path_factory.mktemp("daemon")
    sock = tmp / "d.sock"
    env = {**os.environ, "BACKBEAT_SOCKET": str(sock), "XDG_STATE_HOME": str(tmp / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "daemon", "--midi-api", "null"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until_ready(sock, proc)
        yield proc, sock, proc.stderr.readline().rstrip("\n")
    finally:
        end_process(proc)


def test_a_second_daemon_says_who_runs_on_the_socket_in_one_line(running):
    first, sock, _ = running
    second = backbeat("daemon", "--midi-api", "null", env={"BACKBEAT_SOCKET": str(sock)})
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        f"backbeat: error: a backbeat daemon is already running on {sock} (pid {first.pid}); "
        "stop it with backbeat shutdown, or give this one another --socket"]


def write_settings(tmp_path: Path, text: str, monkeypatch) -> Path:
    from backbeat.generators import settings as settings_module

    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "settings.toml").write_text(text)
    monkeypatch.setattr(settings_module, "USER_CONFIG_DIR", folder)
    return folder / "settings.toml"


def test_a_misspelt_settings_key_is_refused_with_file_line_and_the_nearest_key(tmp_path, monkeypatch):
    path = write_settings(tmp_path, 'drum_map = "gm"\n\n[playback]\nmidi_api = "auto"\ncomit_horizon_ms = 100\n', monkeypatch)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert str(caught.value) == f"{path}:5: 'playback.comit_horizon_ms' is not a setting; did you mean 'commit_horizon_ms'?"


def test_a_bad_settings_value_names_file_line_and_field(tmp_path, monkeypatch):
    path = write_settings(tmp_path, 'stage_attempts = 3\n[playback]\ncommit_horizon_ms = 5\n', monkeypatch)
    with pytest.raises(ConfigError, match=rf"^{path}:3: playback.commit_horizon_ms: Input should be greater than or equal to 20 \(got 5\)$"):
        Settings()


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENT_REQUESTS", "0")
    with pytest.raises(ConfigError, match="^the environment variable MAX_CONCURRENT_REQUESTS: max_concurrent_requests: "):
        Settings()


def test_a_settings_error_is_one_line_from_the_command_line(tmp_path):
    config = tmp_path / "xdg" / "backbeat"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text("outptu_dir = 'x'\n")
    r = backbeat("generate", "house", "--bars", "4", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"backbeat: error: {config / 'settings.toml'}:1: 'outptu_dir' is not a setting; did you mean 'output_dir'?"]


# --- no hangs, no traps ---------------------------------------------------------------------------------


def test_paths_expand_the_home_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings(output_dir="~/Music/backbeat").output_dir == tmp_path / "Music" / "backbeat"
    code, out, _ = run_cli(capsys, "generate", "house", "--bars", "4", "--seed", "1", "--out", "~/songs")
    assert code == 0 and Path(out.splitlines()[-1]).parent == tmp_path / "songs"
    assert not (Path.cwd() / "~").exists()


def test_a_refine_that_is_not_understood_exits_2_and_changes_nothing(capsys, folder):
    before = (folder / "song-state.json").read_bytes()
    code, out, _ = run_cli(capsys, "refine", "--session", str(folder), "make it more purple")
    assert code == 2 and out.splitlines()[-1] == "(nothing changed)" and out.startswith("? ")
    assert (folder / "song-state.json").read_bytes() == before


def test_refine_undo_steps_back_and_redo_forward_from_the_command_line(capsys, folder):
    tempo = lambda: json.loads((folder / "song-state.json").read_text())["intent"]["tempo"]["bpm"]  # noqa: E731
    start = tempo()
    for bpm in (100, 110):
        assert run_cli(capsys, "refine", "--session", str(folder), f"tempo {bpm}")[0] == 0
    assert [run_cli(capsys, "refine", "--session", str(folder), "--undo")[0] for _ in range(2)] == [0, 0]
    assert tempo() == start, "two undos go back two steps"
    assert run_cli(capsys, "refine", "--session", str(folder), "--redo")[0] == 0
    assert tempo() == 100
    code, out, _ = run_cli(capsys, "refine", "--session", str(folder), "--history", "--json")
    history = json.loads(out)["history"]
    assert code == 0 and [e["action"] for e in history] == ["refine", "refine", "undo", "undo", "redo"]


def test_a_failing_compose_in_foreground_play_exits_non_zero_at_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    started = time.monotonic()
    r = backbeat("play", "deep house", "--bars", "4", "--midi-api", "null",
                 env={"OUTPUT_DIR": str(blocker / "out"), "BACKBEAT_SOCKET": str(tmp_path / "none.sock")})
    assert r.returncode == 1 and time.monotonic() - started < 30
    assert r.stderr.splitlines()[-1].startswith(f"backbeat: error: cannot write session folders in {blocker / 'out'}: ")


def test_a_song_that_cannot_be_composed_ends_the_foreground_daemon(tmp_path, monkeypatch):
    from backbeat.daemon import main as daemon_main
    from backbeat.daemon.protocol import GenerateArgs
    from backbeat.engine.commands import EngineConfig
    from backbeat.generators.errors import StageError

    def broken(*args, **kwargs):
        raise StageError("the arranger is broken")

    monkeypatch.setattr(pipeline, "arrangement", broken)
    options = daemon_main.DaemonOptions(
        socket=tmp_path / "d.sock", engine=EngineConfig(midi_api="null", rt_priority=0, nice=0),
        settings=Settings(output_dir=tmp_path / "out", stage_attempts=1), memory=Memory(tmp_path / "state.json"),
        generate=GenerateArgs(prompt="deep house", bars=4, play=True), resume_last=False,
    )

    async def main() -> str | None:
        with trio.fail_after(20):
            return await daemon_main.run(options)

    failure = trio.run(main)
    assert failure is not None and failure.startswith("generate failed: ") and "the arranger is broken" in failure


def test_status_into_a_closed_pipe_is_quiet(running):
    _, sock, _ = running
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "BACKBEAT_SOCKET": str(sock)})
    proc.stdout.close()  # the reader is gone before a line is written, as `| head -0` leaves it
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 141
    assert err == "", "no Broken pipe error, no traceback"


# --- say what is happening ------------------------------------------------------------------------------


def test_last_session_memory_is_per_socket_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    state = tmp_path / "daemon.json"
    a, b = Memory(state, socket=tmp_path / "a.sock"), Memory(state, socket=tmp_path / "b.sock")
    a.remember(Path("one"))
    b.remember(Path("two"))
    assert a.last_session() == tmp_path / "one" and b.last_session() == tmp_path / "two"
    assert all(Path(p).is_absolute() for p in json.loads(state.read_text())["sessions"].values())
    assert Memory(state, socket=tmp_path / "c.sock").last_session() is None


def test_the_ready_line_says_socket_midi_ports_clock_and_session(running):
    _, sock, ready = running
    assert ready == (f"backbeat: daemon ready on {sock}; engine on null (null sink (notes)); "
                     "clock: its own (no Link, no MIDI clock); no session loaded")


def test_foreground_play_says_how_to_steer_before_the_music(tmp_path):
    env = {**os.environ, "BACKBEAT_SOCKET": str(tmp_path / "d.sock"), "OUTPUT_DIR": str(tmp_path / "out"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "play", "deep house", "--bars", "4", "--midi-api", "null"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("✓ Stage 1"):
                break
    finally:
        end_process(proc)
    before = "\n".join(lines[:-1])
    assert "`backbeat tui` (space play/stop" in before and "README.md" in before
    assert any(line.startswith("backbeat: daemon ready on ") and "engine on null" in line for line in lines[:-1])


# --- --json and completion --------------------------------------------------------------------------------


def test_ports_alternatives_and_history_print_json(capsys, folder, monkeypatch):
    from backbeat.commands import ports
    from backbeat.engine.ports import ApiStatus

    monkeypatch.setattr(ports, "platform_apis", lambda: ("alsa", "jack"))
    monkeypatch.setattr(ports, "probe", lambda name: ApiStatus(name, name == "alsa", "" if name == "alsa" else "no JACK server"))
    monkeypatch.setattr(ports, "list_ports", lambda name: (["Synth:in"], ["Keys:out"]))
    code, out, _ = run_cli(capsys, "ports", "--json")
    assert code == 0 and json.loads(out)["apis"] == [
        {"api": "alsa", "name": "ALSA", "usable": True, "detail": "", "outputs": ["Synth:in"], "inputs": ["Keys:out"]},
        {"api": "jack", "name": "JACK", "usable": False, "detail": "no JACK server", "outputs": [], "inputs": []},
    ]
    code, out, _ = run_cli(capsys, "alternatives", "--session", str(folder), "bass", "-n", "2", "--json")
    made = json.loads(out)
    assert code == 0 and made["part"] == "bass" and [a["label"] for a in made["alternatives"]] == ["A", "B"]
    code, out, _ = run_cli(capsys, "refine", "--session", str(folder), "--history", "--json")
    assert code == 0 and [e["action"] for e in json.loads(out)["history"]] == ["alternatives"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_know_every_command_and_option(capsys, shell):
    from backbeat.commands import COMMANDS

    code, out, _ = run_cli(capsys, "completion", shell)
    assert code == 0
    assert all(name in out for name in COMMANDS)
    assert "--bar" in out or "-l bar" in out  # jump's option
    assert "mpc-legacy" in out or "--drum-map" in out or "-l drum-map" in out


def test_bash_completion_completes_a_command_and_its_options(tmp_path, capsys):
    bash = "/bin/bash"
    if not Path(bash).exists():
        pytest.skip("no bash here")
    _, script, _ = run_cli(capsys, "completion", "bash")
    (tmp_path / "backbeat.bash").write_text(script)
    probe = ('source backbeat.bash; COMP_WORDS=(backbeat ju); COMP_CWORD=1; COMP_LINE="backbeat ju"; COMP_POINT=11; '
             '_shtab_backbeat backbeat ju backbeat; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(backbeat jump --); COMP_CWORD=2; COMP_LINE="backbeat jump --"; COMP_POINT=16; '
             '_shtab_backbeat backbeat -- jump; echo "${COMPREPLY[@]}"')
    out = subprocess.run([bash, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=30).stdout.splitlines()
    assert out[0] == "jump" and "--bar" in out[1].split()
