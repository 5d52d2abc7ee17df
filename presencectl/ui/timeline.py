"""Drawing a :class:`~presencectl.core.timeline.Timeline`: terminal rows and SVG.

The terminal view is built from precomputed ANSI sequences (no rich), one
character cell per time bin: the lower half of a cell is the state
(``▄`` green online, red offline, blank unknown), the upper half is the most
telling event kind in that bin, in the colour ``pretty`` gives that kind.
Without colour the same picture is plain ASCII (``=`` online, ``_`` offline,
a kind's letter for a tick) with a legend.

The HTML page lives in :mod:`presencectl.ui.timeline_html`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from xml.sax.saxutils import escape as xml_escape

from presencectl.core.render import escape
from presencectl.core.timeline import KIND_RANK, Timeline, bin_row

__all__ = ["draw_terminal", "draw_svg", "KIND_COLOURS", "STATE_COLOURS", "duration_text", "LETTERS"]

#: Kind → (ANSI background SGR for the tick half of a cell, CSS colour).
KIND_COLOURS: dict[str, tuple[str, str]] = {
    "error": ("101", "#ff3b30"),
    "disconnect": ("41", "#c62828"),
    "connect": ("102", "#2ecc40"),
    "firmware": ("105", "#c05fd4"),
    "state": ("43", "#e0b400"),
    "lifecycle": ("104", "#4f8ef7"),
    "message": ("46", "#1fb5c4"),
    "other": ("47", "#b0b0b0"),
    "unparsed": ("100", "#6e6e6e"),
}
#: State → (ANSI foreground SGR for the lower half, CSS colour).
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "online": ("32", "#2e7d32"),
    "offline": ("31", "#b71c1c"),
}
UNKNOWN_CSS = "#e6e6e6"
#: Kind → its letter in the plain ASCII picture.
LETTERS: dict[str, str] = {
    "error": "E", "disconnect": "D", "connect": "C", "firmware": "F", "state": "S",
    "lifecycle": "L", "message": "M", "other": "O", "unparsed": "?",
}
_STATE_ASCII = {"online": "=", "offline": "_", None: " "}
_RESET = "\x1b[0m"


def duration_text(seconds: float) -> str:
    """``0s``, ``42s``, ``3m10s``, ``2h05m``, ``3d04h``: short, for row ends and titles."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s // 60 % 60:02d}m"
    return f"{s // 86400}d{s // 3600 % 24:02d}h"


def _when(t: float, zone: tzinfo | None, span: float) -> str:
    dt = datetime.fromtimestamp(t, zone).astimezone(zone)
    if span >= 2 * 86400:
        return dt.strftime("%m-%d %H:%M")
    if span >= 120:
        return dt.strftime("%H:%M:%S" if span < 3 * 3600 else "%H:%M")
    return dt.strftime("%H:%M:%S.%f")[:-3]


def _zone_name(zone: tzinfo | None, t: float) -> str:
    dt = datetime.fromtimestamp(t, zone).astimezone(zone)
    return dt.tzname() or dt.strftime("%z")


def title_line(timeline: Timeline, source: str, zone: tzinfo | None) -> str:
    """``SOURCE  2026-03-12 08:00:02 → 08:15:07 UTC (15m05s)  15 subjects, 145 events``."""
    return f"{source}  {_what(timeline, zone)}"


def _what(timeline: Timeline, zone: tzinfo | None) -> str:
    if timeline.first is None:
        return f"no timed events with a subject ({timeline.events} events)"
    start, end = timeline.first, timeline.last or timeline.first
    a = datetime.fromtimestamp(start, zone).astimezone(zone)
    b = datetime.fromtimestamp(end, zone).astimezone(zone)
    right = b.strftime("%H:%M:%S") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{a:%Y-%m-%d %H:%M:%S} → {right} {_zone_name(zone, start)} "
        f"({duration_text(end - start)})  {len(timeline)} subjects, {timeline.events} events"
    )


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _pack(items: list[tuple[str, int]], width: int) -> list[str]:
    """Join (text, visible length) items with two spaces into lines of at most ``width``."""
    lines: list[str] = []
    line, used = "", 0
    for text, length in items:
        if used and used + 2 + length > width:
            lines.append(line)
            line, used = "", 0
        line, used = (f"{line}  {text}", used + 2 + length) if used else (text, length)
    if used:
        lines.append(line)
    return lines


def _axis(start: float, end: float, width: int, zone: tzinfo | None) -> str:
    """A line of time labels over a bar ``width`` cells wide, each label at its cell."""
    span = end - start
    sample = _when(start, zone, span)
    gap = len(sample) + 3
    line = [" "] * width
    col = 0
    while col + len(sample) <= width:
        label = _when(start + span * col / width, zone, span)
        line[col:col + len(label)] = label
        col += max(gap, width // 6 if width >= 6 * gap else gap)
    return "".join(line).rstrip()


def draw_terminal(
    timeline: Timeline,
    *,
    width: int,
    color: bool,
    zone: tzinfo | None,
    source: str,
    top: int | None = None,
    max_rows: int | None = None,
) -> list[str]:
    """The terminal picture as lines (no trailing newlines).

    Args:
        width: columns to fill (the terminal's width).
        color: ANSI colour, else plain ASCII.
        zone: time zone of the axis labels (None: local).
        source: what was read, for the title.
        top: keep the busiest N subjects.
        max_rows: draw at most this many rows (a live view on a short screen),
            saying how many more there are.
    """
    rows = timeline.rows(top=top)
    start, end = timeline.span()
    name_w = max([len(escape(r.subject)) for r in rows] + [7])
    name_w = min(name_w, 28, max(8, width // 4))
    tail_w = 15  # " flaps  offline"
    bar_w = max(10, width - name_w - tail_w - 2)
    dim = "\x1b[2m" if color else ""
    reset = _RESET if color else ""
    bold = "\x1b[1m" if color else ""
    title = escape(title_line(timeline, source, zone))
    if len(title) <= width:
        lines = [f"{bold}{title}{reset}"]
    else:
        lines = [f"{bold}{_fit(escape(source), width)}{reset}", _fit(_what(timeline, zone), width)]
    lines.append(f"{dim}{'subject':<{name_w}} {_axis(start, end, bar_w, zone):<{bar_w}} {'flaps':>5} {'offline':>8}{reset}")
    shown = rows if max_rows is None or len(rows) <= max_rows else rows[: max(0, max_rows - 1)]
    for row in shown:
        states, ticks = bin_row(row, start, end, bar_w)
        name = escape(row.subject)
        if len(name) > name_w:
            name = name[: name_w - 1] + "…"
        stats = timeline.stats(row)
        flaps = stats.flaps if stats is not None else 0
        offline = duration_text(timeline.offline_total(row))
        bar = _bar_ansi(states, ticks) if color else _bar_ascii(states, ticks)
        lines.append(f"{name:<{name_w}} {bar} {flaps:>5} {offline:>8}")
    if len(shown) < len(rows):
        lines.append(f"{dim}… {len(rows) - len(shown)} more subjects (--top N, or filters, to choose){reset}")
    lines.extend(_legend(color, width))
    return lines


def _bar_ansi(states: list[str | None], ticks: list[str | None]) -> str:
    parts: list[str] = []
    last = None
    for state, tick in zip(states, ticks, strict=True):
        fg = STATE_COLOURS[state][0] if state is not None else None
        bg = KIND_COLOURS[tick][0] if tick is not None else None
        if fg is None and bg is not None:
            # No state: the tick fills the upper half on its own.
            code, glyph = f"\x1b[0;{int(bg) - 10}m", "▀"
        else:
            sgr = ";".join(x for x in ("0", fg, bg) if x is not None)
            code, glyph = f"\x1b[{sgr}m", "▄" if fg is not None else " "
        if code != last:
            parts.append(code)
            last = code
        parts.append(glyph)
    parts.append(_RESET)
    return "".join(parts)


def _bar_ascii(states: list[str | None], ticks: list[str | None]) -> str:
    return "".join(LETTERS[t] if t is not None else _STATE_ASCII[s] for s, t in zip(states, ticks, strict=True))


def _legend(color: bool, width: int) -> list[str]:
    """The legend, wrapped to ``width``."""
    if not color:
        items = [("legend: = online", 16), ("_ offline", 9), ("(blank) unknown", 15), ("ticks:", 6)]
        items += [(f"{LETTERS[k]} {k}", 2 + len(k)) for k in KIND_RANK]
        return _pack(items, width)
    on, off = STATE_COLOURS["online"][0], STATE_COLOURS["offline"][0]
    items = [
        (f"\x1b[2mlegend:{_RESET} \x1b[{on}m▄{_RESET} online", 16),
        (f"\x1b[{off}m▄{_RESET} offline", 9),
        ("ticks:", 6),
    ]
    items += [(f"\x1b[{int(KIND_COLOURS[k][0]) - 10}m▀{_RESET} {k}", 2 + len(k)) for k in KIND_RANK]
    return _pack(items, width)


# ---------------------------------------------------------------------- SVG
_ROW_H = 16
_NAME_W = 200
_TAIL_W = 110


def _xml(text: str) -> str:
    # escape() first: control characters are not allowed in XML 1.0 at all.
    return xml_escape(escape(text), {'"': "&quot;"})


def draw_svg(timeline: Timeline, *, source: str, zone: tzinfo | None, top: int | None = None, width: int = 1200) -> str:
    """A static SVG of the same swimlanes (for tickets that take images).

    Blocks are merged runs of one state per pixel column and ticks are one
    rect per pixel column, so the file grows with the rows drawn, not with the
    events.
    """
    rows = timeline.rows(top=top)
    start, end = timeline.span()
    bar_w = max(100, width - _NAME_W - _TAIL_W)
    top_y = 44
    height = top_y + _ROW_H * len(rows) + 34
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">',
        f"<title>{_xml('presencectl timeline: ' + title_line(timeline, source, zone))}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="6" y="16" font-size="13" font-weight="bold">{_xml(title_line(timeline, source, zone))}</text>',
    ]
    span = end - start
    for i in range(6):
        x = _NAME_W + bar_w * i / 5
        label = _when(start + span * i / 5, zone, span)
        anchor = "start" if i == 0 else ("end" if i == 5 else "middle")
        out.append(f'<text x="{x:.1f}" y="36" text-anchor="{anchor}" fill="#555">{_xml(label)}</text>')
        out.append(f'<line x1="{x:.1f}" y1="40" x2="{x:.1f}" y2="{top_y + _ROW_H * len(rows)}" stroke="#eee"/>')
    out.append(f'<text x="{width - _TAIL_W + 8}" y="36" fill="#555">flaps offline</text>')
    for n, row in enumerate(rows):
        y = top_y + n * _ROW_H
        states, ticks = bin_row(row, start, end, bar_w)
        name = escape(row.subject)
        if len(name) > 26:
            name = name[:25] + "…"
        out.append(f'<g><title>{_xml(row.subject)}</title><text x="6" y="{y + 12}">{_xml(name)}</text></g>')
        out.append(f'<rect x="{_NAME_W}" y="{y + 9}" width="{bar_w}" height="6" fill="{UNKNOWN_CSS}"/>')
        run_start = 0
        for x in range(1, bar_w + 1):
            if x == bar_w or states[x] != states[run_start]:
                state = states[run_start]
                if state is not None:
                    out.append(
                        f'<rect x="{_NAME_W + run_start}" y="{y + 8}" width="{x - run_start}" height="7" '
                        f'fill="{STATE_COLOURS[state][1]}"/>'
                    )
                run_start = x
        for x, tick in enumerate(ticks):
            if tick is not None:
                out.append(f'<rect x="{_NAME_W + x}" y="{y + 1}" width="1" height="6" fill="{KIND_COLOURS[tick][1]}"/>')
        stats = timeline.stats(row)
        flaps = stats.flaps if stats is not None else 0
        out.append(
            f'<text x="{width - _TAIL_W + 8}" y="{y + 12}">{flaps:>5} {_xml(duration_text(timeline.offline_total(row))):>8}</text>'
        )
    y = top_y + _ROW_H * len(rows) + 22
    x = 6
    for state, (_, css) in STATE_COLOURS.items():
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{css}"/><text x="{x + 14}" y="{y}">{state}</text>')
        x += 80
    for kind in KIND_RANK:
        out.append(f'<rect x="{x}" y="{y - 9}" width="3" height="10" fill="{KIND_COLOURS[kind][1]}"/><text x="{x + 7}" y="{y}">{kind}</text>')
        x += 16 + 7 * len(kind)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def zone_for(utc: bool) -> tzinfo | None:
    """The zone for labels: UTC with ``--utc``, else the local zone."""
    if utc:
        from datetime import UTC

        return UTC
    return None


def live_timeline(env, timeline: Timeline, *, color: bool, utc: bool, title: str, top: int | None = None, wall_clock=None):  # type: ignore[no-untyped-def]
    """A live view of ``timeline`` redrawn in place, with the LiveTable interface.

    ``with`` it, ``attach(pipeline)``, feed the pipeline; on leaving, the view
    is replaced by the final picture of the whole session (all rows).
    """
    from presencectl.ui.live_table import LiveTable

    zone = zone_for(utc)

    class LiveTimeline(LiveTable):
        def add(self, event):  # type: ignore[no-untyped-def]
            with self._lock:
                timeline.add(event)  # feeds the tracker too

        def render(self):  # type: ignore[no-untyped-def]
            from rich.text import Text

            size = self._console.size if self._console is not None else None
            width, height = (size.width, size.height) if size is not None else (env.width, 24)
            with self._lock:
                if not timeline.events:
                    return Text(f"{title}  waiting for events…")
                lines = draw_terminal(
                    timeline, width=width, color=self.color, zone=zone, source=title, top=top,
                    max_rows=max(1, height - 6),
                )
            return Text.from_ansi("\n".join(lines))

        def close(self) -> None:
            was_open = self._live is not None
            super().close()
            if was_open:
                lines = draw_terminal(timeline, width=env.width, color=self.color, zone=zone, source=title, top=top)
                try:
                    env.stdout.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
                    env.stdout.flush()
                except (BrokenPipeError, ValueError):
                    pass

    return LiveTimeline(env, timeline.tracker, color=color, utc=utc, title=title, wall_clock=wall_clock, summary=False)
