"""The ``stats`` report as data and as rich tables (SPEC §3.5): the ``--json``
document (schema in :mod:`presencectl.cli.commands.stats`), the report tables,
the ``--by`` count table and the cells the ``--live`` presence table shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from presencectl.core.presence import PresenceTracker
    from presencectl.ui.console import Environment

BY_SCHEMA = "presencectl.stats.by/1"


# --------------------------------------------------------------------- JSON
def by_rows(tracker: PresenceTracker, by: str) -> list[dict[str, Any]]:
    """Rows of the ``--by`` table, most events first (schema in the module docstring)."""
    from presencectl.core.presence import UNPARSED

    total = tracker.events or 1
    rows: list[dict[str, Any]] = []
    if by in ("dialect", "kind"):
        counts = tracker.by_dialect if by == "dialect" else tracker.by_kind
        for key, n in counts.items():
            rows.append({"key": str(key) if key is not None else UNPARSED, "count": n})
    elif by == "type":
        for (d, t), (n, k) in tracker.by_type.items():
            rows.append({"key": t, "count": n, "dialect": d if d is not None else UNPARSED, "kind": str(k) if k is not None else UNPARSED})
    else:
        for s in tracker.subjects.values():
            rows.append({"key": s.subject, "count": s.events, "dialect": s.dialect, "state": s.state})
        if tracker.no_subject:
            rows.append({"key": None, "count": tracker.no_subject, "dialect": None, "state": None})
    rows.sort(key=lambda r: (-r["count"], r["key"] is None, str(r["key"]), str(r.get("dialect"))))
    for row in rows:
        row["share"] = round(row["count"] / total, 6)
    # Stable key order: key, count, share, then the extras.
    return [{"key": r["key"], "count": r["count"], "share": r["share"], **{k: v for k, v in r.items() if k not in ("key", "count", "share")}} for r in rows]


def json_document(tracker: PresenceTracker, by: str | None, top: int | None) -> dict[str, Any]:
    """The ``--json`` document: the full report, or the ``--by`` table."""
    if by is not None:
        rows = by_rows(tracker, by)
        return {"schema": BY_SCHEMA, "by": by, "events": tracker.events, "rows": rows[:top] if top else rows}
    report = tracker.report()
    if top:
        report["subjects"] = report["subjects"][:top]
    return report


# ------------------------------------------------------------------- tables
def write_tables(
    env: Environment,
    tracker: PresenceTracker,
    color: bool,
    utc: bool,
    by: str | None,
    top: int,
    sources: list[str],
) -> None:
    from presencectl.ui.live_table import make_console

    console, done = make_console(env, color)
    try:
        if by is not None:
            console.print(by_table(tracker, by, top, console.is_terminal))
        else:
            print_report(console, tracker, utc=utc, top=top, title=", ".join(sources))
    finally:
        done()


def _cell(value: Any, style: str | None = None) -> Any:
    """A table cell from untrusted text: escaped, never read as markup."""
    from rich.text import Text

    from presencectl.core.render import escape

    if value is None:
        return Text("-", style="dim")
    return Text(escape(value if isinstance(value, str) else str(value)), style=style or "")


def _num(n: int | float, style: str | None = None) -> Any:
    from rich.text import Text

    return Text(f"{n:,}" if isinstance(n, int) else str(n), style=style or ("dim" if not n else ""))


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def fmt_duration(seconds: float | None) -> str:
    """A short human duration: ``850ms``, ``12.5s``, ``3m05s``, ``2h05m``, ``3d04h``.

    >>> fmt_duration(185)
    '3m05s'
    """
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s" if s < 10 and s != int(s) else f"{s:.0f}s"
    s = round(s)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s % 3600 else f"{s // 3600}h"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h" if s % 86400 else f"{s // 86400}d"


class TimeFormat:
    """Formats epoch seconds for tables: full date when the stream spans days, else time of day."""

    def __init__(self, utc: bool, first: float | None, last: float | None) -> None:
        from datetime import UTC

        self.zone = UTC if utc else None
        self.short = first is not None and last is not None and self._day(first) == self._day(last)

    def _dt(self, t: float):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        dt = datetime.fromtimestamp(t, UTC)
        return dt if self.zone is not None else dt.astimezone()

    def _day(self, t: float) -> Any:
        try:
            return self._dt(t).date()
        except (OverflowError, OSError, ValueError):
            return None

    def __call__(self, t: float | None, full: bool = False) -> str:
        if t is None:
            return "-"
        try:
            dt = self._dt(t)
        except (OverflowError, OSError, ValueError):
            return "?"
        if self.short and not full:
            return dt.strftime("%H:%M:%S")
        return dt.strftime("%Y-%m-%d %H:%M:%S")


STATE_STYLES = {"online": "bold green", "offline": "bold red", None: "dim"}


def fmt_skew(seconds: float | None) -> str:
    """A signed clock skew: ``+2.0s``, ``-4640d00h``, ``+0ms``.

    >>> fmt_skew(-185)
    '-3m05s'
    """
    if seconds is None:
        return "-"
    return ("-" if seconds < 0 else "+") + fmt_duration(abs(seconds))


def skew_summary(tracker: PresenceTracker) -> Any:
    """The overview's ``clocks`` line: device times against receive times."""
    from rich.text import Text

    limit = fmt_duration(tracker.skew_limit)
    median = fmt_skew(tracker.skews.median())
    line = Text(f"device time − receive time: median {median}")
    if not tracker.skew_outliers:
        line.append(f", every event within {limit}")
        return line
    off = tracker.skew_subjects()
    names = ", ".join(f"{s.subject} {fmt_skew(s.skew_worst)}" for s in off[:3]) + (", …" if len(off) > 3 else "")
    line.append(
        f"; {tracker.skew_outliers:,} events more than {limit} off, from {len(off):,} subjects ({names})",
        style="yellow",
    )
    return line


def state_cell(state: str | None) -> Any:
    from rich.text import Text

    return Text(state or "unknown", style=STATE_STYLES.get(state, "dim"))


def print_report(
    console: Console,
    tracker: PresenceTracker,
    *,
    utc: bool,
    top: int,
    title: str | None = None,
    counts: bool = True,
) -> None:
    """The full text report: overview, counts, busiest subjects, presence, gaps.

    Args:
        console: where to print (colour and width already chosen).
        tracker: the figures.
        utc: times in UTC (else local time).
        top: rows per table (0 = all).
        title: what was read (file names), shown in the overview.
        counts: include the dialect, type and busiest-subject tables (the
            ``--live`` summary leaves them out).
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    tf = TimeFormat(utc, tracker.first_t, tracker.last_t)
    # Piped: no rules at all, so `awk '$7 > 3'` and grep see plain columns.
    boxed = box.SIMPLE_HEAD if console.is_terminal else None
    limit = top or None
    total = tracker.events

    def table(heading: str) -> Table:
        return Table(title=Text(heading, style="bold"), title_justify="left", box=boxed, pad_edge=False, show_edge=False)

    # Overview
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    if title:
        overview.add_row("read", _cell(title))
    detail = []
    for word, n in (("malformed", tracker.malformed), ("untimed", tracker.untimed), ("out of order", tracker.out_of_order)):
        if n:
            detail.append(f"{n:,} {word}")
    line = Text(f"{total:,}")
    if detail:
        line.append(f" ({', '.join(detail)})", style="yellow")
    overview.add_row("events", line)
    if tracker.first_t is not None:
        when = Text(f"{tf(tracker.first_t, full=True)} → {tf(tracker.last_t, full=True)}  ")
        when.append(f"{fmt_duration(tracker.span)}", style="bold")
        if tracker.rate is not None:
            when.append(f", {tracker.rate:,.2f} events/s")
        if tracker.clock == "auto":
            when.append(f" ({'receive' if tracker.effective_clock == 'received' else 'event'} times)", style="dim")
        overview.add_row("time", when)
    if tracker.skewed:
        overview.add_row("clocks", skew_summary(tracker))
    states = tracker.states()
    subj = Text(f"{len(tracker.subjects):,}: ")
    subj.append(f"{states['online']:,} online", style=STATE_STYLES["online"])
    subj.append(", ")
    subj.append(f"{states['offline']:,} offline", style=STATE_STYLES["offline"])
    subj.append(f", {states['unknown']:,} unknown at the end")
    overview.add_row("subjects", subj)
    flappers = sum(1 for s in tracker.subjects.values() if s.flaps)
    overview.add_row(
        "flaps",
        Text(f"{sum(s.flaps for s in tracker.subjects.values()):,} in {flappers:,} subjects "
             f"(a state change within {fmt_duration(tracker.flap_window)} of the previous one)"),
    )
    if tracker.failed_connects:
        overview.add_row("failed", Text(f"{tracker.failed_connects:,} failed connects", style="bold red"))
    gaps = Text(f"{tracker.gap_count:,} longer than {fmt_duration(tracker.gap)}")
    if tracker.gap_count:
        gaps.append(f", {fmt_duration(tracker.gap_total)} in all")
    overview.add_row("gaps", gaps)
    if tracker.markers:
        overview.add_row("connection", Text(", ".join(f"{k} {v}" for k, v in sorted(tracker.markers.items()))))
    console.print(overview)
    if not total:
        return
    console.print()
    if counts:
        _print_counts(console, tracker, table, limit)
    if tracker.subjects:
        _print_presence(console, tracker, table, limit, tf)
    if tracker.gap_count:
        _print_gaps(console, tracker, table, limit, tf)


def _print_counts(console: Console, tracker: PresenceTracker, table: Any, limit: int | None) -> None:
    from presencectl.core.presence import NO_TYPE, UNPARSED
    from presencectl.core.render import KIND_STYLES, dialect_styles

    total = tracker.events
    t_dialect = table("Events by dialect")
    t_dialect.add_column("dialect")
    t_dialect.add_column("events", justify="right")
    t_dialect.add_column("share", justify="right")
    for d, n in sorted(tracker.by_dialect.items(), key=lambda kv: -kv[1]):
        t_dialect.add_row(_cell(d or "unparsed", dialect_styles().get(d, ("dim", ""))[0]), _num(n), _share(n, total))
    console.print(t_dialect)
    console.print()

    types = sorted(tracker.by_type.items(), key=lambda kv: (-kv[1][0], str(kv[0])))
    t_type = table("Events by type" + (f" (top {limit} of {len(types)})" if limit and len(types) > limit else ""))
    t_type.add_column("type")
    t_type.add_column("dialect")
    t_type.add_column("kind")
    t_type.add_column("events", justify="right")
    t_type.add_column("share", justify="right")
    for (d, t), (n, k) in types[:limit]:
        style = KIND_STYLES.get(k, ("white", ""))[0]
        name = t if t is not None else (NO_TYPE if d is not None else UNPARSED)
        t_type.add_row(_cell(name, style), _cell(d or "-"), _cell(k or "-", style), _num(n), _share(n, total))
    console.print(t_type)
    console.print()
    if not tracker.subjects:
        return
    busiest = sorted(tracker.subjects.values(), key=lambda s: (-s.events, s.subject))[: min(limit or 10, 10)]
    t_busy = table("Busiest subjects")
    t_busy.add_column("subject", overflow="fold")
    t_busy.add_column("dialect")
    t_busy.add_column("events", justify="right")
    t_busy.add_column("share", justify="right")
    t_busy.add_column("last event")
    for s in busiest:
        t_busy.add_row(_cell(s.subject), _cell(s.dialect), _num(s.events), _share(s.events, total),
                       _cell(s.last_type, KIND_STYLES.get(s.last_kind, ("white", ""))[0]))
    console.print(t_busy)
    console.print()


#: Presence table columns: (name, justify, priority). On a narrow terminal
#: the highest priority numbers are dropped first.
PRESENCE_COLUMNS = (
    ("subject", "left", 0),
    ("state", "left", 0),
    ("since", "left", 4),
    ("conn", "right", 1),
    ("disc", "right", 1),
    ("failed", "right", 2),
    ("flaps", "right", 0),
    ("offline", "right", 3),
    ("longest off", "right", 4),
    ("silent", "right", 5),
    ("last reason", "left", 2),
    ("last seen", "left", 3),
    ("skew", "right", 2),
    ("worst skew", "right", 3),
)


def fit_columns(width: int, names: list[str], cells: list[list[Any]], priorities: list[int]) -> list[int]:
    """Indexes of the columns to keep so the table fits ``width`` (dropping high priorities first)."""
    widths = [
        max([len(names[i])] + [len(row[i].plain if hasattr(row[i], "plain") else str(row[i])) for row in cells]) + 3
        for i in range(len(names))
    ]
    keep = list(range(len(names)))
    for level in sorted(set(priorities), reverse=True):
        if sum(widths[i] for i in keep) <= width or level == 0:
            break
        keep = [i for i in keep if priorities[i] != level]
    return keep


def _print_presence(console: Console, tracker: PresenceTracker, table: Any, limit: int | None, tf: TimeFormat) -> None:
    ranked = tracker.ranked()
    shown = ranked[:limit]
    heading = "Presence by subject, most flaps first"
    if limit and len(ranked) > limit:
        heading += f" (top {limit} of {len(ranked)}; --top 0 for all)"
    end = tracker.last_t
    rows = []
    for s in shown:
        total_off, longest = s.offline_until(end)
        rows.append([
            _cell(s.subject),
            state_cell(s.state),
            _cell(tf(s.state_since) if s.state else None),
            _num(s.connects),
            _num(s.disconnects),
            _num(s.failed_connects, "bold red" if s.failed_connects else None),
            _num(s.flaps, "bold yellow" if s.flaps else None),
            _cell(fmt_duration(total_off) if total_off else None),
            _cell(fmt_duration(longest) if longest else None),
            _cell(fmt_duration(s.longest_silence) if s.longest_silence else None),
            _cell(s.last_reason),
            _cell(tf(s.last_t)),
            _skew_cell(s.skew_median(), tracker.skew_limit),
            _skew_cell(s.skew_worst, tracker.skew_limit),
        ])
    names = [c[0] for c in PRESENCE_COLUMNS]
    keep = fit_columns(console.width, names, rows, [c[2] for c in PRESENCE_COLUMNS])
    t_pres = table(heading)
    for i in keep:
        name, justify, _ = PRESENCE_COLUMNS[i]
        wrap = name in ("subject", "last reason")
        t_pres.add_column(name, justify=justify, overflow="fold" if wrap else "ellipsis", no_wrap=not wrap,
                          min_width=min(16, max(len(r[i].plain) for r in rows)) if wrap and rows else None)
    for row in rows:
        t_pres.add_row(*(row[i] for i in keep))
    console.print(t_pres)


def _skew_cell(value: float | None, limit: float) -> Any:
    return _cell(fmt_skew(value) if value is not None else None, "yellow" if value is not None and abs(value) > limit else None)


def _print_gaps(console: Console, tracker: PresenceTracker, table: Any, limit: int | None, tf: TimeFormat) -> None:
    console.print()
    gaps = sorted(tracker.gaps, key=lambda g: -g.seconds)[:limit]
    gaps.sort(key=lambda g: g.start)
    heading = f"Gaps longer than {fmt_duration(tracker.gap)}"
    if len(gaps) < tracker.gap_count:
        heading += f" (the {len(gaps)} longest of {tracker.gap_count:,})"
    t_gaps = table(heading)
    t_gaps.add_column("from")
    t_gaps.add_column("to")
    t_gaps.add_column("quiet for", justify="right")
    for g in gaps:
        t_gaps.add_row(tf(g.start), tf(g.end), fmt_duration(g.seconds))
    console.print(t_gaps)


def by_table(tracker: PresenceTracker, by: str, top: int, tty: bool = True) -> Any:
    """The ``--by`` count table."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from presencectl.core.presence import NO_TYPE, UNPARSED
    from presencectl.core.render import KIND_STYLES, dialect_styles

    rows = by_rows(tracker, by)
    shown = rows[:top] if top else rows
    heading = f"Events by {by}" + (f" (top {len(shown)} of {len(rows)}; --top 0 for all)" if len(shown) < len(rows) else "")
    t = Table(title=Text(heading, style="bold"), title_justify="left", box=box.SIMPLE_HEAD if tty else None, pad_edge=False, show_edge=False)
    t.add_column(by, overflow="fold")
    extras = [k for k in ("dialect", "kind", "state") if rows and k in rows[0]]
    for k in extras:
        t.add_column(k)
    t.add_column("events", justify="right")
    t.add_column("share", justify="right")
    for r in shown:
        key = r["key"]
        if by == "dialect":
            first = _cell(key, dialect_styles().get(key if key != "unparsed" else None, ("white", ""))[0])
        elif by == "kind":
            first = _cell(key, KIND_STYLES.get(key if key != "unparsed" else None, ("white", ""))[0])
        elif by == "type":
            name = key if key is not None else (NO_TYPE if r.get("dialect") != UNPARSED else UNPARSED)
            first = _cell(name, KIND_STYLES.get(r.get("kind") if r.get("kind") != "unparsed" else None, ("white", ""))[0])
        else:
            first = _cell(key if key is not None else "(no subject)", None if key is not None else "dim")
        cells = [first]
        for k in extras:
            cells.append(state_cell(r[k]) if k == "state" else _cell(r[k]))
        cells += [_num(r["count"]), f"{100 * r['share']:.1f}%"]
        t.add_row(*cells)
    return t
