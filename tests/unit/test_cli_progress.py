"""The long commands draw their progress on a terminal and stay quiet when stderr is a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

FWJR = [sys.executable, "-m", "fwjr"]


def _on_a_terminal(args: list[str], cwd: Path) -> str:
    """stderr of the command when it is a terminal (a pseudo-terminal read to its end)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(FWJR + args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=300) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_generate_and_aggregate_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    generate = ["generate", "--count", "3000", "--seed", "4", "--format", "jsonl", "--out", str(tmp_path / "a"), "--minutes", "30"]
    drawn = _on_a_terminal(generate, tmp_path)
    assert "generating FWJRs" in drawn and "3000/3000" in drawn
    piped = subprocess.run(FWJR + generate[:-4] + ["--out", str(tmp_path / "b"), "--minutes", "30"], cwd=tmp_path,
                           capture_output=True, text=True, check=True)
    assert "generating" not in piped.stderr, piped.stderr
    assert piped.stderr.strip().splitlines()[-1].startswith('{"documents":'), piped.stderr
    assert "\x1b[" not in piped.stderr

    drawn = _on_a_terminal(["aggregate", str(tmp_path / "a"), "--precision", "hour"], tmp_path)
    assert "aggregating FWJRs" in drawn
    piped = subprocess.run(FWJR + ["aggregate", str(tmp_path / "a"), "--precision", "hour"], cwd=tmp_path,
                           capture_output=True, text=True, check=True)
    assert "aggregating" not in piped.stderr and piped.stderr.splitlines()[-1].endswith("rejected")
