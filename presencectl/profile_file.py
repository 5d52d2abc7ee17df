"""Where the profiles file is, and URL masking: the parts of :mod:`presencectl.profiles`
that TAB completion needs, without Typer (:mod:`presencectl.completers`)."""

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
    """The URL with its password and secret query values (``token=``, ``hash=``…) masked.

    ``${VAR}`` references stay visible: they are names, not secrets.

    >>> mask_url("mqtt://bob:s3cret@broker:1883/?token=abc&x=1")
    'mqtt://bob:****@broker:1883/?token=****&x=1'
    >>> mask_url("wss://h/x?apiKey=${KEY}")
    'wss://h/x?apiKey=${KEY}'
    """
    from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

    from presencectl.core.capture import is_secret_name

    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, password = userinfo.partition(":")
        netloc = f"{user}{':' + _mask_secret(password) if sep else ''}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{quote(k, safe='/:,$@{}')}="
            + (_mask_secret(v) if is_secret_name(k) else quote(v, safe="/:,$@{}"))
            for k, v in pairs
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
