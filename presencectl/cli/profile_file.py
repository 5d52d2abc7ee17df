"""Where the profiles file is, and URL masking: the parts of :mod:`presencectl.cli.profiles`
that TAB completion needs, without Typer (:mod:`presencectl.cli.completers`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MASK", "ENV_VAR", "default_config_path", "config_path", "mask_url"]

MASK = "****"
ENV_VAR = "PRESENCECTL_CONFIG"
_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/presencectl/profiles.toml``, else ``~/.config/presencectl/profiles.toml``.

    A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG spec says.
    """
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        home = environ.get("HOME")
        base = (Path(home) if home else Path.home()) / ".config"
    return base / "presencectl" / "profiles.toml"


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The profiles file: ``--config`` if given, else ``PRESENCECTL_CONFIG``, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser()
    return default_config_path(environ)


def _only_references(text: str) -> bool:
    """Whether ``text`` is nothing but ``${VAR}`` references (and blanks): safe to show."""
    return bool(text.strip()) and not _REF.sub("", text).strip() and "$${" not in text


def _mask_secret(text: str) -> str:
    return text if _only_references(text) else MASK


def mask_url(url: str) -> str:
    """The URL with its user name, password and secret query values masked (:func:`redact_url`).

    ``${VAR}`` references stay visible: they are names, not secrets.

    >>> mask_url("mqtt://bob:s3cret@broker:1883/?token=abc&x=1")
    'mqtt://****:****@broker:1883/?token=****&x=1'
    >>> mask_url("wss://h/x?apiKey=${KEY}")
    'wss://h/x?apiKey=${KEY}'
    """
    from presencectl.core.capture import redact_url

    return redact_url(url, MASK, keep=_only_references)
