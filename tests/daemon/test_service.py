"""`backbeat service install|uninstall`: the files for every platform (pure), and the command itself in
a temporary HOME with a fake `systemctl` on PATH (the real user's systemd is never touched)."""

from __future__ import annotations

import configparser
import os
import plistlib
import stat
import sys
from pathlib import Path

import pytest

from backbeat.cli import main
from backbeat.daemon import service
from backbeat.daemon.service import Context, Remove, Run, Say, ServiceError, Write


def ctx(platform: str, home: Path = Path("/home/me"), exe: str = "/home/me/.local/bin/backbeat", **kw) -> Context:
    return Context(platform=platform, home=home, command=(exe, "daemon"), output_dir=home / "Music" / "backbeat", uid=501, **kw)


def unit_values(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read_string(text)
    return parser


# --- what each platform gets (pure) ------------------------------------------------------------------


def test_linux_gets_a_systemd_user_unit_that_runs_the_daemon_and_stops_it_with_sigterm():
    steps = service.plan("install", ctx("linux"))
    write = steps[0]
    assert isinstance(write, Write) and write.path == Path("/home/me/.config/systemd/user/backbeat.service")
    unit = unit_values(write.content)
    assert unit["Service"]["ExecStart"] == "/home/me/.local/bin/backbeat daemon"
    assert unit["Service"]["Environment"] == "OUTPUT_DIR=/home/me/Music/backbeat"
    assert {k: unit["Service"][k] for k in ("Restart", "KillSignal", "KillMode", "TimeoutStopSec")} == {
        "Restart": "on-failure", "KillSignal": "SIGTERM", "KillMode": "mixed", "TimeoutStopSec": "5",
    }
    assert unit["Install"]["WantedBy"] == "default.target"
    assert [s.argv for s in steps if isinstance(s, Run)] == [
        ("systemctl", "--user", "daemon-reload"), ("systemctl", "--user", "enable", "--now", "backbeat"),
    ]


def test_the_unit_follows_xdg_config_home_and_escapes_what_systemd_would_expand():
    odd = ctx("linux", home=Path("/home/me 2"), exe="/opt/100% $HOME/backbeat", config_home=Path("/cfg"))
    write = service.plan("install", odd)[0]
    assert write.path == Path("/cfg/systemd/user/backbeat.service")
    unit = unit_values(write.content)
    assert unit["Service"]["ExecStart"] == '"/opt/100%% $$HOME/backbeat" daemon'
    assert unit["Service"]["Environment"] == '"OUTPUT_DIR=/home/me 2/Music/backbeat"'


def test_linux_uninstall_disables_before_removing_then_reloads():
    steps = service.plan("uninstall", ctx("linux"))
    assert steps == [
        Run(("systemctl", "--user", "disable", "--now", "backbeat")),
        Remove(Path("/home/me/.config/systemd/user/backbeat.service")),
        Run(("systemctl", "--user", "daemon-reload")),
    ]


def test_macos_gets_a_launchd_agent_and_the_bootstrap_line():
    steps = service.plan("install", ctx("darwin", home=Path("/Users/me"), exe="/Users/me/venv/bin/backbeat"))
    write = steps[0]
    assert isinstance(write, Write) and write.path == Path("/Users/me/Library/LaunchAgents/dev.backbeat.daemon.plist")
    agent = plistlib.loads(write.content.encode())
    assert agent["Label"] == "dev.backbeat.daemon"
    assert agent["ProgramArguments"] == ["/Users/me/venv/bin/backbeat", "daemon"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardErrorPath"] == "/Users/me/Library/Logs/backbeat.log"
    assert agent["EnvironmentVariables"] == {"OUTPUT_DIR": "/Users/me/Music/backbeat"}
    said = "\n".join(s.text for s in steps if isinstance(s, Say))
    assert "launchctl bootstrap gui/501 /Users/me/Library/LaunchAgents/dev.backbeat.daemon.plist" in said
    assert not any(isinstance(s, Run) for s in steps), "launchctl is printed, not run"
    uninstall = service.plan("uninstall", ctx("darwin", home=Path("/Users/me")))
    assert Remove(Path("/Users/me/Library/LaunchAgents/dev.backbeat.daemon.plist")) in uninstall
    assert any("launchctl bootout gui/501/dev.backbeat.daemon" in s.text for s in uninstall if isinstance(s, Say))


def test_windows_gets_printed_task_scheduler_steps_and_loopmidi():
    steps = service.plan("install", ctx("win32", home=Path("C:/Users/me"), exe="C:/Program Files/backbeat/backbeat.exe"))
    assert all(isinstance(s, Say) for s in steps), "nothing is written or run on Windows"
    text = "\n".join(s.text for s in steps)
    assert "loopMIDI" in text and "tobias-erichsen.de" in text
    assert 'schtasks /Create /TN backbeat /SC ONLOGON /RL LIMITED /F /TR "\\"C:/Program Files/backbeat/backbeat.exe\\" daemon --port loopMIDI"' in text
    assert 'setx OUTPUT_DIR "C:/Users/me/Music/backbeat"' in text
    assert "schtasks /Delete /TN backbeat /F" in "\n".join(s.text for s in service.plan("uninstall", ctx("win32")))


def test_an_unknown_platform_is_one_clear_error():
    with pytest.raises(ServiceError, match="no background service for platform 'sunos5'"):
        service.plan("install", ctx("sunos5"))


def test_the_daemon_command_is_the_absolute_backbeat_executable(monkeypatch, tmp_path):
    script = tmp_path / "bin" / "backbeat"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bin/backbeat", "service", "install"])
    assert service.backbeat_command() == (str(script),)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "backbeat" / "__main__.py")])  # python -m backbeat
    beside = Path(sys.executable).parent / "backbeat"
    expected = (str(beside),) if beside.is_file() else (sys.executable, "-m", "backbeat")
    assert service.backbeat_command() == expected


# --- the command, in a temporary HOME ------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME, and a PATH where `systemctl` is a fake that logs its arguments (or nothing at all)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("XDG_CONFIG_HOME", "XDG_MUSIC_DIR", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return tmp_path / "home"


def fake_systemctl(home: Path, exit_code: int = 0) -> Path:
    log = home.parent / "systemctl.log"
    script = home.parent / "bin" / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\necho "Failed to connect to bus" >&2\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def test_install_dry_run_prints_everything_and_writes_nothing(home, capsys):
    assert main(["service", "install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    unit = home / ".config" / "systemd" / "user" / "backbeat.service"
    assert f"would write {unit}:" in out and "ExecStart=" in out and "KillMode=mixed" in out
    assert "would run: systemctl --user enable --now backbeat" in out
    assert not (home / ".config").exists()


def test_install_writes_the_unit_and_runs_systemctl_when_a_user_bus_is_reachable(home, capsys, monkeypatch):
    log = fake_systemctl(home)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    assert main(["service", "install", "--controller", "generic-pads"]) == 0
    unit = home / ".config" / "systemd" / "user" / "backbeat.service"
    values = unit_values(unit.read_text())
    exec_start = values["Service"]["ExecStart"].split(" ")
    assert Path(exec_start[0]).is_absolute() and exec_start[-3:] == ["daemon", "--controller", "generic-pads"]
    assert values["Service"]["Environment"] == f"OUTPUT_DIR={home}/Music/backbeat"
    assert not list(unit.parent.glob(".*.tmp")), "written atomically: no temp file left"
    assert log.read_text().splitlines() == ["--user daemon-reload", "--user enable --now backbeat"]
    out = capsys.readouterr().out
    assert f"wrote {unit}" in out and "ran: systemctl --user enable --now backbeat" in out

    assert main(["service", "uninstall"]) == 0
    assert not unit.exists()
    assert log.read_text().splitlines()[2:] == ["--user disable --now backbeat", "--user daemon-reload"]
    assert f"removed {unit}" in capsys.readouterr().out
    assert main(["service", "uninstall"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_without_a_reachable_service_manager_the_commands_are_printed(home, capsys):
    assert main(["service", "install"]) == 0  # no systemctl on PATH at all
    out = capsys.readouterr().out
    assert "no user service manager is reachable from here; run these in your login session:" in out
    assert "  systemctl --user daemon-reload\n  systemctl --user enable --now backbeat\n" in out
    assert (home / ".config" / "systemd" / "user" / "backbeat.service").is_file()
    assert "runs at login from now on" not in out, "no success is reported for what did not happen (issue 15)"
    assert out.rstrip().endswith("until they have run, nothing is done: the files are in place, the service is not")


def test_a_failing_systemctl_is_reported_and_never_fails_the_install(home, capsys, monkeypatch):
    log = fake_systemctl(home, exit_code=1)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    assert main(["service", "install"]) == 0
    out = capsys.readouterr().out
    assert "systemctl --user daemon-reload failed: Failed to connect to bus" in out
    assert "run these yourself:\n  systemctl --user daemon-reload\n  systemctl --user enable --now backbeat" in out
    assert log.read_text().splitlines() == ["--user daemon-reload"], "after one failure the rest are only printed"


def test_an_unknown_controller_map_is_refused_before_anything_is_written(home, capsys):
    assert main(["service", "install", "--controller", "no-such-map"]) == 2
    assert "backbeat: error: no controller map named 'no-such-map'" in capsys.readouterr().err
    assert not (home / ".config" / "systemd").exists()


def test_a_file_that_cannot_be_written_is_one_line(home, capsys):
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "systemd").write_text("not a folder")
    assert main(["service", "install"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("backbeat: error: cannot write ") and err.count("\n") == 1


def test_the_real_systemctl_is_out_of_reach_in_these_tests(home):
    assert service.user_bus_reachable() is False and os.environ["PATH"] == str(home.parent / "bin")
