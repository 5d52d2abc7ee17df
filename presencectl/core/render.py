"""Event → output bytes: ``pretty``, ``json``, ``raw``, ``compact`` (SPEC §3.8).

The per-line path builds plain strings from precomputed ANSI styles: rich's
``Console.print`` runs at a few thousand lines a second, far too slow for a
million-line file. rich is used only for ``-v`` payloads, tables and live views.

Every piece of payload text goes through :func:`escape` before it reaches a
terminal: control characters, ANSI escapes and bidi overrides are shown as
``\\x1b``-style escapes, never executed, and ``[bold]``-like text is printed as
is, never read as markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from math import modf as _modf
from typing import Any

import orjson

from presencectl.core.decode import orjson_dumps
from presencectl.core.events import META_KEYS, Event

__all__ = [
    "escape",
    "KIND_STYLES",
    "COLOUR_SGR",
    "dialect_styles",
    "FORMATS",
    "RenderOptions",
    "make_renderer",
    "event_json",
    "json_safe",
    "dumps_json",
]

FORMATS = ("pretty", "json", "raw", "compact")

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What JSON serialisers leave alone but a terminal may act on: DEL, C1
# controls (0x9b is CSI on 8-bit terminals), bidi overrides.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
# The same characters as UTF-8 bytes, plus U+2028/U+2029 (line breaks to
# some JSON readers): what JSON output escapes as \u sequences. In valid
# UTF-8 these byte sequences never occur inside another character.
_UNSAFE_UTF8 = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """Make control characters, escapes and bidi overrides visible.

    >>> escape("\\x1b]0;owned\\x07 ok")
    '\\\\x1b]0;owned\\\\x07 ok'
    """
    # Everything escaped is a control or format character, never printable:
    # isprintable() clears most text without the slower regex search.
    if text.isprintable() or _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_visible, text)


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def json_safe(data: bytes) -> bytes:
    """JSON text with DEL, C1 controls, bidi overrides/isolates and U+2028/9 as ``\\u`` escapes.

    JSON serialisers write those characters raw; a terminal may act on them
    (``\\x9b`` is CSI on 8-bit terminals, U+202E reverses text). Outside
    strings they cannot occur in valid JSON, so escaping them in the whole
    text keeps it valid and parsing gives back the exact text.

    >>> json_safe('{"a":"\\u202e\\x9b"}'.encode())
    b'{"a":"\\\\u202e\\\\u009b"}'
    """
    if data.isascii():
        if b"\x7f" not in data:
            return data
    elif b"\x7f" not in data and not _maybe_unsafe(data):
        return data
    return _UNSAFE_UTF8.sub(_json_escape, data)


#: The second and third bytes after \xe2 of the characters json_safe escapes.
_E2_UNSAFE = frozenset(
    bytes((0x80, c)) for c in (0x8E, 0x8F, *range(0xA8, 0xAF))
) | frozenset(bytes((0x81, c)) for c in range(0xA6, 0xAA))


def _maybe_unsafe(data: bytes) -> bool:
    """Whether non-ASCII ``data`` may hold a character json_safe escapes (no \x7f in it).

    A regular expression tries every byte of the line; ``find`` jumps from
    one lead byte to the next (text of other scripts, or the "…" of a cut
    summary, is then checked in a few steps). Many candidates: True, and the
    regular expression decides.
    """
    for lead in (b"\xc2", b"\xe2"):
        i = data.find(lead)
        tries = 0
        while i >= 0:
            tries += 1
            if tries > 8:
                return True
            follow = data[i + 1 : i + 3]
            if lead == b"\xc2":
                if follow[:1] and 0x80 <= follow[0] <= 0x9F:
                    return True
            elif follow in _E2_UNSAFE:
                return True
            i = data.find(lead, i + 1)
    return False


def dumps_json(value: Any, indent: bool = False) -> bytes:
    """JSON output bytes for scripts: exact integers, lone surrogates as escapes, :func:`json_safe`."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0)
    except TypeError:  # lone surrogates, integers beyond 64 bits
        import json

        data = json.dumps(
            value, ensure_ascii=False, indent=2 if indent else None, separators=None if indent else (",", ":")
        ).encode("utf-8", "backslashreplace")
    return json_safe(data)


#: kind → (rich style, ANSI SGR parameters). One table for both paths.
KIND_STYLES: dict[str | None, tuple[str, str]] = {
    "connect": ("bold green", "1;32"),
    "disconnect": ("bold red", "1;31"),
    "state": ("yellow", "33"),
    "message": ("cyan", "36"),
    "firmware": ("bold magenta", "1;35"),
    "error": ("bold bright_white on red", "1;97;41"),
    "lifecycle": ("bright_blue", "94"),
    "other": ("white", "37"),
    None: ("dim", "2"),
}
#: The 16 standard colour names a dialect may declare (``Dialect.colour``),
#: as ANSI SGR parameters; rich reads the same names.
COLOUR_SGR: dict[str, str] = {
    **{name: str(30 + i) for i, name in enumerate(("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"))},
    **{f"bright_{name}": str(90 + i) for i, name in enumerate(("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"))},
}


def dialect_styles() -> dict[str | None, tuple[str, str]]:
    """dialect name → (rich style, ANSI SGR parameters), from each dialect's
    declared ``colour``; ``None`` (unparsed) is dim. Unknown colour names fall
    back to white."""
    from presencectl.core import dialects

    styles: dict[str | None, tuple[str, str]] = {
        d.name: (d.colour, COLOUR_SGR[d.colour]) if d.colour in COLOUR_SGR else ("white", "37")
        for d in dialects.registry()
    }
    styles[None] = ("dim", "2")
    return styles
_RESET = "\x1b[0m"
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class RenderOptions:
    """How to render: format, colour, time source and zone, verbosity.

    Args:
        fmt: one of :data:`FORMATS`.
        color: emit ANSI colour.
        zone: None for local time, or a tzinfo (``UTC`` for ``--utc``).
        time_source: ``event`` (falling back to receive time), ``received`` or ``none``.
        verbose: ``-v``: add the indented payload below each pretty line.
        tty: stdout is a terminal (``raw`` then escapes control characters).
        width: terminal width for ``-v`` payloads.
    """

    __slots__ = ("fmt", "color", "zone", "time_source", "verbose", "tty", "width")

    def __init__(
        self,
        fmt: str = "pretty",
        color: bool = False,
        zone: tzinfo | None = None,
        time_source: str = "event",
        verbose: bool = False,
        tty: bool = False,
        width: int = 100,
    ) -> None:
        self.fmt = fmt
        self.color = color
        self.zone = zone
        self.time_source = time_source
        self.verbose = verbose
        self.tty = tty
        self.width = width


class _Clock:
    """Formats times for display, cached (streams repeat the same instants)."""

    __slots__ = ("zone", "cache")

    def __init__(self, zone: tzinfo | None) -> None:
        self.zone = zone
        self.cache: dict[Any, str] = {}

    def __call__(self, when: datetime | float | None) -> str:
        if when is None:
            return "-"
        cache = self.cache
        try:
            return cache[when]
        except KeyError:
            pass
        if isinstance(when, float):
            dt = datetime.fromtimestamp(when, self.zone or UTC)
            if self.zone is None:
                dt = dt.astimezone()
        else:
            dt = when.astimezone(self.zone)
        text = (
            f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} "
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond // 1000:03d}"
        )
        if len(cache) > 8192:
            cache.clear()
        cache[when] = text
        return text


def _pick_time(source: str) -> Callable[[Event], datetime | float | None]:
    if source == "received":
        return lambda e: e.received
    if source == "none":
        return lambda e: None
    return lambda e: e.time if e.time is not None else e.received


def _iso_received(t: float | None) -> str | None:
    """``datetime.fromtimestamp(t, UTC).isoformat()``, text for text.

    Every live event has a receive time, so this runs once per frame of a busy
    stream: the last time's text is kept (the frames of one WebSocket read
    share theirs), the date and time of day are formatted once per second
    (cached), the microseconds are split off the way ``fromtimestamp`` does
    (round half to even).
    """
    global _last_received
    if t is None:
        return None
    last = _last_received
    if t == last[0]:
        return last[1]
    frac, whole = _modf(t)
    micro = round(frac * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:
        micro += 1_000_000
        whole -= 1.0
    second = _SECONDS.get(whole)
    if second is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        second = _SECONDS[whole] = datetime.fromtimestamp(whole, UTC).isoformat()[:19]
    text = f"{second}.{micro:06d}+00:00" if micro else f"{second}+00:00"
    _last_received = (t, text)
    return text


#: The last receive time _iso_received formatted, and its text.
_last_received: tuple[float | None, str | None] = (None, None)
#: whole epoch second → its ``YYYY-MM-DDTHH:MM:SS`` in UTC, for _iso_received.
_SECONDS: dict[float, str] = {}


def payload_bytes(event: Event) -> bytes:
    """The payload as JSON bytes: the received text itself when it is one line."""
    text = event.text
    if event.dialect is None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "backslashreplace")
        return orjson_dumps(text)
    if text is not None:
        # A lone surrogate can only sit in a JSON string: as \udxxx it stays valid.
        data = text.encode("utf-8", "backslashreplace") if isinstance(text, str) else text
        data = data.strip()
        if b"\n" not in data and b"\r" not in data and not data.startswith(b"\xef\xbb\xbf"):
            return data
    return orjson_dumps(event.raw)


def event_json(event: Event) -> bytes:
    """One ``--format json`` line (no newline). Keys are stable; ids exact.

    MQTT messages add optional keys before ``payload`` when they say
    something (:data:`~presencectl.core.events.META_KEYS`): ``retained``
    (true), ``qos`` (1 or 2), ``content_type``, ``user_properties``
    (``[[name, value], …]``).

    >>> event_json(Event("span", "x", "other", None, None, "", {}, text='{}'))[:30]
    b'{"time":null,"dialect":"span",'
    """
    return _event_json(event, 0)


def _event_json(event: Event, option: int) -> bytes:
    when = event.time
    received = event.received
    if when is not None:
        # Streams repeat the same time text, and TimeParser hands out one
        # datetime object per text: remembering isoformat() by object identity
        # is cheaper than calling it per line. (Not by equality: 12:00+02:00
        # equals 10:00Z but prints differently.) The entry holds the object,
        # so its id cannot be reused while cached.
        cached = _ISO_CACHE.get(id(when))
        if cached is not None and cached[0] is when:
            iso = cached[1]
        else:
            if len(_ISO_CACHE) > 4096:
                _ISO_CACHE.clear()
            iso = when.isoformat()
            _ISO_CACHE[id(when)] = (when, iso)
    else:
        iso = None
    # The payload goes in as received (see payload_bytes), as an orjson
    # Fragment: one serialisation per line, no byte concatenation. The common
    # case (a one-line object as bytes) is inlined.
    text = event.text
    if type(text) is bytes and event.dialect is not None and text[:1] == b"{" and text[-1:] == b"}" and b"\n" not in text:
        payload = text
    elif type(text) is str and event.dialect is not None and text[:1] == "{" and text[-1:] == "}" and "\n" not in text and "\r" not in text:
        payload = text.encode("utf-8", "backslashreplace")  # what payload_bytes gives, without the checks it needs
    else:
        payload = payload_bytes(event)
    fields = {
        "time": iso,
        "dialect": event.dialect,
        "type": event.type,
        "kind": event.kind,
        "subject": event.subject,
        "summary": event.summary,
        "topic": event.topic,
        "received": _iso_received(received) if received is not None else None,
        "presence": event.presence,
    }
    meta = event.meta
    if meta is not None:
        for key in META_KEYS:
            if key in meta:
                fields[key] = meta[key]
    fields["payload"] = _Fragment(payload)
    try:
        line = _dumps(fields, option=option)
    except TypeError:  # lone surrogates, integers beyond 64 bits: the exact, slower path
        del fields["payload"]
        line = dumps_json(fields)[:-1] + b',"payload":' + payload + (b"}\n" if option else b"}")
    # C1 controls, bidi overrides and U+2028/9 become \u escapes, payload included
    # (json_safe's first test inlined: most lines are ASCII).
    if line.isascii() and b"\x7f" not in line:
        return line
    return json_safe(line)


_dumps = orjson.dumps
_Fragment = orjson.Fragment
#: id(datetime) → (datetime, its isoformat() text), for event_json (cleared when full).
_ISO_CACHE: dict[int, tuple[datetime, str]] = {}


def _raw_bytes(event: Event) -> bytes:
    text = event.text
    if text is None:
        return orjson_dumps(event.raw)
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text


def _text_preview(event: Event, limit: int = 200) -> str:
    text = event.text
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} chars)"
    return escape(text)


def make_renderer(opts: RenderOptions) -> Callable[[Event], bytes]:
    """A function turning one Event into its output line(s), newline included."""
    if opts.fmt == "json":
        return lambda e: _event_json(e, _NEWLINE)
    if opts.fmt == "raw":
        if opts.tty:
            return lambda e: escape(_raw_bytes(e).decode("utf-8", "backslashreplace")).encode() + b"\n"
        return lambda e: _raw_bytes(e) + b"\n"
    clock = _Clock(opts.zone)
    pick = _pick_time(opts.time_source)
    show_time = opts.time_source != "none"
    if opts.fmt == "compact":

        def compact(e: Event) -> bytes:
            when = clock(pick(e)) + " " if show_time else ""
            if e.dialect is None:
                line = f"{when}unparsed {escape(e.summary)} {_text_preview(e)}"
            else:
                line = (
                    f"{when}{e.dialect} {escape(e.type or '-')} {escape(e.subject or '-')} "
                    f"{escape(e.summary)}"
                )
            line = line.rstrip()
            if e.topic is not None:
                line += f" topic={escape(e.topic)}"
            return line.encode("utf-8", "backslashreplace") + b"\n"

        return compact
    if opts.fmt != "pretty":
        raise ValueError(f"unknown format {opts.fmt!r}")
    return _pretty(opts, clock, pick, show_time)


def _pretty(
    opts: RenderOptions,
    clock: _Clock,
    pick: Callable[[Event], Any],
    show_time: bool,
) -> Callable[[Event], bytes]:
    # Precomputed once per renderer: the per-line path only looks codes up.
    dialect_styles_ = dialect_styles()
    if opts.color:
        kind_sgr = {k: f"\x1b[{v[1]}m" for k, v in KIND_STYLES.items()}
        dialect_sgr = {k: f"\x1b[{v[1]}m" for k, v in dialect_styles_.items()}
        dim, bold, reset = "\x1b[2m", "\x1b[1m", _RESET
    else:
        kind_sgr = {k: "" for k in KIND_STYLES}
        dialect_sgr = {k: "" for k in dialect_styles_}
        dim = bold = reset = ""
    other_kind = kind_sgr["other"]
    generic = dialect_sgr["generic"]
    payload = _payload_printer(opts) if opts.verbose else None
    unparsed_tag = f"{dim}{'unparsed':<15}{reset}"

    def pretty(e: Event) -> bytes:
        when = f"{dim}{clock(pick(e))}{reset} " if show_time else ""
        if e.dialect is None:
            line = f"{when}{unparsed_tag}{dim}{escape(e.summary)}  {_text_preview(e)}{reset}"
        else:
            tag = f"[{e.dialect}]"
            kind = kind_sgr.get(e.kind, other_kind)
            line = (
                f"{when}{dialect_sgr.get(e.dialect, generic)}{tag:<15}{reset}"
                f"{kind}{escape(e.type or '-'):<24}{reset} "
                f"{bold}{escape(e.subject or '-'):<18}{reset} {escape(e.summary)}"
            )
        line = line.rstrip()
        topic = e.topic
        if topic is not None:  # MQTT topic, Socket.IO event name: often the only subject there is
            line += f"  {dim}{escape(topic)}{reset}"
        out = line.encode("utf-8", "backslashreplace") + b"\n"
        if payload is not None:
            if e.meta is not None:
                out += f"    {dim}{escape(meta_text(e.meta))}{reset}\n".encode("utf-8", "backslashreplace")
            out += payload(e)
        return out

    return pretty


def meta_text(meta: dict[str, Any]) -> str:
    """``-v``: a message's properties on one line (escape it before printing).

    >>> meta_text({"retained": True, "qos": 1, "user_properties": [["k", "v"]]})
    'retained, QoS 1, user properties: k=v'
    """
    parts = []
    if meta.get("retained"):
        parts.append("retained")
    if "qos" in meta:
        parts.append(f"QoS {meta['qos']}")
    if "content_type" in meta:
        parts.append(f"content type {meta['content_type']}")
    if "user_properties" in meta:
        parts.append("user properties: " + ", ".join(f"{k}={v}" for k, v in meta["user_properties"]))
    return ", ".join(parts)


def _payload_printer(opts: RenderOptions) -> Callable[[Event], bytes]:
    """``-v``: the payload, indented and highlighted (rich, but no markup parsing)."""
    if not opts.color:

        def plain(e: Event) -> bytes:
            if e.dialect is None:
                return b""
            body = _dumps_indent(_exact(e))
            text = _UNSAFE_IN_JSON.sub(_visible, body.decode("utf-8", "backslashreplace"))
            return "".join(f"    {line}\n" for line in text.splitlines()).encode()

        return plain

    import io

    from rich.console import Console
    from rich.json import JSON
    from rich.padding import Padding

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        width=max(opts.width, 40),
        highlight=False,
        markup=False,
        emoji=False,
    )

    def highlighted(e: Event) -> bytes:
        if e.dialect is None:
            return b""
        body = _exact_text(e)
        buffer.seek(0)
        buffer.truncate()
        console.print(Padding(JSON(body, indent=2), (0, 0, 0, 4)), soft_wrap=True)
        text = _UNSAFE_IN_JSON.sub(_visible, buffer.getvalue())
        lines = [line.rstrip() for line in text.splitlines()]
        return ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")

    return highlighted


def _exact(event: Event) -> Any:
    """The payload re-read with the stdlib parser: integers of any size stay exact
    (orjson turns integers beyond 64 bits into floats). Only ``-v`` pays this."""
    import json

    text = event.text
    if text is not None:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return event.raw


def _exact_text(event: Event) -> str:
    import json

    return json.dumps(_exact(event), ensure_ascii=False)


def _dumps_indent(value: Any) -> bytes:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8", "backslashreplace")
