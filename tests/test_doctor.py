"""``backbeat doctor``: one line per check with its fix, exit 0 when nothing fails, 1 otherwise, and
``--json`` for scripts — checked against real things: a running daemon, a loopback model server, a
closed port, a broken table, an unwritable folder. (The MIDI checks against a JACK server are in
tests/realtime/test_doctor.py.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from backbeat import doctor
from backbeat.benchmarks.fake_llm import FakeLLMServer
from tests.daemon.conftest import start_daemon_process


def run_doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    base |= {"OUTPUT_DIR": str(tmp_path / "out"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
             "BACKBEAT_SOCKET": str(tmp_path / "run" / "d.sock")}
    return subprocess.run([sys.executable, "-m", "backbeat", "doctor", *args], capture_output=True, text=True,
                          env=base | env, cwd=tmp_path, timeout=60)


def by_name(result: subprocess.CompletedProcess) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_line_is_one_check_and_a_failure_names_its_fix(tmp_path: Path):
    result = run_doctor(tmp_path)
    lines = result.stdout.splitlines()
    assert lines and all(line.split()[0] in ("OK", "WARN", "FAIL", "SKIP") for line in lines)
    assert all(" — fix: " in line for line in lines if line.startswith(("WARN", "FAIL")))
    assert "Traceback" not in result.stderr
    checks = by_name(run_doctor(tmp_path, "--json"))
    assert checks["python"]["status"] == "ok" and checks["packages"]["status"] == "ok"
    assert checks["config tables"]["status"] == "ok" and checks["output folder"]["status"] == "ok"
    assert checks["daemon"]["status"] == "warn" and checks["model server"]["status"] == "skip"
    assert not (tmp_path / "out").exists(), "doctor creates nothing"


def test_a_broken_table_fails_and_the_exit_code_says_so(tmp_path: Path):
    (tmp_path / "config" / "backbeat").mkdir(parents=True)
    (tmp_path / "config" / "backbeat" / "genres.toml").write_text("genres = 3\n")
    result = run_doctor(tmp_path, "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["healthy"] is False
    assert by_name(result)["config tables"]["status"] == "fail" and "genres.toml" in by_name(result)["config tables"]["detail"]


def test_an_unwritable_output_folder_fails(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    check = by_name(run_doctor(tmp_path, "--json", OUTPUT_DIR=str(blocker / "out")))["output folder"]
    assert check["status"] == "fail" and "OUTPUT_DIR" in check["fix"]


def test_a_socket_folder_others_can_open_fails(tmp_path: Path):
    (tmp_path / "run").mkdir(mode=0o777)
    os.chmod(tmp_path / "run", 0o777)
    check = by_name(run_doctor(tmp_path, "--json"))["socket folder"]
    assert check["status"] == "fail" and "mode 0777" in check["detail"]


def test_a_running_daemon_reports_its_engine_lateness(tmp_path: Path):
    daemon = start_daemon_process(tmp_path / "daemon")
    try:
        check = by_name(run_doctor(tmp_path, "--json", BACKBEAT_SOCKET=str(daemon.socket)))["daemon"]
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(10)
    assert check["status"] == "ok" and "lateness p50" in check["detail"] and "null" in check["detail"]


def test_a_model_server_on_loopback_is_reached_and_timed(tmp_path: Path):
    with FakeLLMServer() as server:
        checks = by_name(run_doctor(tmp_path, "--json", LLM_BASE_URL=server.url, LLM_MODEL="local"))
    check = checks["model server"]
    assert check["status"] == "ok" and check["detail"].endswith("model local") and " ms;" in check["detail"]
    assert checks["structured output"]["status"] == "ok" and "takes" in checks["structured output"]["detail"]


def test_a_model_server_that_refuses_connections_fails_with_the_offline_way_out(tmp_path: Path):
    result = run_doctor(tmp_path, "--json", LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    check = by_name(result)["model server"]
    assert result.returncode == 1 and check["status"] == "fail" and "--offline" in check["fix"]


def test_a_check_that_breaks_is_a_failed_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch):
    def broken():
        raise RuntimeError("boom\nsecond line")
        yield

    monkeypatch.setattr(doctor, "CHECKS", (("broken", broken),))
    [check] = doctor.run()
    assert check.status == "fail" and check.detail == "the check itself failed: boom" and not doctor.healthy([check])
