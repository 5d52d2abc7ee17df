"""Process exit codes (SPEC §5)."""

from enum import IntEnum

__all__ = ["ExitStatus"]


class ExitStatus(IntEnum):
    """What ``presencectl`` returns to the shell."""

    OK = 0
    #: Something failed at run time: lost connection, I/O error.
    ERROR = 1
    #: The command line is wrong: bad flag value, bad filter, missing file.
    USAGE = 2
    #: A --deadline passed before the session got what it waited for, or an
    #: ``expect`` expectation was not met.
    DEADLINE = 3
    #: Ctrl-C.
    INTERRUPTED = 130
    #: SIGTERM (``kill``, a CI job's timeout, systemd stop).
    TERMINATED = 143
