"""``mlnews`` console entry point.

Every module in this package registers its commands on :data:`mlnews.cli.app.app`; they are all
imported here. User-facing errors (:class:`mlnews.errors.MlnewsError`) are printed as one line on
stderr with a non-zero exit code; set ``MLNEWS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit code 0 on success, 2 on user errors, 1 on usage errors/aborts, 130 on Ctrl-C."""
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
    except KeyboardInterrupt:
        print("mlnews: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["app", "main"]
