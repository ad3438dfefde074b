"""The one place tests outside ``tests/test_cli_*`` reach the console entry point (``mlnews ...``).

Tests import ``main`` from here, never from :mod:`mlnews.cli`: library code lives in the library, and
the CLI module is only options, calls and printing.
"""

from __future__ import annotations


def main(argv: list[str]) -> None:
    """Run ``mlnews ARGV`` in-process (raises SystemExit with the exit code, like the console script)."""
    from mlnews.cli import main as cli_main

    cli_main(argv)
