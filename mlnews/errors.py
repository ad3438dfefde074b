"""One exception type for every user-facing failure.

Raise :class:`MlnewsError` (or a subclass) with a message that names the file, line, key or
field and says what was expected. The CLI prints it as one line on stderr and exits non-zero;
it never shows a traceback for these.
"""

from __future__ import annotations


class MlnewsError(Exception):
    """A user-facing error: bad input, bad config, missing file. Printed as one line."""

    exit_code = 2


class InputError(MlnewsError):
    """An input file or row is unreadable or malformed."""


class ConfigError(MlnewsError):
    """A config file or a ``key=value`` override is wrong."""
