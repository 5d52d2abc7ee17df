"""Dialects: recognise one vendor's payloads and normalise them into Events.

A dialect is an object with a ``name``, a ``sniff(obj, topic)`` test and a
``normalize(obj, topic, times)`` function. Built-ins register through
:func:`register` exactly like any other, so ``presencectl dialects`` lists
what detection uses. Detection tries the dialects in registration order;
``generic`` is always last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser
from presencectl.errors import UnknownDialect

__all__ = ["Dialect", "TypeInfo", "register", "registry", "get", "detect", "normalize"]


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What a vendor event type means: its kind, implied presence, a description."""

    kind: Kind
    presence: str | None = None
    description: str = ""


@dataclass(slots=True)
class Dialect:
    """One vendor event format.

    Args:
        name: short identifier used by ``--dialect`` and in output.
        title: human name of the source.
        colour: rich colour name of the dialect tag.
        sniff: ``(obj, topic) -> bool``: does this payload belong to us?
        normalize: ``(obj, topic, times) -> Event``; called only after sniff
            said yes, and must not raise on odd values.
        types: the vendor's documented event types.
        identifiers: where the vendor's payloads carry identifiers (device,
            user, account ids; names; addresses), for ``anonymise``: a bare
            key (``deviceId``) at any depth; a dotted path from the payload
            root with ``*`` for any key or list index (``sender._id``,
            ``receivers.*.username``); a path ending in ``{key}`` for an
            object whose keys are ids (``data.state.{key}``); or an MQTT topic
            pattern starting with ``/`` whose ``{}`` segments are ids
            (``/sys/{}/{}/``).
    """

    name: str
    title: str
    colour: str
    sniff: Callable[[dict, str | None], bool]
    normalize: Callable[[dict, str | None, TimeParser], Event]
    types: dict[str, TypeInfo] = field(default_factory=dict)
    identifiers: tuple[str, ...] = ()


_registry: dict[str, Dialect] = {}
_order: list[Dialect] = []


def register(dialect: Dialect) -> Dialect:
    """Add a dialect; detection tries it before ``generic``."""
    _registry[dialect.name] = dialect
    _order[:] = sorted(_registry.values(), key=lambda d: d.name == "generic")
    return dialect


def registry() -> list[Dialect]:
    """All dialects in detection order."""
    _load_builtins()
    return list(_order)


def get(name: str) -> Dialect:
    """The dialect called ``name``.

    Raises:
        UnknownDialect: no such dialect; the message lists the known ones.
    """
    _load_builtins()
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(d.name for d in _order)
        raise UnknownDialect(f"unknown dialect {name!r} (known: {known})") from None


def detect(obj: dict, topic: str | None = None) -> Dialect:
    """The first dialect whose sniff accepts ``obj`` (``generic`` accepts all)."""
    for dialect in _order:
        if dialect.sniff(obj, topic):
            return dialect
    return _registry["generic"]


def normalize(
    obj: dict, topic: str | None, times: TimeParser, forced: Dialect | None = None
) -> Event:
    """Normalise one JSON object, by ``forced`` or by the detected dialect."""
    dialect = forced or detect(obj, topic)
    return dialect.normalize(obj, topic, times)


#: Built-in dialect modules, in detection order.
BUILTINS = ("cloudconnect", "aliyun", "span", "spaces", "navixy", "generic")
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    # Registration order is detection order (SPEC §2 table order).
    for module in BUILTINS:
        importlib.import_module(f"presencectl.core.dialects.{module}")


def short(value: Any, limit: int = 60) -> str:
    """A value as a short string for summaries."""
    if type(value) is str:
        text = value
    elif isinstance(value, (dict, list, bool)) or value is None:
        import orjson  # JSON spelling for structures: {"a":1}, not {'a': 1}

        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = str(value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_or_none(value: Any) -> str | None:
    """A subject id as text (ints kept exact), None for missing/empty."""
    if type(value) is str:
        return value or None
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return None
