"""The CLI shell: --help lists commands, --version, errors are one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlnews", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("version", "data", "models"):
        assert cmd in out.stdout


def test_version():
    from mlnews import __version__

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mlnews {__version__}"


def test_unknown_command_fails():
    out = run("no-such-command")
    assert out.returncode != 0
    assert "No such command" in out.stderr


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    """SIGTERM unwinds like Ctrl-C: the output's temp file is removed, exit 143, one line on stderr."""
    import os
    import signal
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from infer_helpers import tiny_tfidf_dir

    model = tiny_tfidf_dir(tmp_path / "tfidf")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-m", "mlnews", "classify", "-m", str(model), "-", "-o", str(tmp_path / "out.jsonl")]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 90
    while not list(tmp_path.glob(".out.jsonl.*.tmp")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)  # the writer is open, waiting for stdin
    assert list(tmp_path.glob(".out.jsonl.*.tmp")), proc.poll()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "mlnews: terminated", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tfidf"]
