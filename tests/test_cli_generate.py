"""``backbeat generate`` as a user runs it: progress on stderr, the session path as the last line of
stdout; bad input exits 2 with one line and no traceback, an unwritable folder exits 1, and no
failure leaves a session behind (except the resumable ``.partial`` of a run that broke mid-way)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backbeat import cli
from backbeat.generators import pipeline
from backbeat.generators.errors import GeneratorError

STAGES = len(pipeline.STAGES)
EMPTY = 'the prompt is empty: describe the song, e.g. "Frank Ocean meets Burial, late-night vibes"'


def generate(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    code = cli.main(["generate", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_success_prints_progress_on_stderr_and_the_path_last_on_stdout(capsys, tmp_path):
    code, out, err = generate(capsys, "Trap beat, dark, 140 BPM", "--out", str(tmp_path), "--seed", "5", "--bars", "8")
    assert code == 0
    folder = Path(out[-1])
    assert folder.is_dir() and folder.parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    done = [line for line in err if line.startswith("✓ Stage ")]
    assert [line.split(":")[0] for line in done] == [f"✓ Stage {i}" for i in range(1, STAGES + 1)]
    assert done[0].startswith("✓ Stage 1: Decomposed intent: trap, 140 BPM (explicit")
    assert err[0] == "→ Stage 1: Decomposing the prompt..."
    assert all(line[0] in "→✓" for line in err)
    assert (folder / "manifest.json").is_file() and not (folder / "checkpoint.json").exists()


def test_same_seed_same_song_from_the_command_line(capsys, tmp_path):
    paths = []
    for sub in ("a", "b"):
        code, out, _ = generate(capsys, "house", "--out", str(tmp_path / sub), "--seed", "11", "--bars", "4")
        assert code == 0
        paths.append(Path(out[-1]))
    assert (paths[0] / "midi/full-arrangement.mid").read_bytes() == (paths[1] / "midi/full-arrangement.mid").read_bytes()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--bars", "8"], EMPTY),
        (["   "], EMPTY),
        (["house", "--bars", "0"], "impossible bar count 0: give 1 to 1024 bars"),
        (["house", "--bars", "5000"], "impossible bar count 5000: give 1 to 1024 bars"),
        (["house, 5000 bars"], "impossible bar count 5000: give 1 to 1024 bars"),
        (["house at 500 BPM"], "tempo 500 BPM is out of range: give 20 to 300 BPM"),
        ([], "give a prompt, or --resume DIR"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, message):
    out_dir = tmp_path / "out"
    code, out, err = generate(capsys, *args, "--out", str(out_dir))
    assert code == 2
    assert out == []
    assert err == [f"backbeat: error: {message}"]
    assert leftovers(out_dir) == []


def test_a_file_used_as_the_output_folder_exits_1_with_one_line(capsys, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for target in (blocker, blocker / "sub"):
        code, out, err = generate(capsys, "house", "--out", str(target), "--bars", "4")
        assert code == 1 and out == []
        assert err == [f"backbeat: error: cannot create a session in {target}: Not a directory"]
    assert leftovers(tmp_path) == ["not-a-folder"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_exits_1_with_one_line(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, out, err = generate(capsys, "house", "--out", str(locked), "--bars", "4")
        assert code == 1 and out == []
        assert err == [f"backbeat: error: cannot create a session in {locked}: Permission denied"]
        assert leftovers(locked) == []
    finally:
        locked.chmod(0o755)


def test_a_broken_stage_exits_1_and_leaves_only_the_resumable_partial(capsys, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise GeneratorError("the arranger is broken")

    monkeypatch.setattr(pipeline, "arrangement", broken)
    code, out, err = generate(capsys, "house", "--out", str(tmp_path), "--bars", "4")
    assert code == 1 and out == []
    assert err[-1] == "backbeat: error: stage 3 (arrangement) failed after 3 attempts: the arranger is broken"
    assert [line for line in err if line.startswith("↻ Stage 3")] and [line for line in err if line.startswith("✗ Stage 3")]
    assert not [line for line in err if "Traceback" in line]
    (partial_dir,) = tmp_path.iterdir()
    assert partial_dir.name.startswith(".session-") and partial_dir.name.endswith(".partial")
    assert err[-2] == f"backbeat: resume with: backbeat generate --resume {partial_dir}", "the kept folder is named, with the way on"

    monkeypatch.undo()
    code, out, err = generate(capsys, "--resume", str(partial_dir))
    assert code == 0
    assert [p.name for p in tmp_path.iterdir()] == [Path(out[-1]).name]
    assert [line.split(":")[0] for line in err if line.startswith("✓")] == ["✓ Stage 3", "✓ Stage 4", "✓ Stage 5", "✓ Stage 6", "✓ Stage 7"]


def test_resume_takes_no_prompt(capsys, tmp_path):
    code, _, err = generate(capsys, "house", "--resume", str(tmp_path))
    assert code == 2 and err == ["backbeat: error: --resume continues a run as it was started: give no prompt, --seed, --bars or --drum-map"]


def test_resume_of_a_folder_that_is_no_session_exits_2(capsys, tmp_path):
    code, _, err = generate(capsys, "--resume", str(tmp_path))
    assert code == 2 and len(err) == 1 and "not a resumable session" in err[0]
    assert leftovers(tmp_path) == []


def test_debug_shows_the_traceback(capsys, tmp_path):
    code = cli.main(["--debug", "generate", "", "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0] == "Traceback (most recent call last):"
    assert err[-1] == f"backbeat: error: {EMPTY}"
    assert any("BadRequestError" in line for line in err)


# --- as a separate process ---------------------------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "OUTPUT_DIR"))}
    env["OUTPUT_DIR"] = str(tmp_path / "default-out")
    return env


def test_subprocess_success(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backbeat", "generate", "Frank Ocean meets Burial, late-night vibes", "--out", str(tmp_path / "out"), "--seed", "3", "--bars", "8"],
        capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    assert folder.is_dir() and folder.parent == tmp_path / "out"
    err = result.stderr.splitlines()
    assert [line for line in err if line.startswith("✓ Stage 1:")]
    assert [line for line in err if line.startswith(f"✓ Stage {STAGES}:")]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "default-out").exists()


def test_subprocess_bad_input_is_one_line(tmp_path):
    script = Path(sys.executable).with_name("backbeat")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "backbeat"]
    result = subprocess.run(
        [*command, "generate", "house at 500 BPM", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "backbeat: error: tempo 500 BPM is out of range: give 20 to 300 BPM\n"
    assert leftovers(tmp_path / "out") == []


def test_a_folder_the_os_refuses_exits_1_with_one_line(capsys, tmp_path, monkeypatch):
    """The read-only case for any user (root included): the OS answers mkdir with EACCES."""
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.parent == tmp_path / "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(Path, "mkdir", refuse)
    code, out, err = generate(capsys, "house", "--out", str(tmp_path / "locked"), "--bars", "4")
    assert code == 1 and out == []
    assert err == [f"backbeat: error: cannot create a session in {tmp_path / 'locked'}: Permission denied"]
    assert leftovers(tmp_path / "locked") == []


def test_an_interrupted_run_says_how_to_resume(capsys, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "arrangement", interrupted)
    code, out, err = generate(capsys, "house", "--out", str(tmp_path), "--bars", "4")
    assert code == 130 and out == []
    (partial_dir,) = tmp_path.iterdir()
    assert err[-2:] == [f"backbeat: resume with: backbeat generate --resume {partial_dir}", "backbeat: interrupted"]
