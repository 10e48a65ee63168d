"""A broken config table is not a transient fault (issue 9): one clear line at once, exit 2, no
retries, nothing written — whether the table is the user's replacement or missing altogether."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _generate(tmp_path: Path, config_home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    env |= {"XDG_CONFIG_HOME": str(config_home), "OUTPUT_DIR": str(tmp_path / "out")}
    return subprocess.run([sys.executable, "-m", "backbeat", "generate", "deep house, 122", "--seed", "1", "--bars", "8"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_an_invalid_user_table_fails_once_with_its_file_named(tmp_path: Path):
    home = tmp_path / "config"
    (home / "backbeat").mkdir(parents=True)
    (home / "backbeat" / "artists.toml").write_text("[[artists]]\nname = 'Nobody'\ngenre = 7\n")
    result = _generate(tmp_path, home)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("backbeat: error:")]
    assert len(errors) == 1 and "artists.toml" in errors[0]
    assert "retrying" not in result.stderr and "↻" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_table_that_does_not_parse_fails_once(tmp_path: Path):
    home = tmp_path / "config"
    (home / "backbeat").mkdir(parents=True)
    (home / "backbeat" / "moods.toml").write_text("this is [not toml\n")
    result = _generate(tmp_path, home)
    assert result.returncode == 2 and result.stderr.count("backbeat: error:") == 1, result.stderr
    assert "moods.toml" in result.stderr and "↻" not in result.stderr
