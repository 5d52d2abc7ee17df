"""Exceptions raised by presencectl.

Every error a user can fix is a :class:`PresenceError`; ``cli.py`` turns it
into one line on stderr and the exit code it carries. The tree::

    PresenceError
    ├── UsageError                 exit 2: the command line is wrong
    │   ├── FilterSyntaxError      a -w/-t/--since expression does not parse
    │   ├── UnknownDialect         --dialect names no registered dialect
    │   └── InputNotFound          a file argument does not exist / cannot be opened
    ├── CaptureFormatError         exit 1: a capture file cannot be read
    └── TransportError             exit 1: connecting, TLS, refused, lost
"""

from presencectl.status import ExitStatus

__all__ = [
    "PresenceError",
    "UsageError",
    "FilterSyntaxError",
    "UnknownDialect",
    "InputNotFound",
    "CaptureFormatError",
    "TransportError",
]


class PresenceError(Exception):
    """Base class: a failure the user can understand from one line."""

    exit_status: ExitStatus = ExitStatus.ERROR


class UsageError(PresenceError):
    """The command line asks for something that cannot be done."""

    exit_status = ExitStatus.USAGE


class FilterSyntaxError(UsageError):
    """A filter expression is malformed; the message names the bad part."""


class UnknownDialect(UsageError):
    """``--dialect`` names a dialect that is not registered."""


class InputNotFound(UsageError):
    """An input file does not exist or cannot be opened."""


class CaptureFormatError(PresenceError):
    """A capture file is not one we can read (e.g. an unknown format version)."""


class TransportError(PresenceError):
    """Connecting to, or talking with, a remote endpoint failed."""
