"""The tool as a user installs it (issue 9): the built wheel in a fresh virtualenv, run from another
folder. It must compose a song from the tables it ships, install one import name (``backbeat``) and
nothing that could shadow another distribution (``daemon`` is python-daemon's name).

This builds a wheel and installs it with its dependencies (from pip's cache after the first run), so
it takes tens of seconds; it is the only honest test of packaging.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtualenv with the built wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    source, dist, venv = tmp / "source", tmp / "dist", tmp / "venv"
    # Built from a copy, so setuptools' build/ and egg-info never land in the checkout.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "output", "*.egg-info", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                           capture_output=True, text=True, cwd=tmp, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel = next(dist.glob("backbeat-*.whl"))
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                             capture_output=True, text=True, cwd=tmp, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    return venv / "bin"


def run(bin: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{bin}:/usr/bin:/bin", "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd / "config"),
           "XDG_STATE_HOME": str(cwd / "state"), "XDG_RUNTIME_DIR": str(cwd), "BACKBEAT_SOCKET": str(cwd / "d.sock")}
    return subprocess.run([*argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_the_wheel_composes_a_song_from_another_folder(installed: Path, tmp_path: Path):
    made = run(installed, "backbeat", "generate", "deep house, 122", "--seed", "4", "--bars", "8", "--out", "songs", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = (tmp_path / made.stdout.splitlines()[-1]).resolve()
    assert folder.parent == (tmp_path / "songs").resolve()
    assert {p.name for p in (folder / "midi").iterdir()} >= {"drums.mid", "bass.mid", "chords.mid", "lead.mid", "full-arrangement.mid"}
    assert (folder / "notes" / "producer-notes.md").is_file()


def test_the_tables_come_from_the_installed_package(installed: Path, tmp_path: Path):
    doctor = run(installed, "backbeat", "doctor", "--json", cwd=tmp_path)
    check = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "config tables")
    site = installed.parent / "lib"
    assert check["status"] == "ok" and str(site) in check["detail"] and "backbeat/config" in check["detail"]
    shown = run(installed, "python", "-m", "pip", "show", "-f", "backbeat", cwd=tmp_path).stdout
    shipped = {line.strip() for line in shown.splitlines() if line.strip().startswith("backbeat/config/")}
    expected = {f"backbeat/config/{p.relative_to(ROOT / 'config')}" for p in (ROOT / "config").rglob("*.toml")}
    assert expected and expected <= shipped
    assert "backbeat/tui/app.tcss" in shown


def test_one_import_name_and_nothing_that_shadows_another(installed: Path, tmp_path: Path):
    probe = ("import importlib.metadata as m, json; d = m.distribution('backbeat');"
             "print(json.dumps(sorted({f.parts[0] for f in d.files if not f.parts[0].endswith(('.dist-info', '..')) "
             "and f.parts[0] != 'bin'})))")
    tops = json.loads(run(installed, "python", "-c", probe, cwd=tmp_path).stdout)
    assert tops == ["backbeat"]
    for name in ("daemon", "engine", "generators", "tui", "benchmarks", "config"):
        assert run(installed, "python", "-c", f"import {name}", cwd=tmp_path).returncode != 0, f"{name} is importable"
    assert run(installed, "python", "-c", "import backbeat.daemon.main, backbeat.tui.app, backbeat.engine.rt", cwd=tmp_path).returncode == 0
