"""Secrets given on the command line without putting them in ``ps``.

Any argument is visible to every user of the machine in ``ps`` and
``/proc/PID/cmdline``; a file or an environment variable is not. So
``--password``, ``--device-secret`` and ``-H`` each have a way around the
command line: ``--password-file FILE`` (or env ``PRESENCECTL_PASSWORD``),
``--device-secret-file FILE`` (or env ``PRESENCECTL_DEVICE_SECRET``) and
``-H @FILE`` (a file of ``Name: value`` lines).
"""

from __future__ import annotations

from collections.abc import Iterable

from presencectl.errors import UsageError

__all__ = ["read_secret_file", "resolve_secret", "expand_headers"]


def _read(path: str, option: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {path}: is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None


def read_secret_file(path: str, option: str) -> str:
    """The secret in a file: its first line, without the line break.

    Raises:
        UsageError: the file cannot be read or its first line is empty.
    """
    text = _read(path, option)
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first:
        raise UsageError(f"{option} {path}: the first line is empty (the secret goes there)")
    return first


def resolve_secret(value: str | None, path: str | None, option: str) -> str | None:
    """``--X VALUE`` or ``--X-file FILE`` (not both): the secret, or None.

    Raises:
        UsageError: both given, or the file cannot be read.
    """
    if path is None:
        return value
    if value is not None:
        raise UsageError(f"give {option} or {option}-file, not both")
    return read_secret_file(path, f"{option}-file")


def expand_headers(values: Iterable[str]) -> list[str]:
    """``-H`` values with ``@FILE`` replaced by the file's header lines.

    A file holds one ``Name: value`` per line; blank lines and lines starting
    with ``#`` are skipped. ``@@…`` is a header that starts with a literal ``@``.

    Raises:
        UsageError: a file cannot be read.
    """
    out: list[str] = []
    for value in values:
        if value.startswith("@@"):
            out.append(value[1:])
        elif value.startswith("@"):
            for line in _read(value[1:], "-H @FILE:").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    out.append(line)
        else:
            out.append(value)
    return out
