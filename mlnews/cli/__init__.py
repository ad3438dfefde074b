"""``mlnews`` console entry point.

Every module in this package registers its commands on :data:`mlnews.cli.app.app`; they are all
imported here. User-facing errors (:class:`mlnews.errors.MlnewsError`) are printed as one line on
stderr with a non-zero exit code; set ``MLNEWS_DEBUG=1`` to see the traceback instead. SIGTERM unwinds
like Ctrl-C (temp files are removed) and exits 143.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import sys
import threading

import click

try:  # newer typer vendors its own copy of click: its exceptions are not click's
    from typer._click.exceptions import ClickException as _TyperClickException
    from typer.exceptions import Abort as _TyperAbort
except ImportError:  # pragma: no cover - older typer uses click itself
    _TyperClickException, _TyperAbort = click.exceptions.ClickException, click.exceptions.Abort
_CLICK_ERRORS = (click.exceptions.ClickException, _TyperClickException)
_ABORTS = (click.exceptions.Abort, _TyperAbort)

from mlnews.cli.app import app
from mlnews.errors import MlnewsError

# Commands are listed in --help in the order the data flows; modules not named here follow.
_ORDER = ["parse", "data", "models", "train", "evaluate", "classify", "classify_dist", "summarise", "export", "serve"]
_found = {m.name for m in pkgutil.iter_modules(__path__)} - {"app"}
for _mod in [m for m in _ORDER if m in _found] + sorted(_found - set(_ORDER)):
    importlib.import_module(f"{__name__}.{_mod}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``with``/``finally`` cleans up (temp files, spools)."""


_signalled = False


def _on_sigterm(signum, frame) -> None:
    global _signalled
    _signalled = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM during the clean-up ends it at once
    raise Terminated()


def _robust_streams() -> None:
    """A lone surrogate printed to stdout/stderr is written as U+FFFD instead of raising mid-output."""
    from mlnews.io import ENCODE_ERRORS

    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "encoding", "").replace("-", "").lower() == "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ENCODE_ERRORS)


def _log_to_stderr() -> None:
    """Messages of mlnews' own loggers (``mlnews.*``, INFO and up) go to stderr as ``mlnews: ...`` lines."""
    import logging

    logger = logging.getLogger("mlnews")
    if not any(getattr(h, "_mlnews", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("mlnews: %(message)s"))
        handler._mlnews = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _interrupted(exc: KeyboardInterrupt) -> None:
    terminated = isinstance(exc, Terminated)
    print("mlnews: terminated" if terminated else "mlnews: interrupted", file=sys.stderr)
    sys.exit(143 if terminated else 130)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit code 0 on success, 2 on user errors, 1 on usage errors/aborts, 130 on Ctrl-C, 143 on SIGTERM."""
    global _signalled
    _signalled = False
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main else None
    try:
        _robust_streams()
        _log_to_stderr()
        _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> None:
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="mlnews")
    except MlnewsError as exc:
        if os.environ.get("MLNEWS_DEBUG"):
            raise
        print(f"mlnews: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except _CLICK_ERRORS as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _ABORTS:
        print("mlnews: aborted", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:  # disk full, permission denied ... where no earlier check applied: one line
        if os.environ.get("MLNEWS_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mlnews: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    if rv == 130 or _signalled:  # typer returns 130 for a KeyboardInterrupt (Ctrl-C; SIGTERM as Terminated)
        _interrupted(Terminated() if _signalled else KeyboardInterrupt())
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["app", "main"]
