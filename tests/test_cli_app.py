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
