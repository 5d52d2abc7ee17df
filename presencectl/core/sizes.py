"""Sizes given on the command line: ``--max-body``, ``--max-line``.

Its own small module so that reading a size (every ``cat`` reads ``--max-line``)
imports nothing of the webhook server.
"""

from __future__ import annotations

from presencectl.errors import UsageError

__all__ = ["parse_size"]


def parse_size(text: str, option: str = "--max-body") -> int:
    """``1048576``, ``512k``, ``16M``, ``1G`` → bytes (``option`` names the flag in errors).

    >>> parse_size("16M")
    16777216

    Raises:
        UsageError: not a positive size.
    """
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
    raw = text.strip().lower()
    digits = raw.rstrip("kmgb")
    try:
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(digits)
        value = int(digits) * units[raw[len(digits):]]
    except (ValueError, KeyError):
        raise UsageError(f"bad {option} {text!r}: expected bytes, e.g. 1048576, 512k, 16M") from None
    if value <= 0:
        raise UsageError(f"bad {option} {text!r}: must be more than 0")
    return value
