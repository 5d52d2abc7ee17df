"""Candidates for TAB completion that come from data: event types, dialects, kinds, profiles.

Light (no Typer): both the app's options (``autocompletion=``) and the fast
completion path (:mod:`presencectl.cli.completion`) call these.
"""

from __future__ import annotations

import os

__all__ = ["complete_types", "complete_dialects", "complete_kinds", "complete_profiles", "profile_names"]


def complete_types(incomplete: str) -> list[tuple[str, str]]:
    """``-t/--type``: every dialect's documented types (``!T`` too), with their meaning."""
    from presencectl.core import dialects

    prefix = "!" if incomplete.startswith("!") else ""
    seen: dict[str, str] = {}
    for dialect in dialects.registry():
        for name, info in dialect.types.items():
            seen.setdefault(name, f"{dialect.name} {info.kind}: {info.description}".rstrip(": "))
    return [(prefix + name, meaning) for name, meaning in sorted(seen.items())]


def complete_dialects() -> list[tuple[str, str]]:
    """``--dialect``: the registered dialect names, with their titles."""
    from presencectl.core import dialects

    return [(d.name, d.title) for d in dialects.registry()]


def complete_kinds() -> list[str]:
    """``--kind``: the event kinds, and ``unparsed``."""
    from presencectl.core.events import Kind

    return [str(kind) for kind in Kind] + ["unparsed"]


def _profiles(config: str | None) -> dict[str, str]:
    """Profile name → URL (masked) from the profiles file; empty when it cannot be read."""
    import tomllib

    from presencectl.cli.profile_file import config_path, mask_url

    try:
        with open(config_path(config, os.environ), "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError):
        return {}
    table = data.get("profiles")
    if not isinstance(table, dict):
        return {}
    return {
        name: mask_url(p["url"])
        for name, p in table.items()
        if isinstance(p, dict) and isinstance(p.get("url"), str)
    }


def complete_profiles(config: str | None, incomplete: str) -> list[tuple[str, str]]:
    """``@NAME`` for a SOURCE (only once the word starts with ``@``), with the masked URL."""
    if not incomplete.startswith("@"):
        return []
    return [(f"@{name}", url) for name, url in _profiles(config).items()]


def profile_names(config: str | None) -> list[tuple[str, str]]:
    """Profile names (``profiles show NAME``), with the masked URL."""
    return list(_profiles(config).items())
