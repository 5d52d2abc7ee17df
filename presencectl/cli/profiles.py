"""Connection profiles: named endpoints in ``profiles.toml``, used as ``@NAME``.

``presencectl tail @span-prod`` connects to the URL of profile ``span-prod``
with its headers, topics, messages to send, TLS files, credentials, default
filters and format. The file is ``$XDG_CONFIG_HOME/presencectl/profiles.toml``
(``~/.config/presencectl/profiles.toml`` when ``XDG_CONFIG_HOME`` is unset);
``PRESENCECTL_CONFIG`` or ``--config FILE`` point elsewhere::

    [profiles.span-prod]
    url = "wss://api.lab5e.com/span/collections/17dh0cf43jg007/activity"
    headers = ["X-API-Token: ${SPAN_TOKEN}"]   # or a table: { "X-API-Token" = "${SPAN_TOKEN}" }
    type = ["client*", "firmware*"]
    format = "pretty"

    [profiles.aliyun-app]
    url = "mqtts://a1X5eCzh6fEH7.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883"
    topics = ["/sys/a1X5eCzh6fEH7/+/app/down/#"]
    username = "app&a1X5eCzh6fEH7"
    password = "${ALIYUN_PASSWORD}"
    publish = [["/sys/a1X5eCzh6fEH7/app/up/account/bind", '{"id":"1"}']]

Every key is the long name of a ``tail``/``record`` option with ``_`` for ``-``
(``topics`` and ``headers`` are plural; see :data:`KEYS`).
``${NAME}`` in any string is replaced by the environment variable NAME (an
unset one is an error naming it and the profile; ``$${`` is a literal
``${``). Relative file paths (``send_file``, ``cacert``, ``cert``, ``key``)
are taken from the directory of the profiles file; ``~`` is expanded.

Merging with the command line (:func:`merge_value`): an option given on the
command line or by its environment variable wins over the profile; the
profile's ``send``, ``send_file``, ``publish`` and ``emit`` come *before*
the command line's (both are used); a command-line ``-H Name: v`` replaces
the profile's header of the same name, other profile headers stay.

:func:`resolve` is pure (the file, the environment and the source text in,
a :class:`ResolvedProfile` out). The Typer glue for ``tail``/``record``
(``ProfileCommand``) is in :mod:`presencectl.cli.profile_command`;
:func:`masked` is what ``presencectl profiles`` shows: header values, passwords, secret query parameters and secret JSON
fields replaced by ``****``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presencectl.cli.profile_file import (  # where the file is, and masking: light, for TAB completion
    _REF,
    ENV_VAR,
    MASK,
    _mask_secret,
    _only_references,
    config_path,
    default_config_path,
    mask_url,
)
from presencectl.errors import UsageError

__all__ = [
    "ProfileError",
    "Key",
    "KEYS",
    "Profile",
    "ResolvedProfile",
    "default_config_path",
    "config_path",
    "load",
    "resolve",
    "merge_value",
    "masked",
    "mask_url",
    "MASK",
]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProfileError(UsageError):
    """The profiles file cannot be read or used; exit 2 with one line."""


@dataclass(frozen=True, slots=True)
class Key:
    """One profile key: which option it feeds and how.

    Attributes:
        name: the key in the TOML table.
        param: the ``tail``/``record`` parameter name it sets.
        shape: ``str``, ``strs`` (a string or a list of them), ``bool``,
            ``int``, ``text`` (string or number), ``path``, ``paths``,
            ``headers``, ``json`` (string, or a table/array sent as JSON),
            ``pairs`` (list of two-item lists or tables).
        merge: ``replace`` (the command line wins), ``append`` (profile's
            first, then the command line's), ``headers`` (by header name).
        secret: masked in listings.
        output: only shapes rendered output: skipped where a command has no
            such option (``record``).
        fields: for ``pairs``: the names of the two items in table form.
    """

    name: str
    param: str
    shape: str
    merge: str = "replace"
    secret: bool = False
    output: bool = False
    fields: tuple[str, str] = ("", "")


def _keys() -> dict[str, Key]:
    # Derived from the option declarations: a new option of tail/record is a
    # profile key by declaring it (presencectl.cli.option_groups).
    from presencectl.cli.option_groups import ALL_GROUPS

    return {
        o.profile_key: Key(o.profile_key, o.param, o.shape, o.merge, o.secret, g.output, o.fields)
        for g in ALL_GROUPS
        for o in g.opts
        if o.profile_key is not None
    }


#: Every key a profile may hold, by name. ``url`` is required and special.
KEYS: dict[str, Key] = _keys()


@dataclass(frozen=True, slots=True)
class Profile:
    """One ``[profiles.NAME]`` table as written (``${…}`` not yet expanded)."""

    name: str
    url: str
    options: dict[str, Any]
    path: Path

    def variables(self) -> list[str]:
        """Names of the environment variables this profile refers to, in order."""
        found: list[str] = []
        for text in _strings(self.url, *self.options.values()):
            for m in _REF.finditer(text):
                if m.group(1) and m.group(1) not in found:
                    found.append(m.group(1))
        return found


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """A profile ready to use: ``${…}`` expanded, paths absolute.

    Attributes:
        name: the profile name (without ``@``).
        path: the profiles file it came from.
        url: the SOURCE to use instead of ``@NAME``.
        options: key → value in command-line shape: ``str``, ``list[str]``,
            ``bool``, ``int`` or ``list[tuple[str, str]]`` (``publish``,
            ``emit``). :meth:`params` keys them by parameter name.
    """

    name: str
    path: Path
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """The options keyed by ``tail``/``record`` parameter name (``type`` → ``type_``)."""
        return {KEYS[k].param: v for k, v in self.options.items()}


# --- finding and reading the file ---------------------------------------------


def load(path: Path) -> dict[str, Profile]:
    """Read and check a profiles file: every profile, in file order.

    Raises:
        ProfileError: the file cannot be read, is not TOML (the message names
            the line and column), or a profile is malformed (unknown key,
            wrong type, no url). The message never contains a value.
    """
    import tomllib

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"no profiles file {path}") from None
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: bad TOML: {_toml_message(exc, data)}") from None
    unknown = [k for k in doc if k != "profiles"]
    if unknown:
        raise ProfileError(f"{path}: unknown top-level key {unknown[0]!r} (profiles go in [profiles.NAME] tables)")
    tables = doc.get("profiles", {})
    if not isinstance(tables, dict):
        raise ProfileError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    profiles: dict[str, Profile] = {}
    for name, table in tables.items():
        if not NAME_RE.match(name):
            raise ProfileError(
                f"{path}: bad profile name {name!r}: letters, digits, '_', '.' and '-', starting with a letter or digit"
            )
        if not isinstance(table, dict):
            raise ProfileError(f"{path}: profiles.{name} must be a table ([profiles.{name}])")
        profiles[name] = _check_profile(name, table, path)
    return profiles


def _toml_message(exc: Exception, data: bytes) -> str:
    """``Invalid value (at line 3, column 8)`` → ``line 3, column 8: invalid value``."""
    text = str(exc)
    m = re.search(r"^(.*?)\s*\(at line (\d+), column (\d+)\)\s*$", text)
    if m:
        what, where = m.group(1), f"line {m.group(2)}, column {m.group(3)}"
    else:
        m = re.search(r"^(.*?)\s*\(at end of document\)\s*$", text)
        if not m:
            return text
        lines = data.decode("utf-8").split("\n")
        what, where = m.group(1), f"line {len(lines)}, column {len(lines[-1]) + 1} (the end)"
    return f"{where}: {what[:1].lower()}{what[1:]}"


def _check_profile(name: str, table: dict[str, Any], path: Path) -> Profile:
    where = f"{path}: profile {name}"
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ProfileError(f"{where}: 'url' is missing (the address to connect to or listen on)")
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key == "url":
            continue
        spec = KEYS.get(key)
        if spec is None:
            close = _close_match(key)
            hint = f" (did you mean {close!r}?)" if close else f" (known: url, {', '.join(KEYS)})"
            raise ProfileError(f"{where}: unknown key {key!r}{hint}")
        options[key] = _check_value(spec, value, f"{where}: {key}")
    return Profile(name, url, options, path)


def _close_match(key: str) -> str | None:
    import difflib

    matches = difflib.get_close_matches(key, ["url", *KEYS], n=1, cutoff=0.7)
    return matches[0] if matches else None


def _check_value(spec: Key, value: Any, where: str) -> Any:
    """The value normalised to its shape (lists for ``strs``), or ProfileError."""
    shape = spec.shape
    if shape in ("str", "path"):
        if isinstance(value, str):
            return value
        raise ProfileError(f"{where} must be a string")
    if shape == "text":
        if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
        raise ProfileError(f"{where} must be a string or a number")
    if shape == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ProfileError(f"{where} must be a whole number")
    if shape == "bool":
        if isinstance(value, bool):
            return value
        raise ProfileError(f"{where} must be true or false")
    if shape in ("strs", "paths"):
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(v, str) for v in items):
            return list(items)
        raise ProfileError(f"{where} must be a string or a list of strings")
    if shape == "json":
        if isinstance(value, str):
            return value
        if isinstance(value, (dict, list)):
            return value
        raise ProfileError(f"{where} must be a JSON string or a table")
    if shape == "headers":
        if isinstance(value, dict):
            items = []
            for header, v in value.items():
                if not isinstance(v, str):
                    raise ProfileError(f"{where}: the value of {header!r} must be a string")
                items.append(f"{header}: {v}")
            return items
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ProfileError(f"{where} must be a list of 'Name: value' strings or a table")
        for i, header in enumerate(items):
            hname, sep, _ = header.partition(":")
            if not sep or not hname.strip():
                # Never echo the item: it may hold a token.
                raise ProfileError(f"{where}[{i}] must be 'Name: value'")
        return list(items)
    if shape == "pairs":
        first, second = spec.fields
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list):
            raise ProfileError(f"{where} must be a list of [{first}, {second}] pairs")
        pairs = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                extra = set(item) - {first, second}
                if extra or first not in item or second not in item:
                    raise ProfileError(f"{where}[{i}] must be a table with exactly '{first}' and '{second}'")
                a, b = item[first], item[second]
            elif isinstance(item, list) and len(item) == 2:
                a, b = item
            else:
                raise ProfileError(f"{where}[{i}] must be [{first}, {second}] or {{ {first} = …, {second} = … }}")
            if not isinstance(a, str):
                raise ProfileError(f"{where}[{i}]: {first} must be a string")
            if not isinstance(b, (str, dict, list)):
                raise ProfileError(f"{where}[{i}]: {second} must be a string, a table or an array")
            pairs.append((a, b))
        return pairs
    raise AssertionError(shape)  # pragma: no cover - KEYS uses only the shapes above


# --- resolving ----------------------------------------------------------------


def resolve(
    source_text: str,
    config: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
) -> ResolvedProfile | None:
    """The profile that ``@NAME`` names, ready to use; None when SOURCE is no ``@NAME``.

    Args:
        source_text: SOURCE as typed (``@span-prod``).
        config: ``--config FILE``, or None for ``PRESENCECTL_CONFIG`` or the
            default path (:func:`config_path`).
        environ: the environment, for ``${VAR}`` and the file's location.

    Returns:
        None if ``source_text`` does not start with ``@``; else the profile
        with ``${VAR}`` replaced, relative paths made absolute and ``~``
        expanded. Use ``.url`` as SOURCE and merge ``.params()`` into the
        command's options with :func:`merge_value`.

    Raises:
        ProfileError: no name after ``@``, no such file, bad TOML, an unknown
            profile (the message lists the known ones), or a ``${VAR}`` that
            is not set (the message names it and the profile).

    >>> resolve("wss://example.com/x", None, {}) is None
    True
    """
    if not source_text.startswith("@"):
        return None
    name = source_text[1:]
    if not name:
        raise ProfileError("'@' needs a profile name: @NAME (see presencectl profiles)")
    path = config_path(config, environ)
    if not path.exists():
        raise ProfileError(
            f"no profiles file {path} (asked for @{name}); write [profiles.{name}] with a url there, "
            f"or point --config or ${ENV_VAR} at one"
        )
    profiles = load(path)
    profile = profiles.get(name)
    if profile is None:
        known = ", ".join(profiles) if profiles else "none: the file defines no [profiles.NAME]"
        raise ProfileError(f"unknown profile @{name} in {path} (known: {known})")
    return _resolve_profile(profile, environ)


def _resolve_profile(profile: Profile, environ: Mapping[str, str]) -> ResolvedProfile:
    base = profile.path.parent

    def expand(text: str, key: str) -> str:
        return _expand(text, environ, profile.name, key)

    def expand_path(text: str, key: str) -> str:
        p = Path(expand(text, key)).expanduser()
        return str(p if p.is_absolute() else base / p)

    url = expand(profile.url, "url")
    options: dict[str, Any] = {}
    for key, value in profile.options.items():
        spec = KEYS[key]
        if spec.shape == "path":
            options[key] = expand_path(value, key)
        elif spec.shape == "paths":
            options[key] = [expand_path(v, key) for v in value]
        elif spec.shape in ("strs", "headers"):
            options[key] = [expand(v, key) for v in value]
        elif spec.shape in ("str", "text"):
            options[key] = expand(value, key)
        elif spec.shape == "json":
            options[key] = expand(value, key) if isinstance(value, str) else _json(_expand_deep(value, expand, key))
        elif spec.shape == "pairs":
            options[key] = [
                (expand(a, key), expand(b, key) if isinstance(b, str) else _json(_expand_deep(b, expand, key)))
                for a, b in value
            ]
        else:
            options[key] = value
    return ResolvedProfile(profile.name, profile.path, url, options)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _expand_deep(value: Any, expand: Callable[[str, str], str], key: str) -> Any:
    if isinstance(value, str):
        return expand(value, key)
    if isinstance(value, list):
        return [_expand_deep(v, expand, key) for v in value]
    if isinstance(value, dict):
        return {k: _expand_deep(v, expand, key) for k, v in value.items()}
    return value


def _expand(text: str, environ: Mapping[str, str], profile: str, key: str) -> str:
    """Replace ``${VAR}`` by its value, ``$${`` by ``${``.

    Raises:
        ProfileError: a variable is not set, or ``${…}`` holds no valid name.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        var = m.group(1)
        if not _VAR_NAME.match(var):
            raise ProfileError(f"profile {profile}: {key}: bad reference ${{{var}}} (expected ${{NAME}}; $${{ for a literal)")
        if var not in environ:
            raise ProfileError(f"profile {profile}: {key} uses ${{{var}}}, but the environment variable {var} is not set")
        return environ[var]

    return _REF.sub(sub, text)


# --- merging with the command line ----------------------------------------------


def merge_value(key: str, profile_value: Any, cli_value: Any, cli_given: bool) -> tuple[bool, Any]:
    """How one profile option combines with the command line.

    Args:
        key: the profile key (``headers``, ``send``, ``type``…).
        profile_value: its value from :attr:`ResolvedProfile.options`.
        cli_value: the option's value from the command line (a list for
            repeatable options).
        cli_given: whether the command line (or the option's environment
            variable) gave the option.

    Returns:
        ``(use, value)``: whether to set the option, and the value to set.
        Not given: the profile's value. Given: ``replace`` keys keep the
        command line's (``use`` False); ``append`` keys get the profile's
        items then the command line's; ``headers`` drop the profile's
        headers whose name the command line sets again.

    >>> merge_value("send", ["a"], ["b"], True)
    (True, ['a', 'b'])
    >>> merge_value("headers", ["X-Token: 1", "Accept: x"], ["x-token: 2"], True)
    (True, ['Accept: x', 'x-token: 2'])
    >>> merge_value("type", ["firmware*"], ["client*"], True)
    (False, ['client*'])
    """
    spec = KEYS[key]
    if not cli_given:
        return True, profile_value
    if spec.merge == "append":
        return True, [*profile_value, *(cli_value or ())]
    if spec.merge == "headers":
        names = {h.split(":", 1)[0].strip().lower() for h in cli_value or ()}
        kept = [h for h in profile_value if h.split(":", 1)[0].strip().lower() not in names]
        return True, [*kept, *(cli_value or ())]
    return False, cli_value


# --- showing (secrets masked) ---------------------------------------------------


def _mask_text(text: str) -> str:
    """A payload to send: JSON with secret-named fields masked; other text masked whole."""
    if _only_references(text):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return MASK
    return _json(_mask_json(value))


def _mask_json(value: Any) -> Any:
    from presencectl.core.capture import is_secret_name

    if isinstance(value, dict):
        return {
            k: (_mask_secret(v) if isinstance(v, str) else MASK)
            if is_secret_name(k) and not isinstance(v, (dict, list))
            else _mask_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def masked(profile: Profile) -> dict[str, Any]:
    """The profile as written, secrets replaced by ``****``: for listings and ``--json``.

    Header values, ``password``, ``device_secret``, ``basic_auth`` and
    ``auth`` are masked; so are a URL's password and secret query values,
    and secret-named fields in ``send``/``publish``/``emit`` JSON (non-JSON
    text to send is masked whole). A value made only of ``${VAR}``
    references is shown as written: it names a variable, not its value.
    """
    out: dict[str, Any] = {"url": mask_url(profile.url)}
    for key, value in profile.options.items():
        spec = KEYS[key]
        if spec.shape == "headers":
            out[key] = [f"{h.partition(':')[0].strip()}: {_mask_secret(h.partition(':')[2].strip())}" for h in value]
        elif spec.shape == "pairs":
            out[key] = [[a, _mask_text(b) if isinstance(b, str) else _mask_json(b)] for a, b in value]
        elif spec.name == "send":
            out[key] = [_mask_text(v) for v in value]
        elif spec.secret:
            out[key] = _mask_all(value)
        else:
            out[key] = value
    return out


def _mask_all(value: Any) -> Any:
    """Every string in ``value`` masked (unless only ``${VAR}`` references), numbers too."""
    if isinstance(value, str):
        return _mask_secret(value)
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    return MASK


def _strings(*values: Any) -> list[str]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(_strings(*value))
        elif isinstance(value, dict):
            found.extend(_strings(*value.values()))
    return found
