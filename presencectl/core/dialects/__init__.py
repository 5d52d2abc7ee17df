"""Dialects: recognise one vendor's payloads and normalise them into Events.

A dialect is one module in this package that registers one :class:`Dialect`:
a ``name``, a ``sniff(obj, topic)`` test, a ``normalize(obj, topic, times)``
function, and everything else the tool needs to know about the vendor: the
event types its document names (kind, presence effect, meaning), the fields
and codes it documents, its colour, why an event changes presence
(``reason``), which events end a live session, and any framing its transport
wraps around payloads (``unwrap``). Generic code (decode, render, presence,
the live session, ``presencectl dialects``) reads these declarations and
names no vendor.

Every module in this package is a dialect and is loaded on first use, so a
new vendor is one new module (plus its fixtures and tests: see
CONTRIBUTING.md). Detection tries the dialects by ``order`` (lowest first);
``generic`` accepts anything and comes last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser
from presencectl.errors import UnknownDialect

__all__ = [
    "Dialect",
    "TypeInfo",
    "Unwrapped",
    "register",
    "unregister",
    "registry",
    "get",
    "find",
    "detect",
    "normalize",
    "ends_session",
    "session_enders",
    "reason_types",
    "unwrappers",
]


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What a vendor event type means.

    Args:
        kind: the :class:`Kind` it usually has (a payload may still say more:
            a failed OTA step is an ``error``).
        presence: ``"online"``/``"offline"`` when the type itself says so, else None.
        description: one line, shown by ``presencectl dialects`` and TAB completion.
        ends_session: the server ends a live session with it (no reconnect).
        keeps_reason: its reason is recorded even when it carries no presence
            (a Navixy ``unblock`` is why a blocked tracker may come back).
    """

    kind: Kind
    presence: str | None = None
    description: str = ""
    ends_session: bool = False
    keeps_reason: bool = False


@dataclass(slots=True)
class Unwrapped:
    """What a dialect's framing found in one frame that was not plain JSON.

    ``events`` are the framing's own control events (handshake, heart-beat),
    already normalised; ``payloads`` are the texts it carried, to be decoded
    like any frame.
    """

    events: list[Event]
    payloads: list[str]


@dataclass(slots=True)
class Dialect:
    """One vendor event format and what its vendor documents.

    Args:
        name: short identifier used by ``--dialect`` and in output.
        title: human name of the source.
        colour: colour of the dialect tag: one of the 16 standard colour names
            (``bright_green``, ``white``…), read by the renderer and tables.
        sniff: ``(obj, topic) -> bool``: does this payload belong to us?
        normalize: ``(obj, topic, times) -> Event`` (or a list of Events for a
            vendor-level batch); called only after sniff said yes, and must
            not raise on odd values.
        types: the event types the vendor documents (listed by ``dialects``).
        vendor: the vendor's short name, for messages ("Navixy").
        transport: how the vendor delivers events (the door presencectl uses).
        example: a ``presencectl`` command line that reads this vendor.
        order: detection order, lowest first (``generic`` is last).
        extra_types: types handled but not in the vendor's document (SPEC,
            samples, framing); rendered and shown by ``dialects NAME`` apart.
        fields: documented payload fields (dotted paths, usable with ``-w``)
            and their meaning.
        codes: documented values of coded fields: ``{field: {value: meaning}}``.
        reason: ``(event) -> str | None``: the vendor's word for why this
            event changes presence; None: the payload's ``reason`` or the type.
        unwrap: ``(text) -> Unwrapped | None``: undo a framing the vendor's
            transport wraps around payloads; tried on text that is not JSON.
        source: the vendor document this dialect follows.
        identifiers: where the vendor's payloads carry identifiers (device,
            user, account ids; names; addresses), for ``anonymise``: a bare
            key (``deviceId``) at any depth; a dotted path from the payload
            root with ``*`` for any key or list index (``sender._id``,
            ``receivers.*.username``); a path ending in ``{key}`` for an
            object whose keys are ids (``data.state.{key}``); or an MQTT topic
            pattern starting with ``/`` whose ``{}`` segments are ids
            (``/sys/{}/{}/``).
        sniff_keys: top-level keys of which an object with no topic must have
            at least one for ``sniff`` to accept it (None: any object may do).
            The decoder then asks only the dialects that may accept an
            object of that set of keys (speed only: ``sniff`` still decides).
    """

    name: str
    title: str
    colour: str
    sniff: Callable[[dict, str | None], bool]
    normalize: Callable[[dict, str | None, TimeParser], Event | list[Event]]
    types: dict[str, TypeInfo] = field(default_factory=dict)
    vendor: str = ""
    transport: str = ""
    example: str = ""
    order: int = 100
    extra_types: dict[str, TypeInfo] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    reason: Callable[[Event], str | None] | None = None
    unwrap: Callable[[str], Unwrapped | None] | None = None
    source: str = ""
    identifiers: tuple[str, ...] = ()
    sniff_keys: frozenset[str] | None = None

    def info(self, etype: str | None) -> TypeInfo | None:
        """What ``etype`` means, documented or handled; None when unknown."""
        if etype is None:
            return None
        return self.types.get(etype) or self.extra_types.get(etype)

    def ends_session(self, event: Event) -> bool:
        """True when ``event`` (of this dialect) ends a live session for good."""
        info = self.info(event.type)
        return info is not None and info.ends_session


_registry: dict[str, Dialect] = {}
_order: list[Dialect] = []
#: Derived views, rebuilt on every register().
_enders: frozenset[str] = frozenset()
_reason_types: frozenset[tuple[str, str]] = frozenset()


def register(dialect: Dialect) -> Dialect:
    """Add a dialect (replacing one of the same name); detection tries it by ``order``."""
    _registry[dialect.name] = dialect
    _rebuild()
    return dialect


def unregister(name: str) -> None:
    """Remove a dialect (tests register throwaway ones)."""
    _registry.pop(name, None)
    _rebuild()


def _rebuild() -> None:
    global _enders, _reason_types
    _order[:] = sorted(_registry.values(), key=lambda d: d.order)
    every = [(d, t, i) for d in _order for t, i in {**d.extra_types, **d.types}.items()]
    _enders = frozenset(t for _, t, i in every if i.ends_session)
    _reason_types = frozenset((d.name, t) for d, t, i in every if i.keeps_reason)


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


def find(name: str | None) -> Dialect | None:
    """The dialect called ``name``, or None (no error: for names read from events)."""
    _load_builtins()
    return _registry.get(name) if name is not None else None


def detect(obj: dict, topic: str | None = None) -> Dialect:
    """The first dialect whose sniff accepts ``obj`` (``generic`` accepts all)."""
    _load_builtins()
    for dialect in _order:
        if dialect.sniff(obj, topic):
            return dialect
    return _registry["generic"]


def normalize(
    obj: dict, topic: str | None, times: TimeParser, forced: Dialect | None = None
) -> Event | list[Event]:
    """Normalise one JSON object, by ``forced`` or by the detected dialect."""
    dialect = forced or detect(obj, topic)
    return dialect.normalize(obj, topic, times)


def session_enders() -> frozenset[str]:
    """The event type names that some dialect says may end a live session: a
    loop over many events asks :func:`ends_session` only about these."""
    _load_builtins()
    return _enders


def ends_session(event: Event) -> Dialect | None:
    """The dialect whose documented ``event`` ends a live session, else None.

    Cheap for every other event: one set lookup on the type name.
    """
    _load_builtins()
    if event.type not in _enders:
        return None
    dialect = find(event.dialect)
    return dialect if dialect is not None and dialect.ends_session(event) else None


def reason_types() -> frozenset[tuple[str, str]]:
    """``(dialect, type)`` pairs whose reason is kept even without a presence change."""
    _load_builtins()
    return _reason_types


def unwrappers() -> list[Callable[[str], Unwrapped | None]]:
    """The framings declared by dialects, in detection order."""
    return [d.unwrap for d in registry() if d.unwrap is not None]


_loaded = False


def _load_builtins() -> None:
    """Import every module of this package once: each registers its dialect."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


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


def word(value: Any) -> str | None:
    """A scalar payload value as a word for reasons (``True`` → ``true``); None otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return None
